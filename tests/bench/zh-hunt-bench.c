/* zh-hunt-bench: how long a retro-hunt takes over a large store, and what
 * the store costs on disk. Fills a fresh store with --messages records the
 * way a wave looks (many copies of --payloads distinct attachments of
 * --size bytes, each message also with a small text body), through the same
 * queue and writer the engine uses, then hunts with a YARA rule that matches
 * one payload, and by SHA-256. Prints the write rate, disk use, and each
 * hunt's time and result. Not a test: a figure.
 *
 *   zh-hunt-bench DIR [--messages 1000000] [--payloads 20] [--size 30000]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hunt.h"
#include "store.h"
#include "zhi.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t du(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "du -sb '%s'", dir);
    FILE *p = popen(cmd, "r");
    unsigned long long n = 0;
    if (p && fscanf(p, "%llu", &n) != 1)
        n = 0;
    if (p)
        pclose(p);
    return n;
}

static void hunt(struct zhi_store *st, const struct zh_config *cfg, struct zh_hunt_request *req,
                 const char *what)
{
    char err[512] = "";
    struct zhi_hunt *h = NULL;
    double t0 = now_s();
    if (zhi_hunt_start(st, cfg, req, 1, &h, err, sizeof err) != ZH_ERR_OK) {
        fprintf(stderr, "hunt: %s\n", err);
        exit(2);
    }
    while (zhi_hunt_running(h)) {
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    struct zh_hunt_status s;
    zhi_hunt_status(h, 0, 0, &s);
    size_t rcpts = 0;
    for (size_t i = 0; i < s.n_messages; i++)
        rcpts += s.messages[i].n_rcpt;
    printf("hunt %-8s %6.2f s: state %d, %" PRIu64 "/%" PRIu64
           " distinct objects scanned (%.1f MiB), %zu messages, %zu recipients\n",
           what, now_s() - t0, s.state, s.objects_done, s.objects_total, s.bytes_done / 1048576.0,
           s.n_messages, rcpts);
    zh_hunt_status_free(&s);
    zhi_hunt_free(h);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: zh-hunt-bench DIR [--messages N] [--payloads K] [--size BYTES]\n");
        return 2;
    }
    const char *dir = argv[1];
    long n_msg = 1000000, n_pay = 20, size = 30000; /* size >= 128 */
    for (int i = 2; i + 1 < argc; i += 2) {
        long v = strtol(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--messages"))
            n_msg = v;
        else if (!strcmp(argv[i], "--payloads"))
            n_pay = v;
        else if (!strcmp(argv[i], "--size"))
            size = v;
    }
    struct zh_config cfg;
    zh_config_defaults(&cfg);
    zh_config_set(&cfg, "store.enabled", "1", NULL, 0);
    zh_config_set(&cfg, "store.directory", dir, NULL, 0);
    zh_config_set(&cfg, "store.max_bytes", "64G", NULL, 0);
    zh_config_set(&cfg, "store.retention", "8760h", NULL, 0);
    zh_config_set(&cfg, "store.hunt_cpu_percent", "100", NULL, 0);
    struct zh_rules_report rep = {0};
    zh_rules_check(ZH_SOURCE_DIR "/rules", &rep); /* initialises libyara once */
    zh_rules_report_free(&rep);
    char err[512];
    struct zhi_store *st = NULL;
    if (zhi_store_open(&cfg, &st, err, sizeof err) != ZH_ERR_OK) {
        fprintf(stderr, "store: %s\n", err);
        return 2;
    }
    uint8_t **pay = calloc((size_t)n_pay, sizeof *pay);
    for (long p = 0; p < n_pay; p++) {
        pay[p] = malloc((size_t)size);
        for (long i = 0; i < size; i++)
            pay[p][i] = (uint8_t)(rand() & 0xff);
        memcpy(pay[p], "MZ", 2);
        char mark[40];
        int ml = snprintf(mark, sizeof mark, "PAYLOAD-%04ld-MARK", p % 10000);
        memcpy(pay[p] + 64, mark, (size_t)ml);
    }
    static uint8_t body[] = "Please see the attached file.";
    int64_t t_base = zhi_unix_ms() - n_msg * 10;
    double t0 = now_s();
    for (long m = 0; m < n_msg; m++) {
        char rcpt[64], from[64], mid[64];
        snprintf(rcpt, sizeof rcpt, "user%ld@corp.example", m);
        snprintf(from, sizeof from, "s%ld@isp%ld.example", m, m % 997);
        snprintf(mid, sizeof mid, "%ld@bench.example", m);
        const char *rc[] = {rcpt};
        struct zh_scan_envelope env = {.client_ip = "198.51.100.7",
                                       .helo = "mx",
                                       .mail_from = from,
                                       .rcpt_to = rc,
                                       .n_rcpt = 1,
                                       .received_at = t_base + m * 10,
                                       .queue_id = "Q"};
        long p = m % n_pay;
        struct zhi_object objs[] = {
            {.path = "1",
             .ext = "",
             .declared_type = "text/plain",
             .kind = ZHI_K_TEXT,
             .data = body,
             .len = sizeof body - 1,
             .parent = -1},
            {.path = "2/document.pif",
             .filename = "document.pif",
             .ext = "pif",
             .declared_type = "application/octet-stream",
             .sniffed = ZHI_T_PE,
             .kind = ZHI_K_ATTACHMENT,
             .data = pay[p],
             .len = (size_t)size,
             .parent = -1},
        };
        struct zhi_scan s = {.env = &env,
                             .received_at = env.received_at,
                             .subject = "hi",
                             .message_id = mid,
                             .from = from,
                             .objects = objs,
                             .n_objects = 2};
        snprintf(s.fingerprint, sizeof s.fingerprint, "%016lx", 0xfeed0000ul + (unsigned long)p);
        struct zh_result_hit hit = {.detector = "executable",
                                    .rule = "executable_name",
                                    .object = "2/document.pif",
                                    .detail = "",
                                    .family = "",
                                    .score = 50};
        struct zh_result r = {
            .verdict = ZH_VERDICT_SUSPICIOUS, .score = 50, .hits = &hit, .n_hits = 1};
        zhi_store_offer(st, &s, &r);
        if (m % 2000 == 1999)
            zhi_store_flush(st); /* a steady stream, not a burst the queue drops */
    }
    zhi_store_flush(st);
    double dt = now_s() - t0;
    struct zhi_store_counters c;
    zhi_store_counters(st, &c);
    printf("stored %" PRIu64 " messages (%" PRIu64 " dropped) in %.1f s: %.0f messages/s\n",
           c.stored, c.dropped, dt, c.stored / dt);
    printf("disk: %" PRIu64 " bytes (index %" PRIu64 ", %" PRIu64 " kept objects %" PRIu64
           " bytes); %.0f bytes per message\n",
           du(dir), c.index_bytes, c.blobs, c.blob_bytes, (double)du(dir) / (double)c.stored);

    char src[256];
    snprintf(src, sizeof src,
             "rule Hunt_Payload_3 { strings: $m = \"PAYLOAD-0003-MARK\" condition: $m }\n");
    struct zh_hunt_rule rule = {"bench.yar", src};
    struct zh_hunt_request req = {.rules = &rule, .n_rules = 1};
    hunt(st, &cfg, &req, "yara");
    req.window_ms = 3600 * 1000;
    hunt(st, &cfg, &req, "yara 1h");
    /* by hash: the third payload's SHA-256, found through a hunt's own query */
    char cmd[512], hex[65] = "";
    snprintf(cmd, sizeof cmd,
             "sqlite3 '%s/index.db' \"SELECT sha256 FROM objects WHERE message = 4 AND path = "
             "'2/document.pif'\"",
             dir);
    FILE *pp = popen(cmd, "r");
    if (pp && fscanf(pp, "%64s", hex) == 1) {
        struct zh_hunt_request hr = {.sha256 = hex};
        hunt(st, &cfg, &hr, "sha256");
    }
    if (pp)
        pclose(pp);
    struct zh_hunt_request orq = {.outbreak = "00000000feed0003"};
    hunt(st, &cfg, &orq, "outbreak");
    zhi_store_close(st);
    for (long p = 0; p < n_pay; p++)
        free(pay[p]);
    free(pay);
    zh_config_free(&cfg);
    return 0;
}

/* zh-bench — load a running zerohourd through libzerohour-client with N threads;
 * report throughput, latency percentiles, verdicts, errors and engine memory.
 * Not a correctness test: verdicts are counted, never checked against labels. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zerohour/client.h"
#include "zerohour/wire.h"

#define MAX_ADDRESSES 64
#define MAX_CONCURRENCY 1024
#define CALL_TIMEOUT_MS 30000
/* Latency slots reserved per thread and second of a --duration run before
 * any request is sent. Far above what one thread can do against a real
 * engine, so the hot loop never reallocates; if it ever fills, it doubles. */
#define LAT_PER_THREAD_SECOND 20000
/* Error slots are indexed by -code; slot 0 (never a failure) holds codes this
 * tool does not know, so a newer client library cannot index out of range. */
#define ERR_SLOTS 32
#define VERDICT_SLOTS 8 /* 0..5 are zerohour.v1.Verdict; 7 = out of range */

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_SETUP = 2 };

static const char usage_text[] =
    "NAME\n"
    "    zh-bench - measure a running zerohourd engine over its real socket\n"
    "\n"
    "SYNOPSIS\n"
    "    zh-bench --address URL [--address URL...] [--concurrency N]\n"
    "             [--duration S | --requests N] [--warmup S] [--json]\n"
    "             [--allow-errors] DIR|FILE...\n"
    "\n"
    "DESCRIPTION\n"
    "    zh-bench reads every message under the given directories (recursively)\n"
    "    and the given files into memory, then N threads sharing one\n"
    "    libzerohour-client connection scan them as fast as the engine answers.\n"
    "    Messages are sent round-robin in path order: thread i of N sends\n"
    "    messages i, i+N, i+2N... so every n requests cover the corpus once.\n"
    "    Each scan carries a small SMTP envelope: client_ip 192.0.2.x (x derived\n"
    "    from the message, so a message always comes from the same address),\n"
    "    mail_from the address in the message's From: header (else\n"
    "    bench@sender.example), one recipient user@corp.example.com, no HELO.\n"
    "    Verdicts therefore depend on the envelope heuristics as well as the\n"
    "    content: with more than about 2,500 messages, several From addresses\n"
    "    share each client_ip and the engine's many-From heuristic may fire.\n"
    "\n"
    "    Directory walks skip what is not a message: manifest.jsonl, *.json,\n"
    "    *.jsonl, README*, dot files and empty files. Files named on the command\n"
    "    line are always loaded.\n"
    "\n"
    "    Requests started during the warm-up are sent but not counted. Latency\n"
    "    is measured per call on the monotonic clock, from before\n"
    "    zh_client_scan() to its return, so it includes the client library,\n"
    "    the socket and queueing in the engine. Throughput and latency cover\n"
    "    successful scans only; failures are counted by error kind.\n"
    "\n"
    "    After the run the engine is asked for its \"server\" and \"scans\" stats\n"
    "    sections: resident and peak memory, and its own mean scan time since it\n"
    "    started. The mean over this run alone is derived from the counters\n"
    "    before and after (it includes the warm-up and any other client's scans)\n"
    "    and is left out when the engine's rounding makes it unreliable.\n"
    "\n"
    "OPTIONS\n"
    "    -a, --address URL     engine address, e.g. ipc:///run/zerohour/zerohour.sock\n"
    "                          or tcp://127.0.0.1:7350; repeat to spread the load\n"
    "                          over several engines (required)\n"
    "    -c, --concurrency N   threads issuing requests (default 8, at most 1024)\n"
    "    -d, --duration S      measure for S seconds after the warm-up (default 10)\n"
    "    -n, --requests N      instead of a duration, measure N requests in total,\n"
    "                          shared evenly between the threads\n"
    "    -w, --warmup S        seconds of uncounted requests first (default 1; 0 = none)\n"
    "    -j, --json            print one JSON object instead of the table\n"
    "        --allow-errors    exit 0 even if some requests failed\n"
    "    -h, --help            show this text\n"
    "\n"
    "    Every call has a 30 s timeout. SIGINT or SIGTERM stops the run early;\n"
    "    what was measured so far is reported.\n"
    "\n"
    "OUTPUT\n"
    "    The table gives messages loaded, requests, messages/s and MiB/s,\n"
    "    latency p50/p90/p99/max in milliseconds (nearest rank), verdicts,\n"
    "    errors by kind with the first error's detail, and the engine's\n"
    "    rss_kib, rss_peak_kib and avg_us. With --json the same figures come as\n"
    "    one object: messages{count,median_bytes,total_bytes}, requests, ok,\n"
    "    warmup_requests, warmup_errors, elapsed_s, messages_per_s, mib_per_s,\n"
    "    latency_ms{p50,p90,p99,max}, verdicts{}, errors{}, first_error,\n"
    "    engine{version,workers,rss_kib,rss_peak_kib,avg_us,avg_us_run},\n"
    "    interrupted. Figures that could not be obtained are null.\n"
    "\n"
    "EXIT STATUS\n"
    "    0  the run completed and no request failed (or --allow-errors)\n"
    "    1  some request failed, nothing was measured, or the run was interrupted\n"
    "    2  usage error, no message could be loaded, or no engine answered Ping\n"
    "\n"
    "EXAMPLES\n"
    "    tests/corpus/zh-corpus-gen.py --out /tmp/corpus --count 1000\n"
    "    zh-bench --address ipc:///tmp/zh.sock -c 8 -d 10 /tmp/corpus\n"
    "    zh-bench --address ipc:///tmp/a.sock --address ipc:///tmp/b.sock \\\n"
    "             --requests 50000 --warmup 0 --json /tmp/corpus > run.json\n";

struct msg {
    uint8_t *data;
    size_t len;
    char mail_from[128]; /* the From: header's address, or a fixed one */
};

struct corpus {
    struct msg *v;
    size_t n, cap;
    uint64_t total_bytes;
};

/* Shared by all threads, written before they start and read-only after. */
struct bench {
    zh_client *client;
    const struct corpus *corpus;
    uint64_t t_warm_end; /* monotonic µs: requests started before are not counted */
    uint64_t t_end;      /* no request starts at or after this; UINT64_MAX with --requests */
};

/* Everything one thread measures; merged after join, so no sharing. */
struct worker {
    pthread_t thread;
    const struct bench *b;
    size_t index, stride;
    uint64_t quota; /* measured requests to make with --requests; 0 = run until t_end */
    uint32_t *lat;  /* µs of each successful measured scan */
    size_t n_lat, cap_lat;
    bool lat_truncated;
    uint64_t requests, ok, bytes;
    uint64_t errors[ERR_SLOTS];
    uint64_t verdicts[VERDICT_SLOTS];
    uint64_t warm_requests, warm_errors;
    uint64_t last_done_us;
    bool started;
    int first_err;
    char first_err_detail[256];
};

static atomic_bool stop_requested;
static char client_ips[254][16];

static const char *const err_keys[ERR_SLOTS] = {
    [0] = "other",
    [-ZH_E_INVAL] = "inval",
    [-ZH_E_NOMEM] = "nomem",
    [-ZH_E_ADDRESS] = "address",
    [-ZH_E_UNREACHABLE] = "unreachable",
    [-ZH_E_TIMEOUT] = "timeout",
    [-ZH_E_TOOBIG] = "toobig",
    [-ZH_E_PROTOCOL] = "protocol",
    [-ZH_E_IO] = "io",
    [-ZH_E_INVALID_ARGUMENT] = "invalid_argument",
    [-ZH_E_RESOURCE_EXHAUSTED] = "resource_exhausted",
    [-ZH_E_DEADLINE_EXCEEDED] = "deadline_exceeded",
    [-ZH_E_UNAVAILABLE] = "unavailable",
    [-ZH_E_INTERNAL] = "internal",
    [-ZH_E_UNIMPLEMENTED] = "unimplemented",
};

static unsigned err_slot(int err)
{
    unsigned s = (unsigned)-err;
    return err < 0 && s < ERR_SLOTS && err_keys[s] ? s : 0;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void on_signal(int sig)
{
    atomic_store(&stop_requested, true);
}

/* ---- loading the messages ---------------------------------------------------- */

/* What a directory walk leaves out: the corpus generator's manifest and
 * other metadata, documentation, dot files. */
static bool is_not_a_message(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.' || !strncasecmp(name, "README", 6))
        return true;
    if (n >= 5 && !strcmp(name + n - 5, ".json"))
        return true;
    if (n >= 6 && !strcmp(name + n - 6, ".jsonl"))
        return true;
    return false;
}

struct pathlist {
    char **v;
    size_t n, cap;
};

static int pathlist_add(struct pathlist *pl, const char *path)
{
    if (pl->n == pl->cap) {
        size_t ncap = pl->cap ? pl->cap * 2 : 256;
        char **g = realloc(pl->v, ncap * sizeof *g);
        if (!g)
            return -1;
        pl->v = g;
        pl->cap = ncap;
    }
    if (!(pl->v[pl->n] = strdup(path)))
        return -1;
    pl->n++;
    return 0;
}

/* Collect regular files under dir. Symlinks are followed (stat) because a
 * corpus assembled from links is a normal thing to point a benchmark at. */
static int walk(const char *dir, struct pathlist *pl)
{
    int rv = -1;
    DIR *d = opendir(dir);
    char *path = NULL;
    if (!d) {
        fprintf(stderr, "zh-bench: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (is_not_a_message(de->d_name))
            continue;
        free(path);
        if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
            path = NULL;
            goto out;
        }
        if (stat(path, &st) != 0) {
            fprintf(stderr, "zh-bench: %s: %s (skipped)\n", path, strerror(errno));
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (walk(path, pl) != 0)
                goto out;
        } else if (S_ISREG(st.st_mode) && st.st_size > 0) {
            if (pathlist_add(pl, path) != 0)
                goto out;
        }
    }
    rv = 0;
out:
    free(path);
    closedir(d);
    return rv;
}

/* The envelope sender to send with m: the address in its From: header. A
 * fixed sender would differ from every message's From domain and make the
 * engine's sender heuristics fire on all of them, skewing the verdicts.
 * Only the first physical line of the field is read: enough for a benchmark. */
static void pick_mail_from(struct msg *m)
{
    const char *p = (const char *)m->data, *end = p + m->len;
    snprintf(m->mail_from, sizeof m->mail_from, "bench@sender.example");
    while (p < end && *p != '\r' && *p != '\n') {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if (eol - p > 5 && !strncasecmp(p, "From:", 5)) {
            const char *lt = memchr(p, '<', (size_t)(eol - p));
            const char *a = lt ? lt + 1 : p + 5, *b;
            while (a < eol && (*a == ' ' || *a == '\t'))
                a++;
            for (b = a; b < eol && !strchr(" \t\r>", *b); b++)
                ;
            if (memchr(a, '@', (size_t)(b - a)) && (size_t)(b - a) < sizeof m->mail_from)
                snprintf(m->mail_from, sizeof m->mail_from, "%.*s", (int)(b - a), a);
            return;
        }
        p = eol + 1;
    }
}

static int load_file(const char *path, struct msg *m)
{
    int rv = -1, fd = -1;
    uint8_t *buf = NULL;
    struct stat st;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0)
        goto out;
    size_t len = (size_t)st.st_size, got = 0;
    if (!(buf = malloc(len ? len : 1)))
        goto out;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* shrank while reading */
            goto out;
        }
        got += (size_t)r;
    }
    m->data = buf;
    m->len = len;
    buf = NULL;
    pick_mail_from(m);
    rv = 0;
out:
    if (rv != 0)
        fprintf(stderr, "zh-bench: %s: %s\n", path, strerror(errno));
    free(buf);
    if (fd >= 0)
        close(fd);
    return rv;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load every argument into c. Paths are sorted so the round-robin order, and
 * thus a run, is the same every time for the same corpus. */
static int load_corpus(char **args, int nargs, struct corpus *c)
{
    int rv = -1;
    struct pathlist pl = {0};
    for (int i = 0; i < nargs; i++) {
        struct stat st;
        if (stat(args[i], &st) != 0) {
            fprintf(stderr, "zh-bench: %s: %s\n", args[i], strerror(errno));
            goto out;
        }
        if (S_ISDIR(st.st_mode) ? walk(args[i], &pl) != 0 : pathlist_add(&pl, args[i]) != 0)
            goto out;
    }
    qsort(pl.v, pl.n, sizeof *pl.v, cmp_str);
    if (!(c->v = calloc(pl.n ? pl.n : 1, sizeof *c->v)))
        goto out;
    c->cap = pl.n;
    for (size_t i = 0; i < pl.n; i++) {
        if (load_file(pl.v[i], &c->v[c->n]) != 0)
            goto out;
        c->total_bytes += c->v[c->n].len;
        c->n++;
    }
    rv = 0;
out:
    for (size_t i = 0; i < pl.n; i++)
        free(pl.v[i]);
    free(pl.v);
    return rv;
}

static void corpus_free(struct corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].data);
    free(c->v);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static size_t median_size(const struct corpus *c)
{
    size_t *s = malloc(c->n * sizeof *s), med = 0;
    if (!s || !c->n) {
        free(s);
        return 0;
    }
    for (size_t i = 0; i < c->n; i++)
        s[i] = c->v[i].len;
    qsort(s, c->n, sizeof *s, cmp_size);
    med = c->n % 2 ? s[c->n / 2] : (s[c->n / 2 - 1] + s[c->n / 2]) / 2;
    free(s);
    return med;
}

/* ---- the load loop ------------------------------------------------------------ */

static void note_error(struct worker *w, int rc)
{
    if (w->first_err)
        return;
    w->first_err = rc;
    snprintf(w->first_err_detail, sizeof w->first_err_detail, "%s: %s", zh_client_strerror(rc),
             zh_client_last_error());
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct bench *b = w->b;
    const struct corpus *c = b->corpus;
    const char *rcpt[] = {"user@corp.example.com"};
    struct zh_envelope env = {.rcpt_to = rcpt, .n_rcpt = 1};
    /* Thread i takes messages i, i+N, i+2N...: together the threads walk
     * the list in order, so any run of n requests covers the whole corpus
     * once, instead of every thread sending the same first messages. */
    size_t k = w->index % c->n, stride = w->stride % c->n;

    while (!atomic_load_explicit(&stop_requested, memory_order_relaxed)) {
        uint64_t t0 = now_us();
        bool measured = t0 >= b->t_warm_end;
        if (w->quota ? measured && w->requests >= w->quota : t0 >= b->t_end)
            break;
        const struct msg *m = &c->v[k];
        env.client_ip = client_ips[k % 254];
        env.mail_from = m->mail_from;
        struct zh_scan_result *r = NULL;
        int rc = zh_client_scan(b->client, m->data, m->len, &env, NULL, 0, &r);
        uint64_t t1 = now_us();
        k += stride;
        if (k >= c->n)
            k -= c->n;

        if (!measured) {
            w->warm_requests++;
            if (rc != ZH_OK) {
                w->warm_errors++;
                note_error(w, rc);
            }
            if (r)
                zh_scan_result_free(r);
            continue;
        }
        w->requests++;
        w->last_done_us = t1;
        if (rc != ZH_OK) {
            w->errors[err_slot(rc)]++;
            note_error(w, rc);
            continue;
        }
        w->ok++;
        w->bytes += m->len;
        w->verdicts[(unsigned)r->verdict < 6 ? (unsigned)r->verdict : VERDICT_SLOTS - 1]++;
        zh_scan_result_free(r);
        if (w->n_lat == w->cap_lat) {
            /* Only reached if the reservation was too small; rare by design. */
            size_t ncap = w->cap_lat ? w->cap_lat * 2 : 4096;
            uint32_t *g = w->lat_truncated ? NULL : realloc(w->lat, ncap * sizeof *g);
            if (!g) {
                w->lat_truncated = true;
                continue;
            }
            w->lat = g;
            w->cap_lat = ncap;
        }
        uint64_t d = t1 - t0;
        w->lat[w->n_lat++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    }
    return NULL;
}

/* ---- engine stats ------------------------------------------------------------- */

/* Value of key in section of r as a double; NAN when absent or not a number. */
static double stat_value(const struct zh_stats_result *r, const char *section, const char *key)
{
    for (size_t i = 0; r && i < r->n_entries; i++) {
        const struct zh_stats_entry *e = &r->entries[i];
        if (e->section && e->key && e->value && !strcmp(e->section, section) &&
            !strcmp(e->key, key)) {
            char *end;
            double v = strtod(e->value, &end);
            return end != e->value && !*end ? v : NAN;
        }
    }
    return NAN;
}

struct engine_figures {
    double scans_before, avg_before; /* "scans" section before the run */
    double scans_after, avg_after;
    double rss_kib, rss_peak_kib;
};

static void fetch_scans(zh_client *c, double *scans, double *avg)
{
    struct zh_stats_result *r = NULL;
    *scans = *avg = NAN;
    if (zh_client_stats(c, "scans", &r) != ZH_OK) {
        fprintf(stderr, "zh-bench: stats \"scans\": %s\n", zh_client_last_error());
        return;
    }
    *scans = stat_value(r, "scans", "scans");
    *avg = stat_value(r, "scans", "avg_us");
    zh_stats_result_free(r);
}

static void fetch_server(zh_client *c, struct engine_figures *f)
{
    struct zh_stats_result *r = NULL;
    f->rss_kib = f->rss_peak_kib = NAN;
    if (zh_client_stats(c, "server", &r) != ZH_OK) {
        fprintf(stderr, "zh-bench: stats \"server\": %s\n", zh_client_last_error());
        return;
    }
    f->rss_kib = stat_value(r, "server", "rss_kib");
    f->rss_peak_kib = stat_value(r, "server", "rss_peak_kib");
    zh_stats_result_free(r);
}

/* The engine only publishes a running mean, so the mean over this run comes
 * from the totals it implies before and after (warm-up scans, and any other
 * client's, included). avg_us is printed with one decimal: each total is off
 * by up to 0.05 µs per scan, which swamps the difference when the run is
 * short next to the engine's history, so then the figure is withheld. */
static double run_avg_us(const struct engine_figures *f)
{
    double n = f->scans_after - f->scans_before;
    if (!(n > 0))
        return NAN;
    double v = (f->avg_after * f->scans_after - f->avg_before * f->scans_before) / n;
    double err = 0.05 * (f->scans_after + f->scans_before) / n;
    return v > 0 && err <= 0.01 * v ? v : NAN;
}

/* ---- report ------------------------------------------------------------------- */

struct summary {
    const struct corpus *corpus;
    size_t median_bytes;
    size_t oversize; /* messages above the engine's max_message_bytes */
    const char *const *addresses;
    size_t n_addresses;
    unsigned concurrency;
    double warmup_s, duration_s;
    unsigned long long requests_target;
    char *engine_version;
    unsigned engine_workers;
    uint64_t requests, ok, bytes, warm_requests, warm_errors;
    uint64_t errors[ERR_SLOTS];
    uint64_t verdicts[VERDICT_SLOTS];
    double elapsed_s;
    double p50, p90, p99, max; /* ms */
    bool lat_truncated;
    const char *first_error;
    struct engine_figures eng;
    bool interrupted;
};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v, in ms. */
static double pct_ms(const uint32_t *v, size_t n, double p)
{
    if (!n)
        return NAN;
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    return v[rank ? rank - 1 : 0] / 1000.0;
}

static void json_str(const char *s)
{
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

/* JSON has no NaN: a figure we could not get is null. */
static void json_num(double v, int decimals)
{
    if (isnan(v))
        fputs("null", stdout);
    else
        printf("%.*f", decimals, v);
}

static void print_json(const struct summary *s)
{
    printf("{\"messages\":{\"count\":%zu,\"median_bytes\":%zu,\"total_bytes\":%llu},", s->corpus->n,
           s->median_bytes, (unsigned long long)s->corpus->total_bytes);
    fputs("\"addresses\":[", stdout);
    for (size_t i = 0; i < s->n_addresses; i++) {
        if (i)
            putchar(',');
        json_str(s->addresses[i]);
    }
    printf("],\"concurrency\":%u,\"warmup_s\":", s->concurrency);
    json_num(s->warmup_s, 3);
    fputs(",\"duration_s\":", stdout);
    json_num(s->requests_target ? NAN : s->duration_s, 3);
    fputs(",\"requests_target\":", stdout);
    if (s->requests_target)
        printf("%llu", s->requests_target);
    else
        fputs("null", stdout);
    printf(",\"requests\":%llu,\"ok\":%llu,\"warmup_requests\":%llu,\"warmup_errors\":%llu,"
           "\"elapsed_s\":",
           (unsigned long long)s->requests, (unsigned long long)s->ok,
           (unsigned long long)s->warm_requests, (unsigned long long)s->warm_errors);
    json_num(s->elapsed_s, 3);
    fputs(",\"messages_per_s\":", stdout);
    json_num(s->elapsed_s > 0 ? s->ok / s->elapsed_s : NAN, 1);
    fputs(",\"mib_per_s\":", stdout);
    json_num(s->elapsed_s > 0 ? s->bytes / s->elapsed_s / 1048576.0 : NAN, 2);
    fputs(",\"latency_ms\":{\"p50\":", stdout);
    json_num(s->p50, 3);
    fputs(",\"p90\":", stdout);
    json_num(s->p90, 3);
    fputs(",\"p99\":", stdout);
    json_num(s->p99, 3);
    fputs(",\"max\":", stdout);
    json_num(s->max, 3);
    printf("},\"latency_truncated\":%s,\"verdicts\":{", s->lat_truncated ? "true" : "false");
    bool first = true;
    for (int v = 0; v < VERDICT_SLOTS; v++) {
        if (!s->verdicts[v])
            continue;
        printf("%s\"%s\":%llu", first ? "" : ",", zh_verdict_name(v),
               (unsigned long long)s->verdicts[v]);
        first = false;
    }
    fputs("},\"errors\":{", stdout);
    first = true;
    for (int e = 0; e < ERR_SLOTS; e++) {
        if (!s->errors[e])
            continue;
        printf("%s\"%s\":%llu", first ? "" : ",", err_keys[e], (unsigned long long)s->errors[e]);
        first = false;
    }
    fputs("},\"first_error\":", stdout);
    json_str(s->first_error);
    fputs(",\"engine\":{\"version\":", stdout);
    json_str(s->engine_version);
    printf(",\"workers\":%u,\"rss_kib\":", s->engine_workers);
    json_num(s->eng.rss_kib, 0);
    fputs(",\"rss_peak_kib\":", stdout);
    json_num(s->eng.rss_peak_kib, 0);
    fputs(",\"avg_us\":", stdout);
    json_num(s->eng.avg_after, 1);
    fputs(",\"avg_us_run\":", stdout);
    json_num(run_avg_us(&s->eng), 1);
    printf("},\"interrupted\":%s}\n", s->interrupted ? "true" : "false");
}

static void print_table(const struct summary *s)
{
    const char *na = "n/a";
    printf("messages      %zu loaded, median %.1f KiB, total %.1f MiB", s->corpus->n,
           s->median_bytes / 1024.0, s->corpus->total_bytes / 1048576.0);
    if (s->oversize)
        printf(" (%zu above the engine's limit)", s->oversize);
    printf("\nengine        %s, %u workers, at %s%s\n", s->engine_version ? s->engine_version : na,
           s->engine_workers, s->addresses[0], s->n_addresses > 1 ? " and more" : "");
    printf("load          %u threads, warm-up %.1f s, ", s->concurrency, s->warmup_s);
    if (s->requests_target)
        printf("%llu requests\n", s->requests_target);
    else
        printf("%.1f s\n", s->duration_s);
    printf("requests      %llu measured (%llu ok), %llu warm-up not counted%s\n",
           (unsigned long long)s->requests, (unsigned long long)s->ok,
           (unsigned long long)s->warm_requests, s->interrupted ? ", INTERRUPTED" : "");
    if (s->elapsed_s > 0)
        printf("throughput    %.1f messages/s, %.2f MiB/s over %.3f s\n", s->ok / s->elapsed_s,
               s->bytes / s->elapsed_s / 1048576.0, s->elapsed_s);
    else
        printf("throughput    %s\n", na);
    if (s->ok)
        printf("latency ms    p50 %.3f   p90 %.3f   p99 %.3f   max %.3f%s\n", s->p50, s->p90,
               s->p99, s->max, s->lat_truncated ? "  (some samples lost: out of memory)" : "");
    else
        printf("latency ms    %s\n", na);
    fputs("verdicts     ", stdout);
    for (int v = 0; v < VERDICT_SLOTS; v++)
        if (s->verdicts[v])
            printf(" %s %llu", zh_verdict_name(v), (unsigned long long)s->verdicts[v]);
    fputs(s->ok ? "\n" : " none\n", stdout);
    fputs("errors       ", stdout);
    bool any = false;
    for (int e = 0; e < ERR_SLOTS; e++)
        if (s->errors[e]) {
            printf(" %s %llu", err_keys[e], (unsigned long long)s->errors[e]);
            any = true;
        }
    if (s->warm_errors) {
        printf(" (+%llu during warm-up)", (unsigned long long)s->warm_errors);
        any = true;
    }
    fputs(any ? "\n" : " none\n", stdout);
    if (s->first_error)
        printf("first error   %s\n", s->first_error);
    fputs("engine memory ", stdout);
    if (isnan(s->eng.rss_kib))
        printf("rss_kib %s", na);
    else
        printf("rss_kib %.0f (%.1f MiB)", s->eng.rss_kib, s->eng.rss_kib / 1024.0);
    if (isnan(s->eng.rss_peak_kib))
        printf("   rss_peak_kib %s\n", na);
    else
        printf("   rss_peak_kib %.0f (%.1f MiB)\n", s->eng.rss_peak_kib,
               s->eng.rss_peak_kib / 1024.0);
    double run = run_avg_us(&s->eng);
    fputs("engine time   avg_us ", stdout);
    if (isnan(s->eng.avg_after))
        fputs(na, stdout);
    else
        printf("%.1f since start", s->eng.avg_after);
    if (!isnan(run))
        printf(", %.1f over this run", run);
    putchar('\n');
}

/* ---- main --------------------------------------------------------------------- */

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

static bool parse_ull(const char *s, unsigned long long lo, unsigned long long hi,
                      unsigned long long *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s))
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    enum { OPT_ALLOW_ERRORS = 256 };
    static const struct option longopts[] = {
        {"address", required_argument, NULL, 'a'},
        {"concurrency", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'},
        {"requests", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},
        {"allow-errors", no_argument, NULL, OPT_ALLOW_ERRORS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *addresses[MAX_ADDRESSES];
    size_t n_addresses = 0;
    unsigned long long concurrency = 8, requests_target = 0;
    double duration_s = 10, warmup_s = 1;
    bool json = false, allow_errors = false, duration_given = false;
    int ex = EXIT_SETUP, opt;
    struct corpus corpus = {0};
    zh_client *client = NULL;
    struct zh_ping_result *ping = NULL;
    struct worker *workers = NULL;
    uint32_t *all_lat = NULL;
    struct summary s = {0};

    while ((opt = getopt_long(argc, argv, "a:c:d:n:w:jh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'a':
            if (n_addresses == MAX_ADDRESSES) {
                fprintf(stderr, "zh-bench: at most %d addresses\n", MAX_ADDRESSES);
                goto out;
            }
            addresses[n_addresses++] = optarg;
            break;
        case 'c':
            if (!parse_ull(optarg, 1, MAX_CONCURRENCY, &concurrency)) {
                fprintf(stderr, "zh-bench: --concurrency wants 1..%d\n", MAX_CONCURRENCY);
                goto out;
            }
            break;
        case 'd':
            if (!parse_double(optarg, 0.001, 86400, &duration_s)) {
                fprintf(stderr, "zh-bench: --duration wants seconds, 0.001..86400\n");
                goto out;
            }
            duration_given = true;
            break;
        case 'n':
            if (!parse_ull(optarg, 1, 1000000000ull, &requests_target)) {
                fprintf(stderr, "zh-bench: --requests wants 1..1000000000\n");
                goto out;
            }
            break;
        case 'w':
            if (!parse_double(optarg, 0, 3600, &warmup_s)) {
                fprintf(stderr, "zh-bench: --warmup wants seconds, 0..3600\n");
                goto out;
            }
            break;
        case 'j':
            json = true;
            break;
        case OPT_ALLOW_ERRORS:
            allow_errors = true;
            break;
        case 'h':
            fputs(usage_text, stdout);
            ex = EXIT_OK;
            goto out;
        default:
            fprintf(stderr, "Try 'zh-bench --help'.\n");
            goto out;
        }
    }
    if (!n_addresses || optind == argc) {
        fprintf(stderr, "zh-bench: need at least one --address and one DIR or FILE\n"
                        "Try 'zh-bench --help'.\n");
        goto out;
    }
    if (duration_given && requests_target) {
        fprintf(stderr, "zh-bench: --duration and --requests are alternatives\n");
        goto out;
    }

    if (load_corpus(argv + optind, argc - optind, &corpus) != 0)
        goto out;
    if (!corpus.n) {
        fprintf(stderr, "zh-bench: no messages found\n");
        goto out;
    }
    s.corpus = &corpus;
    s.median_bytes = median_size(&corpus);
    if (!json)
        fprintf(stderr, "zh-bench: %zu messages loaded, median %zu bytes\n", corpus.n,
                s.median_bytes);

    struct zh_client_options copts = {.timeout_ms = CALL_TIMEOUT_MS};
    int rc = zh_client_open(&client, addresses, n_addresses, &copts);
    if (rc != ZH_OK) {
        fprintf(stderr, "zh-bench: cannot open client: %s: %s\n", zh_client_strerror(rc),
                zh_client_last_error());
        goto out;
    }
    /* Ping first so that an engine that is not there is a setup error (exit 2)
     * and not ten seconds of "unreachable" counted as failed requests. */
    if ((rc = zh_client_ping(client, &ping)) != ZH_OK) {
        fprintf(stderr, "zh-bench: engine does not answer Ping: %s: %s\n", zh_client_strerror(rc),
                zh_client_last_error());
        goto out;
    }
    s.engine_version = ping->version;
    s.engine_workers = ping->workers;
    for (size_t i = 0; i < corpus.n; i++)
        s.oversize += ping->max_message_bytes && corpus.v[i].len > ping->max_message_bytes;
    if (s.oversize && !json)
        fprintf(stderr,
                "zh-bench: %zu messages exceed the engine's %llu-byte limit and will fail "
                "with \"toobig\"\n",
                s.oversize, (unsigned long long)ping->max_message_bytes);

    for (int i = 0; i < 254; i++)
        snprintf(client_ips[i], sizeof client_ips[i], "192.0.2.%d", i + 1);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    fetch_scans(client, &s.eng.scans_before, &s.eng.avg_before);

    if (!(workers = calloc(concurrency, sizeof *workers)))
        goto oom;
    for (size_t i = 0; i < concurrency; i++) {
        struct worker *w = &workers[i];
        w->index = i;
        w->stride = concurrency;
        if (requests_target) {
            w->quota = requests_target / concurrency + (i < requests_target % concurrency);
            w->cap_lat = w->quota;
        } else {
            w->cap_lat = (size_t)ceil(duration_s * LAT_PER_THREAD_SECOND);
        }
        if (w->cap_lat && !(w->lat = malloc(w->cap_lat * sizeof *w->lat)))
            goto oom;
    }

    uint64_t t_start = now_us();
    struct bench b = {
        .client = client,
        .corpus = &corpus,
        .t_warm_end = t_start + (uint64_t)(warmup_s * 1e6),
        .t_end = requests_target ? UINT64_MAX : t_start + (uint64_t)((warmup_s + duration_s) * 1e6),
    };
    bool start_failed = false;
    for (size_t i = 0; i < concurrency && !start_failed; i++) {
        if (requests_target && !workers[i].quota)
            continue; /* more threads than requests: this one has nothing to do */
        workers[i].b = &b;
        int err = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
        if (err) {
            fprintf(stderr, "zh-bench: pthread_create: %s\n", strerror(err));
            atomic_store(&stop_requested, true);
            start_failed = true;
        } else {
            workers[i].started = true;
        }
    }
    for (size_t i = 0; i < concurrency; i++)
        if (workers[i].started)
            pthread_join(workers[i].thread, NULL);
    if (start_failed)
        goto out; /* fewer threads than asked for: the figures would mislead */
    s.interrupted = atomic_load(&stop_requested);

    /* Merge. The measured window runs from the end of the warm-up to the
     * last measured completion, so a slow final request is paid for. */
    uint64_t last_done = 0;
    size_t n_lat = 0;
    for (size_t i = 0; i < concurrency; i++) {
        const struct worker *w = &workers[i];
        s.requests += w->requests;
        s.ok += w->ok;
        s.bytes += w->bytes;
        s.warm_requests += w->warm_requests;
        s.warm_errors += w->warm_errors;
        s.lat_truncated |= w->lat_truncated;
        for (int e = 0; e < ERR_SLOTS; e++)
            s.errors[e] += w->errors[e];
        for (int v = 0; v < VERDICT_SLOTS; v++)
            s.verdicts[v] += w->verdicts[v];
        if (w->last_done_us > last_done)
            last_done = w->last_done_us;
        if (!s.first_error && w->first_err)
            s.first_error = w->first_err_detail;
        n_lat += w->n_lat;
    }
    s.elapsed_s = last_done > b.t_warm_end ? (last_done - b.t_warm_end) / 1e6 : 0;
    if (n_lat) {
        if (!(all_lat = malloc(n_lat * sizeof *all_lat)))
            goto oom;
        size_t at = 0;
        for (size_t i = 0; i < concurrency; i++) {
            memcpy(all_lat + at, workers[i].lat, workers[i].n_lat * sizeof *all_lat);
            at += workers[i].n_lat;
        }
        qsort(all_lat, n_lat, sizeof *all_lat, cmp_u32);
    }
    s.p50 = pct_ms(all_lat, n_lat, 50);
    s.p90 = pct_ms(all_lat, n_lat, 90);
    s.p99 = pct_ms(all_lat, n_lat, 99);
    s.max = n_lat ? all_lat[n_lat - 1] / 1000.0 : NAN;

    fetch_scans(client, &s.eng.scans_after, &s.eng.avg_after);
    fetch_server(client, &s.eng);

    s.addresses = addresses;
    s.n_addresses = n_addresses;
    s.concurrency = (unsigned)concurrency;
    s.warmup_s = warmup_s;
    s.duration_s = duration_s;
    s.requests_target = requests_target;
    if (json)
        print_json(&s);
    else
        print_table(&s);
    fflush(stdout);

    bool failed = s.requests > s.ok || s.warm_errors;
    if (!s.requests)
        fprintf(stderr, "zh-bench: no request was measured (warm-up too long?)\n");
    /* An interrupted run measured less than was asked for: a script must not
     * mistake it for a complete one. */
    ex = !s.requests || s.interrupted || (failed && !allow_errors) ? EXIT_FAILED : EXIT_OK;
    goto out;

oom:
    fprintf(stderr, "zh-bench: out of memory\n");
out:
    free(all_lat);
    if (workers)
        for (size_t i = 0; i < concurrency; i++)
            free(workers[i].lat);
    free(workers);
    if (ping)
        zh_ping_result_free(ping);
    if (client)
        zh_client_close(client);
    corpus_free(&corpus);
    return ex;
}

/* Fuzz target for the whole scan path on untrusted bytes: MIME flattening,
 * decoding, the archive walk and every detector, with the default rules.
 * Built as a libFuzzer target with -DZH_FUZZ=ON (clang), and always as a
 * regression driver (driver.c) that replays corpus/scan/ under the sanitizers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "zerohour/engine.h"
#include "zerohour/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static zh_engine *engine;
static zh_scanner *scanner;

static void init(void)
{
    struct zh_config cfg;
    zh_log_set_level(ZH_LOG_ERROR);
    zh_config_defaults(&cfg);
    zh_config_set(&cfg, "rules_dir", ZH_SOURCE_DIR "/rules", NULL, 0);
    /* Small bounds keep each input fast; the limits themselves are under test. */
    zh_config_set(&cfg, "archive_max_total_bytes", "8M", NULL, 0);
    zh_config_set(&cfg, "archive_max_member_bytes", "4M", NULL, 0);
    zh_config_set(&cfg, "scan_timeout_ms", "2s", NULL, 0);
    if (zh_engine_new(&cfg, &engine, NULL) != ZH_ERR_OK ||
        zh_scanner_new(engine, &scanner) != ZH_ERR_OK)
        abort();
    zh_config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!engine)
        init();
    static const char *const rcpt[] = {"alice@corp.example.com"};
    const struct zh_scan_envelope env = {.client_ip = "198.51.100.7",
                                         .helo = "mx.example.org",
                                         .mail_from = "bob@example.org",
                                         .rcpt_to = rcpt,
                                         .n_rcpt = 1,
                                         .received_at = 1075111200000};
    const struct zh_result *r;
    zh_scanner_scan(scanner, data, size, &env, 0, &r);
    /* Invariants: a reply always has a status; an OK reply a real verdict. */
    if (r->status == 0 && (r->verdict < 1 || r->verdict > 5))
        abort();
    if (r->status == 0 && r->n_hits && !r->hits)
        abort();
    return 0;
}

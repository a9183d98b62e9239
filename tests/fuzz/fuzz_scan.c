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

static void set(struct zh_config *cfg, const char *name, const char *value)
{
    if (zh_config_set(cfg, name, value, NULL, 0) != ZH_ERR_OK)
        abort();
}

static void init(void)
{
    struct zh_config cfg;
    zh_log_set_level(ZH_LOG_ERROR);
    zh_config_defaults(&cfg);
    set(&cfg, "rules_dir", ZH_SOURCE_DIR "/rules");
    /* Small bounds keep each input fast; the limits themselves are under test. */
    set(&cfg, "archive_max_total_bytes", "8M");
    set(&cfg, "archive_max_member_bytes", "4M");
    set(&cfg, "scan_timeout_ms", "2s");
    /* No background rule profiler: its thread would run rules beside the
     * input under test, unrelated to it, and slow every execution. */
    set(&cfg, "rule_profile_interval_ms", "0");
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

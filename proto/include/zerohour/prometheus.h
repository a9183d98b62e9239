/* zerohour/prometheus.h — the engine's Stats entries (section, key, value,
 * as the Stats call and zh_engine_stats give them) in the Prometheus text
 * exposition format, version 0.0.4. One mapping for zerohourd's /metrics
 * endpoint and `zerohour stats --format prometheus` (the node_exporter
 * textfile collector), so both print the same metrics. Entries the mapping
 * does not know are left out. Not thread-safe: one zh_prom per caller. */
#ifndef ZEROHOUR_PROMETHEUS_H
#define ZEROHOUR_PROMETHEUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zh_prom zh_prom;

/* NULL when out of memory. */
zh_prom *zh_prom_new(void);
/* Feed one Stats entry; its signature is zh_stats_fn's, so the engine can
 * call it directly (ud is the zh_prom). Besides the engine's sections it
 * takes ("outbreaks", "active", N), which callers add from the Outbreaks
 * listing. */
void zh_prom_entry(void *ud, const char *section, const char *key, const char *value);
/* The exposition text (malloc'd, the caller frees it) with its length, every
 * metric family once with HELP and TYPE; NULL when out of memory. */
char *zh_prom_text(zh_prom *p, size_t *len);
void zh_prom_free(zh_prom *p);

/* The Content-Type an HTTP server gives the text. */
#define ZH_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#ifdef __cplusplus
}
#endif
#endif

/* metrics.h — zerohourd's Prometheus endpoint: GET /metrics on
 * engine.metrics_address (nng's HTTP server), the engine's and the
 * server's counters in the text exposition format (zerohour/prometheus.h). */
#ifndef ZHD_METRICS_H
#define ZHD_METRICS_H

#include <stddef.h>

#include "server.h"
#include "zerohour/engine.h"

struct zhd_metrics;

/* Serve /metrics on url (http://HOST:PORT). Returns 0, or -1 with err. */
int zhd_metrics_start(const char *url, zh_engine *e, struct zhd_server *srv,
                      struct zhd_metrics **out, char *err, size_t errlen);
/* Stop serving and free (NULL is fine). Call before the server is stopped. */
void zhd_metrics_stop(struct zhd_metrics *m);

#endif

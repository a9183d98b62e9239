/* zerohourd's /metrics: nng's HTTP server calls handle() on one of its
 * threads per request; the handler reads the same counters as the Stats
 * call (atomics and the engine's own locks), so it never blocks a scan. */
#include "metrics.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zerohour/log.h"
#include "zerohour/prometheus.h"

struct zhd_metrics {
    zh_engine *engine;
    struct zhd_server *srv;
    nng_url *url;
    nng_http_server *http;
};

static void handle(nng_aio *aio)
{
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    struct zhd_metrics *m = nng_http_handler_get_data(h);
    nng_http_res *res = NULL;
    char *text = NULL;
    size_t len = 0;
    zh_prom *p = zh_prom_new();
    if (p) {
        enum { MAX_OB = 1024 };
        struct zh_outbreak_info *ob = calloc(MAX_OB, sizeof *ob);
        zh_engine_stats(m->engine, NULL, zh_prom_entry, p);
        zhd_server_stats(m->srv, NULL, zh_prom_entry, p);
        if (ob) {
            size_t n = zh_engine_outbreaks(m->engine, 0, ob, MAX_OB), active = 0;
            for (size_t i = 0; i < n; i++)
                active += ob[i].active;
            char v[32];
            snprintf(v, sizeof v, "%zu", active);
            zh_prom_entry(p, "outbreaks", "active", v);
            free(ob);
        }
        text = zh_prom_text(p, &len);
        zh_prom_free(p);
    }
    if (!text) {
        nng_aio_finish(aio, NNG_ENOMEM); /* nng answers 500 */
        return;
    }
    int rv = nng_http_res_alloc(&res);
    if (rv == 0)
        rv = nng_http_res_set_header(res, "Content-Type", ZH_PROM_CONTENT_TYPE);
    if (rv == 0)
        rv = nng_http_res_copy_data(res, text, len);
    free(text);
    if (rv != 0) {
        if (res)
            nng_http_res_free(res);
        nng_aio_finish(aio, rv);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

int zhd_metrics_start(const char *url, zh_engine *e, struct zhd_server *srv,
                      struct zhd_metrics **out, char *err, size_t errlen)
{
    struct zhd_metrics *m = calloc(1, sizeof *m);
    nng_http_handler *h = NULL;
    int rv;
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    m->engine = e;
    m->srv = srv;
    if ((rv = nng_url_parse(&m->url, url)) != 0 || strcmp(m->url->u_scheme, "http")) {
        snprintf(err, errlen, "metrics_address \"%s\" is not http://HOST:PORT%s%s", url,
                 rv ? ": " : "", rv ? nng_strerror(rv) : "");
        goto fail;
    }
    if ((rv = nng_http_server_hold(&m->http, m->url)) != 0 ||
        (rv = nng_http_handler_alloc(&h, "/metrics", handle)) != 0 ||
        (rv = nng_http_handler_set_data(h, m, NULL)) != 0 ||
        (rv = nng_http_server_add_handler(m->http, h)) != 0) {
        snprintf(err, errlen, "metrics on %s: %s", url, nng_strerror(rv));
        if (h)
            nng_http_handler_free(h);
        goto fail;
    }
    if ((rv = nng_http_server_start(m->http)) != 0) {
        snprintf(err, errlen, "cannot serve metrics on %s: %s", url, nng_strerror(rv));
        goto fail;
    }
    *out = m;
    return 0;
fail:
    zhd_metrics_stop(m);
    return -1;
}

void zhd_metrics_stop(struct zhd_metrics *m)
{
    if (!m)
        return;
    if (m->http) {
        nng_http_server_stop(m->http);
        nng_http_server_release(m->http);
    }
    if (m->url)
        nng_url_free(m->url);
    free(m);
}

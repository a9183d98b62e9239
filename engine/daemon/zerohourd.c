/* zerohourd: configuration (defaults → INI file → flags), rule set, the nng
 * service, and the signal loop (SIGHUP reloads, SIGTERM/SIGINT drain and exit).
 * All scanning is in the engine library; all serving in server.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "server.h"
#include "watch.h"
#include "zerohour/config.h"
#include "zerohour/engine.h"
#include "zerohour/log.h"
#include "zerohour/service.h"
#include "zerohour/syslog.h"
#include "zerohour/wire.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: zerohourd [OPTIONS]\n"
            "\n"
            "zerohourd is the zerohour engine: a long-running service that answers scan\n"
            "requests from the zerohour CLI, the milter and libzerohour-client over nng\n"
            "sockets, judging each message by its MIME structure, its attachments, YARA\n"
            "rules and behavioural heuristics.\n"
            "\n"
            "Options (flags override the configuration file, which overrides defaults):\n"
            "  -c, --config FILE       read settings from the INI file FILE\n"
            "  -a, --address URL       listen on URL (ipc:///path or tcp://127.0.0.1:PORT);\n"
            "                          repeat for several. Default: $ZEROHOUR_ADDRESS, else\n"
            "                          ipc://$XDG_RUNTIME_DIR/zerohour.sock or\n"
            "                          ipc:///tmp/zerohour-UID/zerohour.sock (root:\n"
            "                          ipc:///run/zerohour/zerohour.sock); that directory\n"
            "                          is made 0700, and refused if another user could\n"
            "                          have made it. tls+tcp:// is not supported yet\n"
            "  -r, --rules DIR         compile every *.yar/*.yara file below DIR\n"
            "  -w, --workers N         scan worker threads (default: number of CPUs)\n"
            "  -l, --log-level LEVEL   error, warn, info (default) or debug\n"
            "  -s, --set NAME=VALUE    set any setting, e.g. --set limits.max_mime_parts=1000\n"
            "      --check             load the configuration and compile the rules, then exit\n"
            "      --print-config      print the configuration (defaults, --config, flags) as\n"
            "                          an INI file, every setting with its help; settings\n"
            "                          left at their default are commented out\n"
            "      --settings-markdown print the settings table in Markdown (for the README)\n"
            "      --settings-man      print the settings as roff (for zerohourd.ini(5))\n"
            "  -V, --version           print the version and exit\n"
            "  -h, --help              print this help and exit\n"
            "\n"
            "Rules are recompiled when files under the rules directory change (inotify,\n"
            "debounced; engine.watch_rules), on SIGHUP and on the Reload call.\n"
            "With [outbreak] state_file set, the outbreak state is saved there every\n"
            "snapshot_ms and on SIGTERM, and restored at start.\n"
            "Signals: SIGHUP recompiles the rules (the old set keeps serving if the new one\n"
            "has errors); SIGTERM and SIGINT stop taking requests, answer the ones being\n"
            "scanned, and exit.\n"
            "\n"
            "Exit status: 0 after a clean shutdown or a successful --check, 1 when the\n"
            "configuration or the rules are invalid, 2 when the service cannot start\n"
            "(address in use, permissions).\n"
            "\n"
            "Settings (INI section.name, defaults shown by --print-config):\n");
    for (const struct zh_setting *s = zh_settings; s->name; s++)
        fprintf(out, "  %s.%s = %s\n      %s\n", s->section, s->name, *s->def ? s->def : "(unset)",
                s->help);
}

/* Whether a tcp:// (or ws://, or the metrics' http://) listener stays on
 * this machine: 127.0.0.0/8, ::1 (or ::ffff:127.x) or "localhost". Other
 * URLs (ipc://, tls+tcp://) are true. */
static bool tcp_is_loopback(const char *url)
{
    const char *sep = strstr(url, "://");
    if (!sep || (strncmp(url, "tcp", 3) && strncmp(url, "ws", 2) && strncmp(url, "http", 4)))
        return true;
    char host[256];
    const char *h = sep + 3, *end;
    if (*h == '[') {
        h++;
        end = strchr(h, ']');
    } else {
        end = strrchr(h, ':');
    }
    if (!end || (size_t)(end - h) >= sizeof host)
        return false;
    memcpy(host, h, (size_t)(end - h));
    host[end - h] = 0;
    struct in_addr a4;
    struct in6_addr a6;
    if (!strcasecmp(host, "localhost"))
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return false; /* "*", "", 0.0.0.0, or a name: reachable from elsewhere */
}

/* Milliseconds on CLOCK_MONOTONIC: the snapshot schedule ignores wall-clock
 * jumps. */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Once the sockets are bound: give ipc sockets their group (and, when root
 * becomes `user`, their owner, so the user can remove them at exit), then
 * become `user`, then refuse to go on as root unless allowed. */
static int on_listening(void *ud, char *err, size_t errlen)
{
    const struct zh_config *cfg = ud;
    bool become = cfg->user && *cfg->user;
    uid_t uid = (uid_t)-1;
    gid_t gid;
    if (become && geteuid() == 0 &&
        zh_service_lookup(cfg->user, cfg->group, &uid, &gid, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i <= cfg->n_addresses; i++) {
        const char *a = i < cfg->n_addresses ? cfg->addresses[i] : cfg->admin_address;
        if (a && !strncmp(a, "ipc://", 6) &&
            zh_service_socket_owner(a + 6, uid, cfg->socket_group, err, errlen) != 0)
            return -1;
    }
    if (become) {
        if (zh_service_become(cfg->user, cfg->group, err, errlen) != 0)
            return -1;
        zh_log(ZH_LOG_INFO, "running as user %s", cfg->user);
    }
    if (geteuid() == 0) {
        if (!cfg->allow_root) {
            snprintf(err, errlen,
                     "refusing to scan mail as root (engine.allow_root = 0): set engine.user or "
                     "start zerohourd as an unprivileged user");
            return -1;
        }
        zh_log(ZH_LOG_WARN, "scanning mail as root; set engine.user (e.g. zerohour) so hostile "
                            "mail is parsed without privileges");
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct zh_config cfg;
    char err[1024] = "";
    const char *config_path = NULL;
    int check_only = 0, print_config = 0, rc = 1;
    zh_engine *engine = NULL;
    struct zhd_server *srv = NULL;
    struct zhd_watch *watch = NULL;
    struct zhd_metrics *metrics = NULL;
    static const struct option longopts[] = {
        {"config", required_argument, 0, 'c'},
        {"address", required_argument, 0, 'a'},
        {"rules", required_argument, 0, 'r'},
        {"workers", required_argument, 0, 'w'},
        {"log-level", required_argument, 0, 'l'},
        {"set", required_argument, 0, 's'},
        {"check", no_argument, 0, 1},
        {"print-config", no_argument, 0, 2},
        {"settings-markdown", no_argument, 0, 3},
        {"settings-man", no_argument, 0, 4},
        {"version", no_argument, 0, 'V'},
        {"help", no_argument, 0, 'h'},
        {0},
    };

    zh_log_set_ident("zerohourd");
    if (zh_config_defaults(&cfg) != ZH_ERR_OK) {
        fprintf(stderr, "zerohourd: out of memory\n");
        return 1;
    }
    /* First pass: find --config and the informational options. */
    int opt;
    while ((opt = getopt_long(argc, argv, "c:a:r:w:l:s:Vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        case 'V':
            printf("zerohourd %s\n", ZH_VERSION);
            rc = 0;
            goto out;
        case 2:
            print_config = 1;
            break;
        case 3:
            zh_config_write_markdown(stdout);
            rc = 0;
            goto out;
        case 4:
            zh_config_write_man(stdout);
            rc = 0;
            goto out;
        case '?':
            fprintf(stderr, "Try 'zerohourd --help'.\n");
            goto out;
        default:
            break;
        }
    }
    if (config_path && zh_config_load(&cfg, config_path, err, sizeof err) != ZH_ERR_OK) {
        fprintf(stderr, "zerohourd: %s\n", err);
        goto out;
    }
    /* Second pass: flags override the file. */
    int addresses_from_flags = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:a:r:w:l:s:Vh", longopts, NULL)) != -1) {
        const char *name = NULL, *value = optarg;
        char buf[256];
        switch (opt) {
        case 'a':
            if (!addresses_from_flags++)
                zh_config_set(&cfg, "engine.address", "", NULL, 0), cfg.n_addresses = 0;
            name = "engine.address";
            break;
        case 'r':
            name = "engine.rules_dir";
            break;
        case 'w':
            name = "engine.workers";
            break;
        case 'l':
            name = "engine.log_level";
            break;
        case 's': {
            const char *eq = strchr(optarg, '=');
            if (!eq || (size_t)(eq - optarg) >= sizeof buf) {
                fprintf(stderr, "zerohourd: --set wants NAME=VALUE, got \"%s\"\n", optarg);
                goto out;
            }
            memcpy(buf, optarg, (size_t)(eq - optarg));
            buf[eq - optarg] = 0;
            name = buf;
            value = eq + 1;
            break;
        }
        case 1:
            check_only = 1;
            break;
        default:
            break;
        }
        if (name && zh_config_set(&cfg, name, value, err, sizeof err) != ZH_ERR_OK) {
            fprintf(stderr, "zerohourd: %s\n", err);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "zerohourd: unexpected argument \"%s\"; try 'zerohourd --help'\n",
                argv[optind]);
        goto out;
    }
    if (print_config) {
        zh_config_write(stdout, &cfg);
        rc = 0;
        goto out;
    }
    /* The default address ($ZEROHOUR_ADDRESS included) is checked like one
     * given in the configuration. */
    int default_address = cfg.n_addresses == 0;
    if (default_address) {
        char addr[PATH_MAX];
        if (zh_default_address(addr, sizeof addr) != 0 ||
            zh_config_set(&cfg, "engine.address", addr, err, sizeof err) != ZH_ERR_OK) {
            fprintf(stderr, "zerohourd: cannot form the default address\n");
            goto out;
        }
    }
    if (zh_config_check(&cfg, err, sizeof err) != ZH_ERR_OK) {
        fprintf(stderr, "zerohourd: %s\n", err);
        goto out;
    }
    zh_log_set_level(zh_log_level_parse(cfg.log_level));
    if (!strcmp(cfg.log_target, "syslog") &&
        zh_syslog_open(cfg.log_socket, cfg.log_facility, "zerohourd", err, sizeof err) != 0) {
        fprintf(stderr, "zerohourd: %s\n", err);
        goto out;
    }
    size_t workers = (size_t)cfg.workers;
    if (workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        workers = n > 0 ? (size_t)n : 1;
    }

    /* Signals are taken by sigwait in this thread only: block them before any
     * thread (nng's, the workers) starts so they inherit the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct zh_rules_report rep;
    if (zh_engine_new(&cfg, &engine, &rep) != ZH_ERR_OK) {
        if (!rep.n_errors)
            fprintf(stderr, "zerohourd: the engine could not start (see the log above)\n");
        else
            fprintf(stderr, "zerohourd: rules in %s could not be compiled:\n", cfg.rules_dir);
        for (size_t i = 0; i < rep.n_errors; i++)
            fprintf(stderr, "  %s\n", rep.errors[i]);
        zh_rules_report_free(&rep);
        goto out;
    }
    if (check_only) {
        printf("configuration ok; %u rules compiled from %s", rep.rule_count, cfg.rules_dir);
        printf(rep.n_warnings ? " with %zu warning(s)\n" : "\n", rep.n_warnings);
        for (size_t i = 0; i < rep.n_warnings; i++)
            printf("  %s\n", rep.warnings[i]);
        zh_rules_report_free(&rep);
        rc = 0;
        goto out;
    }
    zh_rules_report_free(&rep);
    /* The default socket's directory is ours or nothing: another local user
     * who made it first could replace the socket and answer every client. */
    if (default_address &&
        zh_ipc_check(cfg.addresses[0], ZH_IPC_PRIVATE | ZH_IPC_CREATE, err, sizeof err) != 0) {
        zh_log(ZH_LOG_ERROR, "%s", err);
        rc = 2;
        goto out;
    }
    for (size_t i = 0; !default_address && i < cfg.n_addresses; i++) {
        if (zh_ipc_check(cfg.addresses[i], 0, err, sizeof err) != 0)
            zh_log(ZH_LOG_WARN, "%s", err);
        if (!tcp_is_loopback(cfg.addresses[i]))
            zh_log(ZH_LOG_WARN,
                   "%s is not a loopback address: anyone who can connect to it may scan, in "
                   "clear text (tls+tcp:// with engine.tls_ca restricts who may; admin calls "
                   "answer only on ipc:// and engine.admin_address)",
                   cfg.addresses[i]);
    }
    if (zhd_server_start(engine, &cfg, workers, on_listening, &cfg, &srv, err, sizeof err) != 0) {
        zh_log(ZH_LOG_ERROR, "cannot start: %s", err);
        rc = 2;
        goto out;
    }
    if (*cfg.metrics_address &&
        zhd_metrics_start(cfg.metrics_address, engine, srv, &metrics, err, sizeof err) != 0) {
        zh_log(ZH_LOG_ERROR, "cannot start: %s", err);
        rc = 2;
        goto out;
    }
    if (*cfg.metrics_address) {
        zh_log(ZH_LOG_INFO, "metrics at %s/metrics", cfg.metrics_address);
        if (!tcp_is_loopback(cfg.metrics_address))
            zh_log(ZH_LOG_WARN,
                   "metrics_address %s is not a loopback address; anyone who can "
                   "reach it can read the counters",
                   cfg.metrics_address);
    }
    if (cfg.watch_rules && zhd_watch_start(engine, cfg.rules_dir, cfg.reload_debounce_ms, &watch,
                                           err, sizeof err) != 0)
        zh_log(ZH_LOG_WARN, "%s; reload with SIGHUP or zerohour reload", err);
    for (size_t i = 0; i < cfg.n_addresses; i++)
        zh_log(ZH_LOG_INFO, "listening on %s", cfg.addresses[i]);
    zh_log(ZH_LOG_INFO, "zerohourd %s ready: %zu workers, ruleset version %llu", ZH_VERSION,
           workers, (unsigned long long)zh_engine_ruleset_version(engine));

    bool persist = cfg.outbreak_enabled && cfg.outbreak_state_file && *cfg.outbreak_state_file;
    /* Snapshots run on an absolute schedule: a signal (a SIGHUP every second)
     * must not push the next save back each time it wakes us. */
    int64_t next_save = now_ms() + cfg.outbreak_snapshot_ms;
    for (;;) {
        int sig = 0;
        if (persist) {
            int64_t now = now_ms();
            if (now >= next_save) {
                if (zh_engine_save_state(engine, err, sizeof err) != ZH_ERR_OK)
                    zh_log(ZH_LOG_WARN, "outbreak state not saved: %s", err);
                /* Keep the cadence; after a long stall, start afresh from now. */
                next_save += cfg.outbreak_snapshot_ms;
                if (next_save <= (now = now_ms()))
                    next_save = now + cfg.outbreak_snapshot_ms;
            }
            int64_t left = next_save - now;
            struct timespec wait = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
            if ((sig = sigtimedwait(&sigs, NULL, &wait)) < 0)
                continue; /* EAGAIN: time to save; EINTR: look again */
        } else if (sigwait(&sigs, &sig) != 0) {
            continue;
        }
        if (sig == SIGHUP) {
            zh_log(ZH_LOG_INFO, "SIGHUP: reloading rules");
            zh_engine_reload(engine, &rep);
            zh_rules_report_free(&rep);
            continue;
        }
        zh_log(ZH_LOG_INFO, "%s: finishing requests in flight, then exiting", strsignal(sig));
        break;
    }
    zhd_watch_stop(watch);
    zhd_metrics_stop(metrics);
    metrics = NULL;
    zhd_server_drain_and_stop(srv);
    srv = NULL;
    if (persist) {
        if (zh_engine_save_state(engine, err, sizeof err) == ZH_ERR_OK)
            zh_log(ZH_LOG_INFO, "outbreak state saved to %s", cfg.outbreak_state_file);
        else
            zh_log(ZH_LOG_ERROR, "outbreak state not saved: %s", err);
    }
    zh_log(ZH_LOG_INFO, "stopped");
    rc = 0;
out:
    zhd_metrics_stop(metrics);
    if (srv)
        zhd_server_drain_and_stop(srv);
    zh_engine_free(engine);
    zh_config_free(&cfg);
    return rc;
}

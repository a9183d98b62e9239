/* Rules directory watcher: one thread blocks in poll() on an inotify
 * descriptor; changes to rule files (*.yar, *.yara, heuristics.ini) or to the
 * directory tree start a quiet-period timer, and when it runs out the engine
 * recompiles. An editor's save, a git pull or an rsync of hundreds of files
 * is one reload. The reload itself is zh_engine_reload: compile off the scan
 * path, publish by an atomic swap. */
#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zerohour/log.h"

#define WATCH_MASK                                                                                 \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB |            \
     IN_DELETE_SELF | IN_MOVE_SELF)

struct zhd_watch {
    zh_engine *engine;
    char dir[PATH_MAX];
    int64_t debounce_ms;
    int fd;
    int wake[2]; /* self-pipe: a byte asks the thread to stop */
    pthread_t thread;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Watch dir and every directory below it (new ones are added after each
 * reload, so a directory created by a git checkout is seen too). */
static void add_tree(struct zhd_watch *w, const char *dir, int depth)
{
    if (inotify_add_watch(w->fd, dir, WATCH_MASK | IN_ONLYDIR) < 0) {
        zh_log(ZH_LOG_WARN, "rules: cannot watch %s: %s", dir, strerror(errno));
        return;
    }
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && depth < 16 && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char p[PATH_MAX];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            add_tree(w, p, depth + 1);
    }
    if (d)
        closedir(d);
}

static int relevant(const struct inotify_event *ev)
{
    if (ev->mask & (IN_ISDIR | IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW))
        return 1;
    if (!ev->len || ev->name[0] == '.')
        return 0; /* editor swap files, dot files */
    size_t n = strlen(ev->name);
    return (n > 4 && !strcmp(ev->name + n - 4, ".yar")) ||
           (n > 5 && !strcmp(ev->name + n - 5, ".yara")) || !strcmp(ev->name, "heuristics.ini");
}

static void *watch_main(void *arg)
{
    struct zhd_watch *w = arg;
    int64_t due = -1; /* when to reload; -1 = nothing pending */
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        int timeout = -1;
        if (due >= 0) {
            int64_t left = due - now_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        struct pollfd pf[2] = {{w->fd, POLLIN, 0}, {w->wake[0], POLLIN, 0}};
        int n = poll(pf, 2, timeout);
        if (n < 0 && errno != EINTR)
            break;
        if (pf[1].revents)
            break;
        if (n > 0 && (pf[0].revents & POLLIN)) {
            ssize_t len = read(w->fd, buf, sizeof buf);
            for (ssize_t off = 0; len > 0 && off < len;) {
                const struct inotify_event *ev = (const void *)(buf + off);
                if (relevant(ev))
                    due = now_ms() + w->debounce_ms; /* restart the quiet period */
                off += (ssize_t)(sizeof *ev + ev->len);
            }
            continue;
        }
        if (due >= 0 && now_ms() >= due) {
            due = -1;
            struct zh_rules_report rep;
            zh_log(ZH_LOG_INFO, "rules: change detected under %s, reloading", w->dir);
            zh_engine_reload(w->engine, &rep);
            zh_rules_report_free(&rep);
            add_tree(w, w->dir, 0); /* pick up new subdirectories; re-adding is harmless */
        }
    }
    return NULL;
}

int zhd_watch_start(zh_engine *e, const char *dir, int64_t debounce_ms, struct zhd_watch **out,
                    char *err, size_t errlen)
{
    struct zhd_watch *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->engine = e;
    w->debounce_ms = debounce_ms;
    w->wake[0] = w->wake[1] = -1;
    if (!realpath(dir, w->dir) || (w->fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0 ||
        pipe(w->wake) != 0) {
        snprintf(err, errlen, "cannot watch %s: %s", dir, strerror(errno));
        if (w->fd > 0)
            close(w->fd);
        free(w);
        return -1;
    }
    add_tree(w, w->dir, 0);
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        snprintf(err, errlen, "cannot start the watcher thread");
        close(w->fd);
        close(w->wake[0]);
        close(w->wake[1]);
        free(w);
        return -1;
    }
    *out = w;
    return 0;
}

void zhd_watch_stop(struct zhd_watch *w)
{
    if (!w)
        return;
    ssize_t r = write(w->wake[1], "x", 1);
    (void)r;
    pthread_join(w->thread, NULL);
    close(w->fd);
    close(w->wake[0]);
    close(w->wake[1]);
    free(w);
}

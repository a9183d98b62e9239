/* watch.h — zerohourd's rules directory watcher: inotify on rules_dir and its
 * subdirectories, debounced, calling zh_engine_reload off the scan path. */
#ifndef ZHD_WATCH_H
#define ZHD_WATCH_H

#include <stdint.h>

#include "zerohour/engine.h"

struct zhd_watch;

/* Start watching dir; a burst of changes followed by debounce_ms of quiet
 * gives one reload. Returns 0, or -1 with err filled. */
int zhd_watch_start(zh_engine *e, const char *dir, int64_t debounce_ms, struct zhd_watch **out,
                    char *err, size_t errlen);
/* Stop the thread (a reload in progress finishes first) and free. */
void zhd_watch_stop(struct zhd_watch *w);

#endif

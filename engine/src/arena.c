/* Per-scan bump allocator and clocks. One arena per scanner thread; reset
 * after each reply. Large requests get a block of their own. */
#include "zhi.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct zhi_arena_block {
    struct zhi_arena_block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

static struct zhi_arena_block *block_new(size_t size)
{
    struct zhi_arena_block *b = malloc(sizeof *b + size);
    if (b) {
        b->next = NULL;
        b->size = size;
        b->used = 0;
    }
    return b;
}

struct zhi_arena_adopted {
    struct zhi_arena_adopted *next;
    void *p;
    void (*release)(void *);
};

void zhi_arena_init(struct zhi_arena *a, size_t block_size)
{
    a->head = a->keep = NULL;
    a->adopted = NULL;
    a->keep_in_use = false;
    a->block_size = block_size ? block_size : 64 * 1024;
}

void *zhi_arena_alloc(struct zhi_arena *a, size_t n)
{
    n = n ? (n + 15) & ~(size_t)15 : 16;
    struct zhi_arena_block *b = a->head;
    if (b && b->size - b->used >= n) {
        void *p = b->data + b->used;
        b->used += n;
        return p;
    }
    if (n > a->block_size / 4) {
        /* A big one-off block, linked behind the current one so the current
         * block's free space keeps serving small allocations. */
        struct zhi_arena_block *big = block_new(n);
        if (!big)
            return NULL;
        big->used = n;
        if (a->head) {
            big->next = a->head->next;
            a->head->next = big;
        } else {
            a->head = big;
        }
        return big->data;
    }
    if (a->keep && !a->keep_in_use) {
        b = a->keep;
        b->used = 0;
        a->keep_in_use = true;
    } else if ((b = block_new(a->block_size))) {
        if (!a->keep) {
            a->keep = b;
            a->keep_in_use = true;
        }
    } else {
        return NULL;
    }
    b->next = a->head;
    a->head = b;
    b->used = n;
    return b->data;
}

void *zhi_arena_memdup(struct zhi_arena *a, const void *p, size_t n)
{
    unsigned char *d = zhi_arena_alloc(a, n + 1);
    if (d) {
        if (n)
            memcpy(d, p, n);
        d[n] = 0;
    }
    return d;
}

char *zhi_arena_strdup(struct zhi_arena *a, const char *s)
{
    return s ? zhi_arena_memdup(a, s, strlen(s)) : NULL;
}

char *zhi_arena_printf(struct zhi_arena *a, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *d = zhi_arena_alloc(a, (size_t)n + 1);
    if (!d)
        return NULL;
    if ((size_t)n < sizeof small) {
        memcpy(d, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(d, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return d;
}

bool zhi_buf_append(struct zhi_buf *b, const void *d, size_t n)
{
    if (n == 0)
        return true; /* nothing to copy, and b->p may still be NULL */
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64 * 1024;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np)
            return false;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    return true;
}

bool zhi_arena_adopt(struct zhi_arena *a, void *p, void (*release)(void *))
{
    struct zhi_arena_adopted *n = zhi_arena_alloc(a, sizeof *n);
    if (!n) {
        release(p);
        return false;
    }
    *n = (struct zhi_arena_adopted){.next = a->adopted, .p = p, .release = release};
    a->adopted = n;
    return true;
}

void zhi_arena_release_adopted(struct zhi_arena *a)
{
    for (struct zhi_arena_adopted *n = a->adopted; n; n = n->next)
        n->release(n->p);
    a->adopted = NULL;
}

void zhi_arena_reset(struct zhi_arena *a)
{
    zhi_arena_release_adopted(a); /* the list lives in the blocks: before they go */
    struct zhi_arena_block *b = a->head;
    while (b) {
        struct zhi_arena_block *next = b->next;
        if (b != a->keep)
            free(b);
        b = next;
    }
    a->head = NULL;
    a->keep_in_use = false;
}

void zhi_arena_free(struct zhi_arena *a)
{
    zhi_arena_reset(a);
    free(a->keep);
    a->keep = NULL;
}

uint64_t zhi_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t zhi_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A small epoll event loop: descriptor watches and one-shot timers. Watches and
 * timers may be removed from inside their own callbacks. */
#ifndef CONTAINER_LOOP_H
#define CONTAINER_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct ct_loop;
struct ct_watch;
struct ct_timer;

typedef void (*ct_watch_fn)(struct ct_loop *loop, int fd, uint32_t events, void *data);
typedef void (*ct_timer_fn)(struct ct_loop *loop, void *data);

struct ct_loop *ct_loop_new(struct ct_error *err);
void ct_loop_free(struct ct_loop *loop);

/* events: EPOLLIN/EPOLLOUT…; the descriptor stays owned by the caller. */
struct ct_watch *ct_loop_watch(struct ct_loop *loop, int fd, uint32_t events, ct_watch_fn fn,
			       void *data, struct ct_error *err);
int ct_loop_watch_modify(struct ct_loop *loop, struct ct_watch *w, uint32_t events);
void ct_loop_unwatch(struct ct_loop *loop, struct ct_watch *w);

/* Calls fn once after delay_ms. */
struct ct_timer *ct_loop_timer(struct ct_loop *loop, uint64_t delay_ms, ct_timer_fn fn,
			       void *data);
void ct_loop_timer_cancel(struct ct_loop *loop, struct ct_timer *t);

/* Runs until ct_loop_quit. */
int ct_loop_run(struct ct_loop *loop, struct ct_error *err);
void ct_loop_quit(struct ct_loop *loop);

#endif

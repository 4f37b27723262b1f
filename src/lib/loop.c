#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util.h"

struct ct_watch {
	int fd;
	ct_watch_fn fn;
	void *data;
	bool dead;
	struct ct_watch *next_dead;
	struct ct_watch *prev, *next; /* live watches, freed with the loop */
};

/* Timers live in a list ordered by deadline and drive epoll_wait's timeout: no
 * timerfd per timer, so thousands of pending back-offs cost nothing. */
struct ct_timer {
	uint64_t deadline;
	ct_timer_fn fn;
	void *data;
	struct ct_timer *next;
};

struct ct_loop {
	int epfd;
	bool quit;
	struct ct_timer *timers;
	struct ct_watch *dead; /* freed after the current dispatch round */
	struct ct_watch *live;
};

struct ct_loop *ct_loop_new(struct ct_error *err)
{
	struct ct_loop *loop = xcalloc(1, sizeof(*loop));

	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		ct_error_errno(err, CT_ERR_INTERNAL, "creating an epoll instance");
		free(loop);
		return NULL;
	}
	return loop;
}

static void free_dead(struct ct_loop *loop)
{
	while (loop->dead) {
		struct ct_watch *w = loop->dead;
		loop->dead = w->next_dead;
		free(w);
	}
}

void ct_loop_free(struct ct_loop *loop)
{
	if (!loop)
		return;
	while (loop->live)
		ct_loop_unwatch(loop, loop->live);
	free_dead(loop);
	while (loop->timers) {
		struct ct_timer *t = loop->timers;
		loop->timers = t->next;
		free(t);
	}
	close(loop->epfd);
	free(loop);
}

struct ct_watch *ct_loop_watch(struct ct_loop *loop, int fd, uint32_t events, ct_watch_fn fn,
			       void *data, struct ct_error *err)
{
	struct ct_watch *w = xcalloc(1, sizeof(*w));
	struct epoll_event ev = {.events = events, .data.ptr = w};

	w->fd = fd;
	w->fn = fn;
	w->data = data;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ct_error_errno(err, CT_ERR_INTERNAL, "watching descriptor %d", fd);
		free(w);
		return NULL;
	}
	w->next = loop->live;
	if (loop->live)
		loop->live->prev = w;
	loop->live = w;
	return w;
}

int ct_loop_watch_modify(struct ct_loop *loop, struct ct_watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, w->fd, &ev);
}

void ct_loop_unwatch(struct ct_loop *loop, struct ct_watch *w)
{
	if (!w || w->dead)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	if (w->prev)
		w->prev->next = w->next;
	else
		loop->live = w->next;
	if (w->next)
		w->next->prev = w->prev;
	/* Events for w may still sit in this round's array: free it afterwards. */
	w->dead = true;
	w->next_dead = loop->dead;
	loop->dead = w;
}

struct ct_timer *ct_loop_timer(struct ct_loop *loop, uint64_t delay_ms, ct_timer_fn fn, void *data)
{
	struct ct_timer *t = xcalloc(1, sizeof(*t)), **pp;

	t->deadline = ct_now_monotonic_ms() + delay_ms;
	t->fn = fn;
	t->data = data;
	for (pp = &loop->timers; *pp && (*pp)->deadline <= t->deadline; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	return t;
}

void ct_loop_timer_cancel(struct ct_loop *loop, struct ct_timer *t)
{
	for (struct ct_timer **pp = &loop->timers; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			free(t);
			return;
		}
}

static void run_due_timers(struct ct_loop *loop)
{
	uint64_t now = ct_now_monotonic_ms();

	while (loop->timers && loop->timers->deadline <= now && !loop->quit) {
		struct ct_timer *t = loop->timers;
		loop->timers = t->next;
		ct_timer_fn fn = t->fn;
		void *data = t->data;
		free(t);
		fn(loop, data);
	}
}

int ct_loop_run(struct ct_loop *loop, struct ct_error *err)
{
	struct epoll_event events[64];

	loop->quit = false;
	while (!loop->quit) {
		int timeout = -1;
		if (loop->timers) {
			uint64_t now = ct_now_monotonic_ms();
			timeout = loop->timers->deadline > now ? (int)(loop->timers->deadline - now) : 0;
		}
		int n = epoll_wait(loop->epfd, events, 64, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ct_error_errno(err, CT_ERR_INTERNAL, "waiting for events");
		}
		for (int i = 0; i < n && !loop->quit; i++) {
			struct ct_watch *w = events[i].data.ptr;
			if (!w->dead)
				w->fn(loop, w->fd, events[i].events, w->data);
		}
		free_dead(loop);
		run_due_timers(loop);
	}
	return 0;
}

void ct_loop_quit(struct ct_loop *loop)
{
	loop->quit = true;
}

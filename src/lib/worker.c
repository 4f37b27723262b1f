#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct worker {
	struct ct_loop *loop;
	void (*work)(void *arg);
	void (*done)(void *arg);
	void *arg;
	int event_fd;
	struct ct_watch *watch;
	pthread_t thread;
	struct worker *prev, *next;
};

/* Started and finished on the loop thread only (ct_worker_shutdown runs after
 * the loop has ended), so the list needs no lock. */
static struct worker *live;
static bool stopping;

static void unlink_worker(struct worker *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		live = w->next;
	if (w->next)
		w->next->prev = w->prev;
}

static void *worker_thread(void *data)
{
	struct worker *w = data;
	uint64_t one = 1;

	w->work(w->arg);
	/* An eventfd counter write only fails on overflow. */
	if (write(w->event_fd, &one, sizeof(one)) < 0)
		log_warn("worker: signalling the end of its work: %s", strerror(errno));
	return NULL;
}

static void worker_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct worker *w = data;

	pthread_join(w->thread, NULL);
	ct_loop_unwatch(loop, w->watch);
	close(w->event_fd);
	unlink_worker(w);
	void (*done)(void *) = w->done;
	void *arg = w->arg;
	free(w);
	done(arg);
}

int ct_worker_start(struct ct_loop *loop, void (*work)(void *arg), void (*done)(void *arg),
		    void *arg, struct ct_error *err)
{
	struct worker *w = xcalloc(1, sizeof(*w));

	w->loop = loop;
	w->work = work;
	w->done = done;
	w->arg = arg;
	w->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->event_fd < 0) {
		free(w);
		return ct_error_errno(err, CT_ERR_INTERNAL, "creating an eventfd");
	}
	if (!(w->watch = ct_loop_watch(loop, w->event_fd, EPOLLIN, worker_event, w, err))) {
		close(w->event_fd);
		free(w);
		return -1;
	}
	int rc = pthread_create(&w->thread, NULL, worker_thread, w);
	if (rc != 0) {
		ct_loop_unwatch(loop, w->watch);
		close(w->event_fd);
		free(w);
		errno = rc;
		return ct_error_errno(err, CT_ERR_INTERNAL, "starting a worker thread");
	}
	w->next = live;
	if (live)
		live->prev = w;
	live = w;
	return 0;
}

bool ct_worker_stopping(void)
{
	return stopping;
}

size_t ct_worker_shutdown(void)
{
	size_t n = 0;

	stopping = true;
	while (live) {
		struct worker *w = live;
		worker_event(w->loop, w->event_fd, EPOLLIN, w);
		n++;
	}
	return n;
}

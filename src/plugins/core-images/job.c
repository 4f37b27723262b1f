#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cleanup.h"
#include "frame.h"
#include "log.h"
#include "util.h"

struct queued {
	json_t *progress;
	struct queued *next;
};

struct job {
	struct ct_loop *loop;
	struct ct_request *req;
	job_fn fn;
	void *data;
	json_t *body;
	int fds[CT_FRAME_MAX_FDS];
	size_t nfds;
	int event_fd;
	struct ct_watch *watch;
	pthread_t thread;
	pthread_mutex_t lock;
	struct queued *head, *tail; /* under lock */
	bool done;		    /* under lock */
	json_t *result;		    /* under lock, with done */
	struct ct_error err;	    /* under lock, with done */
	struct job *prev, *next;    /* every live job, for job_shutdown */
	bool joined;		    /* job_shutdown joined the thread already */
};

/* Jobs are started and freed on the loop thread only (and job_shutdown runs
 * after the loop has ended), so the list needs no lock. */
static struct job *live_jobs;

static void wake(struct job *job)
{
	uint64_t one = 1;

	if (write(job->event_fd, &one, sizeof(one)) < 0) {
		/* The counter can't overflow in practice; nothing to do. */
	}
}

json_t *job_body(struct job *job)
{
	return job->body;
}

void *job_data(struct job *job)
{
	return job->data;
}

int job_take_fd(struct job *job, size_t index)
{
	if (index >= job->nfds)
		return -1;
	int fd = job->fds[index];
	job->fds[index] = -1;
	return fd;
}

void job_progress(struct job *job, json_t *progress)
{
	struct queued *q = xcalloc(1, sizeof(*q));

	q->progress = progress;
	pthread_mutex_lock(&job->lock);
	if (job->tail)
		job->tail->next = q;
	else
		job->head = q;
	job->tail = q;
	pthread_mutex_unlock(&job->lock);
	wake(job);
}

static void *job_thread(void *arg)
{
	struct job *job = arg;
	struct ct_error err = CT_ERROR_INIT;
	json_t *result = NULL;
	int rc = job->fn(job, &result, &err);

	pthread_mutex_lock(&job->lock);
	job->done = true;
	job->result = rc == 0 ? (result ? result : json_object()) : NULL;
	if (rc < 0) {
		if (!err.code[0])
			ct_error_set(&err, CT_ERR_INTERNAL, 0, "failed without saying why");
		ct_error_move(&job->err, &err);
	} else {
		json_decref(rc == 0 ? NULL : result);
	}
	pthread_mutex_unlock(&job->lock);
	wake(job);
	return NULL;
}

static void job_free(struct job *job)
{
	if (job->prev)
		job->prev->next = job->next;
	else if (live_jobs == job)
		live_jobs = job->next;
	if (job->next)
		job->next->prev = job->prev;
	while (job->head) {
		struct queued *q = job->head;
		job->head = q->next;
		json_decref(q->progress);
		free(q);
	}
	json_decref(job->result);
	ct_close_fds(job->fds, job->nfds);
	close(job->event_fd);
	pthread_mutex_destroy(&job->lock);
	ct_error_clear(&job->err);
	json_decref(job->body);
	free(job);
}

static void job_event(struct ct_loop *loop, int fd, uint32_t events, void *data)
{
	struct job *job = data;
	uint64_t count;
	struct queued *q;
	bool done;

	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("job: reading its eventfd: %s", strerror(errno));
	pthread_mutex_lock(&job->lock);
	q = job->head;
	job->head = job->tail = NULL;
	done = job->done;
	pthread_mutex_unlock(&job->lock);

	while (q) {
		struct queued *next = q->next;
		ct_request_progress(job->req, q->progress);
		free(q);
		q = next;
	}
	if (!done)
		return;
	if (!job->joined)
		pthread_join(job->thread, NULL);
	ct_loop_unwatch(loop, job->watch);
	if (job->result)
		ct_request_reply(job->req, move_ptr(job->result), NULL, 0);
	else
		ct_request_fail(job->req, &job->err);
	job_free(job);
}

void job_start(struct ct_loop *loop, struct ct_request *req, job_fn fn, void *data)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct job *job = xcalloc(1, sizeof(*job));

	job->loop = loop;
	job->req = req;
	job->fn = fn;
	job->data = data;
	job->body = json_incref(ct_request_body(req));
	job->nfds = ct_request_nfds(req);
	for (size_t i = 0; i < job->nfds; i++)
		job->fds[i] = ct_request_take_fd(req, i);
	pthread_mutex_init(&job->lock, NULL);
	job->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (job->event_fd < 0) {
		ct_request_error(req, CT_ERR_INTERNAL, "creating an eventfd: %s", strerror(errno));
		job->event_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		job_free(job);
		return;
	}
	job->watch = ct_loop_watch(loop, job->event_fd, EPOLLIN, job_event, job, &err);
	if (!job->watch) {
		ct_request_fail(req, &err);
		job_free(job);
		return;
	}
	int rc = pthread_create(&job->thread, NULL, job_thread, job);
	if (rc != 0) {
		ct_loop_unwatch(loop, job->watch);
		ct_request_error(req, CT_ERR_INTERNAL, "starting a worker thread: %s",
				 strerror(rc));
		job_free(job);
		return;
	}
	job->next = live_jobs;
	if (live_jobs)
		live_jobs->prev = job;
	live_jobs = job;
}

size_t job_shutdown(int timeout_ms)
{
	struct timespec deadline;
	size_t left = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	for (struct job *job = live_jobs, *next; job; job = next) {
		next = job->next;
		if (pthread_timedjoin_np(job->thread, NULL, &deadline) != 0) {
			left++;
			continue;
		}
		job->joined = true;
		/* Its reply (or error) goes out like any other: the request is
		 * freed with its answer, before the server closes the connection. */
		job_event(job->loop, job->event_fd, EPOLLIN, job);
	}
	return left;
}

int job_run_workers(struct job *job, size_t n, void *(*worker)(void *), void *arg,
		    const struct job_pool *pool, struct ct_error *err)
{
	pthread_t *threads = xcalloc(n ? n : 1, sizeof(pthread_t));
	size_t started = 0;

	pthread_mutex_lock(pool->lock);
	for (size_t i = 0; i < n; i++) {
		if (pthread_create(&threads[i], NULL, worker, arg) != 0)
			break;
		started++;
		(*pool->running)++;
	}
	while (*pool->running > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(pool->changed, pool->lock, &ts);
		job_progress(job, pool->progress(arg));
	}
	pthread_mutex_unlock(pool->lock);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	if (started == 0 && n > 0)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "could not start worker threads");
	return 0;
}

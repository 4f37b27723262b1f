/* Long requests (pull, push, import, save, load) run on a worker thread each, so
 * the plugin's event loop keeps answering other clients. A worker posts progress
 * and its result through a queue that the loop drains when the job's eventfd
 * fires; only the loop thread touches the request and the connection. */
#ifndef CONTAINER_JOB_H
#define CONTAINER_JOB_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "error.h"
#include "loop.h"
#include "server.h"

struct job;

/* Runs on the worker thread. Returns 0 with *result set, or -1 with err set. */
typedef int (*job_fn)(struct job *job, json_t **result, struct ct_error *err);

/* Starts fn on a new thread for req; the job owns req's descriptors (take them
 * with job_take_fd on the worker). body is the request body (borrowed for the
 * job's life). data is passed through. */
void job_start(struct ct_loop *loop, struct ct_request *req, job_fn fn, void *data);

/* At exit, after the loop has ended: waits up to timeout_ms for the jobs still
 * running and frees them. Returns how many are still running (their threads
 * use the store and the database, which must then stay open). */
size_t job_shutdown(int timeout_ms);

json_t *job_body(struct job *job);
void *job_data(struct job *job);
int job_take_fd(struct job *job, size_t index);
/* Thread-safe; takes progress. */
void job_progress(struct job *job, json_t *progress);

/* A pool of worker threads inside a job, with progress every 100 ms: starts n
 * threads of worker(arg); each must decrement *running under lock and signal
 * changed when it is done. Meanwhile progress(arg), called with lock held,
 * is posted. Returns when all are done; -1 when no thread could start. */
struct job_pool {
	pthread_mutex_t *lock;
	pthread_cond_t *changed;
	size_t *running;
	json_t *(*progress)(void *arg);
};

int job_run_workers(struct job *job, size_t n, void *(*worker)(void *), void *arg,
		    const struct job_pool *pool, struct ct_error *err);

#endif

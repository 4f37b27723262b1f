/* Work that would stall an event loop (walking or removing a large folder
 * tree) runs on a thread of its own; its completion is delivered back on the
 * loop's thread. The work function must not touch the loop, requests, shared
 * JSON or the database: give it plain copies. */
#ifndef CONTAINER_WORKER_H
#define CONTAINER_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "loop.h"

/* Runs work(arg) on a new thread, then done(arg) on the loop thread. When the
 * thread can't start, returns -1 with err set and calls neither. */
int ct_worker_start(struct ct_loop *loop, void (*work)(void *arg), void (*done)(void *arg),
		    void *arg, struct ct_error *err);

/* At exit, after the loop has ended and before what the done functions use
 * is freed: waits for the work still running and calls its done. Returns how
 * many were waited for. */
size_t ct_worker_shutdown(void);
/* True while ct_worker_shutdown runs: a done function that would start more
 * work (with no loop left to finish it) gives up instead. */
bool ct_worker_stopping(void);

#endif

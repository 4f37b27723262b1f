/* <bundle>/state.json: the container's state as its runtime helper last wrote
 * it. The API server reads it to list and inspect containers, also when the
 * helper is gone (exited containers) or the API server restarted. Written
 * atomically (temporary file + rename). */
#ifndef CONTAINER_RUNTIME_STATE_FILE_H
#define CONTAINER_RUNTIME_STATE_FILE_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

struct rt_state {
	const char *id;
	const char *status; /* "running", "stopped" */
	pid_t pid;	    /* the container's init, in the host's pid namespace */
	pid_t helper_pid;
	int exit_code;	  /* stopped: the process's status, or 128 + signal */
	int signal;	  /* stopped by this signal, or 0 */
	bool oom_killed;
	const char *started_at, *finished_at;
	const char *error; /* a start that failed: why */
};

int rt_state_write(const char *bundle, const struct rt_state *st, struct ct_error *err);

#endif

/* container-runtime-linux: one per container. Started by the API server, it
 * detaches (setsid), becomes the container's parent and subreaper, writes its
 * output to stdio.log, records how it ended in state.json and serves its own
 * socket (state, kill, stop, wait). It outlives API server restarts. */
#ifndef CONTAINER_RUNTIME_HELPER_H
#define CONTAINER_RUNTIME_HELPER_H

#include <stdbool.h>
#include <sys/types.h>

#include "loop.h"
#include "server.h"
#include "spec.h"
#include "stdio_log.h"

struct waiter;
struct publish_sockets;

struct helper {
	const char *id;
	const char *bundle;
	char *socket_path;
	struct rt_spec spec;
	struct ct_loop *loop;
	struct ct_server *server;
	struct stdio_log log;
	pid_t pid;
	bool exited;
	int exit_code, exit_signal;
	bool oom_killed;
	char started_at[32], finished_at[32];
	/* Output pipes from the container (read ends) and where to copy them. */
	int out_fd[2];
	struct ct_watch *out_watch[2];
	int client_fd[2]; /* the attached CLI's stdout/stderr, or -1 */
	int tty_master;	  /* -t: the terminal's master, or -1 */
	int tty_input;	  /* -t -i: the client's stdin, copied to the terminal */
	struct ct_watch *tty_input_watch;
	unsigned short tty_rows, tty_cols;
	struct waiter *waiters;
	struct ct_timer *kill_timer;
	void *cgroup;	 /* struct cgroup *, when the cgroup module is present */
	void *security; /* prepared security settings */
	/* --netns-fd: a network namespace made (and plumbed) by the API server for
	 * the container to join instead of a new empty one; -1 otherwise. */
	int netns_fd;
	/* --publish-socket: the host listeners and their relays (publish_socket.c). */
	struct publish_sockets *publish_sockets;
};

int helper_write_state(struct helper *h);

#endif

/* container-init: the tiny init for `container run --init`.
 *
 *   container-init [--] COMMAND [ARG...]
 *
 * Runs as PID 1 of the container's PID namespace. It starts COMMAND in a
 * process group of its own, forwards the signals it receives to that group,
 * reaps every process that ends up as its child (orphans are re-parented to
 * PID 1, and a PID 1 that never waits fills the namespace with zombies), and
 * exits with COMMAND's status: its exit code, or 128 + the signal that killed
 * it. When COMMAND can't be started it exits 127 (not found) or 126.
 *
 * Why all signals are blocked and read from a signalfd: the kernel drops a
 * signal sent to a namespace's PID 1 from inside the namespace when PID 1 has
 * no handler for it (SIGNAL_UNKILLABLE), but never drops a blocked one; and a
 * signalfd needs neither handlers nor async-signal-safety reasoning. Nothing
 * here allocates. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_USAGE	 2
#define EXIT_INIT_FAILED 125
#define EXIT_CANNOT_RUN	 126
#define EXIT_NOT_FOUND	 127

/* Signals the kernel raises for a fault in this very process: leave them
 * unblocked so a bug here ends init with the right signal instead of a hang. */
static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};

static void fail(const char *what)
{
	dprintf(STDERR_FILENO, "container-init: %s: %s\n", what, strerror(errno));
}

static int status_to_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_INIT_FAILED;
}

static void start_child(char *const argv[], const sigset_t *original_mask)
{
	/* A process group of its own, so a forwarded signal reaches the whole
	 * job (a shell and what it runs); the foreground group of the
	 * terminal, if there is one, so job control and ^C work. SIGTTOU is
	 * still blocked here, which lets tcsetpgrp succeed. */
	setpgid(0, 0);
	if (isatty(STDIN_FILENO))
		tcsetpgrp(STDIN_FILENO, getpgrp());
	sigprocmask(SIG_SETMASK, original_mask, NULL);
	execvp(argv[0], argv);
	dprintf(STDERR_FILENO, "container-init: %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN);
}

static void forward(pid_t child, int signo)
{
	/* SIGTTIN/SIGTTOU are terminal job control aimed at init itself (never a
	 * foreground process); passing them on would stop the child. */
	if (signo == SIGTTIN || signo == SIGTTOU)
		return;
	if (kill(-child, signo) < 0 && errno == ESRCH)
		kill(child, signo); /* the child moved to another process group */
}

/* Reaps every child that has ended; true once the main child has. */
static bool reap(pid_t child, int *exit_code)
{
	bool child_done = false;

	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			break; /* 0: others still run; ECHILD: none left */
		if (pid == child) {
			*exit_code = status_to_exit_code(status);
			child_done = true;
		}
	}
	return child_done;
}

int main(int argc, char *argv[])
{
	sigset_t blocked, original;
	int first = 1, sfd, exit_code = EXIT_INIT_FAILED;
	pid_t child;

	if (first < argc && strcmp(argv[first], "--") == 0)
		first++;
	if (first >= argc) {
		dprintf(STDERR_FILENO, "usage: container-init [--] COMMAND [ARG...]\n");
		return EXIT_USAGE;
	}
	/* Outside a PID namespace of our own, orphans of the command still come to
	 * us rather than to the host's init. */
	if (getpid() != 1)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

	sigfillset(&blocked);
	for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++)
		sigdelset(&blocked, fault_signals[i]);
	if (sigprocmask(SIG_BLOCK, &blocked, &original) < 0) {
		fail("blocking signals");
		return EXIT_INIT_FAILED;
	}
	sfd = signalfd(-1, &blocked, SFD_CLOEXEC);
	if (sfd < 0) {
		fail("creating a signalfd");
		return EXIT_INIT_FAILED;
	}

	child = fork();
	if (child < 0) {
		fail("fork");
		return EXIT_INIT_FAILED;
	}
	if (child == 0)
		start_child(argv + first, &original);
	/* Also from this side, so no signal can be forwarded to a group that does
	 * not exist yet. EACCES: the child has already exec'd (and set it). */
	setpgid(child, child);

	for (;;) {
		struct signalfd_siginfo si;
		ssize_t n = read(sfd, &si, sizeof(si));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si)) {
			fail("reading the signalfd");
			/* Without signals we can still wait for the command. */
			for (;;) {
				int status;
				pid_t pid = waitpid(-1, &status, 0);

				if (pid == child)
					return status_to_exit_code(status);
				if (pid < 0 && errno != EINTR)
					return EXIT_INIT_FAILED;
			}
		}
		if (si.ssi_signo == SIGCHLD) {
			if (reap(child, &exit_code))
				return exit_code;
			continue;
		}
		forward(child, (int)si.ssi_signo);
	}
}

/* Tests of container-init, the built binary: as PID 1 of a new PID namespace
 * (with its own /proc), it must pass the command's exit status through, reap
 * orphaned zombies and forward signals to the command. The binary's path is
 * the first argument or $CONTAINER_INIT. Runs as root. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static const char *init_path;

/* Starts init as PID 1 of a new PID and mount namespace, with a fresh /proc, and
 * `ready_fd` (or -1) as its fd 3. Returns init's pid in our namespace. */
static pid_t start_init(char *const argv[], int ready_fd)
{
	/* Raw clone: fork-like (no new stack) but into new namespaces. */
	long pid = syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, 0);

	assert_true(pid >= 0);
	if (pid == 0) {
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			_exit(120);
		if (ready_fd >= 0 && dup2(ready_fd, 3) < 0)
			_exit(121);
		execv(init_path, argv);
		_exit(122);
	}
	return (pid_t)pid;
}

static int wait_exit_code(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fail_msg("init did not exit normally (status 0x%x)", status);
	return WEXITSTATUS(status);
}

static int run_script(const char *script)
{
	char *argv[] = {(char *)init_path, "/bin/sh", "-c", (char *)script, NULL};

	return wait_exit_code(start_init(argv, -1));
}

/* Waits until the script writes to its fd 3: its traps are in place. */
static pid_t start_script_and_wait_ready(const char *script)
{
	char *argv[] = {(char *)init_path, "--", "/bin/sh", "-c", (char *)script, NULL};
	int fds[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = start_init(argv, fds[1]);
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	return pid;
}

static void test_exit_code_passes_through(void **state)
{
	assert_int_equal(run_script("exit 0"), 0);
	assert_int_equal(run_script("exit 3"), 3);
	assert_int_equal(run_script("exit 255"), 255);
}

static void test_runs_as_pid_1(void **state)
{
	/* The command's parent is init, and init is PID 1. */
	assert_int_equal(run_script("[ \"$PPID\" = 1 ] && [ \"$(cat /proc/1/comm)\" = "
				    "container-init ] && exit 9; exit 1"),
			 9);
}

static void test_killed_child_is_128_plus_signal(void **state)
{
	assert_int_equal(run_script("kill -KILL $$"), 128 + SIGKILL);
	assert_int_equal(run_script("kill -SEGV $$"), 128 + SIGSEGV);
}

static void test_reaps_orphaned_zombies(void **state)
{
	/* "sleep 0.2" becomes a zombie under the exec'd "sleep 1.2", which never
	 * waits; when that one exits, the zombie is re-parented to PID 1, which
	 * must reap it. 97: the check can't see zombies; 99: one was left. */
	static const char script[] =
	    "sh -c 'sleep 0.2 & exec sleep 1.2' &\n"
	    "sleep 0.7\n"
	    "grep -qs '^State:[[:space:]]*Z' /proc/[0-9]*/status || exit 97\n"
	    "wait\n"
	    "sleep 0.5\n"
	    "grep -qs '^State:[[:space:]]*Z' /proc/[0-9]*/status && exit 99\n"
	    "exit 7\n";

	assert_int_equal(run_script(script), 7);
}

static void test_reaps_many_orphans(void **state)
{
	/* A burst of orphans ending together: one SIGCHLD may stand for many. */
	static const char script[] =
	    "for i in 1 2 3 4 5 6 7 8 9 10; do sh -c 'sleep 0.2 &'; done\n"
	    "sleep 0.8\n"
	    "grep -qs '^State:[[:space:]]*Z' /proc/[0-9]*/status && exit 99\n"
	    "exit 8\n";

	assert_int_equal(run_script(script), 8);
}

static void test_sigterm_reaches_the_command(void **state)
{
	pid_t pid = start_script_and_wait_ready(
	    "trap 'exit 42' TERM; echo ready >&3; while :; do sleep 0.05; done");

	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(wait_exit_code(pid), 42);
}

static void test_other_signals_are_forwarded(void **state)
{
	static const struct {
		int signo;
		const char *name;
	} sigs[] = {{SIGHUP, "HUP"},   {SIGINT, "INT"},	  {SIGQUIT, "QUIT"},
		    {SIGUSR1, "USR1"}, {SIGUSR2, "USR2"}, {SIGWINCH, "WINCH"}};

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		char script[256];
		pid_t pid;

		snprintf(script, sizeof(script),
			 "trap 'exit %d' %s; echo ready >&3; while :; do sleep 0.05; done",
			 50 + (int)i, sigs[i].name);
		pid = start_script_and_wait_ready(script);
		assert_int_equal(kill(pid, sigs[i].signo), 0);
		if (wait_exit_code(pid) != 50 + (int)i)
			fail_msg("SIG%s was not forwarded", sigs[i].name);
	}
}

static void test_signal_reaches_the_process_group(void **state)
{
	/* The shell execs sleep: SIGTERM kills it, and init reports 128 + 15. */
	pid_t pid = start_script_and_wait_ready("echo ready >&3; exec sleep 10");

	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(wait_exit_code(pid), 128 + SIGTERM);
}

static void test_command_not_found(void **state)
{
	char *missing[] = {(char *)init_path, "/nonexistent-ct-test/cmd", NULL};
	char *not_exec[] = {(char *)init_path, "/proc/self/status", NULL};

	assert_int_equal(wait_exit_code(start_init(missing, -1)), 127);
	assert_int_equal(wait_exit_code(start_init(not_exec, -1)), 126);
}

/* Outside a PID namespace: a subreaper for the command's orphans. */
static void test_without_pid_namespace(void **state)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		execl(init_path, init_path, "/bin/sh", "-c",
		      "sh -c 'sleep 0.1 &'; sleep 0.4; exit 5", (char *)NULL);
		_exit(122);
	}
	assert_int_equal(wait_exit_code(pid), 5);
}

static void test_usage(void **state)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDERR_FILENO);
		execl(init_path, init_path, (char *)NULL);
		_exit(122);
	}
	assert_int_equal(wait_exit_code(pid), 2);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exit_code_passes_through),
	    cmocka_unit_test(test_runs_as_pid_1),
	    cmocka_unit_test(test_killed_child_is_128_plus_signal),
	    cmocka_unit_test(test_reaps_orphaned_zombies),
	    cmocka_unit_test(test_reaps_many_orphans),
	    cmocka_unit_test(test_sigterm_reaches_the_command),
	    cmocka_unit_test(test_other_signals_are_forwarded),
	    cmocka_unit_test(test_signal_reaches_the_process_group),
	    cmocka_unit_test(test_command_not_found),
	    cmocka_unit_test(test_without_pid_namespace),
	    cmocka_unit_test(test_usage),
	};

	/* SIGQUIT and SIGSEGV end test commands: no core files from them. */
	setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
	init_path = argc > 1 ? argv[1] : getenv("CONTAINER_INIT");
	if (!init_path || access(init_path, X_OK) != 0) {
		fprintf(stderr, "usage: %s PATH-TO-container-init (or set CONTAINER_INIT)\n",
			argv[0]);
		return 1;
	}
	return cmocka_run_group_tests_name("runtime-init", tests, NULL, NULL);
}

"""The system under test: one API server with its own roots, driven through
the `container` CLI exactly as a user would, plus the process lookups the
fault injector and the checks need."""

import os
import subprocess
import threading
import time

CLI_TIMEOUT = 120  # seconds; an operation that takes longer is reported as hung


class Result:
    def __init__(self, args, rc, out, err, started, ended):
        self.args = args
        self.rc = rc
        self.out = out
        self.err = err
        self.started = started
        self.ended = ended

    @property
    def ok(self):
        return self.rc == 0

    def text(self):
        return (self.out + self.err).strip()


class System:
    def __init__(self, root, stage):
        self.root = root
        self.stage = stage
        self.cli = os.path.join(stage, "bin", "container")
        self.app = os.path.join(root, "app")
        self.run_root = os.path.join(root, "run")
        self.log_root = os.path.join(root, "log")
        self.env = dict(os.environ)
        for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR",
                  "CONTAINER_INSTALL_ROOT"):
            self.env.pop(k, None)
        self.env.update({
            "CONTAINER_APP_ROOT": self.app,
            "CONTAINER_RUN_ROOT": self.run_root,
            "CONTAINER_LOG_ROOT": self.log_root,
            "CONTAINER_SYSTEM_CONFIG": os.path.join(root, "etc", "config.json"),
            "HOME": os.path.join(root, "home"),
        })
        # Serialises `system start` between the injector and the checks.
        self.start_lock = threading.Lock()
        # The clients' CLI processes running now (the "cli" fault kills one).
        self.clis = set()
        self.clis_lock = threading.Lock()

    def ct(self, *args, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL, killable=False):
        """Runs `container ARGS`. killable: the fault injector may SIGKILL this
        CLI process while it runs (a user's Ctrl-\\ or a dying terminal)."""
        started = time.monotonic()
        p = subprocess.Popen([self.cli, *args], env=self.env, stdin=stdin,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if killable:
            with self.clis_lock:
                self.clis.add(p)
        try:
            out, err = p.communicate(timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
            rc, err = -1, f"timed out after {timeout} s"
        finally:
            with self.clis_lock:
                self.clis.discard(p)
        if rc == -9:
            err += "(the CLI was killed by the fault injector)"
        return Result(args, rc, out, err, started, time.monotonic())

    def running_clis(self):
        with self.clis_lock:
            return list(self.clis)

    # --- the API server -------------------------------------------------------

    def apiserver_pid(self):
        try:
            with open(os.path.join(self.run_root, "apiserver.pid")) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return 0
        return pid if self.is_ours(pid, "container-apiserver") else 0

    def start(self):
        """`system start` until the API server answers (it may be coming back
        from a SIGKILL: the pid file's lock is released with the process)."""
        with self.start_lock:
            deadline = time.monotonic() + 60
            while True:
                if self.ct("system", "status", timeout=30).ok:
                    return
                r = self.ct("system", "start", "--timeout", "30", timeout=60)
                if r.ok or time.monotonic() > deadline:
                    if not r.ok:
                        raise RuntimeError(f"system start failed: {r.text()}")
                    return
                time.sleep(0.2)

    def stop(self):
        return self.ct("system", "stop", "--timeout", "30", timeout=90)

    # --- processes ------------------------------------------------------------

    def is_ours(self, pid, needle=""):
        """pid is alive (not a zombie) and its command line names our run or
        app root (and needle): pids are checked before every signal."""
        cmd = cmdline(pid)
        if not cmd or needle not in cmd:
            return False
        if self.run_root not in cmd and self.app not in cmd:
            return False
        return proc_state(pid) not in ("Z", "X", "")

    def our_processes(self):
        """{pid: command line} of every live process naming our roots."""
        found = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            if pid == os.getpid():
                continue
            cmd = cmdline(pid)
            if cmd and (self.run_root + "/" in cmd or self.app + "/" in cmd or
                        self.app + " " in cmd) and \
                    proc_state(pid) not in ("Z", "X", ""):
                found[pid] = cmd
        return found

    def plugin_pids(self, label_prefix):
        """pids of plugins whose socket name starts with label_prefix."""
        sock = os.path.join(self.run_root, "plugins", label_prefix)
        return [p for p, c in self.our_processes().items()
                if "--socket " + sock in c]

    def helper_pids(self):
        """{container id: pid} of the runtime helpers."""
        helpers = {}
        sock = os.path.join(self.run_root, "c") + "/"
        for pid, c in self.our_processes().items():
            if "--socket " + sock not in c:
                continue
            parts = c.split()
            if "--id" in parts:
                i = parts.index("--id")
                if i + 1 < len(parts):
                    helpers[parts[i + 1]] = pid
        return helpers


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""

"""The fault injector: SIGKILL at random moments to the API server, the images
plugin, a network plugin or a runtime helper, each pid checked to be ours
right before the signal. It records a window for every fault (from the kill
to the recovery, plus a grace period) so that failed operations can be told
apart: one that overlaps a window is the fault's doing, any other is a defect."""

import os
import signal
import threading
import time

# After a plugin is killed the API server restarts it (back-off from 100 ms);
# requests wait in the plugin's socket backlog meanwhile. Operations that
# overlap this long after a kill count as affected by it.
PLUGIN_GRACE = 3.0
APISERVER_GRACE = 1.0


class Faults:
    KINDS = ("apiserver", "images", "network", "helper", "cli")

    def __init__(self, system, rng, log, interval, clients, kinds=KINDS):
        self.sys = system
        self.rng = rng
        self.log = log
        self.interval = interval
        self.clients = clients
        self.kinds = kinds
        self.lock = threading.Lock()
        self.windows = []           # [start, end or None]
        self.counts = {}            # kind -> faults injected
        self.killed_helpers = []    # container names whose helper was killed

    # --- windows --------------------------------------------------------------

    def open_window(self):
        with self.lock:
            w = [time.monotonic(), None]
            self.windows.append(w)
            return w

    def close_window(self, w, grace):
        with self.lock:
            w[1] = time.monotonic() + grace

    def overlaps(self, start, end):
        with self.lock:
            for a, b in self.windows:
                if a <= end and (b is None or b >= start):
                    return True
        return False

    def note(self, kind):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    # --- the kills ------------------------------------------------------------

    def kill(self, pid, needle):
        if pid > 1 and self.sys.is_ours(pid, needle):
            os.kill(pid, signal.SIGKILL)
            return True
        return False

    def kill_apiserver(self):
        pid = self.sys.apiserver_pid()
        if not pid:
            return False
        w = self.open_window()
        if not self.kill(pid, "container-apiserver"):
            self.close_window(w, 0)
            return False
        self.note("apiserver")
        self.log(f"fault: SIGKILL container-apiserver (pid {pid})")
        # Down for a random moment, as after a crash, then started again.
        time.sleep(self.rng.uniform(0, 1.0))
        self.sys.start()
        self.close_window(w, APISERVER_GRACE)
        return True

    def kill_plugin(self, kind, label_prefix):
        pids = self.sys.plugin_pids(label_prefix)
        if not pids:
            return False
        pid = self.rng.choice(sorted(pids))
        w = self.open_window()
        if not self.kill(pid, "--socket"):
            self.close_window(w, 0)
            return False
        self.note(kind)
        self.log(f"fault: SIGKILL {kind} (pid {pid})")
        self.close_window(w, PLUGIN_GRACE)
        return True

    def kill_helper(self):
        """Kills the runtime helper of a running container that no client is
        operating on; the container dies with it (its init has the helper as
        parent-death target), so the model says stopped."""
        helpers = self.sys.helper_pids()
        candidates = [c for cl in self.clients for c in cl.containers
                      if c.state == "running" and c.id in helpers]
        self.rng.shuffle(candidates)
        for c in candidates:
            if not c.lock.acquire(blocking=False):
                continue
            try:
                if c.state != "running":
                    continue
                pid = self.sys.helper_pids().get(c.id)
                if not pid or not self.kill(pid, "--id " + c.id):
                    continue
                c.state = "stopped"
                self.note("runtime helper")
                self.killed_helpers.append(c.name)
                self.log(f"fault: SIGKILL runtime helper of {c.name} (pid {pid})")
                # Wait until the container is seen stopped before the client may
                # act on it again (its release runs in the API server).
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    r = self.sys.ct("inspect", c.name, timeout=30)
                    if r.ok and '"running"' not in r.out:
                        break
                    time.sleep(0.1)
                return True
            finally:
                c.lock.release()
        return False

    def kill_cli(self):
        """Kills a client's CLI process in the middle of its request (a pull,
        a start, a delete…): the server must finish or undo what it started."""
        clis = [p for p in self.sys.running_clis() if p.poll() is None]
        if not clis:
            return False
        p = self.rng.choice(clis)
        try:
            p.kill()  # only that operation fails (its status says so): no window
        except OSError:
            return False
        self.note("CLI")
        self.log(f"fault: SIGKILL container {' '.join(p.args[1:])[:80]} (pid {p.pid})")
        return True

    def inject_one(self):
        kinds = [(3, self.kill_apiserver, (), "apiserver"),
                 (2, self.kill_plugin, ("images plugin", "container-core-images."), "images"),
                 (2, self.kill_plugin, ("network plugin", "container-network-bridge."), "network"),
                 (4, self.kill_helper, (), "helper"),
                 (3, self.kill_cli, (), "cli")]
        kinds = [k[:3] for k in kinds if k[3] in self.kinds]
        total = sum(k[0] for k in kinds)
        x = self.rng.uniform(0, total)
        for w, fn, args in kinds:
            x -= w
            if x <= 0:
                return fn(*args)
        return False

    def run(self, stop_event):
        while not stop_event.wait(self.rng.uniform(0.3, 1.7) * self.interval):
            try:
                self.inject_one()
            except Exception as e:  # keep injecting; the report shows it
                self.log(f"fault injector: {e!r}")

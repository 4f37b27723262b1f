"""The load: each client owns its containers, networks and volumes (names
start with its number), runs a seeded random sequence of operations on them
through the CLI, and keeps a model of what must exist afterwards.

A failed operation is expected while a fault is under way (the fault log
says when); one that fails outside every fault window is reported with its
output. An operation whose outcome a fault made unknowable leaves the object
"maybe" (it may or may not exist) until a later operation settles it."""

import json
import threading
import time

# What the model knows about a container.
CREATED, RUNNING, STOPPED = "created", "running", "stopped"
EXISTS = "exists"    # it exists, state unknown (an operation on it failed in a fault)
MAYBE = "maybe"      # it may or may not exist (a create or delete failed in a fault)
GONE = "gone"


class Container:
    def __init__(self, name):
        self.name = name
        self.id = None
        self.state = MAYBE
        self.network = None
        self.volume = None
        self.short = False   # `run --rm … echo`: exits at once and removes itself
        # After a failed operation the server may still be carrying it out (a
        # stop whose CLI was killed runs its grace time): not settled before.
        self.settle_after = 0.0
        # Held by the client during an operation on it, and by the fault
        # injector while it kills its helper: the model and the kill agree.
        self.lock = threading.Lock()


class Thing:
    """A network or a volume."""

    def __init__(self, name):
        self.name = name
        self.state = MAYBE


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = {}          # op -> [ok, failed in a fault, failed unexpectedly]
        self.unexpected = []   # (op, args, output)
        self.hung = []

    def count(self, op, outcome, result=None):
        with self.lock:
            row = self.ops.setdefault(op, [0, 0, 0])
            row[("ok", "fault", "unexpected").index(outcome)] += 1
            if outcome == "unexpected" and result is not None:
                self.unexpected.append((op, " ".join(result.args), result.text()[-600:]))
            if result is not None and result.rc == -1:
                self.hung.append((op, " ".join(result.args)))

    def totals(self):
        with self.lock:
            ok = sum(r[0] for r in self.ops.values())
            fault = sum(r[1] for r in self.ops.values())
            bad = sum(r[2] for r in self.ops.values())
        return ok, fault, bad


class Client:
    def __init__(self, number, system, faults, stats, rng, registry, log):
        self.n = number
        self.sys = system
        self.faults = faults
        self.stats = stats
        self.rng = rng
        self.registry = registry
        self.log = log
        self.containers = []
        self.networks = []
        self.volumes = []
        self.serial = 0
        self.image = MAYBE   # the client's own image name: "exists", GONE or MAYBE

    # --- helpers --------------------------------------------------------------

    def new_name(self, kind):
        self.serial += 1
        return f"st{self.n}{kind}{self.serial}"

    def run(self, op, *args, expect_out=None, settles=None):
        """Runs one operation and counts its outcome. settles: the refusal
        that answers a question the model had (an object that may not exist
        is not there); it counts as a success."""
        r = self.sys.ct(*args, killable=True)
        ok = r.ok and (expect_out is None or expect_out in r.out)
        if ok or (settles and settles in r.text()):
            outcome = "ok"
        elif r.rc == -9 or self.faults.overlaps(r.started, r.ended):
            outcome = "fault"
        else:
            outcome = "unexpected"
        self.stats.count(op, outcome, r)
        if outcome == "fault":
            # As a user would, wait a moment before trying something else.
            time.sleep(self.rng.uniform(0.1, 0.5))
        self.log(f"client {self.n} {op} {' '.join(args)} -> {r.rc} {outcome}"
                 + ("" if ok else ": " + r.text()[-300:].replace("\n", " | ")))
        return ok, outcome, r

    @staticmethod
    def unsettled(c, state, seconds=3.0):
        c.settle_after = time.monotonic() + seconds
        return state

    def live(self, states):
        return [c for c in self.containers if c.state in states]

    def network_in_use(self, net):
        return any(c.network == net.name and c.state != GONE for c in self.containers)

    def volume_in_use(self, vol):
        return any(c.volume == vol.name and c.state != GONE for c in self.containers)

    # --- the operations -------------------------------------------------------

    def op_run(self, detach):
        c = Container(self.new_name("c"))
        args = ["run", "--name", c.name]
        nets = [n for n in self.networks if n.state == "exists"]
        if nets and self.rng.random() < 0.5:
            c.network = self.rng.choice(nets).name
            args += ["--network", c.network]
        vols = [v for v in self.volumes if v.state == "exists"]
        if vols and self.rng.random() < 0.4:
            c.volume = self.rng.choice(vols).name
            args += ["-v", f"{c.volume}:/data"]
        with c.lock:
            self.containers.append(c)
            if detach:
                ok, _, r = self.run("run -d", *args, "-d", "busybox", "sleep", "3600")
                if ok:
                    c.id = r.out.strip().splitlines()[-1]
                    c.state = RUNNING
            else:
                c.short = True
                ok, _, r = self.run("run --rm", *args, "--rm", "busybox", "echo", "hello",
                                    expect_out="hello")
                c.state = GONE if ok else MAYBE

    def op_create(self):
        c = Container(self.new_name("c"))
        with c.lock:
            self.containers.append(c)
            ok, _, r = self.run("create", "create", "--name", c.name, "busybox", "sleep", "3600")
            if ok:
                c.id = r.out.strip().splitlines()[-1]
                c.state = CREATED

    def op_start(self):
        cs = self.live((CREATED, STOPPED))
        if not cs:
            return self.op_create()
        c = self.rng.choice(cs)
        with c.lock:
            ok, _, _ = self.run("start", "start", c.name)
            c.state = RUNNING if ok else self.unsettled(c, EXISTS)

    def op_stop(self, how):
        cs = self.live((RUNNING,))
        if not cs:
            return self.op_run(True)
        c = self.rng.choice(cs)
        with c.lock:
            if how == "stop":
                ok, _, _ = self.run("stop", "stop", "-t", "1", c.name)
            else:
                ok, _, _ = self.run("kill", "kill", c.name)
                if ok:
                    # kill only signals: wait for the exit, as a user would.
                    ok, _, _ = self.run("wait", "wait", c.name)
            c.state = STOPPED if ok else self.unsettled(c, EXISTS)

    def op_exec(self):
        cs = self.live((RUNNING,))
        if not cs:
            return self.op_run(True)
        c = self.rng.choice(cs)
        with c.lock:
            ok, _, _ = self.run("exec", "exec", c.name, "echo", "from-exec", expect_out="from-exec")
            if not ok:
                c.state = self.unsettled(c, EXISTS)

    def op_delete(self):
        cs = [c for c in self.containers if c.state != GONE]
        if not cs:
            return self.op_create()
        c = self.rng.choice(cs)
        with c.lock:
            ok, _, r = self.run("delete", "delete", "-f", c.name,
                                settles="no such container" if c.state == MAYBE else None)
            if ok or (c.state == MAYBE and "no such container" in r.text()):
                c.state = GONE
            else:
                c.state = MAYBE

    def op_settle(self):
        """Learns the state of a container a fault left unknown."""
        now = time.monotonic()
        cs = [c for c in self.live((EXISTS, MAYBE)) if not c.short and c.settle_after <= now]
        if not cs:
            return self.op_start()
        c = self.rng.choice(cs)
        with c.lock:
            r = self.sys.ct("inspect", c.name)
            if r.ok:
                try:
                    info = json.loads(r.out)
                    info = info[0] if isinstance(info, list) else info
                    c.id = info["id"]
                    c.state = {"created": CREATED, "running": RUNNING}.get(
                        info["state"]["status"], STOPPED)
                except (ValueError, KeyError, IndexError, TypeError):
                    pass
            elif "no such container" in r.text().lower() and c.state == MAYBE:
                c.state = GONE

    def op_pull(self):
        ref = f"{self.registry}/fixtures/layers-{self.n}:latest"
        if self.image != GONE and self.rng.random() < 0.4:
            ok, _, r = self.run("image delete", "image", "delete", ref,
                                settles="no image" if self.image == MAYBE else None)
            if ok or (self.image == MAYBE and "no image" in r.text()):
                self.image = GONE
            else:
                self.image = MAYBE
        else:
            ok, _, _ = self.run("image pull", "image", "pull", ref)
            self.image = "exists" if ok else MAYBE

    def op_thing(self, kind, things, in_use, missing, most):
        """Creates or deletes one of the client's networks or volumes (kind);
        missing is the refusal that says one doesn't exist."""
        free = [t for t in things if t.state != GONE and not in_use(t)]
        if free and self.rng.random() < 0.5:
            t = self.rng.choice(free)
            settles = missing if t.state == MAYBE else None
            ok, _, r = self.run(f"{kind} delete", kind, "delete", t.name, settles=settles)
            t.state = GONE if ok or (settles and settles in r.text()) else MAYBE
        elif len([t for t in things if t.state != GONE]) < most:
            t = Thing(self.new_name(kind[0]))
            things.append(t)
            ok, _, _ = self.run(f"{kind} create", kind, "create", t.name)
            t.state = "exists" if ok else MAYBE

    def op_network(self):
        self.op_thing("network", self.networks, self.network_in_use, "no network named", 2)

    def op_volume(self):
        self.op_thing("volume", self.volumes, self.volume_in_use, "no such volume", 3)

    OPS = [  # (weight, method, args)
        (14, "op_run", (True,)),
        (8, "op_run", (False,)),
        (8, "op_create", ()),
        (10, "op_start", ()),
        (8, "op_stop", ("stop",)),
        (6, "op_stop", ("kill",)),
        (10, "op_exec", ()),
        (12, "op_delete", ()),
        (4, "op_settle", ()),
        (6, "op_pull", ()),
        (5, "op_network", ()),
        (5, "op_volume", ()),
    ]

    def step(self):
        total = sum(w for w, _, _ in self.OPS)
        x = self.rng.uniform(0, total)
        for w, name, args in self.OPS:
            x -= w
            if x <= 0:
                break
        # Bound the population so the run stays within the machine.
        if len(self.live((CREATED, RUNNING, STOPPED, EXISTS, MAYBE))) >= 6 and \
                name in ("op_run", "op_create"):
            name, args = "op_delete", ()
        getattr(self, name)(*args)

    def run_ops(self, count, stop_event):
        for _ in range(count):
            if stop_event.is_set():
                break
            self.step()

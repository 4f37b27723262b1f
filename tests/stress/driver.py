#!/usr/bin/python3
"""Runs the fault-and-load scenario and prints its figures (called by
tests/stress/run, which sets up the roots, the images and the registry).

  1. start the system; take a snapshot of every resource kind
  2. N clients x M seeded random operations, while the fault injector kills
  3. check the model and the store; SIGKILL the API server, `system start`,
     check again (running containers must still run)
  4. a quiet round of operations with no faults (any failure is a defect)
  5. delete everything the clients made; compare resources with step 1;
     `system stop`; nothing of ours may remain (processes, mounts, cgroups)

Exit status 0 only when every invariant holds."""

import argparse
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import checks  # noqa: E402
from clients import Client, Stats  # noqa: E402
from faults import Faults  # noqa: E402
from system import System  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--stage", required=True)
    p.add_argument("--registry", required=True)
    p.add_argument("--short", action="store_true", help="the make check size")
    p.add_argument("--clients", type=int)
    p.add_argument("--ops", type=int, help="operations per client")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--fault-interval", type=float, help="mean seconds between faults")
    p.add_argument("--faults", default=",".join(Faults.KINDS),
                   help="which processes to kill: " + ",".join(Faults.KINDS))
    a = p.parse_args()
    if a.clients is None:
        a.clients = 4 if a.short else 8
    if a.ops is None:
        a.ops = 30 if a.short else 150
    if a.fault_interval is None:
        a.fault_interval = 0.7
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "big")
    return a


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.t0 = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, msg):
        with self.lock:
            self.f.write(f"{time.monotonic() - self.t0:8.3f} {msg}\n")


def say(msg):
    print(f"stress: {msg}", flush=True)


def run_clients(clients, ops, stop):
    threads = [threading.Thread(target=c.run_ops, args=(ops, stop)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def settle(system, seconds=2.0):
    """Lets releases that follow an exit (addresses, rules) run."""
    time.sleep(seconds)
    system.ct("list", "-a")


def cleanup(system, clients, registry):
    for name in checks.list_containers(system):
        system.ct("delete", "-f", name)
    for cl in clients:
        for n in cl.networks:
            system.ct("network", "delete", n.name)
        for v in cl.volumes:
            system.ct("volume", "delete", v.name)
        system.ct("image", "delete", f"{registry}/fixtures/layers-{cl.n}:latest")
    system.ct("volume", "prune")
    settle(system, 3.0)


def main():
    a = parse_args()
    system = System(a.root, a.stage)
    log = Log(os.path.join(a.root, "ops.log"))
    say(f"seed {a.seed}, {a.clients} clients x {a.ops} operations, a fault every "
        f"~{a.fault_interval:g} s (tests/stress/run --seed {a.seed} to repeat)")
    rng = random.Random(a.seed)
    stats = Stats()
    problems = []

    # 1. start, one image for everybody, the snapshot to compare against.
    system.start()
    for args in (("image", "pull", f"{a.registry}/fixtures/busybox:latest"),
                 ("image", "tag", f"{a.registry}/fixtures/busybox:latest", "busybox"),
                 ("run", "--rm", "busybox", "true")):
        r = system.ct(*args)
        if not r.ok:
            say(f"set-up failed: container {' '.join(args)}: {r.text()}")
            return 1
    before = checks.snapshot(system)

    # 2. load and faults.
    clients = []
    kinds = tuple(k for k in a.faults.split(",") if k)
    unknown = [k for k in kinds if k not in Faults.KINDS]
    if unknown:
        say(f"unknown fault kind {unknown[0]} (kinds: {', '.join(Faults.KINDS)})")
        return 2
    faults = Faults(system, random.Random(rng.random()), log, a.fault_interval, clients, kinds)
    for n in range(a.clients):
        clients.append(Client(n, system, faults, stats, random.Random(rng.random()),
                              a.registry, log))
    stop_faults = threading.Event()
    no_stop = threading.Event()
    injector = threading.Thread(target=faults.run, args=(stop_faults,))
    t0 = time.monotonic()
    injector.start()
    run_clients(clients, a.ops, no_stop)
    stop_faults.set()
    injector.join()
    load_seconds = time.monotonic() - t0

    # 3. the invariants, then again after the API server is killed and started.
    system.start()
    settle(system)
    for when in ("after the run", "after a SIGKILL of the API server and system start"):
        if when.startswith("after a"):
            pid = system.apiserver_pid()
            if pid and system.is_ours(pid, "container-apiserver"):
                os.kill(pid, 9)
            time.sleep(0.3)
            system.start()
            settle(system)
        found = checks.check_model(system, clients) + checks.check_store(system)
        problems += [(f"{k} ({when})", v) for k, v in found]

    # 4. a quiet round: the same operations with no faults must all succeed.
    quiet = Stats()
    for cl in clients:
        cl.stats = quiet
    run_clients(clients, max(3, a.ops // 2), no_stop)

    # 5. clean up; nothing may be left.
    cleanup(system, clients, a.registry)
    ids = checks.container_ids_ever(system)
    after = checks.snapshot(system, ids)
    stray_blobs, stray_snapshots = checks.unreferenced_content(system)
    r = system.stop()
    if not r.ok:
        problems.append(("system stop", r.text()))
    time.sleep(0.5)
    stopped = checks.snapshot(system, ids)

    leaked = {
        "mount entries": stopped["mount entries"] - before["mount entries"],
        "network namespaces": stopped["network namespaces"],
        "veths": after["veths"] - before["veths"],
        "nftables rules": after["nftables rules"] - before["nftables rules"],
        "cgroups": stopped["cgroups"],
        "processes": stopped["processes"] + stopped["processes in container cgroups"],
        # The server at the start had the same plugins and had done the same
        # kinds of operations (a pull, a run): a fair baseline.
        "API server fds": after["API server fds"] - before["API server fds"],
        "IP allocations": after["IP allocations"],
        "files under ingest/": after["files under ingest/"],
        "blobs no image uses": stray_blobs,
        "snapshots no image uses": stray_snapshots,
    }
    sanitizer = checks.sanitizer_reports(os.path.join(a.root, "asan"))
    verdicts = checks.leak_check_verdicts(system)

    # --- figures ---------------------------------------------------------------
    ok, in_fault, bad = stats.totals()
    qok, _, qbad = quiet.totals()
    say(f"load: {ok + in_fault + bad} operations in {load_seconds:.1f} s: {ok} succeeded, "
        f"{in_fault} failed during a fault, {bad} failed outside any fault")
    for op, (o, f, u) in sorted(stats.ops.items()):
        say(f"  {op:16s} {o:4d} ok {f:4d} in a fault {u:4d} unexpected")
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(faults.counts.items())) or "none"
    say(f"faults injected: {sum(faults.counts.values())} ({kinds})")
    say(f"quiet round: {qok} operations succeeded, {qbad} failed")
    lost = sum(1 for k, _ in problems if k.startswith("container lost"))
    say(f"containers lost: {lost}")
    say(f"inconsistencies: {len(problems) - lost}")
    for k, v in problems:
        say(f"  {k}: {v}")
    say("leaked resources: " + ", ".join(f"{k} {v}" for k, v in leaked.items()))
    if leaked["API server fds"] != 0:
        extra = list(after["_fd_targets"])
        for t in before["_fd_targets"]:
            if t in extra:
                extra.remove(t)
        missing = list(before["_fd_targets"])
        for t in after["_fd_targets"]:
            if t in missing:
                missing.remove(t)
        say(f"  API server fds: {extra[:20]} more, {missing[:20]} fewer than at the start")
    if stopped["processes"]:
        for pid, cmd in list(stopped["_procs"].items())[:10]:
            say(f"  left running: {pid} {cmd[:200]}")
    if stopped["_mounts"]:
        say(f"  left mounted: {stopped['_mounts'][:10]}")
    if verdicts:
        say(f"API server leak check at exit (LeakSanitizer): {verdicts[-1]}")
    say(f"sanitizer reports: {len(sanitizer)}" + (f" ({', '.join(sanitizer[:5])})" if sanitizer else ""))
    for op, args, out in (stats.unexpected + quiet.unexpected)[:15]:
        say(f"  unexpected failure: container {args}: {out}")
    for op, args in (stats.hung + quiet.hung)[:10]:
        say(f"  hung: container {args}")

    failed = (bad or qbad or problems or any(v > 0 for v in leaked.values()) or sanitizer
              or stray_blobs < 0
              or stats.hung or quiet.hung or any("leaks found" in v for v in verdicts))
    say("FAILED" if failed else "all invariants hold")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The invariants checked after the load: what the clients were told exists is
listed with the right state, state.db is sound and agrees with the files on
disk, every blob matches its digest, and nothing leaked (a snapshot of every
resource kind taken before the run is compared with one taken after)."""

import glob
import hashlib
import json
import os
import re
import sqlite3
import subprocess


def list_containers(system):
    r = system.ct("list", "-a", "--format", "json")
    if not r.ok:
        raise RuntimeError(f"container list failed: {r.text()}")
    return {c["name"]: c for c in json.loads(r.out)}


def names_of(system, *args):
    r = system.ct(*args, "--format", "json")
    if not r.ok:
        raise RuntimeError(f"{' '.join(args)} failed: {r.text()}")
    return {x.get("name") for x in json.loads(r.out)}


def check_model(system, clients):
    """Every container, network and volume the model is sure about is there
    in the right state; nothing it knows to be gone is. Returns problems."""
    problems = []
    listed = list_containers(system)
    networks = names_of(system, "network", "list")
    volumes = names_of(system, "volume", "list")
    for cl in clients:
        for c in cl.containers:
            got = listed.get(c.name)
            status = got["state"]["status"] if got else None
            if c.state in ("created", "running", "stopped", "exists"):
                if got is None:
                    problems.append(("container lost", f"{c.name} (expected {c.state})"))
                elif c.state != "exists" and status != c.state:
                    problems.append(("container in the wrong state",
                                     f"{c.name}: listed {status}, expected {c.state}"))
            elif c.state == "gone" and got is not None:
                problems.append(("container not deleted", f"{c.name} listed as {status}"))
        for kind, things, present in (("network", cl.networks, networks),
                                      ("volume", cl.volumes, volumes)):
            for t in things:
                if t.state == "exists" and t.name not in present:
                    problems.append((f"{kind} lost", t.name))
                elif t.state == "gone" and t.name in present:
                    problems.append((f"{kind} not deleted", t.name))
    return problems


def db_rows(app, sql):
    con = sqlite3.connect(f"file:{app}/state.db?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def check_store(system):
    """state.db integrity and agreement with the bundles, volumes and network
    plugins on disk; blobs against their digests; ingest empty."""
    app = system.app
    problems = []
    integrity = db_rows(app, "PRAGMA integrity_check")
    if integrity != [("ok",)]:
        problems.append(("state.db integrity_check", repr(integrity)[:300]))
    rows = {r[0] for r in db_rows(app, "SELECT id FROM containers")}
    bundles = {os.path.basename(p) for p in glob.glob(f"{app}/containers/*")
               if os.path.isdir(p)}
    for cid in rows - bundles:
        problems.append(("container row without a bundle", cid))
    for cid in rows:
        if cid in bundles and not os.path.isfile(f"{app}/containers/{cid}/config.json"):
            problems.append(("bundle without config.json", cid))
    for cid in bundles - rows:
        problems.append(("bundle without a container row", cid))
    # An image's index or manifest, and the one each container was made from
    # (kept while the container exists), are in the content store.
    for what, sql in (("image", "SELECT name, digest FROM images"),
                      ("container", "SELECT name, image_digest FROM containers")):
        for name, digest in db_rows(app, sql):
            if not os.path.isfile(f"{app}/content/blobs/{digest.replace(':', '/', 1)}"):
                problems.append((f"{what} whose content is missing", f"{name}: {digest[:19]}"))
    vols = {r[0] for r in db_rows(app, "SELECT name FROM volumes")}
    vol_dirs = {os.path.basename(p) for p in glob.glob(f"{app}/volumes/*")}
    for v in vols - vol_dirs:
        problems.append(("volume row without its folder", v))
    for v in vol_dirs - vols:
        problems.append(("volume folder without a row", v))
    # An address is held from a container's start to its exit.
    listed = list_containers(system)
    running = {c["id"] for c in listed.values() if c["state"]["status"] == "running"}
    for net, addr, cid in db_rows(app, "SELECT network, address, container_id FROM ip_allocations"):
        if cid not in running:
            problems.append(("IP allocation of a container not running", f"{net} {addr} {cid[:12]}"))
    nets = {r[0] for r in db_rows(app, "SELECT name FROM networks")}
    plugins = plugin_states(system)
    for n in nets:
        label = f"container-network-bridge.{n}"
        if plugins.get(label) == "failed":
            # Killed more than 5 times within 30 s of its starts: the supervisor
            # gave up on it (by design, as for a crash loop), and the next use
            # of the network starts it again.
            r = system.ct("run", "--rm", "--network", n, "busybox", "true")
            if r.ok and plugin_states(system).get(label) == "running":
                continue
            problems.append(("network whose failed plugin does not come back on use",
                             f"{n}: {r.text()[-200:]}"))
        elif plugins.get(label) != "running":
            problems.append(("network without a running plugin", f"{n}: {plugins.get(label)}"))
    for label, state in plugins.items():
        if label.startswith("container-network-bridge.") and state == "running" and \
                label.split(".", 1)[1] not in nets:
            problems.append(("network plugin without a network", label))
    problems += check_blobs(app)
    ingest = os.listdir(f"{app}/content/ingest") if os.path.isdir(f"{app}/content/ingest") else []
    if ingest:
        problems.append(("files under content/ingest", ", ".join(ingest[:5])))
    return problems


def plugin_states(system):
    r = system.ct("plugin", "list", "--format", "json")
    if not r.ok:
        return {}
    out = {}
    for p in json.loads(r.out):
        label = p.get("label") or p.get("name")
        out[label] = p.get("state")
    return out


def check_blobs(app):
    problems = []
    for path in glob.glob(f"{app}/content/blobs/sha256/*"):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != os.path.basename(path):
            problems.append(("blob failing its digest", os.path.basename(path)[:16]))
    return problems


# --- leaks ----------------------------------------------------------------------

def container_ids_ever(system):
    """Every container id the API server logged creating."""
    ids = set()
    for path in glob.glob(f"{system.log_root}/*.log*"):
        with open(path, errors="replace") as f:
            for line in f:
                m = re.search(r"created container \S+ \(([0-9a-f]{64})\)", line)
                if m:
                    ids.add(m.group(1))
    return ids


def sanitizer_reports(folder):
    """Files with a sanitizer's error in them. A process SIGKILLed while
    LeakSanitizer checked it at its exit leaves only its tracer's "Unable to get
    registers from thread" note: that is the kill's doing, not a report."""
    found = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), errors="replace") as f:
            text = f.read()
        if "ERROR: " in text or "runtime error:" in text or "WARNING: " in text:
            found.append(name)
    return found


def leak_check_verdicts(system):
    """The API servers' own LeakSanitizer verdicts at a clean exit (sanitizer
    builds log them; a SIGKILLed server has none)."""
    found = []
    for path in sorted(glob.glob(f"{system.log_root}/*.log*")):
        with open(path, errors="replace") as f:
            found += [line.split("leak check at exit: ", 1)[1].strip()
                      for line in f if "leak check at exit: " in line]
    return found


def netns_of(pids):
    found = set()
    for pid in pids:
        try:
            found.add(os.readlink(f"/proc/{pid}/ns/net"))
        except OSError:
            pass
    return found


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True).stdout


def snapshot(system, ids=()):
    """Counts of every resource kind the run could leak. This run has its own
    network namespace, so veths and nftables rules are all its own."""
    root = system.root + "/"
    mounts = [l.split()[1] for l in open("/proc/self/mounts") if root in l]
    procs = system.our_processes()
    cgroups = [d for cid in ids for d in glob.glob(f"/sys/fs/cgroup/*/container/{cid}")
               + glob.glob(f"/sys/fs/cgroup/container/{cid}")]
    cgroup_procs = 0
    for d in cgroups:
        try:
            cgroup_procs += len(open(f"{d}/cgroup.procs").read().split())
        except OSError:
            pass
    nft = run("nft", "-a", "list", "table", "inet", "container")
    apiserver = system.apiserver_pid()
    fds = sorted(os.listdir(f"/proc/{apiserver}/fd")) if apiserver else []
    try:
        ips = db_rows(system.app, "SELECT count(*) FROM ip_allocations")[0][0]
    except sqlite3.Error:
        ips = -1
    ingest = glob.glob(f"{system.app}/content/ingest/*")
    return {
        "mount entries": len(mounts),
        "network namespaces": len(netns_of(procs) - {os.readlink("/proc/self/ns/net")}),
        "veths": len(re.findall(r"^\d+:", run("ip", "-o", "link", "show", "type", "veth"), re.M)),
        "nftables rules": nft_rules(nft),
        "cgroups": len(cgroups),
        "processes in container cgroups": cgroup_procs,
        "processes": len(procs),
        "API server fds": len(fds),
        "IP allocations": ips,
        "files under ingest/": len(ingest),
        "_fd_targets": sorted(_fd_target(apiserver, fd) for fd in fds),
        "_mounts": mounts,
        "_procs": procs,
    }


def unreferenced_content(system):
    """Blobs and snapshots that no listed image refers to (the images plugin's
    garbage collection should have removed them with the last image that
    used them), and snapshots an interrupted unpack left half made. -1, -1
    when the images can't be listed."""
    app = system.app
    r = system.ct("image", "list", "--format", "json")
    if not r.ok:
        return -1, -1
    blobs, snaps = set(), set()
    for img in json.loads(r.out):
        i = system.ct("image", "inspect", img["name"])
        if not i.ok:
            return -1, -1
        info = json.loads(i.out)
        info = info[0] if isinstance(info, list) else info
        for key in ("manifest", "index"):
            doc = info.get(key) or {}
            for d in doc.get("manifests", []) + doc.get("layers", []) + [doc.get("config") or {}]:
                if d.get("digest"):
                    blobs.add(d["digest"].split(":", 1)[1])
        for d in (img.get("digest"), img.get("manifestDigest"), img.get("configDigest")):
            if d:
                blobs.add(d.split(":", 1)[1])
        snaps |= {os.path.realpath(p) for p in info.get("snapshots", [])}
    stored_blobs = {os.path.basename(p) for p in glob.glob(f"{app}/content/blobs/sha256/*")}
    stored_snaps = {os.path.realpath(p) for p in glob.glob(f"{app}/snapshots/*")}
    stored_snaps |= {os.path.realpath(p) for p in glob.glob(f"{app}/snapshots/.tmp-*")}
    return len(stored_blobs - blobs), len(stored_snaps - snaps)


def nft_rules(listing):
    """Rules (not tables, chains, sets or maps) in `nft -a list` output."""
    return sum(1 for line in listing.splitlines()
               if "# handle" in line and not re.match(r"\s*(table|chain|set|map) ", line))


def _fd_target(pid, fd):
    try:
        t = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return "?"
    return re.sub(r"\[\d+\]", "[]", t)


def leaks(before, after):
    out = {}
    for k, v in after.items():
        if k.startswith("_"):
            continue
        out[k] = v - before.get(k, 0)
    return out

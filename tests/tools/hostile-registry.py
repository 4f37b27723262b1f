#!/usr/bin/env python3
"""hostile-registry: an OCI distribution registry that misbehaves on purpose
(tests and benchmarks only).

    hostile-registry.py LAYOUT [--port N] [--port-file FILE] [--tick S]

LAYOUT is an OCI image layout (tests/fixtures/build-images.sh's busybox); its
first manifest, config and layers are what the registry serves. The mode is the
repository's first component, so one server serves every mode:

    GET /v2/<mode>/<name>/manifests/<tag or digest>
    GET /v2/<mode>/<name>/blobs/<digest>

Modes (what goes wrong is always the image's last layer blob unless said otherwise):

    ok               nothing: a well-behaved registry
    blob-long        the blob has 4096 bytes more than its descriptor's size
                     (Content-Length tells the truth)
    blob-short       the blob is 4096 bytes shorter than its size (Content-Length
                     tells the truth)
    length-lie-short Content-Length is half the blob's size; the whole blob follows
    length-lie-long  Content-Length is twice the blob's size; the blob follows, then
                     the connection is closed
    digest           the right size, other bytes (one byte flipped in the middle)
    slow-headers     the response's headers one byte every --tick seconds (2)
    slow-body        headers at once, then the body one byte every --tick/4 seconds
                     (fast enough to beat a 1 byte/s low-speed limit); Range honoured,
                     so every retry makes a little progress
    redirect-self    307 to the same URL, for ever
    redirect-loop    307 from A to B and from B back to A
    manifest-endless the manifest: 200 without Content-Length and a body that never
                     ends (a JSON string that keeps growing)
    manifest-huge    the manifest: Content-Length of 1 GiB, and that many bytes
    error-endless    404 with an endless body
    close-mid-body   half of what is asked for (Range honoured), then the connection
                     is closed

Every request is logged to stderr. The port is printed on stdout (and written to
--port-file) once the server listens; with --port 0 (the default) the kernel
picks it. Python 3 standard library only.
"""

import argparse
import json
import os
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class Image:
    def __init__(self, layout):
        with open(os.path.join(layout, "index.json"), "rb") as f:
            index = json.load(f)
        desc = index["manifests"][0]
        self.layout = layout
        self.manifest_digest = desc["digest"]
        self.manifest = self.blob(desc["digest"])
        self.manifest_type = desc.get("mediaType", OCI_MANIFEST)
        manifest = json.loads(self.manifest)
        self.config_digest = manifest["config"]["digest"]
        self.layer_digests = [layer["digest"] for layer in manifest["layers"]]
        self.target = self.layer_digests[-1]

    def blob(self, digest):
        algo, hexpart = digest.split(":", 1)
        if algo != "sha256" or not all(c in "0123456789abcdef" for c in hexpart):
            return None
        path = os.path.join(self.layout, "blobs", algo, hexpart)
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hostile-registry/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("hostile-registry: %s %s\n" % (self.address_string(), fmt % args))

    # -- plumbing ---------------------------------------------------------------

    def send_simple(self, status, body=b"", ctype="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def not_found(self, what):
        body = json.dumps(
            {"errors": [{"code": "NOT_FOUND", "message": what + " unknown"}]}
        ).encode()
        self.send_simple(404, body)

    def send_range_head(self, data):
        """Sends the status and headers for data, honouring "Range: bytes=N-";
        returns the bytes the body should hold (None: nothing more to send)."""
        start = 0
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and rng.endswith("-"):
            try:
                start = int(rng[len("bytes="):-1])
            except ValueError:
                start = 0
        if start >= len(data) > 0:
            self.send_simple(416, b"")
            return None
        rest = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(rest)))
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.end_headers()
        return rest

    def trickle(self, data, every):
        """Writes data one byte at a time, every seconds apart."""
        for b in data:
            self.wfile.write(bytes([b]))
            self.wfile.flush()
            time.sleep(every)

    def endless(self, chunk_maker):
        try:
            while True:
                self.wfile.write(chunk_maker())
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        self.close_connection = True

    def hang_up(self):
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- routes -------------------------------------------------------------------

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path in ("/v2/", "/v2"):
            return self.send_simple(200, b"{}")
        if not path.startswith("/v2/"):
            return self.not_found("path")
        parts = path[len("/v2/"):].split("/")
        # redirect-loop's second hop is /v2/<mode>/<name>/blobs/<digest>/b
        if len(parts) >= 5 and parts[-1] == "b" and parts[-3] == "blobs":
            parts = parts[:-1]
        if len(parts) < 4 or parts[-2] not in ("manifests", "blobs"):
            return self.not_found("path")
        mode, kind, ref = parts[0], parts[-2], parts[-1]
        if kind == "manifests":
            return self.manifest(mode, ref)
        return self.blob(mode, ref)

    def manifest(self, mode, ref):
        image = self.server.image
        if ref not in ("latest", image.manifest_digest):
            return self.not_found("manifest")
        if mode == "manifest-endless":
            self.send_response(200)
            self.send_header("Content-Type", image.manifest_type)
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command == "HEAD":
                return
            self.wfile.write(b'{"schemaVersion": 2, "padding": "')
            return self.endless(lambda: b"x" * 65536)
        if mode == "manifest-huge":
            self.send_response(200)
            self.send_header("Content-Type", image.manifest_type)
            self.send_header("Content-Length", str(1 << 30))
            self.end_headers()
            if self.command == "HEAD":
                return
            self.wfile.write(b'{"schemaVersion": 2, "padding": "')
            return self.endless(lambda: b" " * 65536)
        self.send_simple(
            200,
            image.manifest,
            image.manifest_type,
            [("Docker-Content-Digest", image.manifest_digest)],
        )

    def blob(self, mode, digest):
        image = self.server.image
        data = image.blob(digest)
        if data is None or digest not in [image.config_digest] + image.layer_digests:
            return self.not_found("blob")
        if digest != image.target or mode == "ok":
            return self.send_simple(
                200, data, "application/octet-stream", [("Docker-Content-Digest", digest)]
            )
        tick = self.server.tick
        if mode == "blob-long":
            data = data + os.urandom(4096)
        elif mode == "blob-short":
            data = data[:-4096]
        elif mode == "digest":
            mid = len(data) // 2
            data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]
        elif mode == "length-lie-short":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data) // 2))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return self.hang_up()
        elif mode == "length-lie-long":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data) * 2))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return self.hang_up()
        elif mode == "slow-headers":
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: %d\r\n\r\n" % len(data)
            ).encode()
            try:
                self.trickle(head, tick)
                self.wfile.write(data)
            except OSError:
                pass
            return self.hang_up()
        elif mode == "slow-body":
            rest = self.send_range_head(data)
            if rest is None or self.command == "HEAD":
                return
            try:
                self.trickle(rest, tick / 4)
            except OSError:
                pass
            return self.hang_up()
        elif mode == "redirect-self":
            return self.send_simple(307, b"", headers=[("Location", self.path)])
        elif mode == "redirect-loop":
            if self.path.endswith("/b"):
                target = self.path[: -len("/b")]
            else:
                target = self.path + "/b"
            return self.send_simple(307, b"", headers=[("Location", target)])
        elif mode == "error-endless":
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command == "HEAD":
                return
            self.wfile.write(b'{"errors": [{"code": "BLOB_UNKNOWN", "message": "')
            return self.endless(lambda: b"y" * 65536)
        elif mode == "close-mid-body":
            rest = self.send_range_head(data)
            if rest is None or self.command == "HEAD":
                return
            self.wfile.write(rest[: len(rest) // 2])
            return self.hang_up()
        elif mode != "ok":
            return self.not_found("mode")
        self.send_simple(200, data, "application/octet-stream", [("Docker-Content-Digest", digest)])


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("layout")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--tick", type=float, default=2.0)
    args = ap.parse_args()

    srv = Server(("127.0.0.1", args.port), Handler)
    srv.image = Image(args.layout)
    srv.tick = args.tick
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    print(port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared by the service tests and bench/serve_load.py: runs the real `partscreen serve` on a
loopback port with a temporary data folder, and speaks to it with urllib (stdlib only).

Environment: PARTSCREEN_CLI (the built program), PARTSCREEN_CGAL_MESHES (CGAL's sample meshes,
extracted by tests/CMakeLists.txt), PARTSCREEN_WEB (service/web)."""
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

CLI = os.environ.get("PARTSCREEN_CLI", "partscreen")
MESHES = os.environ.get("PARTSCREEN_CGAL_MESHES", "")
WEB = os.environ.get("PARTSCREEN_WEB", "")
REFERENCES = ["pinion", "rotor", "couplingdown", "spool"]


def run_cli(*args, cwd=None, check=True):
    r = subprocess.run([CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if check and r.returncode not in (0, 1):
        raise RuntimeError(f"partscreen {' '.join(args)} -> {r.returncode}: {r.stderr}")
    return r


def mesh(stem):
    return os.path.join(MESHES, stem + ".off")


class Fixtures:
    """A pack enrolled at test time from CGAL's sample parts, and uploads made from them with
    `partscreen variant` (the pieces of the coupling cut in two files, a part never enrolled)."""

    def __init__(self, folder):
        self.dir = folder
        self.pack = os.path.join(folder, "refs.pack")
        run_cli("enroll", "--threads", "2", "--out", self.pack, *[mesh(s) for s in REFERENCES])
        run_cli("variant", "--kind", "pieces", "--seed", "1", "--out", os.path.join(folder, "cut"), mesh("couplingdown"))
        self.piece1 = os.path.join(folder, "cut.1.stl")
        self.piece2 = os.path.join(folder, "cut.2.stl")
        self.clear = mesh("turbine")
        self.other_clear = mesh("mech-holes-shark")
        run_cli("variant", "--kind", "rigid", "--seed", "4", "--out", os.path.join(folder, "rotor_moved"), mesh("rotor"))
        self.flagged = os.path.join(folder, "rotor_moved.stl")


def multipart(files, fields=None):
    """(body, content type) for files = [(name, bytes)], fields = {name: value}."""
    boundary = uuid.uuid4().hex
    out = bytearray()
    for k, v in (fields or {}).items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    for name, data in files:
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class Service:
    """One `partscreen serve` process. start() waits for its "listening on" line."""

    def __init__(self, pack, data_dir=None, *extra):
        self.pack = pack
        self.data = data_dir or tempfile.mkdtemp(prefix="partscreen-serve-")
        self.extra = list(extra)
        self.proc = None
        self.base = None
        self.log = os.path.join(self.data, "server.log")

    def token(self, name, *args):
        return run_cli("serve", "--data", self.data, "token", "create", name, *args).stdout.strip()

    def start(self, timeout=30):
        args = [CLI, "serve", "--data", self.data, "--pack", self.pack, "--listen", "127.0.0.1:0", "--threads", "1"]
        if WEB:
            args += ["--web", WEB]
        self.proc = subprocess.Popen(args + self.extra, stdout=subprocess.PIPE, stderr=open(self.log, "ab"), text=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("partscreen serve exited: " + open(self.log).read())
            m = re.search(r"listening on (http://[0-9.]+:\d+)", line)
            if m:
                self.base = m.group(1)
                return self
        raise RuntimeError("partscreen serve did not start")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def request(self, method, path, token=None, body=None, content_type=None, timeout=120):
        req = urllib.request.Request(self.base + path, data=body, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if content_type:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read())

    def upload(self, token, paths=(), files=None, query="", fields=None, path="/jobs"):
        files = list(files or []) + [(os.path.basename(p), open(p, "rb").read()) for p in paths]
        body, ctype = multipart(files, fields)
        return self.request("POST", path + query, token, body, ctype)

    def wait(self, token, job_id, seconds=120):
        deadline = time.time() + seconds
        while time.time() < deadline:
            j = self.request("GET", f"/jobs/{job_id}?wait=10", token).json()
            if j.get("state") in ("done", "failed"):
                return j
        raise AssertionError(f"job {job_id} did not finish in {seconds} s")

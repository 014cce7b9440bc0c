#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Dask backlog sweep (python/partscreen/sweep.py) on a LocalCluster of worker processes,
over a small corpus made from CGAL's sample parts (libcgal-demo): every file gets exactly one
line even when a worker is killed mid-run; the lines carry the same answers as scanning each file
directly; each worker opens the pack once; an interrupted sweep resumes where it stopped, and a
torn last line is cut off.

Run by ctest with Debian's /usr/bin/python3, PYTHONPATH=<build>/python and PARTSCREEN_CGAL_MESHES."""
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import numpy as np

import partscreen
from partscreen import sweep

MESHES = os.environ.get("PARTSCREEN_CGAL_MESHES", "")


def cgal(stem):
    return os.path.join(MESHES, stem + ".off")


def write_stl(path, vertices, triangles):
    v = np.asarray(vertices, dtype=np.float32)
    rec = np.zeros(len(triangles), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    rec["v"] = v[np.asarray(triangles, dtype=np.int64)]
    with open(path, "wb") as f:
        f.write(b"partscreen sweep test".ljust(80, b" ") + np.uint32(len(rec)).tobytes() + rec.tobytes())


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@unittest.skipUnless(os.path.isfile(cgal("fandisk")), "CGAL sample meshes missing (libcgal-demo)")
class Sweep(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="partscreen_sweep_")
        cls.pack = os.path.join(cls.dir, "refs.pack")
        partscreen.enroll([cgal(s) for s in ("pinion", "anchor", "fandisk")], cls.pack, threads=2)
        corpus = cls.corpus = os.path.join(cls.dir, "uploads")
        os.makedirs(os.path.join(corpus, "sub"))
        cls.expect_flagged = []
        for i, (stem, kind) in enumerate((("pinion", "rigid"), ("anchor", "scale"), ("fandisk", "mirror"),
                                          ("pinion", "noise"), ("anchor", "rigid"), ("fandisk", "rigid"))):
            v = partscreen.variant(cgal(stem), kind, seed=i + 1)
            path = os.path.join(corpus, "sub" if i % 2 else "", f"{stem}_{kind}.stl")
            write_stl(path, *v["files"][0])
            cls.expect_flagged.append(path)
        # Parts that are not in the pack, and a file no reader accepts.
        for stem in ("spool", "handle", "rotor", "oblong", "cylinder", "couplingdown"):
            f = partscreen.load_file(cgal(stem))
            write_stl(os.path.join(corpus, f"{stem}.stl"), f.vertices, f.triangles)
        cls.broken = os.path.join(corpus, "sub", "broken.stl")
        with open(cls.broken, "wb") as f:
            f.write(b"\x00" * 80 + np.uint32(1000).tobytes() + b"\x01" * 60)  # claims 1000 triangles, holds one
        with open(os.path.join(corpus, "notes.txt"), "w") as f:
            f.write("not a mesh: --dir skips unknown extensions\n")
        cls.files = sweep.find_files(corpus)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_find_files_and_manifest(self):
        self.assertEqual(len(self.files), 13)
        self.assertTrue(all(os.path.isabs(f) for f in self.files))
        self.assertFalse(any(f.endswith(".txt") for f in self.files))
        manifest = os.path.join(self.dir, "files.txt")
        with open(manifest, "w") as f:
            f.write("# backlog\n\n" + "\n".join(os.path.relpath(p, self.dir) for p in self.files) + "\n")
        self.assertEqual(sweep.read_manifest(manifest), self.files)

    def test_worker_killed_mid_run_loses_nothing_and_repeats_nothing(self):
        import dask
        from distributed import Client, LocalCluster

        out = os.path.join(self.dir, "killed.jsonl")
        dask.config.set({"distributed.scheduler.allowed-failures": 3})
        with LocalCluster(n_workers=3, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            pids = client.run(os.getpid)
            victim = {}
            written = []

            def kill_one(rec):
                # After the second line, kill -9 a worker that is busy (window > workers) with a task.
                written.append(rec["path"])
                if len(victim) == 0 and len(written) >= 2:
                    addr, pid = sorted(pids.items())[0]
                    victim[addr] = pid
                    os.kill(pid, signal.SIGKILL)

            summary = sweep.sweep(client, self.pack, self.files, out, {"threads": 1}, retries=2, progress=False,
                                  on_result=kill_one)
            self.assertEqual(len(victim), 1, "the worker was not killed: the run ended too early")
            states = client.run(sweep.worker_state)
            new_pids = client.run(os.getpid)

        self.assertNotIn(list(victim.values())[0], new_pids.values())  # it really died (and its nanny restarted it)
        lines = read_lines(out)
        paths = [r["path"] for r in lines]
        self.assertEqual(sorted(paths), sorted(self.files), "every file exactly once")
        self.assertEqual(collections.Counter(paths).most_common(1)[0][1], 1)
        self.assertEqual(summary["failed"], [])
        self.assertEqual(summary["scanned"], len(self.files))
        # Each surviving worker opened the pack exactly once; a restarted one at most once.
        for addr, (pid, loads) in states.items():
            self.assertLessEqual(loads, 1, addr)
            if pid in pids.values():
                self.assertEqual(loads, 1, addr)
        # The answers are the ones a direct scan gives.
        by_path = {r["path"]: r for r in lines}
        for path in self.expect_flagged:
            self.assertEqual(by_path[path]["verdict"], "flagged", path)
        self.assertEqual(by_path[self.broken]["verdict"], "error")
        self.assertEqual(by_path[self.broken]["result"]["files"][0]["ok"], False)
        pack = partscreen.Pack(self.pack)
        for path in self.files:
            direct = partscreen.scan(pack, [path], threads=1)
            got = by_path[path]["result"]
            self.assertEqual(got["verdict"], direct["verdict"], path)
            self.assertEqual([(m["reference"], m["score"]) for m in got["matches"]],
                             [(m["reference"], m["score"]) for m in direct["matches"]], path)
        v = summary["verdicts"]
        self.assertEqual(sum(v.values()), len(self.files))
        self.assertEqual(v["error"], 1)

    def run_cli(self, out, *extra):
        env = dict(os.environ)
        return subprocess.Popen([sys.executable, "-m", "partscreen.sweep", "--pack", self.pack, "--dir", self.corpus,
                                 "--out", out, "--workers", "2", "--scan-threads", "1", "--json", *extra],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def test_interrupted_sweep_resumes_and_cuts_a_torn_line(self):
        out = os.path.join(self.dir, "resume.jsonl")
        first = self.run_cli(out)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and first.poll() is None:
            if os.path.exists(out) and len(read_lines(out)) >= 3:
                first.send_signal(signal.SIGINT)  # Ctrl-C
                break
            time.sleep(0.05)
        _, err = first.communicate(timeout=120)
        self.assertIn(first.returncode, (0, 130), err)
        before = read_lines(out)
        self.assertGreaterEqual(len(before), 3)
        with open(out, "a") as f:
            f.write('{"path": "/half/written.stl", "verd')  # as if the driver died mid-write
        second = self.run_cli(out, "--no-progress")
        stdout, err = second.communicate(timeout=300)
        self.assertEqual(second.returncode, 0, err)
        summary = json.loads(stdout.strip().splitlines()[-1])
        self.assertEqual(summary["skipped"], len(before))
        self.assertEqual(summary["scanned"], len(self.files) - len(before))
        self.assertIn("torn last line", err)
        lines = read_lines(out)  # valid JSONL again: the torn line is gone
        self.assertEqual(sorted(r["path"] for r in lines), sorted(self.files))
        # A third run has nothing left to do.
        third = self.run_cli(out, "--no-progress")
        stdout, err = third.communicate(timeout=300)
        self.assertEqual(third.returncode, 0, err)
        self.assertEqual(json.loads(stdout.strip().splitlines()[-1])["skipped"], len(self.files))
        self.assertEqual(len(read_lines(out)), len(self.files))

    def test_output_of_another_pack_is_refused(self):
        out = os.path.join(self.dir, "other.jsonl")
        with open(out, "w") as f:
            f.write(json.dumps({"path": self.files[0], "verdict": "clear",
                                "result": {"pack": {"checksum": "00" * 32}}}) + "\n")
        with self.assertRaises(SystemExit) as cm:
            sweep.read_done(out, partscreen.Pack(self.pack).checksum)
        self.assertIn("another pack", str(cm.exception))


if __name__ == "__main__":
    if not MESHES:
        sys.exit("PARTSCREEN_CGAL_MESHES must be set (ctest sets it)")
    unittest.main(verbosity=2)

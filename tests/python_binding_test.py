#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""`import partscreen` (python/) against the CLI on CGAL's sample parts (libcgal-demo): the same
verdict and scores as `partscreen scan --json` on the same inputs; numpy, bytes and mixed jobs;
every kind of bad input raises partscreen.Error with its code; scans release the GIL.

Run by ctest with Debian's /usr/bin/python3, PYTHONPATH=<build>/python, PARTSCREEN_CLI and
PARTSCREEN_CGAL_MESHES set (tests/CMakeLists.txt)."""
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import numpy as np

import partscreen

CLI = os.environ.get("PARTSCREEN_CLI", "")
MESHES = os.environ.get("PARTSCREEN_CGAL_MESHES", "")


def cgal(stem):
    return os.path.join(MESHES, stem + ".off")


def write_stl(path, vertices, triangles):
    """Binary STL from arrays (what a user's own exporter would write)."""
    v = np.asarray(vertices, dtype=np.float32)
    t = np.asarray(triangles, dtype=np.int64)
    rec = np.zeros(len(t), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    rec["v"] = v[t]
    with open(path, "wb") as f:
        f.write(b"partscreen python test".ljust(80, b" "))
        f.write(np.uint32(len(t)).tobytes())
        f.write(rec.tobytes())


def without_timings(doc):
    """A scan document minus what measures time (differs run to run)."""
    doc = json.loads(json.dumps(doc))
    doc.pop("timings", None)
    for f in doc.get("files", []):
        f.pop("load_ms", None)
    return doc


@unittest.skipUnless(os.path.isfile(cgal("fandisk")), "CGAL sample meshes missing (libcgal-demo)")
class Binding(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="partscreen_py_")
        cls.pack_path = os.path.join(cls.dir, "refs.pack")
        refs = [{"path": cgal(s), "category": "demo"} for s in ("pinion", "rotor", "anchor", "fandisk")]
        cls.enrolled = partscreen.enroll(refs, cls.pack_path, pack_name="pytest", threads=2)
        cls.pack = partscreen.Pack(cls.pack_path)
        # The moved part: a random rotation and translation of an enrolled reference.
        cls.moved = partscreen.variant(cgal("fandisk"), "rigid", seed=7)
        cls.moved_v, cls.moved_t = cls.moved["files"][0]
        cls.upload = os.path.join(cls.dir, "moved_fandisk.stl")
        write_stl(cls.upload, cls.moved_v, cls.moved_t)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def cli_scan(self, *files):
        r = subprocess.run([CLI, "scan", "--json", "--pack", self.pack_path, *files], capture_output=True, text=True,
                           timeout=300)
        self.assertIn(r.returncode, (0, 1, 2), r.stderr)
        return json.loads(r.stdout)

    def assert_same_matches(self, a, b, places=4):
        self.assertEqual(a["verdict"], b["verdict"])
        self.assertEqual([m["reference"] for m in a["matches"]], [m["reference"] for m in b["matches"]])
        for ma, mb in zip(a["matches"], b["matches"]):
            for key in ("score", "coverage", "scale"):
                self.assertAlmostEqual(ma[key], mb[key], places=places, msg=key)
            self.assertEqual(ma["mirrored"], mb["mirrored"])

    def test_enroll_report_and_pack(self):
        self.assertEqual([r["id"] for r in self.enrolled["references"]], ["pinion", "rotor", "anchor", "fandisk"])
        self.assertEqual(self.enrolled["bytes"], os.path.getsize(self.pack_path))
        self.assertEqual(len(self.pack), 4)
        self.assertEqual(self.pack.name, "pytest")
        self.assertEqual([r["id"] for r in self.pack.references], ["pinion", "rotor", "anchor", "fandisk"])
        self.assertTrue(all(r["category"] == "demo" and r["keypoints"] > 0 for r in self.pack.references))
        self.assertEqual(partscreen.version(), self.cli_scan(self.upload)["partscreen_version"])

    def test_moved_part_same_verdict_and_scores_as_cli(self):
        cli = self.cli_scan(self.upload)
        py = partscreen.scan(self.pack, [self.upload])
        self.assertEqual(py["verdict"], "flagged")
        self.assertEqual(py["matches"][0]["reference"], "fandisk")
        self.assertGreaterEqual(py["matches"][0]["score"], py["thresholds"]["flag_score"])
        # The whole document (matches, transform, parts, files, pack, thresholds) is the CLI's.
        self.assertEqual(without_timings(py), without_timings(cli))
        # A pack path works as well as a Pack, and a lone path as well as a list.
        self.assertEqual(without_timings(partscreen.scan(self.pack_path, self.upload)), without_timings(cli))

    def test_numpy_input(self):
        file_result = partscreen.scan(self.pack, [self.upload])
        for v, t in ((self.moved_v, self.moved_t),                                     # float32, uint32
                     (self.moved_v.astype(np.float64), self.moved_t.astype(np.int32)),  # other dtypes
                     (np.asfortranarray(self.moved_v), self.moved_t[:, ::-1][:, ::-1]),  # non-contiguous views
                     (self.moved_v.tolist(), self.moved_t.tolist())):                  # plain lists
            loaded = partscreen.mesh(v, t, name="moved")
            self.assertEqual(loaded.triangle_count, len(self.moved_t))
            self.assertEqual(loaded.component_count, 1)
            r = partscreen.scan(self.pack, [loaded])
            self.assert_same_matches(r, file_result, places=3)
            self.assertEqual(r["files"][0]["path"], "moved")
        # (vertices, triangles) straight in the job, and the arrays back out of a LoadedFile.
        r = partscreen.scan(self.pack, [(self.moved_v, self.moved_t)])
        self.assert_same_matches(r, file_result, places=3)
        f = partscreen.load_file(self.upload)
        self.assertEqual(f.vertices.shape[1], 3)
        self.assertEqual(f.vertices.dtype, np.float32)
        self.assertEqual(f.triangles.shape, (len(self.moved_t), 3))
        self.assertLess(int(f.triangles.max()), len(f.vertices))

    def test_bytes_input(self):
        with open(self.upload, "rb") as fh:
            data = fh.read()
        cli = self.cli_scan(self.upload)
        for item in (("moved_fandisk.stl", data), data, bytearray(data), memoryview(data)):
            self.assert_same_matches(partscreen.scan(self.pack, [item]), cli)
        loaded = partscreen.load_bytes(data, name="upload.stl")
        self.assertEqual(loaded.format, "stl_binary")
        info = json.loads(loaded.info_json())
        self.assertEqual(info["triangles"], len(self.moved_t))
        # Unreadable bytes are a result, not an exception: verdict error, as the CLI does.
        r = partscreen.scan(self.pack, [("junk.stl", b"solid x\nfacet normal 0 0 1\nouter loop\nvertex 1 2\n")])
        self.assertEqual(r["verdict"], "error")
        self.assertFalse(r["files"][0]["ok"])
        self.assertEqual(r["files"][0]["path"], "junk.stl")
        self.assertTrue(r["files"][0]["error"]["reason"])

    def test_one_call_is_one_job(self):
        # A part cut in two pieces, one given as a path and one as bytes: assembled across both.
        v = partscreen.variant(cgal("anchor"), "pieces", seed=3)
        self.assertGreaterEqual(len(v["files"]), 2)
        paths = []
        for i, (pv, pt) in enumerate(v["files"]):
            paths.append(os.path.join(self.dir, f"anchor_piece{i}.stl"))
            write_stl(paths[-1], pv, pt)
        cli = self.cli_scan(*paths)
        with open(paths[1], "rb") as fh:
            mixed = [paths[0], (os.path.basename(paths[1]), fh.read())] + paths[2:]
        py = partscreen.scan(self.pack, mixed)
        self.assertEqual(py["verdict"], cli["verdict"])
        self.assertEqual(py["matches"][0]["reference"], "anchor")
        self.assertAlmostEqual(py["matches"][0]["score"], cli["matches"][0]["score"], places=4)
        self.assertEqual(len(py["files"]), len(paths))
        # A missing file in a mixed job: reported, the job not cleared, the rest still screened.
        r = partscreen.scan(self.pack, [os.path.join(self.dir, "missing.stl"), (self.moved_v, self.moved_t)])
        self.assertEqual(r["verdict"], "flagged")
        self.assertEqual(sum(1 for f in r["files"] if not f["ok"]), 1)

    def test_found_masks_add_up_across_jobs(self):
        # A part cut in two, each piece uploaded in its own job: the union of their found masks
        # covers more of the reference than either, as coverage_from_found reports.
        v = partscreen.variant(cgal("anchor"), "pieces", seed=4)  # two pieces each found alone
        masks = []
        for pv, pt in v["files"]:
            # Partial matches are what cumulative screening adds up: keep them all.
            r = partscreen.scan(self.pack, [(pv, pt)], found=True, report_score=0.0)
            m = next((m for m in r["matches"] if m["reference"] == "anchor"), None)
            if m is None:
                continue
            self.assertEqual(m["found"].dtype, np.uint8)
            self.assertEqual(len(m["found"]), self.pack.references[2]["keypoints"])
            self.assertEqual(m["found_points"].shape, (int(m["found"].sum()), 3))
            # The points are on the upload: inside its bounding box (with a little slack).
            lo, hi = pv.min(axis=0), pv.max(axis=0)
            slack = 0.05 * float(np.linalg.norm(hi - lo))
            self.assertTrue(np.all(m["found_points"] >= lo - slack) and np.all(m["found_points"] <= hi + slack))
            alone = partscreen.coverage_from_found(self.pack, "anchor", m["found"])
            self.assertAlmostEqual(alone["coverage"], m["coverage"], places=3)
            masks.append(m["found"])
        self.assertGreaterEqual(len(masks), 2, "each piece should be recognised on its own")
        union = partscreen.coverage_from_found(self.pack, "anchor", np.maximum.reduce(masks))
        for mask in masks:
            self.assertGreater(union["coverage"], partscreen.coverage_from_found(self.pack, "anchor", mask)["coverage"])
        self.assertGreater(union["score"], 0.0)
        self.assert_error("invalid_argument", partscreen.coverage_from_found, self.pack, "no-such-reference", masks[0])
        self.assert_error("invalid_argument", partscreen.coverage_from_found, self.pack, "anchor", masks[0][:-1])
        # Without found=True the result is exactly the CLI's JSON (serialisable as is).
        json.dumps(partscreen.scan(self.pack, [self.upload]))

    def assert_error(self, code, fn, *args, **kwargs):
        with self.assertRaises(partscreen.Error) as cm:
            fn(*args, **kwargs)
        e = cm.exception
        self.assertEqual(e.code, code, str(e))
        self.assertIn(e.code, partscreen.ERROR_CODES)
        self.assertTrue(e.reason)
        return e

    def test_bad_numpy_input_raises(self):
        v, t = self.moved_v, self.moved_t
        m = partscreen.mesh
        e = self.assert_error("invalid_argument", m, v[:, :2], t, name="flat")
        self.assertEqual(e.file, "flat")
        self.assertIn("(N, 3)", e.reason)
        self.assert_error("invalid_argument", m, v.ravel(), t)
        self.assert_error("invalid_argument", m, v, t[:, :2])
        self.assert_error("invalid_argument", m, v, t.astype(np.float64))              # float indices
        self.assert_error("invalid_argument", m, v.astype(str), t)                     # strings
        self.assert_error("invalid_argument", m, v.astype(np.complex64), t)
        self.assert_error("invalid_argument", m, v.astype(object), t)
        bad = t.astype(np.int64)
        bad[5, 1] = len(v)
        e = self.assert_error("invalid_argument", m, v, bad)
        self.assertIn("triangle 5", e.reason)
        bad[5, 1] = -1
        self.assert_error("invalid_argument", m, v, bad)
        for value in (np.nan, np.inf, -np.inf, 1e9):
            bv = v.astype(np.float64)
            bv[3, 2] = value
            e = self.assert_error("invalid_coordinates", m, bv, t)
            self.assertIn("vertex 3", e.reason)
        self.assert_error("limit_exceeded", m, v, t, max_triangles=10)
        self.assert_error("empty", m, np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int32))
        self.assert_error("empty", m, np.zeros((3, 3)), np.array([[0, 1, 2]]))  # only a degenerate triangle

    def test_bad_job_and_options_raise(self):
        self.assert_error("invalid_argument", partscreen.scan, self.pack, [])
        self.assert_error("invalid_argument", partscreen.scan, self.pack, [42])
        self.assert_error("invalid_argument", partscreen.scan, self.pack, [self.upload], flag_scor=0.5)
        self.assert_error("invalid_argument", partscreen.scan, self.pack, [self.upload], flag_score=1.5)
        self.assert_error("invalid_argument", partscreen.scan, self.pack, [self.upload], flag_score=0.3,
                          review_score=0.5)
        self.assert_error("invalid_argument", partscreen.scan, self.pack, [self.upload], threads=-1)
        self.assert_error("invalid_argument", partscreen.variant, cgal("fandisk"), "no-such-kind")
        self.assert_error("io", partscreen.load_file, os.path.join(self.dir, "missing.stl"))
        self.assert_error("limit_exceeded", partscreen.load_file, self.upload, max_file_bytes=100)
        self.assert_error("invalid_argument", partscreen.enroll, [{"mesh": (self.moved_v, self.moved_t)}],
                          os.path.join(self.dir, "x.pack"))  # a mesh needs an id

    def test_bad_pack_raises(self):
        self.assert_error("invalid_pack", partscreen.Pack, self.upload)  # not a pack at all
        with open(self.pack_path, "rb") as fh:
            data = bytearray(fh.read())
        data[len(data) // 2] ^= 0xFF
        corrupt = os.path.join(self.dir, "corrupt.pack")
        with open(corrupt, "wb") as fh:
            fh.write(data)
        e = self.assert_error("invalid_pack", partscreen.Pack, corrupt)
        self.assertEqual(e.file, corrupt)
        e = self.assert_error("invalid_pack", partscreen.scan, corrupt, [self.upload])

    def test_error_carries_fields_and_pickles(self):
        e = self.assert_error("io", partscreen.load_file, "/nonexistent/part.stl")
        self.assertEqual(e.file, "/nonexistent/part.stl")
        self.assertIn("/nonexistent/part.stl", str(e))
        back = pickle.loads(pickle.dumps(e))
        self.assertEqual((back.code, back.file, back.reason), (e.code, e.file, e.reason))
        self.assertEqual(e.to_dict(), {"code": "io", "file": "/nonexistent/part.stl", "reason": e.reason})

    def test_enroll_meshes_from_arrays(self):
        out = os.path.join(self.dir, "arrays.pack")
        f = partscreen.load_file(cgal("rotor"))
        rep = partscreen.enroll([{"mesh": (f.vertices, f.triangles), "id": "rotor-arrays", "category": "arr"}], out,
                                threads=2)
        self.assertEqual(rep["references"][0]["id"], "rotor-arrays")
        moved = partscreen.variant(f, "scale", seed=2)
        r = partscreen.scan(out, [moved["files"][0]])
        self.assertEqual(r["verdict"], "flagged")
        self.assertAlmostEqual(r["matches"][0]["scale"], moved["expected_scale"], delta=0.05 * moved["expected_scale"])

    def test_scans_release_the_gil(self):
        job = [self.upload] * 6  # long enough to see: one thread per scan
        sequential = partscreen.scan(self.pack, job, threads=1)

        # While a scan runs in a thread, this thread keeps running Python. The worker marks when it
        # is inside the call; with the GIL held there, this loop could not run at all until the
        # scan returned (a switch could at most land once, between the mark and the call).
        results = {}
        inside = threading.Event()

        def scan_in_thread():
            inside.set()
            try:
                results["r"] = partscreen.scan(self.pack, job, threads=1)
            finally:
                inside.clear()

        worker = threading.Thread(target=scan_in_thread)
        seen_inside = 0
        worker.start()
        while worker.is_alive():
            if inside.is_set():
                seen_inside += 1
            time.sleep(0.001)
        worker.join()
        self.assertIn("r", results)
        self.assertGreater(seen_inside, 5, "this thread never ran while the scan was inside the binding")

        # Two threads scanning at once both finish, with the sequential answer.
        out = [None, None]

        def run(i):
            out[i] = partscreen.scan(self.pack, job, threads=1)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        self.assertFalse(any(t.is_alive() for t in threads))
        for r in out + [results["r"]]:
            self.assertEqual(without_timings(r), without_timings(sequential))


if __name__ == "__main__":
    if not CLI or not MESHES:
        sys.exit("PARTSCREEN_CLI and PARTSCREEN_CGAL_MESHES must be set (ctest sets them)")
    unittest.main(verbosity=2)

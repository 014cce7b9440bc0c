#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration tests of `partscreen serve`: the real service on a loopback port, a pack enrolled
at test time from CGAL's sample parts, uploads made with `partscreen variant`."""
import io
import json
import os
import shutil
import socket
import sqlite3
import sys
import tempfile
import threading
import time
import unittest
import zipfile
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from service_harness import Fixtures, Service, run_cli  # noqa: E402

FIX = None
TMP = None


def setUpModule():
    global FIX, TMP
    TMP = tempfile.mkdtemp(prefix="partscreen-service-test-")
    FIX = Fixtures(TMP)


def tearDownModule():
    shutil.rmtree(TMP, ignore_errors=True)


def db(service):
    return sqlite3.connect(os.path.join(service.data, "state.sqlite"))


class ServiceTest(unittest.TestCase):
    """One shared service for the cases that do not need their own limits."""

    @classmethod
    def setUpClass(cls):
        cls.svc = Service(FIX.pack, None, "--workers", "2").start()
        cls.alice = cls.svc.token("alice")
        cls.bob = cls.svc.token("bob")
        cls.reviewer = cls.svc.token("rita", "--role", "reviewer")

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()
        shutil.rmtree(cls.svc.data, ignore_errors=True)

    def cli_json(self, *paths):
        r = run_cli("scan", "--pack", FIX.pack, "--threads", "1", "--json", *paths)
        return json.loads(r.stdout)

    def test_result_is_the_cli_json(self):
        for paths in ([FIX.piece1, FIX.piece2], [FIX.clear], [FIX.flagged]):
            r = self.svc.upload(self.alice, paths, query="?wait=60")
            self.assertEqual(r.status, 200, r.body)
            job = r.json()
            cli = self.cli_json(*paths)
            self.assertEqual(job["result"]["verdict"], cli["verdict"], paths)
            self.assertEqual(job["verdict"], cli["verdict"])
            self.assertEqual([(m["reference"], m["score"]) for m in job["result"]["matches"]],
                             [(m["reference"], m["score"]) for m in cli["matches"]])
            self.assertEqual([f["path"] for f in job["result"]["files"]], [os.path.basename(p) for p in paths])
            self.assertEqual(job["result"]["pack"], cli["pack"])
        self.assertEqual(self.cli_json(FIX.piece1, FIX.piece2)["verdict"], "flagged")
        self.assertEqual(self.cli_json(FIX.clear)["verdict"], "clear")

    def test_async_job_then_get_and_sync_endpoint(self):
        r = self.svc.upload(self.alice, [FIX.clear])
        self.assertIn(r.status, (200, 202))
        job_id = r.json()["id"]
        self.assertEqual(r.headers["Location"], "/jobs/" + job_id)
        self.assertEqual(self.svc.wait(self.alice, job_id)["verdict"], "clear")
        s = self.svc.upload(self.alice, [FIX.flagged], path="/scan")
        self.assertEqual(s.status, 200)
        self.assertEqual(s.json()["verdict"], "flagged")

    def test_zip_upload_is_one_job(self):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(FIX.piece1, "parts/cut.1.stl")
            z.write(FIX.piece2, "parts/cut.2.stl")
        r = self.svc.upload(self.alice, files=[("job.zip", buf.getvalue())], query="?wait=60")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual([f["name"] for f in r.json()["files"]], ["cut.1.stl", "cut.2.stl"])
        self.assertEqual(r.json()["verdict"], self.cli_json(FIX.piece1, FIX.piece2)["verdict"])

    def test_zip_bomb_refused(self):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("bomb.stl", b"\0" * (64 << 20))
        r = self.svc.upload(self.alice, files=[("bomb.zip", buf.getvalue())])
        self.assertEqual(r.status, 413, r.body)
        self.assertEqual(r.json()["error"]["code"], "limit_exceeded")

    def test_token_auth(self):
        self.assertEqual(self.svc.upload(None, [FIX.clear]).status, 401)
        self.assertEqual(self.svc.upload("pst_" + "0" * 48, [FIX.clear]).status, 401)
        job = self.svc.upload(self.alice, [FIX.clear], query="?wait=60").json()
        self.assertEqual(self.svc.request("GET", "/jobs/" + job["id"], self.alice).status, 200)
        self.assertEqual(self.svc.request("GET", "/jobs/" + job["id"], self.bob).status, 404)  # not bob's
        self.assertEqual(self.svc.request("GET", "/jobs/" + job["id"], self.reviewer).status, 200)
        self.assertEqual(self.svc.request("GET", "/api/review/queue", self.alice).status, 403)
        self.assertEqual(self.svc.request("GET", "/api/review/queue").status, 401)
        # Only a hash of each secret is stored.
        with open(os.path.join(self.svc.data, "state.sqlite"), "rb") as f:
            raw = f.read()
        for secret in (self.alice, self.bob, self.reviewer):
            self.assertNotIn(secret.encode(), raw)
            self.assertNotIn(secret[4:].encode(), raw)
        with db(self.svc) as c:
            hashes = dict(c.execute("SELECT name, hash FROM tokens"))
        self.assertTrue({"alice", "bob", "rita"} <= set(hashes))
        self.assertTrue(all(len(h) == 64 and int(h, 16) >= 0 for h in hashes.values()))

    def test_review_decisions_go_to_the_audit_log(self):
        flagged = self.svc.upload(self.bob, [FIX.flagged], query="?wait=60").json()
        self.assertEqual(flagged["verdict"], "flagged")
        self.assertEqual(flagged["review"], "pending")
        queue = self.svc.request("GET", "/api/review/queue", self.reviewer).json()["jobs"]
        self.assertIn(flagged["id"], [j["id"] for j in queue])
        path = f"/api/review/jobs/{flagged['id']}/decision"
        body = lambda d, r: json.dumps({"decision": d, "reason": r}).encode()  # noqa: E731
        self.assertEqual(self.svc.request("POST", path, self.reviewer, body("approve", "  "), "application/json").status, 400)
        self.assertEqual(self.svc.request("POST", path, self.bob, body("approve", "mine"), "application/json").status, 403)
        r = self.svc.request("POST", path, self.reviewer, body("reject", "matches the enrolled rotor"), "application/json")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["review"], "rejected")
        queue = self.svc.request("GET", "/api/review/queue", self.reviewer).json()["jobs"]
        self.assertNotIn(flagged["id"], [j["id"] for j in queue])
        mesh = self.svc.request("GET", f"/api/review/jobs/{flagged['id']}/mesh", self.reviewer)
        self.assertEqual(mesh.body[:4], b"PSM1")
        with db(self.svc) as c:
            rows = c.execute("SELECT event, actor, reviewer, reason, verdict, file_hash, pack_checksum, pack_version FROM audit "
                             "WHERE job_id=? ORDER BY id", (flagged["id"],)).fetchall()
        self.assertEqual([r[0] for r in rows], ["accepted", "result", "review:reject"])
        self.assertEqual(rows[2][1:5], ("rita", "rita", "matches the enrolled rotor", "flagged"))
        self.assertEqual(rows[2][5], flagged["files"][0]["blake2b"])
        self.assertEqual(len(rows[2][6]), 64)
        self.assertRegex(rows[1][7], r"^pack format \d+, partscreen \d+\.\d+\.\d+$")
        # Append-only: the database itself refuses to change or delete audit rows.
        with db(self.svc) as c:
            with self.assertRaises(sqlite3.DatabaseError):
                c.execute("UPDATE audit SET reason='edited' WHERE job_id=?", (flagged["id"],))
            with self.assertRaises(sqlite3.DatabaseError):
                c.execute("DELETE FROM audit")

    def test_cumulative_pieces_across_jobs_are_flagged(self):
        carol = self.svc.token("carol")
        dave = self.svc.token("dave")
        first = self.svc.upload(carol, [FIX.piece1], query="?wait=60").json()
        self.assertEqual(first["verdict"], self.cli_json(FIX.piece1)["verdict"])
        self.assertNotEqual(first["verdict"], "flagged")
        second = self.svc.upload(carol, [FIX.piece2], query="?wait=60").json()
        self.assertNotEqual(second["result"]["verdict"], "flagged")  # the piece alone is not enough
        self.assertEqual(second["verdict"], "flagged", second)
        self.assertEqual(second["cumulative"]["earlier_jobs"], [first["id"]])
        self.assertEqual(second["cumulative"]["reference"], "couplingdown")
        self.assertIn(first["id"], second["cumulative"]["explanation"])
        self.assertGreaterEqual(second["cumulative"]["score"], second["result"]["thresholds"]["flag_score"])
        # Another account's piece does not add to carol's, nor carol's to dave's.
        other = self.svc.upload(dave, [FIX.piece2], query="?wait=60").json()
        self.assertIsNone(other["cumulative"])
        self.assertEqual(other["verdict"], second["result"]["verdict"])

    def test_webhook_retried_until_delivered(self):
        got = []

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got.append((time.time(), json.loads(body)))
                self.send_response(500 if len(got) == 1 else 200)  # the first delivery fails
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        hook = HTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=hook.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{hook.server_address[1]}/partscreen-hook"
            job = self.svc.upload(self.alice, [FIX.clear], fields={"webhook": url}).json()
            deadline = time.time() + 30
            while len(got) < 2 and time.time() < deadline:
                time.sleep(0.1)
            self.assertEqual(len(got), 2)
            self.assertEqual(got[1][1]["id"], job["id"])
            self.assertEqual(got[1][1]["verdict"], "clear")
            self.assertGreaterEqual(got[1][0] - got[0][0], 0.9)  # backoff between attempts
            time.sleep(0.3)
            with db(self.svc) as c:
                self.assertEqual(c.execute("SELECT webhook_state, webhook_attempts FROM jobs WHERE id=?",
                                           (job["id"],)).fetchone(), ("delivered", 2))
        finally:
            hook.shutdown()
        bad = self.svc.upload(self.alice, [FIX.clear], fields={"webhook": "file:///etc/passwd"})
        self.assertEqual(bad.status, 400)

    def test_health_and_metrics(self):
        h = self.svc.request("GET", "/healthz")
        self.assertEqual(h.status, 200)
        self.assertEqual(h.json()["status"], "ok")
        self.svc.upload(self.alice, [FIX.clear], query="?wait=60")
        m = self.svc.request("GET", "/metrics").body.decode()
        self.assertIn("# TYPE partscreen_scan_seconds histogram", m)
        accepted = [l for l in m.splitlines() if l.startswith("partscreen_jobs_accepted_total ")]
        self.assertGreaterEqual(float(accepted[0].split()[1]), 1)
        self.assertIn('partscreen_jobs_completed_total{verdict="clear"}', m)


class LimitsTest(unittest.TestCase):
    def setUp(self):
        self.svc = None

    def tearDown(self):
        if self.svc:
            self.svc.stop()
            shutil.rmtree(self.svc.data, ignore_errors=True)

    def test_oversized_upload_refused_without_harm(self):
        self.svc = Service(FIX.pack, None, "--max-request", "1M", "--max-files", "2").start()
        t = self.svc.token("t")
        host, port = self.svc.base[len("http://"):].split(":")
        # A client that announces its body (Expect: 100-continue, as curl does) is refused before sending it.
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall((f"POST /jobs?name=big.stl HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n"
                       f"Content-Length: {3 << 20}\r\nExpect: 100-continue\r\n\r\n").encode())
            reply = b""
            while b"limit_exceeded" not in reply:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        self.assertIn(b"HTTP/1.1 413", reply)
        self.assertIn(b"limit_exceeded", reply)
        # One that just sends it gets the same answer, or sees the connection closed under it.
        try:
            big = self.svc.upload(t, files=[("big.stl", b"\0" * (3 << 20))])
            self.assertEqual(big.status, 413)
            self.assertEqual(big.json()["error"]["code"], "limit_exceeded")
        except OSError:
            pass
        many = self.svc.upload(t, files=[(f"{i}.stl", open(FIX.piece1, "rb").read()[:1000]) for i in range(3)])
        self.assertEqual(many.status, 413)
        ok = self.svc.upload(t, [FIX.clear], query="?wait=60")
        self.assertEqual(ok.status, 200)
        self.assertEqual(ok.json()["verdict"], "clear")
        self.assertFalse(os.listdir(os.path.join(self.svc.data, "uploads")) == [])

    def test_overload_gets_429_with_retry_after_and_accepted_jobs_finish(self):
        self.svc = Service(FIX.pack, None, "--workers", "1", "--queue", "2").start()
        t = self.svc.token("t")
        with ThreadPoolExecutor(12) as pool:
            results = list(pool.map(lambda _: self.svc.upload(t, [FIX.piece1, FIX.piece2]), range(12)))
        codes = [r.status for r in results]
        self.assertIn(429, codes)
        busy = [r for r in results if r.status == 429]
        self.assertTrue(all(int(r.headers["Retry-After"]) >= 1 for r in busy))
        self.assertTrue(all(r.json()["error"]["code"] == "busy" for r in busy))
        accepted = [r.json()["id"] for r in results if r.status == 202]
        self.assertGreaterEqual(len(accepted), 2)
        for job_id in accepted:
            self.assertEqual(self.svc.wait(t, job_id)["state"], "done")

    def test_quota(self):
        self.svc = Service(FIX.pack).start()
        t = self.svc.token("small", "--jobs-per-day", "2")
        self.assertIn(self.svc.upload(t, [FIX.clear]).status, (200, 202))
        self.assertIn(self.svc.upload(t, [FIX.clear]).status, (200, 202))
        third = self.svc.upload(t, [FIX.clear])
        self.assertEqual(third.status, 429)
        self.assertEqual(third.json()["error"]["code"], "quota")

    def test_cumulative_window(self):
        self.svc = Service(FIX.pack, None, "--window-days", "0").start()
        t = self.svc.token("t")
        self.svc.upload(t, [FIX.piece1], query="?wait=60")
        second = self.svc.upload(t, [FIX.piece2], query="?wait=60").json()
        self.assertIsNone(second["cumulative"])  # the first piece is outside the window
        self.assertEqual(second["verdict"], second["result"]["verdict"])

    def test_slow_client_does_not_block_others(self):
        self.svc = Service(FIX.pack, None, "--read-timeout", "2", "--upload-timeout", "3").start()
        t = self.svc.token("t")
        host, port = self.svc.base[len("http://"):].split(":")
        head = (f"POST /jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n"
                "Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n").encode()
        stalled = [socket.create_connection((host, int(port))) for _ in range(4)]
        for s in stalled:
            s.sendall(head + b"solid x\n")  # then nothing
        trickle = socket.create_connection((host, int(port)))
        trickle.sendall(head)
        stop = threading.Event()

        def drip():
            while not stop.is_set():
                try:
                    trickle.sendall(b"x")
                except OSError:
                    return
                time.sleep(0.5)

        threading.Thread(target=drip, daemon=True).start()
        t0 = time.time()
        for _ in range(3):
            r = self.svc.upload(t, [FIX.clear], query="?wait=60")
            self.assertEqual(r.status, 200)
        self.assertLess(time.time() - t0, 20)
        # The stalled connections are closed by the read timeout, the trickling one by the upload deadline.
        for s in stalled + [trickle]:
            s.settimeout(15)
            data = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except (ConnectionResetError, socket.timeout) as e:
                self.assertNotIsInstance(e, socket.timeout, "connection left open")
            s.close()
        stop.set()
        self.assertLess(time.time() - t0, 30)
        self.assertEqual(self.svc.request("GET", "/healthz").status, 200)

    def test_job_timeout(self):
        self.svc = Service(FIX.pack, None, "--job-timeout", "0.05").start()
        t = self.svc.token("t")
        big = os.path.join(TMP, "dense.stl")
        if not os.path.exists(big):
            run_cli("variant", "--kind", "subdivide+noise", "--seed", "2", "--out", os.path.join(TMP, "dense"),
                    os.path.join(os.environ["PARTSCREEN_CGAL_MESHES"], "rotor.off"))
        job = self.svc.upload(t, [big], query="?wait=60").json()
        self.assertEqual(job["state"], "failed", job)
        self.assertIn("timeout", job["error"])
        time.sleep(1.5)  # the late result must not overwrite the recorded failure
        with db(self.svc) as c:
            self.assertEqual(c.execute("SELECT state FROM jobs WHERE id=?", (job["id"],)).fetchone()[0], "failed")
            self.assertEqual(c.execute("SELECT count(*) FROM audit WHERE job_id=? AND event='result'",
                                       (job["id"],)).fetchone()[0], 1)

    def test_kill9_mid_job_then_restart_completes_every_job_exactly_once(self):
        self.svc = Service(FIX.pack, None, "--workers", "1", "--queue", "100").start()
        t = self.svc.token("t")
        accepted = []
        for i in range(8):
            r = self.svc.upload(t, [FIX.piece1, FIX.piece2] if i % 2 else [FIX.flagged])
            self.assertEqual(r.status, 202, r.body)
            accepted.append(r.json()["id"])
        # Kill while a job is running (claimed, result not yet written) and others wait.
        deadline = time.time() + 60
        while time.time() < deadline:
            with db(self.svc) as c:
                running = c.execute("SELECT count(*) FROM jobs WHERE state='running'").fetchone()[0]
                done = c.execute("SELECT count(*) FROM jobs WHERE state='done'").fetchone()[0]
            if running and done < len(accepted) - 1:
                break
            time.sleep(0.01)
        self.svc.kill9()
        with db(self.svc) as c:
            before = dict(c.execute("SELECT id, state FROM jobs").fetchall())
        self.assertTrue(any(s == "running" for s in before.values()), before)
        self.assertTrue(any(s == "queued" for s in before.values()), before)
        self.svc.start()
        results = {j: self.svc.wait(t, j) for j in accepted}
        for j, r in results.items():
            self.assertEqual(r["state"], "done", r)
            self.assertEqual(r["verdict"], "flagged")
        with db(self.svc) as c:
            counts = dict(c.execute("SELECT job_id, count(*) FROM audit WHERE event='result' GROUP BY job_id").fetchall())
            attempts = dict(c.execute("SELECT id, attempts FROM jobs").fetchall())
        self.assertEqual(counts, {j: 1 for j in accepted})
        interrupted = [j for j, s in before.items() if s == "running"]
        self.assertTrue(all(attempts[j] == 2 for j in interrupted), attempts)


if __name__ == "__main__":
    unittest.main(verbosity=2)

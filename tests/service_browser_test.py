#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The review page in headless Chromium (Debian's chromium driven by playwright-core): the 3D
view renders the upload with the matched regions highlighted, and Approve writes the decision to
the audit log. Leaves the screenshot at $PARTSCREEN_SCREENSHOT (default: ./service_review.png)."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from service_harness import WEB, Fixtures, Service  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class ReviewPageTest(unittest.TestCase):
    def test_review_page_renders_and_approves(self):
        tmp = tempfile.mkdtemp(prefix="partscreen-browser-test-")
        svc = None
        try:
            fix = Fixtures(tmp)
            svc = Service(fix.pack).start()
            client = svc.token("shop")
            reviewer = svc.token("rita", "--role", "reviewer")
            job = svc.upload(client, [fix.flagged], query="?wait=60").json()
            self.assertEqual(job["verdict"], "flagged")
            shot = os.path.abspath(os.environ.get("PARTSCREEN_SCREENSHOT", "service_review.png"))
            r = subprocess.run(["node", os.path.join(HERE, "service_browser_test.mjs"), svc.base, reviewer, job["id"], shot],
                               capture_output=True, text=True, timeout=180, env=dict(os.environ, PARTSCREEN_WEB=WEB))
            self.assertEqual(r.returncode, 0, r.stderr)
            out = json.loads(r.stdout.strip().splitlines()[-1])
            print(json.dumps(out), file=sys.stderr)
            self.assertEqual(out["errors"], [])
            self.assertIn(job["id"], out["queue"])
            self.assertFalse(out["tokenInUrl"])
            self.assertEqual(out["triangles"], job["result"]["files"][0]["triangles"])
            self.assertGreater(out["drawnPixels"], 0.02 * out["canvas"][0] * out["canvas"][1])
            if job.get("result", {}).get("matches") and out["points"] > 0:
                self.assertGreater(out["highlighted"], 0)
                self.assertGreater(out["redPixels"], 100)
            notes = out["notes"]
            self.assertEqual(notes["plain"], [])
            odd = " | ".join(notes["odd"])
            for said in ("2 cut pieces glued back", "12% of the reference missing", "24% of the reference inside",
                         "filled in", "45% of its thin walls", "makes up 40%", "inch/mm"):
                self.assertIn(said, odd)
            self.assertEqual(notes["walls"], ["19% of its thin walls are another thickness (lowers the score)"])
            self.assertEqual(notes["rows"].count("match"), len(job["result"]["matches"]))
            self.assertTrue(out["status"].startswith("Approved"))
            self.assertNotIn(job["id"], out["queueAfter"])
            self.assertTrue(os.path.getsize(shot) > 10000)
            with sqlite3.connect(os.path.join(svc.data, "state.sqlite")) as c:
                row = c.execute("SELECT event, reviewer, reason FROM audit WHERE job_id=? AND event LIKE 'review:%'",
                                (job["id"],)).fetchone()
            self.assertEqual(row, ("review:approve", "rita", "browser test: reviewed the highlighted regions"))
        finally:
            if svc:
                svc.stop()
                shutil.rmtree(svc.data, ignore_errors=True)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    for need in ("/usr/bin/chromium", os.path.join(WEB, "node_modules", "playwright-core"), os.path.join(WEB, "node_modules", "three")):
        if not os.path.exists(need):
            print(f"missing {need}: install chromium (scripts/setup.sh) and run npm ci in service/web", file=sys.stderr)
            sys.exit(1)
    unittest.main(verbosity=2)

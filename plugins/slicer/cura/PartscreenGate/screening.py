# SPDX-License-Identifier: GPL-3.0-or-later
"""The Cura gate's screening, free of Qt and of Cura so that it can be tested and timed on its own.

It follows plugins/slicer/prusaslicer/partscreen-gate (same configuration names, verdict
handling, messages and decision log), but is self-contained: Cura loads a plugin folder as it
is, so the plugin cannot import a script that lives elsewhere.

  partscreen scan --json --pack PACK -- FILE...   exit 0 clear, 1 flagged/review, 2 error

A verdict is trusted only when partscreen's exit code agrees with it; anything else is an error,
and an error blocks (fail closed) unless fail_open is set.
"""

import datetime
import fcntl
import hashlib
import json
import os
import shutil
import struct
import subprocess
import time

GATE_VERSION = "1"
KEYS = ("pack", "bin", "block_review", "fail_open", "log", "contact", "timeout")
DEFAULT_TIMEOUT_S = 600.0
MAX_MATCHES_SHOWN = 3  # the message has to fit Cura's message box
MAX_TRIANGLES = 20_000_000  # an STL this big (1 GB) is not a printable job; refuse rather than fill the disk


class GateError(Exception):
    """Screening could not be done: the text is shown to the user as is."""


def truthy(text):
    return str(text).strip().lower() in ("1", "yes", "true", "on")


def load_config(preferences=None, environ=None):
    """Environment first (PARTSCREEN_PACK, ...), then Cura's preferences (partscreen/pack, ...).

    `preferences` is a callable key -> value (Cura: Preferences.getValue); None or "" means unset."""
    environ = os.environ if environ is None else environ
    cfg = {}
    for key in KEYS:
        value = environ.get("PARTSCREEN_" + key.upper())
        if value in (None, "") and preferences is not None:
            value = preferences("partscreen/" + key)
        cfg[key] = None if value in (None, "") else str(value)
    state = environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    cfg["log"] = os.path.expanduser(cfg["log"] or os.path.join(state, "partscreen", "cura-gate.jsonl"))
    cfg["bin"] = os.path.expanduser(cfg["bin"] or "partscreen")
    if cfg["pack"]:
        cfg["pack"] = os.path.expanduser(cfg["pack"])
    cfg["block_review"] = truthy(cfg["block_review"] or "no")
    cfg["fail_open"] = truthy(cfg["fail_open"] or "no")
    try:
        cfg["timeout"] = float(cfg["timeout"] or DEFAULT_TIMEOUT_S)
    except ValueError:
        cfg["timeout"] = None  # reported by screen_files, which fails closed on it
    return cfg


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_program(name):
    found = shutil.which(name) if os.sep not in name else (name if os.access(name, os.X_OK) else None)
    if not found:
        raise GateError("the partscreen program '%s' was not found (set PARTSCREEN_BIN or partscreen/bin in "
                        "Cura's preferences)" % name)
    return found


def scan(program, pack, files, timeout):
    """Runs `partscreen scan --json`; returns its parsed report. Raises GateError when no verdict came out."""
    if not pack:
        raise GateError("no signature pack configured (set PARTSCREEN_PACK or partscreen/pack in Cura's preferences)")
    if not os.path.isfile(pack):
        raise GateError("the signature pack %s does not exist" % pack)
    started = time.monotonic()
    try:
        run = subprocess.run([program, "scan", "--json", "--pack", pack, "--"] + list(files),
                             capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise GateError("partscreen did not finish within %g s" % timeout)
    except OSError as e:
        raise GateError("cannot run %s: %s" % (program, e.strerror or e))
    elapsed_ms = (time.monotonic() - started) * 1000.0
    stderr = " ".join(run.stderr.split())
    try:
        report = json.loads(run.stdout)
    except ValueError:
        report = None
    if not isinstance(report, dict) or "verdict" not in report:
        err = report.get("error") if isinstance(report, dict) else None
        reason = err.get("reason") if isinstance(err, dict) else None
        raise GateError("partscreen scan failed (exit %d): %s" % (run.returncode, reason or stderr or "no output"))
    expected = {"clear": 0, "flagged": 1, "review": 1}.get(report["verdict"])
    if expected is None or expected != run.returncode:
        raise GateError("partscreen scan failed (exit %d, verdict %s): %s"
                        % (run.returncode, report["verdict"], stderr or "see the log"))
    report["_elapsed_ms"] = round(elapsed_ms, 1)
    return report


def summarize_matches(report):
    """The matches at or above the review score: the ones that decided the verdict."""
    review = (report.get("thresholds") or {}).get("review_score", 0.0)
    out = []
    for m in report.get("matches") or []:
        if m.get("score", 0.0) < review:
            continue
        out.append({k: m.get(k) for k in ("reference", "category", "label", "score", "coverage", "scale", "mirrored")})
    return out


def describe_match(m):
    return "'%s' (%s, score %.2f, coverage %.0f%%)" % (m.get("reference"), m.get("category") or "no category",
                                                      m.get("score") or 0.0, 100.0 * (m.get("coverage") or 0.0))


def blocked_message(verdict, matches, contact, what):
    shown = matches[:MAX_MATCHES_SHOWN] or [{"reference": "?", "score": 0.0, "coverage": 0.0}]
    refs = ", ".join(describe_match(m) for m in shown)
    more = " and %d more" % (len(matches) - len(shown)) if len(matches) > len(shown) else ""
    who = contact or "the operator of this printer"
    if verdict == "flagged":
        return ("partscreen blocked this print: %s contains the enrolled reference %s%s. "
                "No G-code will be saved or sent. If you believe this is a mistake, contact %s." % (what, refs, more, who))
    return ("partscreen held this print for review: %s resembles the enrolled reference %s%s. "
            "No G-code will be saved or sent until a reviewer clears it: contact %s." % (what, refs, more, who))


def error_message(error, contact):
    return ("partscreen could not screen this print, so no G-code will be saved or sent: %s. "
            "Fix the problem or contact %s." % (error, contact or "the operator of this printer"))


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def append_log(path, record):
    """One JSON line per decision; flock so that several Cura windows do not interleave lines."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def screen_files(cfg, files, stage, what, extra=None):
    """Screens files as one job and decides. Never raises: returns the decision record.

    record["decision"]: "released", "blocked" or "released_unscreened" (an error with fail_open);
    record["message"]: what to tell the user (None when released cleanly).
    A release that cannot be logged becomes a block: what was let through must be on record."""
    record = {"time": utc_now(), "gate_version": GATE_VERSION, "host": "cura", "stage": stage,
              "files": [], "verdict": "error", "decision": None, "matches": [], "pack": cfg.get("pack"),
              "pack_checksum": None, "partscreen_version": None,
              "policy": {"block_review": cfg["block_review"], "fail_open": cfg["fail_open"]},
              "scan_ms": None, "error": None, "message": None}
    record.update(extra or {})
    try:
        if cfg.get("timeout") is None:
            raise GateError("partscreen/timeout must be a number of seconds")
        for f in files:
            try:
                record["files"].append({"path": f, "sha256": sha256_of(f), "bytes": os.path.getsize(f)})
            except OSError as e:
                raise GateError("cannot read %s: %s" % (f, e.strerror or e))
        if not files:
            raise GateError("there was nothing to screen")
        report = scan(find_program(cfg["bin"]), cfg["pack"], files, cfg["timeout"])
        record["verdict"] = report["verdict"]
        record["matches"] = summarize_matches(report)
        record["pack_checksum"] = (report.get("pack") or {}).get("checksum")
        record["partscreen_version"] = report.get("partscreen_version")
        record["scan_ms"] = report["_elapsed_ms"]
    except GateError as e:
        record["error"] = str(e)

    verdict = record["verdict"]
    if verdict == "error":
        if cfg["fail_open"]:
            record["decision"] = "released_unscreened"
            record["message"] = "partscreen could not screen this print and released it unscreened (fail_open): %s" % (
                record["error"])
        else:
            record["decision"] = "blocked"
            record["message"] = error_message(record["error"], cfg["contact"])
    elif verdict == "flagged" or (verdict == "review" and cfg["block_review"]):
        record["decision"] = "blocked"
        record["message"] = blocked_message(verdict, record["matches"], cfg["contact"], what)
    else:
        record["decision"] = "released"
    try:
        append_log(cfg["log"], record)
    except OSError as e:
        if record["decision"] != "blocked":
            record["decision"] = "blocked"
            record["message"] = error_message("its decision could not be recorded in %s: %s"
                                              % (cfg["log"], e.strerror or e), cfg["contact"])
    return record


def write_binary_stl(path, triangles):
    """triangles: float32 array (n, 3, 3) in millimetres, Z up. Normals are left zero: readers recompute them."""
    import numpy
    tri = numpy.ascontiguousarray(triangles, dtype="<f4").reshape(-1, 3, 3)
    if len(tri) > MAX_TRIANGLES:
        raise GateError("the scene has %d triangles, more than the gate's limit of %d" % (len(tri), MAX_TRIANGLES))
    records = numpy.zeros(len(tri), dtype=[("n", "<f4", (3,)), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    records["v"] = tri
    with open(path, "wb") as f:
        f.write(b"partscreen cura gate".ljust(80, b" "))
        f.write(struct.pack("<I", len(tri)))
        f.write(records.tobytes())


def write_gcode(path, gcode_list):
    """Cura keeps a sliced plate's G-code as a list of chunks (prefix, then one per layer)."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        for chunk in gcode_list:
            f.write(chunk)

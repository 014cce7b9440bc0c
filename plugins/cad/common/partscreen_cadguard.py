# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared screening core of the CAD export add-ons (FreeCAD, Blender, OpenSCAD wrapper).

Each add-on writes the part it is about to export to a temporary mesh, calls `screen()`, and
runs the real export only when the returned Decision allows it. The rules are the slicer gate's
(plugins/slicer/prusaslicer/partscreen-gate), so a site configures both the same way:

  clear            released
  flagged          blocked
  review           released by default; blocked when block_review is on
  error            (no pack, no partscreen, a scan that fails or times out, a bad config)
                   fail closed: blocked; with fail_open on, released and logged as unscreened

The core is called through the Python binding (`import partscreen`) when the host's Python can
import it, and through `partscreen scan --json --pack PACK FILE` otherwise (exit 0 clear,
1 flagged/review, 2 error). A binding that cannot produce a verdict is not trusted: the CLI is
asked instead, and without a verdict from either the export is blocked.

Configuration, first found wins: environment variables, then the file named by
PARTSCREEN_CAD_CONFIG, then $XDG_CONFIG_HOME/partscreen/cad.conf (`key = value` lines):

  PARTSCREEN_PACK           pack           signature pack (required)
  PARTSCREEN_BIN            bin            partscreen program (default: `partscreen` on PATH)
  PARTSCREEN_BACKEND        backend        auto (binding, else CLI), python or cli (default auto)
  PARTSCREEN_BLOCK_REVIEW   block_review   1/yes/true: also block parts that need review
  PARTSCREEN_FAIL_OPEN      fail_open      1/yes/true: export when screening fails (default no)
  PARTSCREEN_LOG            log            decision log (default $XDG_STATE_HOME/partscreen/cad.jsonl)
  PARTSCREEN_CONTACT        contact        who to contact about a blocked export
  PARTSCREEN_TIMEOUT        timeout        seconds before a scan counts as failed (default 600)

Only the standard library is used: the module runs inside FreeCAD's and Blender's Python.
"""

import datetime
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

GUARD_VERSION = "1"
CONFIG_NAME = "cad.conf"
KEYS = ("pack", "bin", "backend", "block_review", "fail_open", "log", "contact", "timeout")
DEFAULT_TIMEOUT_S = 600.0
MAX_MATCHES_SHOWN = 3  # the message has to fit a dialog


class GuardError(Exception):
    """Screening could not be done: the message is shown to the user as is."""


class ExportBlocked(RuntimeError):
    """Raised to a script whose export was blocked; `decision` holds the verdict and the log record."""

    def __init__(self, decision):
        RuntimeError.__init__(self, decision.message)
        self.decision = decision


class Decision:
    def __init__(self, allowed, message, record):
        self.allowed = allowed
        self.message = message  # None for a plain release
        self.record = record

    @property
    def verdict(self):
        return self.record["verdict"]

    def __repr__(self):
        return "<partscreen Decision %s (%s)>" % (self.record["decision"], self.record["verdict"])


def truthy(text):
    return str(text).strip().lower() in ("1", "yes", "true", "on")


def default_config_path():
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "partscreen", CONFIG_NAME)


def read_config_file(path):
    """`key = value` lines, `#` comments. Unknown keys are an error: a typo must not disable a policy."""
    values = {}
    base = os.path.dirname(os.path.abspath(path))
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition("=")
            key, value = key.strip().lower(), value.split(" #")[0].strip()
            if not sep or key not in KEYS:
                raise GuardError("%s:%d: expected 'key = value' with key one of %s" % (path, number, ", ".join(KEYS)))
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            if key in ("pack", "log") or (key == "bin" and os.sep in value):
                value = os.path.join(base, os.path.expanduser(value))
            values[key] = value
    return values


def load_config(overrides=None):
    """Environment, then the config file; `overrides` (a host's own settings, e.g. Blender's add-on
    preferences) fill only what neither sets."""
    named = os.environ.get("PARTSCREEN_CAD_CONFIG")
    path = named or default_config_path()
    from_file = {}
    if named or os.path.exists(path):
        try:
            from_file = read_config_file(path)
        except OSError as e:
            raise GuardError("cannot read the partscreen configuration %s: %s" % (path, e.strerror or e))
    cfg = {"config_file": path if from_file or named else None}
    for key in KEYS:
        env = os.environ.get("PARTSCREEN_" + key.upper())
        value = env if env not in (None, "") else from_file.get(key)
        if value in (None, "") and overrides:
            value = overrides.get(key) or None
        cfg[key] = value
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    cfg["log"] = cfg["log"] or os.path.join(state, "partscreen", "cad.jsonl")
    cfg["bin"] = cfg["bin"] or "partscreen"
    cfg["backend"] = (cfg["backend"] or "auto").strip().lower()
    if cfg["backend"] not in ("auto", "python", "cli"):
        raise GuardError("backend must be auto, python or cli, got '%s'" % cfg["backend"])
    cfg["block_review"] = truthy(cfg["block_review"] or "no")
    cfg["fail_open"] = truthy(cfg["fail_open"] or "no")
    try:
        cfg["timeout"] = float(cfg["timeout"] or DEFAULT_TIMEOUT_S)
    except ValueError:
        raise GuardError("timeout must be a number of seconds, got '%s'" % cfg["timeout"])
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
        raise GuardError("the partscreen program '%s' was not found (set PARTSCREEN_BIN, or 'bin' in %s)"
                         % (name, default_config_path()))
    return found


def check_verdict(report, where):
    if not isinstance(report, dict) or report.get("verdict") not in ("clear", "review", "flagged"):
        reason = None
        if isinstance(report, dict) and isinstance(report.get("error"), dict):
            reason = report["error"].get("reason")
        raise GuardError("%s gave no verdict: %s" % (where, reason or (report or {}).get("verdict") or "no output"))
    return report


def scan_python(pack, files):
    """The binding (python/ folder), when the host's Python can import it; None when it cannot.
    partscreen.scan(pack, files) returns the CLI's `scan --json` document as a dict."""
    try:
        import partscreen  # noqa: the binding is optional
    except ImportError:
        return None
    if not hasattr(partscreen, "scan"):
        return None
    return check_verdict(partscreen.scan(pack, list(files)), "the partscreen module")


def scan_cli(program, pack, files, timeout):
    """`partscreen scan --json`; the exit code must agree with the verdict (0 clear, 1 flagged/review)."""
    try:
        run = subprocess.run([program, "scan", "--json", "--pack", pack, "--"] + list(files),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise GuardError("partscreen did not finish within %g s" % timeout)
    except OSError as e:
        raise GuardError("cannot run %s: %s" % (program, e.strerror or e))
    stderr = " ".join(run.stderr.split())
    try:
        report = json.loads(run.stdout)
    except ValueError:
        report = None
    if not isinstance(report, dict) or "verdict" not in report:
        reason = report["error"].get("reason") if isinstance(report, dict) and isinstance(report.get("error"), dict) else None
        raise GuardError("partscreen scan failed (exit %d): %s" % (run.returncode, reason or stderr or "no output"))
    expected = {"clear": 0, "flagged": 1, "review": 1}.get(report["verdict"])
    if expected is None or expected != run.returncode:
        raise GuardError("partscreen scan failed (exit %d, verdict %s): %s"
                         % (run.returncode, report["verdict"], stderr or "no message"))
    return report


def scan(cfg, files, record):
    """Returns the report; fills record['backend'] (and 'binding_error' when the binding failed)."""
    pack = cfg["pack"]
    if not pack:
        raise GuardError("no signature pack configured (set PARTSCREEN_PACK, or 'pack' in %s)" % default_config_path())
    if not os.path.isfile(pack):
        raise GuardError("the signature pack %s does not exist" % pack)
    if cfg["backend"] in ("auto", "python"):
        try:
            report = scan_python(pack, files)
            if report is not None:
                record["backend"] = "python"
                return report
            if cfg["backend"] == "python":
                raise GuardError("the partscreen Python module cannot be imported here (backend = python)")
        except GuardError:
            if cfg["backend"] == "python":
                raise
        except Exception as e:  # a binding that cannot answer is not trusted: ask the CLI
            if cfg["backend"] == "python":
                raise GuardError("the partscreen Python module failed: %s" % e)
            record["binding_error"] = "%s: %s" % (type(e).__name__, e)
    record["backend"] = "cli"
    return scan_cli(find_program(cfg["bin"]), pack, files, cfg["timeout"])


def summarize_matches(report):
    """The matches at or above the review score (the ones that decided the verdict)."""
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


def blocked_message(verdict, matches, contact, subject):
    shown = matches[:MAX_MATCHES_SHOWN] or [{"reference": "?", "score": 0.0, "coverage": 0.0}]
    refs = ", ".join(describe_match(m) for m in shown)
    more = " and %d more" % (len(matches) - len(shown)) if len(matches) > len(shown) else ""
    who = contact or "your administrator"
    if verdict == "flagged":
        return ("partscreen blocked %s: it contains the enrolled reference %s%s.\nNo file was written. "
                "If you believe this is a mistake, contact %s." % (subject, refs, more, who))
    return ("partscreen held %s for review: it resembles the enrolled reference %s%s.\nNo file was written. "
            "A reviewer must clear it first: contact %s." % (subject, refs, more, who))


def append_log(path, record):
    """One JSON line per decision; flock so that concurrent exports do not interleave lines."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def screen(files, host, output, action="export", overrides=None, cfg=None, failed=None):
    """Screens `files` (meshes written for screening) for an export to `output`. Never raises for a
    screening problem: the Decision says whether the export may go on and what to tell the user.
    `failed`: the host could not even write the mesh to screen (the reason); the error policy applies."""
    subject = "this export" if action == "export" else "this selection"
    record = {
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
        "guard_version": GUARD_VERSION, "host": host, "action": action,
        "output": os.path.abspath(output) if output else None, "screened": [], "verdict": "error",
        "decision": None, "matches": [], "pack": None, "pack_checksum": None, "partscreen_version": None,
        "backend": None, "policy": None, "scan_ms": None, "error": None,
    }
    try:
        if cfg is None:
            cfg = load_config(overrides)
    except GuardError as e:
        # Without a configuration there is no fail_open to honour: closed, and no log to write to.
        record["error"] = str(e)
        record["decision"] = "blocked"
        return Decision(False, "partscreen could not screen %s, so it was stopped (no file was written): %s"
                        % (subject, e), record)
    record["pack"] = cfg["pack"]
    record["policy"] = {"block_review": cfg["block_review"], "fail_open": cfg["fail_open"]}
    started = time.monotonic()
    try:
        if failed:
            raise GuardError(failed)
        for f in files:
            record["screened"].append({"file": os.path.basename(f), "bytes": os.path.getsize(f), "sha256": sha256_of(f)})
        report = scan(cfg, files, record)
        record["verdict"] = report["verdict"]
        record["matches"] = summarize_matches(report)
        record["pack_checksum"] = (report.get("pack") or {}).get("checksum")
        record["partscreen_version"] = report.get("partscreen_version")
    except (GuardError, OSError) as e:
        record["error"] = str(e)
    record["scan_ms"] = round((time.monotonic() - started) * 1000.0, 1)

    verdict = record["verdict"]
    if verdict == "error":
        if cfg["fail_open"]:
            allowed, record["decision"] = True, "released_unscreened"
            message = "partscreen: screening failed, exported unscreened (fail_open): %s" % record["error"]
        else:
            allowed, record["decision"] = False, "blocked"
            message = ("partscreen could not screen %s, so it was stopped (no file was written): %s\n"
                       "Fix the problem above or contact %s." % (subject, record["error"],
                                                                 cfg["contact"] or "your administrator"))
    elif verdict == "flagged" or (verdict == "review" and cfg["block_review"]):
        allowed, record["decision"] = False, "blocked"
        message = blocked_message(verdict, record["matches"], cfg["contact"], subject)
    else:
        allowed, record["decision"], message = True, "released", None
    if action != "export":
        record["decision"] = "reported"
    try:
        append_log(cfg["log"], record)
    except OSError as e:
        if allowed and action == "export":
            allowed, record["decision"] = False, "blocked"
            message = ("partscreen stopped %s because its decision could not be recorded in %s: %s"
                       % (subject, cfg["log"], e.strerror or e))
        elif message:
            message += "\n(the decision could not be recorded in %s: %s)" % (cfg["log"], e.strerror or e)
    return Decision(allowed, message, record)


def private_dir(near):
    """A private folder next to `near` (same file system, so a rename into place is atomic)."""
    parent = os.path.dirname(os.path.abspath(near)) or "."
    try:
        return tempfile.mkdtemp(prefix=".partscreen-", dir=parent)
    except OSError:
        return tempfile.mkdtemp(prefix="partscreen-")

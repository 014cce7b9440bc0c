# SPDX-License-Identifier: GPL-3.0-or-later
"""Backlog sweep: scan every file of a directory or manifest against a pack, spread over a Dask
cluster, into a resumable JSONL file.

    python3 -m partscreen.sweep --pack refs.pack --dir /srv/uploads --out sweep.jsonl --workers 2
    python3 -m partscreen.sweep --pack refs.pack --manifest files.txt --out sweep.jsonl \\
        --scheduler tcp://scheduler-host:8786

Each file is one job (partscreen scan FILE). Each output line is one file:
    {"path": ..., "verdict": ..., "result": {the CLI's scan --json document}, "worker": ...}
Lines are appended and flushed as results arrive, so a sweep that stops (Ctrl-C, a lost driver
machine) loses at most the line being written: a rerun with the same --out skips every path
already there and scans the rest. Only the driver writes, one line per finished task, so a task
the cluster ran twice (a worker died after finishing it) is still written once.

Failures: a file that cannot be read is a result (verdict "error", with the reason), as in the
CLI. A task that raises or whose worker dies is retried (--retries); if it still fails it gets
no line, is listed in the summary, and the exit code is 2: rerun to try it again.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time

# Formats partscreen reads (README "Formats"), by extension, for --dir.
EXTENSIONS = (".stl", ".obj", ".ply", ".off", ".3mf", ".amf", ".gltf", ".glb", ".dae", ".step", ".stp", ".iges",
              ".igs", ".gcode")

# ---------------------------------------------------------------- worker side
# One pack per worker process, opened on first use and shared by the worker's threads (a Pack
# is immutable and thread-safe). pack_loads counts opens so tests can check it stays at one.
_packs = {}
_packs_lock = threading.Lock()
pack_loads = 0


def worker_pack(pack_path):
    global pack_loads
    import partscreen
    with _packs_lock:
        pack = _packs.get(pack_path)
        if pack is None:
            pack = partscreen.Pack(pack_path)
            _packs[pack_path] = pack
            pack_loads += 1
        return pack


def worker_state():
    """(pid, pack opens) of this worker process, for tests and the summary."""
    return os.getpid(), pack_loads


def preload(pack_path):
    """Opens the pack on a worker before the sweep; returns its checksum so the driver can check
    that every machine has the same pack file."""
    return worker_pack(pack_path).checksum


def scan_task(pack_path, path, options):
    import partscreen
    pack = worker_pack(pack_path)
    result = partscreen.scan(pack, [path], **options)
    return {"path": path, "verdict": result["verdict"], "result": result, "worker": f"{os.uname().nodename}:{os.getpid()}"}


# ---------------------------------------------------------------- driver side
def find_files(directory, extensions=EXTENSIONS):
    """Every file under `directory` with a known extension, sorted (a stable order for progress)."""
    out = []
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        for n in sorted(names):
            if n.lower().endswith(extensions):
                out.append(os.path.abspath(os.path.join(root, n)))
    return out


def read_manifest(path):
    """One file path per line; blank lines and lines starting with '#' are skipped; relative paths
    are taken relative to the manifest's folder."""
    base = os.path.dirname(os.path.abspath(path))
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(line if os.path.isabs(line) else os.path.normpath(os.path.join(base, line)))
    return out


def read_done(out_path, pack_checksum):
    """Paths already in the output. A torn last line (the driver died mid-write) is cut off so the
    file stays valid JSONL. Refuses an output made with another pack: its verdicts are not
    comparable, so mixing them in one file would be wrong."""
    done = set()
    if not os.path.exists(out_path):
        return done
    with open(out_path, "rb+") as f:
        data = f.read()
        good = 0
        pos = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            if nl < 0:
                break  # no newline: torn
            line = data[pos:nl]
            pos = nl + 1
            if not line.strip():
                good = pos
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                break
            theirs = rec.get("result", {}).get("pack", {}).get("checksum")
            if theirs and theirs != pack_checksum:
                raise SystemExit(f"partscreen-sweep: {out_path} holds results made with another pack ({theirs[:12]}...); "
                                 f"use a new --out")
            done.add(rec["path"])
            good = pos
        if good < len(data):
            f.truncate(good)
            print(f"partscreen-sweep: {out_path}: cut a torn last line ({len(data) - good} bytes)", file=sys.stderr)
    return done


class Progress:
    """A one-line progress bar on stderr when it is a terminal; otherwise a line every 10%."""

    def __init__(self, total, enabled=True, stream=sys.stderr):
        self.total, self.done, self.t0 = total, 0, time.monotonic()
        self.stream = stream
        self.enabled = enabled and total > 0
        self.tty = stream.isatty()
        self.last_draw = 0.0
        self.next_step = 1

    def update(self, n=1):
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty and (now - self.last_draw > 0.2 or self.done == self.total):
            self.last_draw = now
            self.stream.write("\r" + self.line() + "\x1b[K")
            self.stream.flush()
        elif not self.tty and self.done * 10 >= self.next_step * self.total:
            while self.done * 10 >= self.next_step * self.total:
                self.next_step += 1
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def line(self):
        elapsed = time.monotonic() - self.t0
        rate = self.done / elapsed if elapsed > 0 else 0.0
        width = 30
        filled = int(width * self.done / self.total)
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta_s = f"{eta:.0f}s" if eta != float("inf") else "?"
        return (f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} files "
                f"{rate:.2f} files/s eta {eta_s}")

    def close(self):
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def sweep(client, pack_path, files, out_path, scan_options=None, retries=2, window=None, progress=True,
          on_result=None):
    """Scans `files` on `client`'s cluster, appending one JSON line per file to `out_path`.
    Returns the summary dict. on_result(record) is called after each line is written (tests)."""
    import partscreen
    from distributed import as_completed

    pack_path = os.path.abspath(pack_path)
    local_pack = partscreen.Pack(pack_path)  # fails fast, before any cluster work, on a bad pack
    scan_options = dict(scan_options or {})
    checksums = client.run(preload, pack_path)
    for worker, checksum in checksums.items():
        if checksum != local_pack.checksum:
            raise SystemExit(f"partscreen-sweep: worker {worker} has a different {pack_path} "
                             f"({checksum[:12]}... vs {local_pack.checksum[:12]}...)")

    t0 = time.monotonic()
    unique = list(dict.fromkeys(files))
    done = read_done(out_path, local_pack.checksum)
    todo = [f for f in unique if f not in done]
    nthreads = sum(client.nthreads().values()) or 1
    window = window or max(8, 4 * nthreads)  # bounded in flight: millions of files never sit in the scheduler
    counts = {"clear": 0, "review": 0, "flagged": 0, "error": 0}
    failed = []
    bar = Progress(len(todo), enabled=progress)

    pending = {}
    ac = as_completed()
    it = enumerate(todo)
    run_id = os.urandom(4).hex()  # keys unique across sweeps sharing a scheduler

    def submit_next():
        index, path = next(it, (None, None))
        if path is None:
            return False
        fut = client.submit(scan_task, pack_path, path, scan_options, retries=retries, pure=False,
                            key=f"partscreen-scan-{run_id}-{index}")
        pending[fut.key] = path
        ac.add(fut)
        return True

    for _ in range(window):
        if not submit_next():
            break
    with open(out_path, "a", encoding="utf-8") as out:
        last_sync = time.monotonic()
        for fut in ac:
            path = pending.pop(fut.key)
            try:
                rec = fut.result()
            except Exception as e:  # noqa: BLE001 - any task failure is reported, never fatal to the sweep
                code = getattr(e, "code", type(e).__name__)
                failed.append({"path": path, "error": {"code": code, "reason": str(e)}})
            else:
                out.write(json.dumps(rec, separators=(",", ":")) + "\n")
                out.flush()
                if time.monotonic() - last_sync > 5.0:
                    os.fsync(out.fileno())
                    last_sync = time.monotonic()
                counts[rec["verdict"]] = counts.get(rec["verdict"], 0) + 1
                if on_result:
                    on_result(rec)
            fut.release()
            bar.update()
            submit_next()
        os.fsync(out.fileno())
    bar.close()
    elapsed = time.monotonic() - t0
    scanned = sum(counts.values())
    return {
        "files": len(unique),
        "skipped": len(unique) - len(todo),
        "scanned": scanned,
        "verdicts": counts,
        "failed": failed,
        "seconds": round(elapsed, 3),
        "files_per_second": round(scanned / elapsed, 3) if elapsed > 0 else 0.0,
        "workers": len(client.nthreads()),
        "pack": {"name": local_pack.name, "checksum": local_pack.checksum},
        "out": os.path.abspath(out_path),
    }


def print_summary(s, stream=sys.stdout):
    v = s["verdicts"]
    stream.write(f"swept {s['scanned']} file(s) in {s['seconds']:.1f} s ({s['files_per_second']:.2f} files/s) "
                 f"on {s['workers']} worker(s), pack '{s['pack']['name']}'\n")
    stream.write(f"  verdicts: {v.get('flagged', 0)} flagged, {v.get('review', 0)} review, {v.get('clear', 0)} clear, "
                 f"{v.get('error', 0)} error (unreadable file)\n")
    stream.write(f"  skipped: {s['skipped']} already in {s['out']}\n")
    if s["failed"]:
        stream.write(f"  FAILED after retries: {len(s['failed'])} file(s) (no line written; rerun to retry):\n")
        for f in s["failed"][:20]:
            stream.write(f"    {f['path']}: {f['error']['code']}: {f['error']['reason']}\n")
        if len(s["failed"]) > 20:
            stream.write(f"    ... and {len(s['failed']) - 20} more\n")


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="partscreen-sweep", description=__doc__.split("\n\n")[0],
        epilog="exit codes: 0 every file has a line in --out; 2 some files failed after retries "
               "(rerun to retry them) or a bad argument.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dir", help="scan every file with a known extension under DIR (recursively)")
    src.add_argument("--manifest", help="a text file with one path per line ('#' comments)")
    p.add_argument("--pack", required=True, help="signature pack (the same path must exist on every worker)")
    p.add_argument("--out", required=True, help="JSONL output: appended, and read on start to skip finished files")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", help="address of a running dask-scheduler (tcp://host:8786)")
    where.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    p.add_argument("--scan-threads", type=int, default=None,
                   help="threads per scan (default: cores / workers locally, all cores on a --scheduler cluster)")
    p.add_argument("--retries", type=int, default=2, help="retries per failed task (default 2)")
    p.add_argument("--window", type=int, default=None, help="tasks in flight (default 4 x worker threads)")
    p.add_argument("--flag-score", type=float, default=None)
    p.add_argument("--review-score", type=float, default=None)
    p.add_argument("--max-triangles", type=int, default=None)
    p.add_argument("--max-bytes", type=int, default=None)
    p.add_argument("--no-progress", action="store_true", help="no progress output on stderr")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import dask
    from distributed import Client, LocalCluster

    files = find_files(args.dir) if args.dir else read_manifest(args.manifest)
    options = {}
    for key, value in (("flag_score", args.flag_score), ("review_score", args.review_score),
                       ("max_triangles", args.max_triangles), ("max_file_bytes", args.max_bytes)):
        if value is not None:
            options[key] = value
    cluster = None
    if args.scheduler:
        client = Client(args.scheduler)
        options["threads"] = args.scan_threads or 0
    else:
        if args.workers < 1:
            print("partscreen-sweep: --workers must be at least 1", file=sys.stderr)
            return 2
        # A worker that dies while running a task makes it count as failed; the same budget as --retries.
        dask.config.set({"distributed.scheduler.allowed-failures": max(args.retries, 0) + 1})
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        options["threads"] = args.scan_threads or max(1, (os.cpu_count() or 1) // args.workers)
    interrupted = False
    try:
        summary = sweep(client, args.pack, files, args.out, options, retries=args.retries, window=args.window,
                        progress=not args.no_progress)
    except KeyboardInterrupt:
        interrupted = True
        summary = None
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if interrupted:
        print(f"partscreen-sweep: interrupted; finished files are in {args.out}, rerun to continue", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary))
    else:
        print_summary(summary)
    return 2 if summary["failed"] else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops like Ctrl-C: output stays valid
    # Run the importable module's main, not this __main__ copy: tasks must refer to
    # partscreen.sweep.scan_task so workers import it (and keep their pack) instead of unpickling
    # a fresh copy of this script's globals with every task.
    from partscreen.sweep import main as _main
    sys.exit(_main())

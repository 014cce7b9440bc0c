#!/usr/bin/env bash
# Backlog sweep throughput (files/s): the Dask sweep (python/partscreen/sweep.py) on a LocalCluster
# of 1 and 2 worker processes, next to a plain sequential loop of the CLI (one `partscreen scan
# --json FILE` per file) and a sequential loop of the Python binding in one process.
#   bench/sweep.sh [FOLDER] [BUILD_DIR] [PACK]
# FOLDER defaults to /tmp/printed-parts (benchmark corpus only), PACK to the demo pack. Every file
# is one job. Sweep figures are given twice: files/s measured by the sweep itself (from its first
# submission, cluster already up) and end to end (`python3 -m partscreen.sweep` wall clock,
# including starting and stopping the LocalCluster). ROUNDS (default 2) interleaved rounds, the
# best of each method kept (the machine is shared: the best round is the least disturbed).
# Writes bench/results/sweep.md.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FOLDER="${1:-/tmp/printed-parts}"
B="${2:-$ROOT/build}"
PACK="${3:-$ROOT/models/reference/demo.pack}"
PY=/usr/bin/python3
CLI="$B/cli/partscreen"
export PYTHONPATH="$B/python"
[ -x "$CLI" ] && [ -d "$B/python/partscreen" ] || { echo "build first: cmake -S . -B build -G Ninja && ninja -C build -j2" >&2; exit 2; }
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
CORES="$(nproc)"
LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"

"$PY" -c "import partscreen.sweep as s, sys; print('\n'.join(s.find_files(sys.argv[1])))" "$FOLDER" > "$TMP/files.txt"
N="$(wc -l < "$TMP/files.txt")"
echo "corpus: $N files under $FOLDER; pack $PACK; $CORES cores; load average $LOAD" >&2
now() { date +%s.%N; }
rate() { "$PY" -c "import sys; print(f'{int(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2])):.2f}')" "$@"; }

ROUNDS="${ROUNDS:-2}"
best() { "$PY" -c "import sys; print(f'{max(map(float, sys.argv[1:])):.2f}')" "$@"; }
declare -A got
for round in $(seq "$ROUNDS"); do
  # 1. Plain sequential loop of the CLI (all cores per scan, as a shell script would do it).
  t0="$(now)"
  while IFS= read -r f; do "$CLI" scan --json --pack "$PACK" "$f" > /dev/null || [ $? -le 2 ]; done < "$TMP/files.txt"
  t1="$(now)"
  got[cli]+=" $(rate "$N" "$t0" "$t1")"

  # 2. Sequential loop of the binding in one process (pack opened once, all cores per scan).
  got[py]+=" $("$PY" - "$PACK" "$TMP/files.txt" <<'EOF2'
import sys, time, partscreen
pack = partscreen.Pack(sys.argv[1])
files = open(sys.argv[2]).read().split("\n")[:-1]
t0 = time.monotonic()
for f in files:
    partscreen.scan(pack, [f])
print(f"{len(files) / (time.monotonic() - t0):.2f}")
EOF2
)"

  # 3. The sweep on 1 and 2 local workers (scan threads = cores / workers, so both use every core).
  for w in 1 2; do
    rm -f "$TMP/out.jsonl"
    t0="$(now)"
    "$PY" -m partscreen.sweep --pack "$PACK" --manifest "$TMP/files.txt" --out "$TMP/out.jsonl" --workers "$w" \
      --no-progress --json > "$TMP/summary.json"
    t1="$(now)"
    got[sweep$w]+=" $("$PY" -c "import json,sys; print(f\"{json.load(open(sys.argv[1]))['files_per_second']:.2f}\")" "$TMP/summary.json")"
    got[e2e$w]+=" $(rate "$N" "$t0" "$t1")"
    lines="$(wc -l < "$TMP/out.jsonl")"
    [ "$lines" -eq "$N" ] || { echo "sweep wrote $lines lines for $N files" >&2; exit 1; }
  done
  echo "round $round: cli${got[cli]} | python${got[py]} | sweep 1w${got[sweep1]} (e2e${got[e2e1]}) | sweep 2w${got[sweep2]} (e2e${got[e2e2]})" > "$TMP/rounds.txt"
  echo "round $round: cli${got[cli]} | python${got[py]} | sweep 1w${got[sweep1]} (e2e${got[e2e1]}) | sweep 2w${got[sweep2]} (e2e${got[e2e2]})" >&2
done
cli_rate="$(best ${got[cli]})"; py_rate="$(best ${got[py]})"
declare -A sweep_rate sweep_e2e
for w in 1 2; do sweep_rate[$w]="$(best ${got[sweep$w]})"; sweep_e2e[$w]="$(best ${got[e2e$w]})"; done
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"

{
  echo "# Backlog sweep throughput"
  echo
  echo "\`bench/sweep.sh $FOLDER\` on $(date -u +%Y-%m-%d): $N files (one job each), pack \`$(basename "$PACK")\`,"
  echo "$CORES cores shared with other builds (load average at the start: $LOAD, at the end: $LOAD_END)."
  echo "Best of $ROUNDS interleaved rounds (each round runs every method once; per-round figures: \`round N:\` lines on stderr)."
  echo
  echo "| method | files/s | end to end files/s |"
  echo "| --- | ---: | ---: |"
  echo "| \`partscreen scan --json FILE\` in a shell loop | $cli_rate | $cli_rate |"
  echo "| \`partscreen.scan(pack, [f])\` loop, one process | $py_rate | $py_rate |"
  echo "| sweep, LocalCluster 1 worker ($CORES scan threads) | ${sweep_rate[1]} | ${sweep_e2e[1]} |"
  echo "| sweep, LocalCluster 2 workers ($((CORES / 2 > 0 ? CORES / 2 : 1)) scan thread each) | ${sweep_rate[2]} | ${sweep_e2e[2]} |"
  echo
  echo "End to end includes starting and stopping the LocalCluster and opening the pack on each worker."
  echo
  echo "Every round's figures (cumulative lists, files/s):"
  echo
  echo '```'
  cat "$TMP/rounds.txt"
  echo '```'
} | tee "$ROOT/bench/results/sweep.md"

#!/usr/bin/env bash
# Backlog sweep throughput (files/s): the Dask sweep (python/partscreen/sweep.py) on a LocalCluster
# of 1 and 2 worker processes, next to a plain sequential loop of the CLI (one `partscreen scan
# --json FILE` per file) and a sequential loop of the Python binding in one process.
#   bench/sweep.sh [FOLDER] [BUILD_DIR] [PACK]
# FOLDER defaults to /tmp/printed-parts (benchmark corpus only), PACK to the demo pack. Every file
# is one job. Sweep figures are given twice: files/s measured by the sweep itself (from its first
# submission, cluster already up) and end to end (`python3 -m partscreen.sweep` wall clock,
# including starting and stopping the LocalCluster). Writes bench/results/sweep.md.
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

# 1. Plain sequential loop of the CLI (all cores per scan, as a shell script would do it).
t0="$(now)"
while IFS= read -r f; do "$CLI" scan --json --pack "$PACK" "$f" > /dev/null || [ $? -le 2 ]; done < "$TMP/files.txt"
t1="$(now)"
cli_rate="$(rate "$N" "$t0" "$t1")"
echo "cli loop: $cli_rate files/s" >&2

# 2. Sequential loop of the binding in one process (pack opened once, all cores per scan).
py_rate="$("$PY" - "$PACK" "$TMP/files.txt" <<'EOF'
import sys, time, partscreen
pack = partscreen.Pack(sys.argv[1])
files = open(sys.argv[2]).read().split("\n")[:-1]
t0 = time.monotonic()
for f in files:
    partscreen.scan(pack, [f])
print(f"{len(files) / (time.monotonic() - t0):.2f}")
EOF
)"
echo "python loop: $py_rate files/s" >&2

# 3. The sweep on 1 and 2 local workers (scan threads = cores / workers, so both use every core).
declare -A sweep_rate sweep_e2e
for w in 1 2; do
  rm -f "$TMP/out.jsonl"
  t0="$(now)"
  "$PY" -m partscreen.sweep --pack "$PACK" --manifest "$TMP/files.txt" --out "$TMP/out.jsonl" --workers "$w" \
    --no-progress --json > "$TMP/summary.json"
  t1="$(now)"
  sweep_rate[$w]="$("$PY" -c "import json,sys; print(f\"{json.load(open(sys.argv[1]))['files_per_second']:.2f}\")" "$TMP/summary.json")"
  sweep_e2e[$w]="$(rate "$N" "$t0" "$t1")"
  lines="$(wc -l < "$TMP/out.jsonl")"
  [ "$lines" -eq "$N" ] || { echo "sweep wrote $lines lines for $N files" >&2; exit 1; }
  echo "sweep $w worker(s): ${sweep_rate[$w]} files/s (end to end ${sweep_e2e[$w]})" >&2
done

{
  echo "# Backlog sweep throughput"
  echo
  echo "\`bench/sweep.sh $FOLDER\` on $(date -u +%Y-%m-%d): $N files (one job each), pack \`$(basename "$PACK")\`,"
  echo "$CORES cores shared with other builds (load average at the start: $LOAD)."
  echo
  echo "| method | files/s | end to end files/s |"
  echo "| --- | ---: | ---: |"
  echo "| \`partscreen scan --json FILE\` in a shell loop | $cli_rate | $cli_rate |"
  echo "| \`partscreen.scan(pack, [f])\` loop, one process | $py_rate | $py_rate |"
  echo "| sweep, LocalCluster 1 worker ($CORES scan threads) | ${sweep_rate[1]} | ${sweep_e2e[1]} |"
  echo "| sweep, LocalCluster 2 workers ($((CORES / 2 > 0 ? CORES / 2 : 1)) scan thread each) | ${sweep_rate[2]} | ${sweep_e2e[2]} |"
  echo
  echo "End to end includes starting and stopping the LocalCluster and opening the pack on each worker."
} | tee "$ROOT/bench/results/sweep.md"

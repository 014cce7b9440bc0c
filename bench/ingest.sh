#!/usr/bin/env bash
# Ingestion benchmark: our read+weld+split vs `assimp info` vs `admesh`, side by side.
#   bench/ingest.sh [MESH_FOLDER] [BUILD_DIR]
# MESH_FOLDER defaults to /tmp/printed-parts if present (else only generated files are used).
# Large binary STLs (~100 KB, 10 MB, 100 MB, 200 MB) are generated in a temp dir by tiling the
# folder's parts (never committed). Prints a markdown table and writes bench/results/ingest.md.
# 3MF/STEP columns: not in this branch (their readers live in another branch).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FOLDER="${1:-/tmp/printed-parts}"
B="${2:-$ROOT/build}"
INGEST="$B/bench/partscreen_ingest"
[ -x "$INGEST" ] || { cmake -S "$ROOT" -B "$B" -G Ninja >/dev/null && ninja -C "$B" -j2 partscreen_ingest; }
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
SOURCES=()
if [ -d "$FOLDER" ]; then mapfile -t SOURCES < <(find "$FOLDER" -iname '*.stl' | sort | head -60); fi
FILES=()
for spec in 100k:100000 10m:10000000 100m:100000000 200m:200000000; do
  out="$TMP/tiled_${spec%%:*}.stl"
  "$INGEST" --generate "$out" "${spec##*:}" "${SOURCES[@]}" >/dev/null
  FILES+=("$out")
done
# A few real parts as they are (largest three of the folder).
if [ -d "$FOLDER" ]; then
  mapfile -t REAL < <(find "$FOLDER" -iname '*.stl' -printf '%s %p\n' | sort -n | tail -3 | cut -d' ' -f2-)
  FILES+=("${REAL[@]}")
fi
median_of() { hyperfine -N --warmup 1 --runs "$2" --export-json "$TMP/h.json" "$1" >/dev/null 2>&1 \
  && python3 -c "import json;print(json.load(open('$TMP/h.json'))['results'][0]['median']*1000)" || echo nan; }
{
  echo "| file | MB | triangles | comps | ours ms | ours MB/s | ours Mtri/s | peak RSS MB | RSS/mesh | assimp info ms | admesh ms | admesh/ours |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for f in "${FILES[@]}"; do
    runs=5; [ "$(stat -c %s "$f")" -gt 50000000 ] && runs=3
    line="$("$INGEST" "$f" 1)"; rss_line="$line"   # one load per process: honest peak RSS
    line="$("$INGEST" "$f" "$runs")"
    eval "$(echo "$line" | tr ' ' '\n' | grep -E '^(file_bytes|triangles|components|median_ms|mb_s|mtri_s|mesh_kb)=')"
    peak=$(echo "$rss_line" | tr ' ' '\n' | grep '^peak_rss_kb=' | cut -d= -f2)
    a=$(median_of "assimp info $f" "$runs"); m=$(median_of "admesh $f" "$runs")
    python3 - "$f" "$file_bytes" "$triangles" "$components" "$median_ms" "$mb_s" "$mtri_s" "$peak" "$mesh_kb" "$a" "$m" <<'PY'
import sys, os
f, fb, tr, co, ms, mbs, mt, peak, mesh, a, m = sys.argv[1:]
name = os.path.basename(f)
print(f"| {name} | {int(fb)/1e6:.2f} | {tr} | {co} | {float(ms):.1f} | {float(mbs):.0f} | {float(mt):.2f} | "
      f"{int(peak)/1024:.1f} | {int(peak)/max(1,int(mesh)):.2f} | {float(a):.1f} | {float(m):.1f} | {float(m)/float(ms):.2f} |")
PY
  done
  echo
  echo "ours = partscreen read_stl_file + split_components in-process (median of runs; peak RSS from a separate"
  echo "single-load process, whole process). assimp/admesh: hyperfine -N medians of the whole command."
  echo "Machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p')), shared; $(date -u +%F)."
} | tee "$TMP/table.md"
mkdir -p "$ROOT/bench/results"
{ echo "# STL ingestion benchmark"; echo; echo "Command: bench/ingest.sh $FOLDER"; echo; cat "$TMP/table.md"; } > "$ROOT/bench/results/ingest.md"

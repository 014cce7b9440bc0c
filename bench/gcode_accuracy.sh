#!/usr/bin/env bash
# Detection and false positives on sliced jobs (issue: G-code screening), one command:
#   bench/gcode_accuracy.sh [MESH_FOLDER] [N_REFERENCES] [N_DISTRACTORS]
# Enrolls N references from the folder, slices each reference and each distractor with the real
# prusa-slicer (default print settings, rotated and moved on the plate for half of them), scans
# every G-code against the pack, and writes bench/results/gcode_accuracy.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
folder="${1:-/tmp/printed-parts}"
n_refs="${2:-10}"
n_dist="${3:-10}"
partscreen="$root/build/cli/partscreen"
command -v prusa-slicer >/dev/null || { echo "gcode_accuracy: prusa-slicer is not installed (apt-get install prusa-slicer)" >&2; exit 2; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
mapfile -t files < <(find "$folder" -iname '*.stl' | sort | awk 'NR % 7 == 3')
refs=("${files[@]:0:$n_refs}")
dists=("${files[@]:$n_refs:$n_dist}")
"$partscreen" enroll --out "$tmp/refs.pack" "${refs[@]}" >/dev/null 2>&1
slice() {  # $1 mesh, $2 out.gcode, $3 index
  local args=(--export-gcode --output "$2")
  if [ $(( $3 % 2 )) -eq 1 ]; then args+=(--rotate 37 --center 80,90); fi
  prusa-slicer "${args[@]}" "$1" >/dev/null 2>&1
}
det=0; right=0; fp=0; rev=0; n=0; slice_ms=(); scan_ms=()
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
{
  echo "# G-code accuracy: sliced references and distractors"
  echo
  echo "\`bench/gcode_accuracy.sh $folder $n_refs $n_dist\` on $(date -u +%Y-%m-%d), prusa-slicer $(prusa-slicer --help 2>/dev/null | head -1 | awk '{print $2}')"
  echo
  echo "| job | expected | verdict | top match (score) | scan ms |"
  echo "|---|---|---|---|---|"
  i=0
  for f in "${refs[@]}" "${dists[@]}"; do
    i=$((i + 1))
    stem="$(basename "${f%.*}")"
    expected=clear; [ $i -le "$n_refs" ] && expected="$stem"
    t0=$(date +%s%N); slice "$f" "$tmp/job.gcode" "$i" || { row "$stem" "$expected" "slice failed" "-" "-"; continue; }
    t1=$(date +%s%N)
    json="$("$partscreen" scan --threads 1 --pack "$tmp/refs.pack" --json "$tmp/job.gcode" || true)"
    line="$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); m=d["matches"]; print(d["verdict"], (m[0]["reference"] if m else "-"), "%.2f" % (m[0]["score"] if m else 0), "%.0f" % d["timings"]["total_ms"])' "$json")"
    read -r verdict top score ms <<<"$line"
    row "$stem" "$expected" "$verdict" "$top ($score)" "$ms"
    slice_ms+=($(( (t1 - t0) / 1000000 ))); scan_ms+=("$ms")
    if [ "$expected" = clear ]; then
      [ "$verdict" = flagged ] && fp=$((fp + 1)); [ "$verdict" = review ] && rev=$((rev + 1))
    else
      n=$((n + 1)); [ "$verdict" = flagged ] && det=$((det + 1)); [ "$verdict" = flagged ] && [ "$top" = "$stem" ] && right=$((right + 1))
    fi
  done
  echo
  echo "sliced references flagged: $det/$n (right reference: $right); distractors flagged: $fp/$n_dist, review: $rev/$n_dist"
  python3 -c 'import statistics,sys; a=[float(x) for x in sys.argv[1].split()]; b=[float(x) for x in sys.argv[2].split()]; print("median slicing %.0f ms, median scan of the G-code %.0f ms (%.1f%% of slicing)" % (statistics.median(a), statistics.median(b), 100*statistics.median(b)/statistics.median(a)))' "${slice_ms[*]}" "${scan_ms[*]}"
} | tee "$root/bench/results/gcode_accuracy.md"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The gate's cost inside a PrusaSlicer export: hyperfine runs `prusa-slicer --export-gcode` on the
# same parts with and without `--post-process partscreen-gate`, side by side, and prints medians.
#
#   plugins/slicer/bench-gate.sh [--runs N] [PART.stl...]
#
# Without parts it uses CGAL's sample meshes at printable size: turbine (clear) and a moved
# pinion (enrolled: the gated export is blocked, so that row includes the block path).
# Needs build/cli/partscreen (scripts/build.sh), prusa-slicer, hyperfine, libcgal-demo.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${PARTSCREEN_BIN:-$root/build/cli/partscreen}"
gate="$root/plugins/slicer/prusaslicer/partscreen-gate"
runs=10
if [ "${1:-}" = "--runs" ]; then runs="$2"; shift 2; fi
for p in prusa-slicer hyperfine; do command -v "$p" >/dev/null || { echo "bench-gate: $p is missing" >&2; exit 2; }; done
[ -x "$bin" ] || { echo "bench-gate: $bin is missing: run scripts/build.sh" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
meshes="$("$root/scripts/demo-data.sh")/data/meshes"
"$bin" variant --kind unit_x25.4 --out "$work/pinion_ref" "$meshes/pinion.off" >/dev/null 2>&1
"$bin" enroll --out "$work/refs.pack" --category demo "$work/pinion_ref.stl" >/dev/null 2>&1
parts=("$@")
if [ ${#parts[@]} -eq 0 ]; then
  "$bin" variant --kind unit_x25.4 --out "$work/turbine" "$meshes/turbine.off" >/dev/null 2>&1
  "$bin" variant --kind rigid --seed 2 --out "$work/pinion_moved" "$work/pinion_ref.stl" >/dev/null 2>&1
  parts=("$work/turbine.stl" "$work/pinion_moved.stl")
fi

export PARTSCREEN_PACK="$work/refs.pack" PARTSCREEN_BIN="$bin" PARTSCREEN_LOG="$work/gate.jsonl"
printf '%-28s %12s %12s %12s %10s\n' part "plain_s" "gated_s" "overhead_s" "gcode_MB"
for part in "${parts[@]}"; do
  name="$(basename "$part")"
  # -i: the enrolled part's gated export exits 1 by design.
  hyperfine -N -i --warmup 1 --runs "$runs" --export-json "$work/h.json" \
    "prusa-slicer --export-gcode --output $work/plain.gcode $part" \
    "prusa-slicer --export-gcode --post-process $gate --output $work/gated.gcode $part" >/dev/null 2>&1
  mb="$(stat -c %s "$work/plain.gcode" | awk '{printf "%.2f", $1/1048576}')"
  python3 - "$work/h.json" "$name" "$mb" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
plain, gated = r[0]["median"], r[1]["median"]
print("%-28s %12.3f %12.3f %12.3f %10s" % (sys.argv[2][:28], plain, gated, gated - plain, sys.argv[3]))
EOF
done
python3 - "$work/gate.jsonl" <<'EOF'
import json, statistics, sys
scans = [json.loads(l)["scan_ms"] for l in open(sys.argv[1]) if l.strip()]
print("gate decisions logged: %d, partscreen scan median %.0f ms" % (len(scans), statistics.median(scans)))
EOF

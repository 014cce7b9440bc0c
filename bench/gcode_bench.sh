#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Parse + rebuild throughput on a large G-code, against the slicer's own time for the same part.
# Usage: bench/gcode_bench.sh BUILD_DIR [RUNS] [PART.stl]   (needs prusa-slicer and openscad)
# Without PART, a generated 120 x 100 x 30 mm plate with 48 holes plus a cylinder is sliced at
# 0.15 mm; with PART (e.g. a corpus part), that part alone at 0.15 mm. Prints the slicer's median
# wall time, then gcode_bench's medians (parse, rebuild, MB/s) and the load / slicing ratio.
set -eu
BUILD=${1:?build dir}
RUNS=${2:-5}
PART=${3:-}
DIR=$(mktemp -d /tmp/partscreen-gcode-bench-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
if [ -n "$PART" ]; then
  cp "$PART" "$DIR/part.stl"
  inputs="$DIR/part.stl"
else
  # Many walls and holes.
  cat > "$DIR/plate.scad" <<'SCAD'
difference() {
  cube([120, 100, 30]);
  for (i = [0:7], j = [0:5]) translate([10 + i * 14.3, 10 + j * 16, -1]) cylinder(r = 4, h = 32, $fn = 64);
}
SCAD
  echo 'cylinder(r = 20, h = 40, $fn = 128);' > "$DIR/cyl.scad"
  openscad -o "$DIR/plate.stl" "$DIR/plate.scad" >/dev/null 2>&1
  openscad -o "$DIR/cyl.stl" "$DIR/cyl.scad" >/dev/null 2>&1
  inputs="$DIR/plate.stl $DIR/cyl.stl"
fi
slice() { prusa-slicer --export-gcode --merge --layer-height 0.15 --skirts 1 --output "$DIR/big.gcode" \
  $inputs >/dev/null 2>&1; }
times=""
for i in $(seq "$RUNS"); do
  t0=$(date +%s%N); slice; t1=$(date +%s%N)
  times="$times $(( (t1 - t0) / 1000000 ))"
done
slice_ms=$(echo $times | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
echo "prusa-slicer slicing: median $slice_ms ms over $RUNS runs ($(du -h "$DIR/big.gcode" | cut -f1) of G-code)"
"$BUILD/bench/gcode_bench" --repeat "$RUNS" --slice-ms "$slice_ms" "$DIR/big.gcode"

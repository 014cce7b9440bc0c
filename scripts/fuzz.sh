#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz (ASan + UBSan) and runs each for
# SECONDS (default 60). Findings land in build-fuzz/findings/<target>/, the corpus grows in
# build-fuzz/corpus/<target>/.   Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# Targets: fuzz_stl (STL reader + components), fuzz_gcode (G-code reader + rebuild), fuzz_3mf
# (3MF zip + model XML + instancing), fuzz_obj (OBJ reader), pack_fuzz (signature-pack parser);
# default: all.
set -euo pipefail
SECONDS_PER_TARGET="${1:-60}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
B="$ROOT/build-fuzz"
CC=clang-14 CXX=clang++-14 cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPARTSCREEN_BUILD_FUZZ=ON -DPARTSCREEN_SANITIZE=ON -DPARTSCREEN_BUILD_TESTS=OFF -DPARTSCREEN_BUILD_BENCH=OFF \
  -DPARTSCREEN_WITH_OCCT=OFF >/dev/null
TARGETS=("${@:2}")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(fuzz_stl fuzz_gcode fuzz_3mf fuzz_obj pack_fuzz)
ninja -C "$B" -j2 "${TARGETS[@]}" fuzz_make_seeds partscreen
for target in "${TARGETS[@]}"; do
  corpus="$B/corpus/$target"; findings="$B/findings/$target"
  mkdir -p "$corpus" "$findings"
  max_len=65536
  if [ "$target" = pack_fuzz ]; then
    max_len=131072  # a one-reference pack is ~60 KiB
    if [ -z "$(ls -A "$corpus")" ]; then  # seed: a real pack of one small benign part
      # Seeds: a pack signed with a local key (in a throwaway home), one with full metadata
      # (taxonomy, revocation, expiry) signed by the demo key.
      export PARTSCREEN_HOME="$B/fuzz-home"
      "$B/cli/partscreen" enroll --threads 2 --out "$corpus/seed.pack" /usr/share/assimp/models/STL/Spider_binary.stl >/dev/null
      "$B/cli/partscreen" pack sign --key "$ROOT/models/reference/demo-publisher.key" --sequence 3 --valid-days 30 \
        --jurisdiction test --categories a,b,c --revoke Spider_binary,gone --out "$corpus/seed-meta.pack" "$corpus/seed.pack" >/dev/null
    fi
  elif [ "$target" = fuzz_gcode ]; then
    if [ -z "$(ls -A "$corpus")" ]; then
      # Seeds: the fuzz regressions and a small printed square (two nested loops, 3 layers).
      cp "$ROOT"/tests/data/gcode/fuzz-regressions/* "$corpus"/
      printf 'G21\nG90\nM83\n%s' "$(for z in 0.2 0.4 0.6; do printf 'G1 Z%s\nG0 X10 Y10\nG1 X30 Y10 E0.7\nG1 X30 Y30 E0.7\nG1 X10 Y30 E0.7\nG1 X10 Y10 E0.7\nG0 X10.45 Y10.45\nG1 X29.55 Y10.45 E0.65\nG1 X29.55 Y29.55 E0.65\nG1 X10.45 Y29.55 E0.65\nG1 X10.45 Y10.45 E0.65\n' $z; done)" > "$corpus/square.gcode"
    fi
  elif [ "$target" = fuzz_3mf ]; then
    if [ -z "$(ls -A "$corpus")" ]; then
      # Seeds: Debian's 3MF test model whole (the zip path) and its model part alone (the XML
      # path), and a plate of two instances of one object through components.
      cp /usr/share/assimp/models/3MF/*.3mf "$corpus"/
      python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("3D/3dmodel.model"))' \
        /usr/share/assimp/models/3MF/box.3mf > "$corpus/box.model"
      printf '%s' '<?xml version="1.0"?><model unit="millimeter" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02"><resources><object id="1" type="model"><mesh><vertices><vertex x="0" y="0" z="0"/><vertex x="10" y="0" z="0"/><vertex x="0" y="10" z="0"/><vertex x="0" y="0" z="10"/></vertices><triangles><triangle v1="0" v2="2" v3="1"/><triangle v1="0" v2="1" v3="3"/><triangle v1="1" v2="2" v3="3"/><triangle v1="0" v2="3" v3="2"/></triangles></mesh></object><object id="2"><components><component objectid="1"/><component objectid="1" transform="1 0 0 0 1 0 0 0 1 20 0 0"/></components></object></resources><build><item objectid="2"/><item objectid="1" transform="-1 0 0 0 1 0 0 0 1 0 30 0"/></build></model>' > "$corpus/plate.model"
    fi
  elif [ "$target" = fuzz_obj ]; then
    if [ -z "$(ls -A "$corpus")" ]; then
      # Seeds: Assimp's OBJ test files (polygons, negative corners, odd spacing, broken indices).
      cp /usr/share/assimp/models/OBJ/*.obj /usr/share/assimp/models/invalid/*.obj "$corpus"/
    fi
  elif [ -z "$(ls -A "$corpus")" ]; then
    "$B/fuzz/fuzz_make_seeds" "$corpus" /usr/share/assimp/models/STL/* 2>/dev/null || true
  fi
  echo "== $target for ${SECONDS_PER_TARGET}s (corpus $(ls "$corpus" | wc -l) files)"
  (cd "$findings" && "$B/fuzz/$target" -max_total_time="$SECONDS_PER_TARGET" -max_len="$max_len" -rss_limit_mb=2048 \
     -timeout=10 -print_final_stats=1 "$corpus") 2>&1 | tail -25
done

#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz (ASan + UBSan) and runs each for
# SECONDS (default 60). Findings land in build-fuzz/findings/<target>/, the corpus grows in
# build-fuzz/corpus/<target>/.   Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
SECONDS_PER_TARGET="${1:-60}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
B="$ROOT/build-fuzz"
CC=clang-14 CXX=clang++-14 cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPARTSCREEN_BUILD_FUZZ=ON -DPARTSCREEN_SANITIZE=ON -DPARTSCREEN_BUILD_TESTS=OFF -DPARTSCREEN_BUILD_BENCH=OFF \
  -DPARTSCREEN_WITH_OCCT=OFF >/dev/null
ninja -C "$B" -j2 fuzz_stl fuzz_gcode fuzz_make_seeds
for target in fuzz_stl fuzz_gcode; do
  corpus="$B/corpus/$target"; findings="$B/findings/$target"
  mkdir -p "$corpus" "$findings"
  if [ -z "$(ls -A "$corpus")" ]; then
    if [ "$target" = fuzz_gcode ]; then
      # Seeds: the fuzz regressions and a small printed square (two nested loops, 3 layers).
      cp "$ROOT"/tests/data/gcode/fuzz-regressions/* "$corpus"/
      printf 'G21\nG90\nM83\n%s' "$(for z in 0.2 0.4 0.6; do printf 'G1 Z%s\nG0 X10 Y10\nG1 X30 Y10 E0.7\nG1 X30 Y30 E0.7\nG1 X10 Y30 E0.7\nG1 X10 Y10 E0.7\nG0 X10.45 Y10.45\nG1 X29.55 Y10.45 E0.65\nG1 X29.55 Y29.55 E0.65\nG1 X10.45 Y29.55 E0.65\nG1 X10.45 Y10.45 E0.65\n' $z; done)" > "$corpus/square.gcode"
    else
      "$B/fuzz/fuzz_make_seeds" "$corpus" /usr/share/assimp/models/STL/* 2>/dev/null || true
    fi
  fi
  echo "== $target for ${SECONDS_PER_TARGET}s (corpus $(ls "$corpus" | wc -l) files)"
  (cd "$findings" && "$B/fuzz/$target" -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=2048 \
     -timeout=10 -print_final_stats=1 "$corpus") 2>&1 | tail -25
done

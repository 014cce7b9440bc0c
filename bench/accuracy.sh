#!/usr/bin/env bash
# Accuracy and speed of the matching engine, one command:
#   bench/accuracy.sh [MESH_FOLDER] [extra partscreen_bench_accuracy options...]
# MESH_FOLDER: any folder of meshes. Default: the printed-parts corpus unpacked from
# ../shared/corpus/printed-parts.tar.zst into /tmp/printed-parts (done here when the archive is
# there), else Debian's CGAL sample meshes (libcgal-demo). Enrolls references, scans every
# transformation of each and every distractor (plus 4 unevenly stretched look-alikes of each, so
# false positives are counted over 1,000 uploads), compares with the naive "verify every reference"
# baseline, and writes bench/results/accuracy.md. The loop is `partscreen eval`'s (run_eval); its
# report.json and report.html go to $ACCURACY_REPORT_DIR (default /tmp/partscreen-accuracy-report).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
folder="${1:-}"
shift || true
if [ -z "$folder" ]; then
  archive="$root/../shared/corpus/printed-parts.tar.zst"
  if [ -d /tmp/printed-parts ]; then folder=/tmp/printed-parts
  elif [ -f "$archive" ]; then mkdir -p /tmp/printed-parts && tar --zstd -xf "$archive" -C /tmp/printed-parts && folder=/tmp/printed-parts
  else folder="$("$root/scripts/demo-data.sh")/data/meshes"; fi
fi
[ -x "$root/build/bench/partscreen_bench_accuracy" ] || "$root/scripts/build.sh" >/dev/null
mkdir -p "$root/bench/results"
out="$root/bench/results/accuracy.md"
{
  echo "# Accuracy benchmark"
  echo
  echo "\`bench/accuracy.sh $folder $*\` on $(date -u +%Y-%m-%d), $(nproc) cores, partscreen $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo
  "$root/build/bench/partscreen_bench_accuracy" --refs 30 --distractors 200 --look-alikes 4 --baseline 10 \
    --out "${ACCURACY_REPORT_DIR:-/tmp/partscreen-accuracy-report}" "$@" "$folder"
} | tee "$out"

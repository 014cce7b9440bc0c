#!/usr/bin/env bash
# Scan time against pack size, one command:
#   bench/scaling.sh [MESH_FOLDER] [--sizes 100,1000,10000] [--queries N]
# Builds packs of distinct references from the folder's parts (real ones, then anisotropically
# stretched copies), scans ~100k-triangle uploads on one thread against each, and writes
# bench/results/scaling.md. 10,000 references take a while to enrol (about 10 minutes on 2 cores).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
folder="${1:-/tmp/printed-parts}"
shift || true
[ -d "$folder" ] || { echo "scaling: $folder not found (unpack ../shared/corpus/printed-parts.tar.zst there, or give a folder of meshes)" >&2; exit 2; }
[ -x "$root/build/bench/partscreen_bench_scaling" ] || "$root/scripts/build.sh" >/dev/null
mkdir -p "$root/bench/results"
{
  echo "# Scaling benchmark"
  echo
  echo "\`bench/scaling.sh $folder $*\` on $(date -u +%Y-%m-%d), $(nproc) cores, one scan thread"
  echo
  "$root/build/bench/partscreen_bench_scaling" "$@" "$folder"
} | tee "$root/bench/results/scaling.md"

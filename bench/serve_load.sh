#!/usr/bin/env bash
# Load test of partscreen serve on loopback, one command:
#   bench/serve_load.sh [UPLOAD_FOLDER] [--clients 8] [--seconds 60] [--workers 2]
# Starts the real service with the demo pack, runs closed-loop concurrent clients uploading the
# folder's parts (default: the printed-parts corpus, else the demo's CGAL meshes), and writes
# bench/results/serve_load.md (throughput, p50/p95/p99 latency, errors). Exit 1 on any error.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
folder="/tmp/printed-parts"
if [[ $# -gt 0 && "$1" != --* ]]; then folder="$1"; shift; fi
[ -d "$folder" ] || folder="$("$root/scripts/demo-data.sh")/data/meshes"
[ -x "$root/build/cli/partscreen" ] || "$root/scripts/build.sh" >/dev/null
mkdir -p "$root/bench/results"
{
  echo "# partscreen serve under load"
  echo
  echo "\`bench/serve_load.sh $folder $*\` on $(date -u +%Y-%m-%d), $(nproc) cores (shared), loopback"
  echo
  PARTSCREEN_CLI="$root/build/cli/partscreen" PARTSCREEN_WEB="$root/service/web" /usr/bin/python3 "$root/bench/serve_load.py" \
    --pack "$root/models/reference/demo.pack" --uploads "$folder" "$@"
} | tee "$root/bench/results/serve_load.md"
exit "${PIPESTATUS[0]}"

#!/usr/bin/env bash
# Rebuilds models/reference/demo.pack from models/reference/demo.csv (benign CGAL sample meshes
# from Debian's libcgal-demo). Run it after changing the manifest or the pack format; the test
# DemoPack.MatchesManifest fails when the committed pack is stale.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="$("$root/scripts/demo-data.sh")"
"$root/build/cli/partscreen" enroll --name demo --manifest "$root/models/reference/demo.csv" --root "$data" \
  --out "$root/models/reference/demo.pack"

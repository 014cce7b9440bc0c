#!/usr/bin/env bash
# Rebuilds models/reference/demo.pack from models/reference/demo.csv (benign CGAL sample meshes
# from Debian's libcgal-demo) and signs it with the demo publisher key (models/reference/
# demo-publisher.key: deliberately public, see docs/packs.md). Run it after changing the manifest
# or the pack format; the test DemoPack.MatchesManifest fails when the committed pack is stale.
# Bump DEMO_SEQUENCE whenever the pack changes, so machines that scanned the old one accept it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="$("$root/scripts/demo-data.sh")"
DEMO_SEQUENCE="${DEMO_SEQUENCE:-3}"
# Enrolment signs with a local key: keep that throwaway key out of the user's own home.
export PARTSCREEN_HOME="$(mktemp -d)"
trap 'rm -rf "$PARTSCREEN_HOME"' EXIT
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1767225600}"  # 2026-01-01: reproducible bytes
pack="$root/models/reference/demo.pack"
"$root/build/cli/partscreen" enroll --name demo --manifest "$root/models/reference/demo.csv" --root "$data" --out "$pack"
"$root/build/cli/partscreen" pack sign --key "$root/models/reference/demo-publisher.key" --sequence "$DEMO_SEQUENCE" \
  --jurisdiction "none (demonstration)" \
  --categories demo-gear,demo-rotor,demo-coupling,demo-spool,demo-fixture,demo-handle,demo-cad "$pack"

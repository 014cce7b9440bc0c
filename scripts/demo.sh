#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install, build, then run partscreen on real
# sample meshes from Debian's assimp-testmodels.
# ENGINE: replace the last step by `enroll` + `scan` of the demo pack.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" >/dev/null
models=/usr/share/assimp/models
partscreen="$root/build/cli/partscreen"

echo
echo "== partscreen info: what partscreen reads from three sample meshes"
"$partscreen" info "$models/OBJ/box.obj" "$models/STL/sphereWithHole.stl" "$models/PLY/cube.ply"
echo
echo "== the same as JSON, for scripts (first lines)"
json="$("$partscreen" info --json "$models/STL/sphereWithHole.stl")"
sed -n 1,12p <<<"$json"
echo "  ..."
echo
echo "== problems: one line each on stderr (file: reason, what to do), exit code 2"
code=0
"$partscreen" info "$models/OBJ/SpiderTex.jpg" /no/such/part.stl || code=$?
echo "exit code: $code"

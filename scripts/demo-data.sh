#!/usr/bin/env bash
# Unpacks the CGAL sample meshes the demo and the demo pack are made from (Debian's libcgal-demo
# ships them as /usr/share/doc/libcgal-dev/data.tar.gz) into build/demo/cgal, once.
# Prints the folder. Used by scripts/demo.sh and scripts/make-demo-pack.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/build/demo/cgal"
archive=/usr/share/doc/libcgal-dev/data.tar.gz
if [ ! -f "$out/.done" ]; then
  [ -f "$archive" ] || { echo "demo-data: $archive is missing: install libcgal-demo (scripts/setup.sh does)" >&2; exit 2; }
  mkdir -p "$out"
  tar -xzf "$archive" -C "$out" \
    data/meshes/pinion.off data/meshes/pinion_small.off data/meshes/rotor.off data/meshes/couplingdown.off \
    data/meshes/spool.off data/meshes/anchor.off data/meshes/handle.off data/meshes/fandisk.off \
    data/meshes/turbine.off data/meshes/oblong.off data/meshes/mech-holes-shark.off data/meshes/cylinder.off \
    data/meshes/blade.off data/meshes/elephant-with-holes.off
  touch "$out/.done"
fi
echo "$out"

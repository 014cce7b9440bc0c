#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install, build, then screen sample uploads against
# the bundled demo pack (models/reference/demo.pack: seven benign mechanical parts from CGAL's
# sample meshes). The uploads are made here from Debian-packaged meshes with `partscreen
# variant`: disguised copies of enrolled parts (rotated, rescaled, mirrored, cut into pieces over
# two files, laid on a plate, fused with a block) and parts that were never enrolled.
# Exit code 0 when every verdict is the expected one.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" >/dev/null
partscreen="$root/build/cli/partscreen"
pack="$root/models/reference/demo.pack"
data="$("$root/scripts/demo-data.sh")/data/meshes"
uploads="$root/build/demo/uploads"
rm -rf "$uploads" && mkdir -p "$uploads"
cd "$uploads"

echo "== the demo pack"
echo "   $pack: references pinion, rotor, coupling, spool, anchor, handle, fandisk (CGAL sample meshes)"
echo
echo "== making sample uploads with 'partscreen variant'"
"$partscreen" variant --kind combined --seed 3 --out rotor_disguised "$data/rotor.off" >/dev/null
"$partscreen" variant --kind plate --seed 2 --out plate_with_pinion "$data/pinion.off" "$data/turbine.off" "$data/oblong.off" >/dev/null
"$partscreen" variant --kind pieces --seed 5 --out coupling_cut "$data/couplingdown.off" >/dev/null
"$partscreen" variant --kind fused --seed 1 --out spool_fused "$data/spool.off" >/dev/null
"$partscreen" variant --kind unit_x25.4 --out handle_inch_mistake "$data/handle.off" >/dev/null
"$partscreen" variant --kind rigid --seed 4 --out turbine_upload "$data/turbine.off" >/dev/null
ls -1 "$uploads"

# job | description | expected verdict
jobs=(
  "rotor_disguised.stl|enrolled rotor: rotated, scaled x1.26, mirrored, noisy|flagged"
  "plate_with_pinion.stl|enrolled pinion on a build plate beside two other parts|flagged"
  "coupling_cut.1.stl coupling_cut.2.stl|enrolled coupling cut in pieces over two files (one job)|flagged"
  "spool_fused.stl|enrolled spool fused with a block of extra material|flagged"
  "handle_inch_mistake.stl|enrolled handle scaled x25.4 (inch/mm mistake)|flagged"
  "$data/pinion_small.off|the pinion as CGAL ships it smaller (same gear, other scale)|flagged"
  "turbine_upload.stl|a turbine, never enrolled|clear"
  "$data/mech-holes-shark.off|a mechanical part with holes, never enrolled|clear"
  "$data/blade.off|a blade, never enrolled|clear"
  "$data/elephant-with-holes.off|an elephant figure, never enrolled|clear"
)

echo
echo "== screening each job against the demo pack"
printf '%-58s %-8s %-9s %s\n' "job" "expected" "verdict" "best match (score, scale, mirrored)"
failures=0
for entry in "${jobs[@]}"; do
  IFS='|' read -r files what expected <<<"$entry"
  # shellcheck disable=SC2086
  json="$("$partscreen" scan --pack "$pack" --json $files)" || true
  line="$(python3 - "$json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
m = d["matches"]
best = "%s (%.2f, x%.3f, %s)" % (m[0]["reference"], m[0]["score"], m[0]["scale"], "yes" if m[0]["mirrored"] else "no") if m and m[0]["score"] >= d["thresholds"]["review_score"] else "-"
print(d["verdict"] + "|" + best)
PY
)"
  verdict="${line%%|*}"
  best="${line#*|}"
  mark=""
  [ "$verdict" = "$expected" ] || { mark="  <-- expected $expected"; failures=$((failures + 1)); }
  printf '%-58s %-8s %-9s %s%s\n' "$what" "$expected" "$verdict" "$best" "$mark"
done

echo
echo "== one flagged job in full (what a reviewer sees)"
"$partscreen" scan --pack "$pack" coupling_cut.1.stl coupling_cut.2.stl || true
echo
echo "== one clear job"
"$partscreen" scan --pack "$pack" turbine_upload.stl || true
echo
if [ "$failures" -eq 0 ]; then
  echo "demo: every verdict as expected. Next: 'partscreen help scan', README.md 'Enroll and scan'."
else
  echo "demo: $failures verdict(s) differ from the expectation (see above)." >&2
  exit 1
fi

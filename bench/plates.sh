#!/usr/bin/env bash
# Plates of copies, one command:
#   bench/plates.sh [MESH_FOLDER] [--copies N] [--runs R] [--round MM] [--old PARTSCREEN]
# A print service's plate often holds N instances of one part. For each part named below (five
# enrolled, five not), scans the part alone and a plate of N instances of it (each turned about z
# and moved, one binary STL; with --round, every plate coordinate rounded to a multiple of MM, as
# writers that keep a few decimals leave it) on one thread, R times, alternating with --old
# (another partscreen binary, e.g. a build of an earlier commit) when given. Writes the median
# scan time of each, the plate/alone ratio and the verdicts, as a Markdown table, to
# bench/results/plates.md (plates-round-MM.md with --round).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
folder=/tmp/printed-parts copies=8 runs=3 old="" round=0
while [ $# -gt 0 ]; do
  case "$1" in
    --copies) copies="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --old) old="$2"; shift 2 ;;
    --round) round="$2"; shift 2 ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *) folder="$1"; shift ;;
  esac
done
[ -d "$folder" ] || { echo "plates: $folder not found (unpack ../shared/corpus/printed-parts.tar.zst there, or give a folder of meshes)" >&2; exit 2; }
new="$root/build/cli/partscreen"
[ -x "$new" ] || "$root/scripts/build.sh" >/dev/null
enrolled=(z_joint_upper_x4 y-motor-holder fs-lever lcd-supports z_belt_clip_lower_x4)
others=(z_joint_lower_x4 y-belt-idler idler_housing_x2 extruder-idler x-end-idler)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
find_part() { find "$folder" -iname "$1.stl" -o -iname "[[]a[]]_$1.stl" | sort | head -1; }
inputs=()
for n in "${enrolled[@]}"; do f="$(find_part "$n")"; [ -n "$f" ] && inputs+=("$f"); done
"$new" enroll --out "$work/plates.pack" "${inputs[@]}" >/dev/null
plate() {  # plate SRC DST: COPIES instances of SRC in a grid, instance k turned k*37 degrees about z
  python3 - "$1" "$2" "$copies" "$round" <<'PY'
import math, struct, sys
src, dst, n, q = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
r = (lambda x: round(x / q) * q) if q > 0 else (lambda x: x)
data = open(src, 'rb').read()
count = struct.unpack('<I', data[80:84])[0]
if 84 + 50 * count != len(data):
    sys.exit('plates: %s is not a binary STL' % src)
tris = [struct.unpack('<12f', data[84 + 50 * i:132 + 50 * i]) for i in range(count)]
xs = [t[3 + 3 * k + a] for t in tris for k in range(3) for a in (0, 1)]
span = (max(xs) - min(xs)) * 1.5 + 5
side = math.ceil(math.sqrt(n))
out = bytearray(80) + struct.pack('<I', count * n)
for c in range(n):
    a = math.radians(37 * c); ca, sa = math.cos(a), math.sin(a)
    dx, dy = (c % side) * span, (c // side) * span
    for t in tris:
        v = []
        for k in range(4):
            x, y, z = t[3 * k:3 * k + 3]
            if k == 0: v += [ca * x - sa * y, sa * x + ca * y, z]
            else: v += [r(ca * x - sa * y + dx), r(sa * x + ca * y + dy), r(z)]
        out += struct.pack('<12fH', *v, 0)
open(dst, 'wb').write(out)
PY
}
scan_ms() {  # scan_ms BINARY FILE: "ms verdict reference"
  "$1" scan --threads 1 --json --pack "$work/plates.pack" "$2" | python3 -c '
import json, sys
d = json.load(sys.stdin)
m = d["matches"][0]["reference"] if d["matches"] else "-"
print("%.1f %s %s" % (d["timings"]["total_ms"], d["verdict"], m))' || true
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mkdir -p "$root/bench/results"
round_arg=""; [ "$round" = 0 ] || round_arg=" --round $round"
{
echo "# Plates of copies"
echo
echo "\`bench/plates.sh $folder --copies $copies --runs $runs${round_arg}${old:+ --old $old}\` on $(date -u +%Y-%m-%d), $(nproc) cores, one scan thread, partscreen $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo
echo "| part | enrolled | triangles | engine | alone ms | plate of $copies ms | plate / alone | verdicts (alone, plate) |"
echo "|---|---|---|---|---|---|---|---|"
for n in "${enrolled[@]}" "${others[@]}"; do
  f="$(find_part "$n")"
  [ -n "$f" ] || continue
  in_pack=no
  for e in "${enrolled[@]}"; do [ "$e" = "$n" ] && in_pack=yes; done
  cp "$f" "$work/alone.stl"
  plate "$f" "$work/plate.stl" || continue
  tris=$(python3 -c "import struct,sys; print(struct.unpack('<I', open(sys.argv[1],'rb').read()[80:84])[0])" "$f")
  engines=(new)
  [ -n "$old" ] && engines=(old new)
  declare -A alone_t plate_t verdicts
  for e in "${engines[@]}"; do alone_t[$e]=""; plate_t[$e]=""; done
  for r in $(seq "$runs"); do
    for e in "${engines[@]}"; do
      bin="$new"; [ "$e" = old ] && bin="$old"
      a=$(scan_ms "$bin" "$work/alone.stl"); p=$(scan_ms "$bin" "$work/plate.stl")
      alone_t[$e]+="${a%% *} "; plate_t[$e]+="${p%% *} "
      verdicts[$e]="$(echo "$a" | cut -d' ' -f2-), $(echo "$p" | cut -d' ' -f2-)"
    done
  done
  for e in "${engines[@]}"; do
    am=$(echo "${alone_t[$e]}" | tr ' ' '\n' | grep . | median); pm=$(echo "${plate_t[$e]}" | tr ' ' '\n' | grep . | median)
    ratio=$(awk -v a="$am" -v p="$pm" 'BEGIN {printf "%.1fx", p / a}')
    echo "| $n | $in_pack | $tris | $e | $am | $pm | $ratio | ${verdicts[$e]} |"
  done
done
} | tee "$root/bench/results/$([ "$round" = 0 ] && echo plates.md || echo "plates-round-$round.md")"

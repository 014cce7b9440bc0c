#!/usr/bin/env bash
# Ingestion benchmark: our loaders next to `assimp info` (and `admesh` for STL), side by side.
#   bench/ingest.sh [MESH_FOLDER] [BUILD_DIR]
# MESH_FOLDER defaults to /tmp/printed-parts if present (else only generated files are used).
# Large binary STLs (~100 KB, 10 MB, 100 MB, 200 MB) are generated in a temp dir by tiling the
# folder's parts, or a generated torus without it (never committed). Prints one markdown table
# per format and writes them to bench/results/ingest.md.
#   STL:  ours = read_stl_file + split_components, next to `assimp info` and `admesh`.
#   3MF:  the same tiled STLs exported by `prusa-slicer --export-3mf` (else `assimp export`);
#         ours = load_file (libzip + pugixml), next to `assimp info` (admesh does not read 3MF).
#   STEP: the STEP files of Debian's occt-misc, bearing.iges and Motor-c.brep of the same package
#         converted to STEP, and linkrods.step tiled to ~10/50/100 MB; conversion and tiling are
#         done by OCCT's own DRAW (packages occt-draw + libocct-draw-dev). ours = load_file (OCCT
#         read + tessellation at the default deflection), next to `assimp info`, which reads only
#         IFC-schema STEP: its failures are recorded, not hidden.
# INGEST_FORMATS="stl 3mf step" (the default) picks the tables to run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FOLDER="${1:-/tmp/printed-parts}"
B="${2:-$ROOT/build}"
FORMATS="${INGEST_FORMATS:-stl 3mf step}"
INGEST="$B/bench/partscreen_ingest"
[ -x "$INGEST" ] || { cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null && ninja -C "$B" -j2 partscreen_ingest; }
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
OCC=/usr/share/opencascade/data
has() { [[ " $FORMATS " == *" $1 "* ]]; }

SOURCES=()
if [ -d "$FOLDER" ]; then mapfile -t SOURCES < <(find "$FOLDER" -iname '*.stl' | sort | head -60); fi
TILED=()
for spec in 100k:100000 10m:10000000 100m:100000000 200m:200000000; do
  out="$TMP/tiled_${spec%%:*}.stl"
  "$INGEST" --generate "$out" "${spec##*:}" ${SOURCES[@]+"${SOURCES[@]}"} >/dev/null
  TILED+=("$out")
done

# hyperfine -N median (ms) of a whole command; "fail" when the command exits non-zero.
median_of() {
  if hyperfine -N --warmup 1 --runs "$2" --export-json "$TMP/h.json" "$1" >/dev/null 2>&1; then
    python3 -c "import json;print(json.load(open('$TMP/h.json'))['results'][0]['median']*1000)"
  else echo fail; fi
}
# Ours: a single-load process for an honest peak RSS, then `runs` loads in one process for the
# median. Sets the variables format file_bytes triangles components median_ms mb_s mtri_s
# mesh_kb peak error.
ours() {
  local f="$1" runs="$2" line
  error=""; peak=0
  line="$("$INGEST" "$f" 1 || true)"
  if [[ "$line" == error=* ]]; then error="${line#error=}"; return; fi
  peak=$(echo "$line" | tr ' ' '\n' | grep '^peak_rss_kb=' | cut -d= -f2)
  [ "$runs" -gt 1 ] && line="$("$INGEST" "$f" "$runs")"
  eval "$(echo "$line" | tr ' ' '\n' | grep -E '^(format|file_bytes|triangles|components|median_ms|mb_s|mtri_s|mesh_kb)=')"
}
runs_for() { local s; s=$(stat -c %s "$1"); if [ "$s" -gt 50000000 ]; then echo 3; else echo 5; fi; }
ms_fmt() { python3 -c "import sys;v=sys.argv[1];print(v if v=='fail' else f'{float(v):.1f}')" "$1"; }
{
  echo "Machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p')), shared with other builds; $(date -u +%F)."
  echo "Medians: ours in-process over 5 loads (3 above 50 MB), peak RSS from a separate single-load process"
  echo "(whole process). assimp/admesh: hyperfine -N medians of the whole command, same run counts, 1 warmup."
} > "$TMP/machine.md"
: > "$TMP/tables.md"

# ---------------------------------------------------------------------------------------- STL
if has stl; then
  FILES=("${TILED[@]}")
  # A few real parts as they are (largest three of the folder).
  if [ -d "$FOLDER" ]; then
    mapfile -t REAL < <(find "$FOLDER" -iname '*.stl' -printf '%s %p\n' | sort -n | tail -3 | cut -d' ' -f2-)
    FILES+=("${REAL[@]}")
  fi
  {
    echo "## STL (binary)"; echo
    echo "| file | MB | triangles | comps | ours ms | ours MB/s | ours Mtri/s | peak RSS MB | RSS/mesh | assimp info ms | admesh ms | admesh/ours |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for f in "${FILES[@]}"; do
      runs=$(runs_for "$f"); ours "$f" "$runs"
      a=$(median_of "assimp info $f" "$runs"); m=$(median_of "admesh $f" "$runs")
      python3 - "$f" "$file_bytes" "$triangles" "$components" "$median_ms" "$mb_s" "$mtri_s" "$peak" "$mesh_kb" "$a" "$m" <<'PY'
import sys, os
f, fb, tr, co, ms, mbs, mt, peak, mesh, a, m = sys.argv[1:]
fm = lambda v: v if v == "fail" else f"{float(v):.1f}"
ratio = "-" if m == "fail" else f"{float(m)/float(ms):.2f}"
print(f"| {os.path.basename(f)} | {int(fb)/1e6:.2f} | {tr} | {co} | {float(ms):.1f} | {float(mbs):.0f} | {float(mt):.2f} | "
      f"{int(peak)/1024:.1f} | {int(peak)/max(1,int(mesh)):.2f} | {fm(a)} | {fm(m)} | {ratio} |")
PY
    done
    echo
    echo "ours = read_stl_file + split_components. RSS/mesh = peak RSS / size of the welded indexed mesh."
    echo "Peak RSS is whole-process: its floor (~27 MB, see the smallest file) is the binary with OCCT, Assimp and TBB mapped."
    echo
  } | tee -a "$TMP/tables.md"
fi

# ---------------------------------------------------------------------------------------- 3MF
if has 3mf; then
  if command -v prusa-slicer >/dev/null; then EXPORTER=prusa-slicer; else EXPORTER=assimp; fi
  {
    echo "## 3MF"; echo
    echo "Files: the tiled STLs above exported by \`$EXPORTER\` ($( [ $EXPORTER = prusa-slicer ] && echo 'prusa-slicer --export-3mf -o OUT.3mf IN.stl' || echo 'assimp export IN.stl OUT.3mf'))."
    echo
    echo "| file | 3MF MB | model MB | triangles | comps | export s | ours ms | ours MB/s (3MF) | ours MB/s (model) | ours Mtri/s | peak RSS MB | RSS/mesh | assimp info ms | assimp/ours |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for stl in "${TILED[@]}"; do
      f="${stl%.stl}.3mf"
      t0=$(date +%s.%N)
      if [ $EXPORTER = prusa-slicer ]; then ok=1; prusa-slicer --export-3mf -o "$f" "$stl" >/dev/null 2>&1 || ok=0
      else ok=1; assimp export "$stl" "$f" >/dev/null 2>&1 || ok=0; fi
      t1=$(date +%s.%N)
      if [ $ok = 0 ] || [ ! -s "$f" ]; then echo "| $(basename "$f") | export failed | | | | | | | | | | | | |"; continue; fi
      model=$(python3 -c "import zipfile,sys;print(sum(i.file_size for i in zipfile.ZipFile(sys.argv[1]).infolist() if i.filename.lower().endswith('.model')))" "$f")
      runs=$(runs_for "$f"); ours "$f" "$runs"
      a=$(median_of "assimp info $f" "$runs")
      if [ -n "$error" ]; then echo "| $(basename "$f") | $(stat -c %s "$f") B | | | | | ours failed: $error | | | | | | $(ms_fmt "$a") | |"; continue; fi
      python3 - "$f" "$file_bytes" "$model" "$triangles" "$components" "$t0" "$t1" "$median_ms" "$mtri_s" "$peak" "$mesh_kb" "$a" <<'PY'
import sys, os
f, fb, model, tr, co, t0, t1, ms, mt, peak, mesh, a = sys.argv[1:]
ms = float(ms); s = ms / 1e3
fa = a if a == "fail" else f"{float(a):.1f}"
ratio = "-" if a == "fail" else f"{float(a)/ms:.2f}"
print(f"| {os.path.basename(f)} | {int(fb)/1e6:.2f} | {int(model)/1e6:.2f} | {tr} | {co} | {float(t1)-float(t0):.1f} | {ms:.1f} | "
      f"{int(fb)/1e6/s:.1f} | {int(model)/1e6/s:.0f} | {float(mt):.2f} | {int(peak)/1024:.1f} | {int(peak)/max(1,int(mesh)):.2f} | {fa} | {ratio} |")
PY
    done
    echo
    echo "ours = load_file (libzip inflate + pugixml parse + weld + split). model MB = uncompressed *.model parts;"
    echo "export s = wall time of the exporter (not part of the comparison)."
    echo
  } | tee -a "$TMP/tables.md"
fi

# --------------------------------------------------------------------------------------- STEP
if has step; then
  STEPS=()
  for f in "$OCC/step/screw.step" "$OCC/step/linkrods.step"; do [ -f "$f" ] && STEPS+=("$f"); done
  DRAW=""; command -v occt-draw >/dev/null && DRAW=occt-draw
  if [ -n "$DRAW" ] && [ -f "$OCC/step/linkrods.step" ]; then
    # One DRAW session per written file: a session's STEP writer keeps what it transferred before.
    draw() { printf 'pload MODELING DATAEXCHANGE\n%s\nexit\n' "$1" > "$TMP/d.tcl"; "$DRAW" -b -f "$TMP/d.tcl" >>"$TMP/draw.log" 2>&1 || true; }
    [ -f "$OCC/iges/bearing.iges" ] && draw "igesread $OCC/iges/bearing.iges b *
stepwrite a b $TMP/bearing_from_iges.step"
    [ -f "$OCC/occ/Motor-c.brep" ] && draw "restore $OCC/occ/Motor-c.brep m
stepwrite a m $TMP/Motor-c_from_brep.step"
    draw "testreadstep $OCC/step/linkrods.step s
stepwrite a s $TMP/one.step"
    for f in "$TMP/bearing_from_iges.step" "$TMP/Motor-c_from_brep.step"; do [ -s "$f" ] && STEPS+=("$f"); done
    # The size of one re-written copy sets how many copies make ~10/50/100 MB. Copies are
    # translated 300 mm apart on a 16-wide grid.
    one=$(stat -c %s "$TMP/one.step" 2>/dev/null || echo 0)
    if [ "$one" -gt 0 ]; then
      for spec in 10m:10000000 50m:50000000 100m:100000000; do
        n=$(( (${spec##*:} + one / 2) / one )); [ "$n" -lt 1 ] && n=1
        out="$TMP/linkrods_x${n}_${spec%%:*}.step"
        draw "testreadstep $OCC/step/linkrods.step s
set parts {}
for {set i 0} {\$i < $n} {incr i} { tcopy s c\$i; ttranslate c\$i [expr (\$i % 16) * 300] [expr (\$i / 16) * 300] 0; lappend parts c\$i }
eval compound \$parts all
stepwrite a all $out"
        [ -s "$out" ] && STEPS+=("$out")
      done
    fi
  fi
  {
    echo "## STEP"; echo
    echo "Files: occt-misc's STEP files as shipped; *_from_iges / *_from_brep = occt-misc's IGES/BRep converted to STEP"
    echo "by OCCT DRAW (\`stepwrite\`); linkrods_xN = N translated copies of linkrods.step in one compound, written by DRAW."
    [ -z "$DRAW" ] && echo "(occt-draw missing: only the shipped files.)"
    echo
    echo "| file | MB | triangles | comps | ours ms | ours MB/s | ours ktri/s | peak RSS MB | assimp info ms |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for f in "${STEPS[@]}"; do
      runs=$(runs_for "$f"); ours "$f" "$runs"
      a=$(median_of "assimp info $f" "$runs")
      if [ -n "$error" ]; then echo "| $(basename "$f") | $(stat -c %s "$f") B | ours failed: $error | | | | | | $(ms_fmt "$a") |"; continue; fi
      python3 - "$f" "$file_bytes" "$triangles" "$components" "$median_ms" "$mb_s" "$mtri_s" "$peak" "$a" <<'PY'
import sys, os
f, fb, tr, co, ms, mbs, mt, peak, a = sys.argv[1:]
fa = "fail (exit != 0)" if a == "fail" else f"{float(a):.1f}"
print(f"| {os.path.basename(f)} | {int(fb)/1e6:.2f} | {tr} | {co} | {float(ms):.1f} | {int(fb)/1e3/float(ms):.2f} | "
      f"{int(tr)/float(ms):.1f} | {int(peak)/1024:.1f} | {fa} |")
PY
    done
    echo
    echo "ours = load_file: STEPControl_Reader + BRepMesh_IncrementalMesh at the default deflection (0.05 mm linear,"
    echo "0.35 rad angular) + weld + split; max_seconds raised to 1800 s so the tiled files are timed, other limits default."
    if [ -f "$OCC/step/screw.step" ]; then
      msg="$(assimp info "$OCC/step/screw.step" 2>&1 || true)"
      echo "assimp on STEP (exit != 0): \`$(echo "$msg" | grep -m1 -i error || echo "$msg" | tail -1)\`"
    fi
    echo
  } | tee -a "$TMP/tables.md"
fi

cat "$TMP/machine.md"
mkdir -p "$ROOT/bench/results"
{
  echo "# Ingestion benchmark (STL, 3MF, STEP)"; echo
  echo "Command: \`bench/ingest.sh $FOLDER\`$( [ "$FORMATS" != "stl 3mf step" ] && echo " with INGEST_FORMATS=\"$FORMATS\"")"; echo
  cat "$TMP/machine.md"; echo
  cat "$TMP/tables.md"
} > "$ROOT/bench/results/ingest.md"

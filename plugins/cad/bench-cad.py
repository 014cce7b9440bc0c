#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Export time with and without the CAD add-ons, medians of N runs, for each installed host.

  plugins/cad/bench-cad.py [--runs N] [--partscreen build/cli/partscreen]

OpenSCAD: whole `openscad -o` runs (hyperfine) vs `partscreen-openscad -o`. FreeCAD and
Blender: in-process, one export call of a clean part with the guard vs the unwrapped exporter
(host start-up is not counted: it is the same with and without). The pack holds one enrolled
bracket (made by openscad), so the figures are the guard's floor: tessellation + one scan.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))
sys.argv, _argv = sys.argv[:1], sys.argv
import cad_plugins_test as t  # noqa: E402  (the parts the tests use)
sys.argv = _argv

FREECAD = r'''
import math, os, statistics, time, json, FreeCAD, Part, Mesh, Import
doc = FreeCAD.newDocument("b")
k = Part.makeCylinder(15, 12).cut(Part.makeCylinder(3, 10, FreeCAD.Vector(0, 0, 4)))
for i in range(12):
    k = k.cut(Part.makeCylinder(2, 14, FreeCAD.Vector(15 * math.cos(i * 0.5236), 15 * math.sin(i * 0.5236), -1)))
o = doc.addObject("Part::Feature", "Knob"); o.Shape = k.removeSplitter(); doc.recompute()
out, n, res = os.environ["CAD_OUT"], int(os.environ["CAD_RUNS"]), {}
for ext, fn in (("stl", Mesh.export), ("step", Import.export)):
    for label, f in (("without", fn.__wrapped__), ("with", fn)):
        ts = []
        for i in range(n):
            s = time.perf_counter(); f([o], os.path.join(out, "k%d.%s" % (i, ext))); ts.append(time.perf_counter() - s)
        res[ext + " " + label] = statistics.median(ts) * 1000
json.dump(res, open(os.path.join(out, "bench.json"), "w"))
'''
BLENDER = r'''
import os, sys, statistics, time, json, bpy, addon_utils
sys.path.insert(0, os.environ["CAD_ADDONS"])
addon_utils.enable("partscreen_export_guard", default_set=True)
import partscreen_export_guard as g
bpy.ops.object.select_all(action="SELECT"); bpy.ops.object.delete()
bpy.ops.mesh.primitive_torus_add(major_radius=20, minor_radius=6, major_segments=96, minor_segments=32)
out, n, res = os.environ["CAD_OUT"], int(os.environ["CAD_RUNS"]), {}
for ext, op in (("stl", bpy.ops.export_mesh.stl), ("ply", bpy.ops.export_mesh.ply), ("obj", bpy.ops.export_scene.obj)):
    for label in ("with", "without"):
        (g.guard_operators if label == "with" else g.restore_operators)()
        ts = []
        for i in range(n):
            s = time.perf_counter(); op(filepath=os.path.join(out, "t%d.%s" % (i, ext))); ts.append(time.perf_counter() - s)
        res[ext + " " + label] = statistics.median(ts) * 1000
json.dump(res, open(os.path.join(out, "bench.json"), "w"))
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--partscreen", default=shutil.which("partscreen") or "build/cli/partscreen")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-cad.")
    try:
        cli = os.path.abspath(a.partscreen)
        env = dict(os.environ, PARTSCREEN_BIN=cli, PARTSCREEN_HOME=os.path.join(tmp, "home"),
                   PARTSCREEN_LOG=os.path.join(tmp, "log.jsonl"), PARTSCREEN_CAD_CONFIG=os.path.join(tmp, "none.conf"))
        open(env["PARTSCREEN_CAD_CONFIG"], "w").close()
        for name, text in (("bracket.scad", t.BRACKET_SCAD + "bracket();\n"), ("clip.scad", t.CLIP_SCAD)):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        subprocess.run(["openscad", "-o", os.path.join(tmp, "ref.stl"), os.path.join(tmp, "bracket.scad")],
                       check=True, capture_output=True)
        env["PARTSCREEN_PACK"] = os.path.join(tmp, "refs.pack")
        subprocess.run([cli, "enroll", "--out", env["PARTSCREEN_PACK"], os.path.join(tmp, "ref.stl")], check=True,
                       capture_output=True, env=env)
        print("| host | export | without add-on (ms, median) | with add-on (ms, median) | added |")
        print("| --- | --- | ---: | ---: | ---: |")
        js = os.path.join(tmp, "hf.json")
        wrapper = os.path.join(HERE, "openscad", "partscreen-openscad")
        clip = os.path.join(tmp, "clip.scad")
        subprocess.run(["hyperfine", "-N", "-w", "2", "-r", str(a.runs), "--export-json", js,
                        "openscad -o %s/a.stl %s" % (tmp, clip), "%s -o %s/b.stl %s" % (wrapper, tmp, clip)],
                       check=True, capture_output=True, env=env)
        r = json.load(open(js))["results"]
        w, g = r[0]["median"] * 1000, r[1]["median"] * 1000
        print("| openscad 2021.01 | clip.scad -> STL (whole run) | %.0f | %.0f | %+.0f |" % (w, g, g - w))
        for host, script, cmd in (("freecad 0.20", FREECAD, ["freecadcmd"]),
                                  ("blender 3.4", BLENDER, ["blender", "--background", "--factory-startup",
                                                           "--python-exit-code", "3", "--python"])):
            if not shutil.which(cmd[0]):
                continue
            path = os.path.join(tmp, "bench_" + host.split()[0] + ".py")  # not freecad.py: FreeCAD has a module of that name
            with open(path, "w") as f:
                f.write(script)
            e = dict(env, CAD_OUT=tmp, CAD_RUNS=str(a.runs), CAD_ADDONS=os.path.join(HERE, "blender"))
            if host.startswith("freecad"):
                home = os.path.join(tmp, "fchome")
                os.makedirs(os.path.join(home, ".local", "share", "FreeCAD", "Mod"), exist_ok=True)
                link = os.path.join(home, ".local", "share", "FreeCAD", "Mod", "PartScreen")
                if not os.path.exists(link):
                    os.symlink(os.path.join(HERE, "freecad", "PartScreen"), link)
                e["HOME"] = home
            r = subprocess.run(cmd + [path], capture_output=True, text=True, env=e)
            if not os.path.exists(os.path.join(tmp, "bench.json")):
                sys.exit("%s failed:\n%s\n%s" % (host, r.stdout[-3000:], r.stderr[-3000:]))
            res = json.load(open(os.path.join(tmp, "bench.json")))
            os.remove(os.path.join(tmp, "bench.json"))
            for ext in sorted({k.split()[0] for k in res}):
                w, g = res[ext + " without"], res[ext + " with"]
                print("| %s | %s (in process) | %.1f | %.1f | %+.1f |" % (host, ext.upper(), w, g, g - w))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

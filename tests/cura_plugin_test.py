#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Cura plugin (plugins/slicer/cura/PartscreenGate) with Debian's Cura 4.13, for real.

1. Cura itself, headless (`cura --headless`, QT_QPA_PLATFORM=offscreen) with a throwaway home:
   the gate and a test driver plugin (tests/data/cura/PartscreenGateDriver) are installed in
   its plugins folder, Uranium's PluginRegistry loads them, the driver adds a printer, loads a
   model, slices it with CuraEngine and writes the G-code through an output device.
2. The plugin's hooks driven directly with Uranium's own Scene, OutputDeviceManager and
   OutputDevice, on G-code sliced here by the installed CuraEngine
   (tests/data/gcode/cura_test_printer.def.json): the G-code output gate on its own.

Skipped (77) only when Cura is not installed. Environment (set by CMake): PARTSCREEN_CLI,
PARTSCREEN_CGAL_MESHES, PARTSCREEN_PLUGINS, PARTSCREEN_TEST_DATA.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

CLI = os.environ.get("PARTSCREEN_CLI", "")
MESHES = os.environ.get("PARTSCREEN_CGAL_MESHES", "")
HERE = os.path.dirname(os.path.abspath(__file__))
PLUGINS = os.environ.get("PARTSCREEN_PLUGINS", os.path.join(HERE, "..", "plugins", "slicer"))
DATA = os.environ.get("PARTSCREEN_TEST_DATA", os.path.join(HERE, "data"))
GATE_DIR = os.path.join(PLUGINS, "cura", "PartscreenGate")
DRIVER_DIR = os.path.join(DATA, "cura", "PartscreenGateDriver")
CURA = "/usr/bin/cura"
ENGINE = shutil.which("CuraEngine")
SKIP = 77


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(cmd, env=None, timeout=600):
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


def read_log(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


class Parts:
    """Reference and uploads at printable size (CGAL's sample meshes scaled to ~25 mm)."""

    def __init__(self, t):
        def variant(kind, out, src, seed=None):
            cmd = [CLI, "variant", "--kind", kind, "--out", os.path.join(t, out)]
            r = run(cmd + (["--seed", seed] if seed else []) + [src])
            assert r.returncode == 0, r.stderr
            return os.path.join(t, out + ".stl")

        self.pinion_ref = variant("unit_x25.4", "pinion_ref", os.path.join(MESHES, "pinion.off"))
        self.rotor_ref = variant("unit_x25.4", "rotor_ref", os.path.join(MESHES, "rotor.off"))
        self.flagged = variant("rigid", "pinion_rigid", self.pinion_ref, seed="3")  # moved and turned
        self.clean = variant("unit_x25.4", "turbine_mm", os.path.join(MESHES, "turbine.off"))
        self.pack = os.path.join(t, "refs.pack")
        r = run([CLI, "enroll", "--out", self.pack, "--category", "demo-gear", self.pinion_ref, self.rotor_ref])
        assert r.returncode == 0, r.stderr


class CuraHeadlessTest(unittest.TestCase):
    """Cura 4.13 itself, with the plugin installed the way a user installs it."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cura_plugin_test.")
        cls.parts = Parts(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def cura(self, model, **env):
        """One Cura session in a fresh home; returns (driver report, gate log, output path)."""
        d = tempfile.mkdtemp(dir=self.tmp)
        home = os.path.join(d, "home")
        plugins = os.path.join(home, ".local", "share", "cura", "4.13", "plugins")
        os.makedirs(plugins)
        os.makedirs(os.path.join(home, "run"), mode=0o700)
        # The plugin goes in with the same installer users run.
        r = run([os.path.join(PLUGINS, "cura", "install-cura-plugin"), "--plugins-dir", plugins])
        self.assertEqual(r.returncode, 0, r.stderr)
        shutil.copytree(DRIVER_DIR, os.path.join(plugins, "PartscreenGateDriver"))
        conf = os.path.join(home, ".config", "cura", "4.13")
        os.makedirs(conf)
        with open(os.path.join(conf, "cura.cfg"), "w") as f:
            # No GPU here: skip Uranium's OpenGL probe (headless Cura renders nothing).
            f.write("[general]\nversion = 7\n\n[metadata]\nsetting_version = 19\n\n"
                    "[view]\nopengl_version_detect = force_modern\n")
        out, report, log = (os.path.join(d, n) for n in ("out.gcode", "report.json", "gate.jsonl"))
        # PARTSCREEN_HOME stays: its trust store has the key that signed the test's pack.
        e = {k: v for k, v in os.environ.items() if not k.startswith("PARTSCREEN_") or k == "PARTSCREEN_HOME"}
        e.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                 XDG_DATA_HOME=os.path.join(home, ".local", "share"), XDG_CACHE_HOME=os.path.join(home, ".cache"),
                 XDG_RUNTIME_DIR=os.path.join(home, "run"), QT_QPA_PLATFORM="offscreen",
                 PARTSCREEN_PACK=self.parts.pack, PARTSCREEN_BIN=CLI, PARTSCREEN_LOG=log,
                 PARTSCREEN_CONTACT="prints@example.org", PARTSCREEN_DRIVER_MODEL=model,
                 PARTSCREEN_DRIVER_OUT=out, PARTSCREEN_DRIVER_REPORT=report, PARTSCREEN_DRIVER_TIMEOUT="240")
        e.update(env)
        try:
            r = run([CURA, "--headless"], env=e, timeout=400)
        except subprocess.TimeoutExpired:
            # Headless Cura 4.13 has hung once in its own start-up (no report, its driver's 240 s
            # timer never fired; the rerun took 45 s, under ASan): start it once more, without the
            # files the hung run may have left. A hang of ours would hang again.
            for f in (out, report, log):
                if os.path.exists(f):
                    os.remove(f)
            r = run([CURA, "--headless"], env=e, timeout=400)
        self.assertTrue(os.path.exists(report), "Cura wrote no report (exit %d):\n%s" % (r.returncode, r.stderr[-3000:]))
        with open(report) as f:
            rep = json.load(f)
        rep["_stderr"] = r.stderr
        return rep, read_log(log), out

    def events(self, rep, name):
        return [e for e in rep["events"] if len(e) > 1 and e[1] == name]

    def test_enrolled_part_is_stopped_and_nothing_is_written(self):
        rep, log, out = self.cura(self.parts.flagged)
        why = json.dumps({k: v for k, v in rep.items() if k != "_stderr"}, indent=1)
        self.assertEqual(rep["how"], "done", why)
        self.assertTrue(rep["gate_loaded"])
        self.assertEqual(self.events(rep, "initialized")[0][2], True)  # PluginRegistry: PartscreenGate active
        self.assertEqual(self.events(rep, "loaded")[0][2], 1)
        self.assertIn(4, [e[2] for e in self.events(rep, "backend_state")], why)  # BackendState.Error: slice stopped
        self.assertEqual(self.events(rep, "write_requested")[0][2], 0, why)  # the plate's G-code was dropped
        self.assertFalse(any(e[0] == "written" for e in rep["events"]), why)
        self.assertFalse(os.path.exists(out))
        self.assertTrue(rep["messages"], why)
        self.assertIn("partscreen blocked this print: a model on the build plate contains the enrolled reference "
                      "'pinion_ref' (demo-gear", rep["messages"][0])
        self.assertIn("prints@example.org", rep["messages"][0])
        self.assertEqual([(e["stage"], e["verdict"], e["decision"]) for e in log], [("model", "flagged", "blocked")])

    def test_clean_part_is_written_untouched(self):
        rep, log, out = self.cura(self.parts.clean)
        why = json.dumps({k: v for k, v in rep.items() if k != "_stderr"}, indent=1)
        self.assertEqual(rep["how"], "done", why)
        self.assertNotIn(4, [e[2] for e in self.events(rep, "backend_state")], why)
        requested = self.events(rep, "write_requested")[0]
        self.assertGreater(requested[2], 0)
        written = [e for e in rep["events"] if e[0] == "written"]
        self.assertEqual(len(written), 1, why)
        # Byte for byte what Cura's own G-code writer makes of the plate without the gate.
        self.assertEqual(written[0][3], requested[3])
        self.assertEqual(sha256(out), requested[3])
        self.assertEqual(rep["messages"], [])
        self.assertEqual([(e["stage"], e["verdict"], e["decision"]) for e in log],
                         [("model", "clear", "released"), ("gcode", "clear", "released")])

    def test_missing_partscreen_fails_closed(self):
        rep, log, out = self.cura(self.parts.clean, PARTSCREEN_BIN=os.path.join(self.tmp, "no-such-partscreen"))
        why = json.dumps({k: v for k, v in rep.items() if k != "_stderr"}, indent=1)
        self.assertFalse(any(e[0] == "written" for e in rep["events"]), why)
        self.assertFalse(os.path.exists(out))
        self.assertTrue(rep["messages"], why)
        self.assertIn("partscreen could not screen this print, so no G-code will be saved or sent", rep["messages"][0])
        self.assertIn("no-such-partscreen' was not found", rep["messages"][0])
        self.assertEqual({(e["verdict"], e["decision"]) for e in log}, {("error", "blocked")})


class OutputGateTest(unittest.TestCase):
    """The save/send hook on Uranium's real output classes, with G-code from the installed CuraEngine."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cura_output_gate_test.")
        cls.parts = Parts(cls.tmp)
        cls.gcode = {}
        for name, part in (("flagged", cls.parts.flagged), ("clean", cls.parts.clean)):
            out = os.path.join(cls.tmp, name + ".gcode")
            r = run([ENGINE, "slice", "-j", os.path.join(DATA, "gcode", "cura_test_printer.def.json"),
                     "-s", "center_object=true", "-o", out, "-l", part])
            assert r.returncode == 0 and os.path.getsize(out) > 0, r.stderr[-2000:]
            with open(out, encoding="utf-8") as f:
                cls.gcode[name] = f.read()
        sys.path.insert(0, os.path.dirname(GATE_DIR))
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        import PartscreenGate.PartscreenGate as plugin
        from UM.OutputDevice.OutputDevice import OutputDevice
        from UM.OutputDevice.OutputDeviceManager import OutputDeviceManager
        from UM.Scene.Scene import Scene
        cls.plugin, cls.OutputDevice, cls.Manager, cls.Scene = plugin, OutputDevice, OutputDeviceManager, Scene

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.log = os.path.join(tempfile.mkdtemp(dir=self.tmp), "gate.jsonl")
        os.environ.update(PARTSCREEN_PACK=self.parts.pack, PARTSCREEN_BIN=CLI, PARTSCREEN_LOG=self.log)
        for k in ("PARTSCREEN_FAIL_OPEN", "PARTSCREEN_BLOCK_REVIEW", "PARTSCREEN_CONTACT"):
            os.environ.pop(k, None)

    def gated_write(self, gcode):
        """A G-code opened in Cura (no models, scene.gcode_dict set as GCodeReader does) sent to a device."""
        writes = []

        class Device(self.OutputDevice):
            def requestWrite(self, nodes, file_name=None, limit_mimetypes=False, file_handler=None,
                             filter_by_machine=False, **kwargs):
                writes.append((file_name, kwargs))

        scene = self.Scene()
        scene.gcode_dict = {0: [gcode]}
        manager = self.Manager()
        manager.addOutputDevice(Device("test_device"))
        gate = self.plugin.PartscreenGate()
        gate.run_async = False
        gate.attach(None, manager, scene)
        manager.getOutputDevice("test_device").requestWrite([scene.getRoot()], "job", extra="x")
        return writes, gate

    def test_enrolled_part_gcode_is_not_written(self):
        # CuraEngine's G-code of the moved pinion scores as review (0.55 with this printer
        # definition), not flagged: the engine's G-code rebuild sees less of it than of the mesh
        # (the model hook above flags the mesh at 1.00). Review is released by default and
        # blocked with block_review; both are the plugin's policy, checked here.
        verdict = json.loads(run([CLI, "scan", "--json", "--pack", self.parts.pack,
                                  os.path.join(self.tmp, "flagged.gcode")]).stdout)["verdict"]
        self.assertIn(verdict, ("review", "flagged"))
        os.environ["PARTSCREEN_BLOCK_REVIEW"] = "yes"
        writes, gate = self.gated_write(self.gcode["flagged"])
        self.assertEqual(writes, [])
        said = "blocked this print: the sliced G-code contains" if verdict == "flagged" else \
            "held this print for review: the sliced G-code resembles"
        self.assertIn("partscreen %s the enrolled reference 'pinion_ref'" % said, gate.shown_messages[-1])
        self.assertEqual([(e["stage"], e["verdict"], e["decision"]) for e in read_log(self.log)],
                         [("gcode", verdict, "blocked")])

    def test_clean_gcode_is_passed_on_unchanged(self):
        writes, gate = self.gated_write(self.gcode["clean"])
        self.assertEqual(writes, [("job", {"extra": "x"})])
        self.assertEqual(gate.shown_messages, [])
        entry = read_log(self.log)[0]
        self.assertEqual((entry["verdict"], entry["decision"]), ("clear", "released"))
        self.assertEqual(entry["files"][0]["sha256"], hashlib.sha256(self.gcode["clean"].encode()).hexdigest())

    def test_errors_fail_closed_and_fail_open_is_opt_in(self):
        os.environ["PARTSCREEN_PACK"] = os.path.join(self.tmp, "missing.pack")
        writes, gate = self.gated_write(self.gcode["clean"])
        self.assertEqual(writes, [])
        self.assertIn("missing.pack does not exist", gate.shown_messages[-1])
        os.environ["PARTSCREEN_FAIL_OPEN"] = "yes"
        writes, gate = self.gated_write(self.gcode["clean"])
        self.assertEqual(len(writes), 1)
        self.assertIn("released it unscreened (fail_open)", gate.shown_messages[-1])
        self.assertEqual([e["decision"] for e in read_log(self.log)], ["blocked", "released_unscreened"])


if __name__ == "__main__":
    if not os.path.exists(CURA):
        print("cura is not installed: skipping the Cura plugin tests")
        sys.exit(SKIP)
    if not (os.access(CLI, os.X_OK) and os.path.isdir(MESHES) and ENGINE):
        print("PARTSCREEN_CLI, PARTSCREEN_CGAL_MESHES and CuraEngine are needed")
        sys.exit(2)
    unittest.main(verbosity=2)

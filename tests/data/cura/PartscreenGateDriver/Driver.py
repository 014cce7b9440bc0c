# SPDX-License-Identifier: GPL-3.0-or-later
"""Drives a real Cura session for tests/cura_plugin_test.py; installed only into a test's plugin folder.

PARTSCREEN_DRIVER_MODEL: the model to load; PARTSCREEN_DRIVER_OUT: where the test output device
writes G-code; PARTSCREEN_DRIVER_REPORT: JSON written at the end (events, messages, whether the
gate was loaded). Cura quits when done or after PARTSCREEN_DRIVER_TIMEOUT seconds.
"""

import hashlib
import io
import json
import os
import time

from PyQt5.QtCore import QTimer, QUrl

from UM.Extension import Extension
from UM.Logger import Logger
from UM.OutputDevice.OutputDevice import OutputDevice
from UM.PluginRegistry import PluginRegistry
from UM.Scene.Iterator.DepthFirstIterator import DepthFirstIterator


class FileDevice(OutputDevice):
    """Writes the plate's G-code with Cura's own GCodeWriter plugin, like "Save to Disk" does."""

    def __init__(self, path, events):
        super().__init__("partscreen_test_device")
        self._path, self._events = path, events
        self.setPriority(-1)

    def requestWrite(self, nodes, file_name=None, limit_mimetypes=False, file_handler=None, filter_by_machine=False,
                     **kwargs):
        writer = PluginRegistry.getInstance().getPluginObject("GCodeWriter")
        with open(self._path, "w", encoding="utf-8") as f:
            ok = writer.write(f, nodes)
        with open(self._path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        self._events.append(["written", bool(ok), os.path.getsize(self._path), digest])


class Driver(Extension):
    def __init__(self):
        super().__init__()
        from cura.CuraApplication import CuraApplication
        self._app = CuraApplication.getInstance()
        self._events = []
        self._started = time.monotonic()
        self._app.initializationFinished.connect(self._go)

    def _event(self, *what):
        self._events.append([round(time.monotonic() - self._started, 2)] + list(what))
        Logger.log("i", "partscreen driver: %s", what)

    def _go(self):
        timeout = float(os.environ.get("PARTSCREEN_DRIVER_TIMEOUT", "240"))
        QTimer.singleShot(int(timeout * 1000), lambda: self._finish("timeout"))
        app = self._app
        self._event("initialized", PluginRegistry.getInstance().isActivePlugin("PartscreenGate"))
        if app.getGlobalContainerStack() is None:
            app.getMachineManager().addMachine("creality_ender3")
        self._event("machine", app.getGlobalContainerStack() is not None)
        self._device = FileDevice(os.environ["PARTSCREEN_DRIVER_OUT"], self._events)
        app.getOutputDeviceManager().addOutputDevice(self._device)
        backend = app.getBackend()
        backend.backendStateChange.connect(self._onState)
        app.fileCompleted.connect(self._onLoaded)
        app.readLocalFile(QUrl.fromLocalFile(os.environ["PARTSCREEN_DRIVER_MODEL"]))

    def _onLoaded(self, *args):
        nodes = [n for n in DepthFirstIterator(self._app.getController().getScene().getRoot())
                 if n.callDecoration("isSliceable")]
        self._event("loaded", len(nodes))
        QTimer.singleShot(500, self._app.getBackend().forceSlice)

    def _onState(self, state):
        self._event("backend_state", int(state))
        if int(state) == 3:  # Done
            QTimer.singleShot(100, self._write)
        elif int(state) == 4:  # Error: the gate stopped the slice
            QTimer.singleShot(3000, self._write)

    def _write(self):
        if getattr(self, "_wrote", False):
            return
        self._wrote = True
        root = self._app.getController().getScene().getRoot()
        gcode = getattr(self._app.getController().getScene(), "gcode_dict", {})
        # What Cura's own G-code writer makes of this plate, to compare with what the device gets.
        expected = io.StringIO()
        PluginRegistry.getInstance().getPluginObject("GCodeWriter").write(expected, [root])
        self._event("write_requested", sum(len(v) for v in gcode.values()),
                    hashlib.sha256(expected.getvalue().encode("utf-8")).hexdigest())
        try:
            self._device.requestWrite([root], "job")
        except Exception as e:
            self._event("write_raised", str(e))
        self._poll = QTimer()
        self._poll.timeout.connect(self._check)
        self._poll.start(200)

    def _check(self):
        gate = PluginRegistry.getInstance().getPluginObject("PartscreenGate") \
            if PluginRegistry.getInstance().isActivePlugin("PartscreenGate") else None
        if any(e[0] == "written" for e in self._events) or (gate is not None and gate.shown_messages):
            QTimer.singleShot(1000, lambda: self._finish("done"))  # a late write would show up here
            self._poll.stop()

    def _finish(self, how):
        if getattr(self, "_finished", False):
            return
        self._finished = True
        gate = PluginRegistry.getInstance().getPluginObject("PartscreenGate") \
            if PluginRegistry.getInstance().isActivePlugin("PartscreenGate") else None
        report = {"how": how, "events": self._events,
                  "gate_loaded": gate is not None,
                  "messages": list(getattr(gate, "shown_messages", [])),
                  "last_record": getattr(gate, "_last_record", None)}
        with open(os.environ["PARTSCREEN_DRIVER_REPORT"], "w") as f:
            json.dump(report, f, indent=1, default=str)
        os._exit(0)

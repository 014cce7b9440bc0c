# SPDX-License-Identifier: GPL-3.0-or-later
"""partscreen gate for Cura 4.13 (Uranium API 7; Cura 5's API 8 where it is the same).

Two hooks, both on Cura's own objects:

  slicing starts   CuraEngineBackend.slicingStarted: the meshes that are about to be sent to
                   CuraEngine are copied (world transform, Z up, as StartSliceJob does) into
                   binary STLs and screened in a background Job while CuraEngine slices. A
                   blocked verdict stops the slice, drops the plate's G-code and shows why.
  save / send      every OutputDevice's requestWrite (save to disk, removable drive, USB and
                   network printers, present and future: outputDevicesChanged) is wrapped: the
                   plate's G-code is written to a temp file and screened, and the original
                   requestWrite runs only when both the models and the G-code are released.

Screening runs next to slicing rather than before it so that a clear job costs no extra wait;
nothing can leave Cura before both verdicts are in, so the order does not weaken the gate.
Verdicts are cached by content hash, so saving the same G-code twice screens it once.

Configuration: environment (PARTSCREEN_PACK, PARTSCREEN_BIN, PARTSCREEN_BLOCK_REVIEW,
PARTSCREEN_FAIL_OPEN, PARTSCREEN_LOG, PARTSCREEN_CONTACT, PARTSCREEN_TIMEOUT) or Cura's
preferences (cura.cfg, section [partscreen]: pack, bin, ...). Errors fail closed.
"""

import functools
import hashlib
import os
import re
import shutil
import tempfile
import threading

from UM.Extension import Extension
from UM.Job import Job
from UM.Logger import Logger
from UM.Message import Message
from UM.Scene.Iterator.DepthFirstIterator import DepthFirstIterator

from . import screening

try:  # Cura 4.x and 5.x both keep BackendState here
    from UM.Backend.Backend import BackendState
except ImportError:  # pragma: no cover
    BackendState = None

TITLE = "partscreen"


class _ScreenJob(Job):
    """Runs one screening function on Uranium's job queue (worker thread)."""

    def __init__(self, function, callback):
        super().__init__()
        self._function = function
        self.callback = callback

    def run(self):
        try:
            self.setResult(self._function())
        except Exception as e:  # a bug here must block, not release
            Logger.logException("e", "partscreen gate: screening raised")
            self.setResult({"decision": "blocked", "verdict": "error", "error": str(e),
                            "message": screening.error_message("internal error: %s" % e, None)})


def scene_meshes(root):
    """(name, triangles) of every sliceable mesh under root, in the frame CuraEngine receives.

    Every build plate and every mesh type (support, infill and cutting meshes too) is included:
    screening more than is sliced can only block more."""
    import numpy
    out = []
    for node in DepthFirstIterator(root):
        mesh = node.getMeshData()
        if not node.callDecoration("isSliceable") or mesh is None or mesh.getVertices() is None:
            continue
        world = node.getWorldTransformation()
        verts = mesh.getVertices().dot(world.getTransposed().getData()[0:3, 0:3]) + world.getData()[:3, 3]
        verts = numpy.array(verts, dtype=numpy.float32)
        # Cura's scene is Y up; CuraEngine and STL are Z up (same swap as StartSliceJob).
        verts[:, [1, 2]] = verts[:, [2, 1]]
        verts[:, 1] *= -1
        indices = mesh.getIndices()
        tri = numpy.take(verts, indices.flatten(), axis=0) if indices is not None else verts
        out.append((node.getName() or "mesh", tri.reshape(-1, 3, 3)))
    return out


def meshes_key(meshes):
    h = hashlib.sha256()
    for name, tri in meshes:
        h.update(name.encode("utf-8", "replace") + b"\0")
        h.update(tri.tobytes())
    return h.hexdigest()


class PartscreenGate(Extension):
    def __init__(self, application=None):
        super().__init__()
        self._app = application
        self._backend = None
        self._scene = None
        self._device_manager = None
        self._lock = threading.Lock()
        self._mesh_results = {}   # meshes key -> decision record
        self._gcode_results = {}  # G-code sha256 -> decision record
        self._pending = {}        # meshes key -> [callbacks waiting for that verdict]
        self._jobs = set()
        self._blocked = {}        # meshes key -> the record that blocked it (errors too)
        self._sliced_key = None   # the meshes of the last slice
        self._sliced_meshes = None
        self.run_async = True     # tests may run the screening inline
        self.shown_messages = []  # every message shown, newest last (for the log and tests)
        self.setMenuName("partscreen")
        self.addMenuItem("Show the last decision", self._showLastDecision)
        self._last_record = None
        app = self._application()
        if app is not None:
            prefs = app.getPreferences()
            for key in screening.KEYS:
                prefs.addPreference("partscreen/" + key, "")
            signal = getattr(app, "initializationFinished", None)
            if signal is not None:
                signal.connect(self._onInitialized)

    # --- wiring -------------------------------------------------------------------------

    def _application(self):
        if self._app is None:
            try:
                from cura.CuraApplication import CuraApplication
                self._app = CuraApplication.getInstance()
            except Exception:
                self._app = None
        return self._app

    def _onInitialized(self):
        app = self._application()
        self.attach(app.getBackend(), app.getOutputDeviceManager(), app.getController().getScene())

    def attach(self, backend, device_manager, scene):
        """Connects the hooks. Cura calls this once it is up; tests call it with their own objects."""
        self._backend, self._device_manager, self._scene = backend, device_manager, scene
        if backend is not None and hasattr(backend, "slicingStarted"):
            backend.slicingStarted.connect(self._onSlicingStarted)
        else:
            Logger.log("w", "partscreen gate: the backend has no slicingStarted signal; only output is screened")
        if device_manager is not None:
            device_manager.outputDevicesChanged.connect(self._wrapDevices)
            self._wrapDevices()
        Logger.log("i", "partscreen gate: attached (pack %s)", self.config()["pack"])

    def config(self):
        app = self._application()
        prefs = None
        if app is not None:
            p = app.getPreferences()
            prefs = lambda key: p.getValue(key) if p.getValue(key) is not None else None
        return screening.load_config(prefs)

    def _wrapDevices(self, *args):
        for device in list(self._device_manager.getOutputDevices()):
            if getattr(device, "_partscreen_original_write", None) is not None:
                continue
            device._partscreen_original_write = device.requestWrite
            device.requestWrite = functools.partial(self._gatedWrite, device)
            Logger.log("d", "partscreen gate: guarding output device %s", device.getId())

    def _run(self, function, callback):
        if not self.run_async:
            callback(function())
            return
        job = _ScreenJob(function, callback)
        # Job.finished is an Auto signal: emitted on the worker thread, delivered on Cura's main
        # thread. Uranium holds slots weakly, so the slot is a method of this long-lived object
        # and the job is kept here until it has reported.
        with self._lock:
            self._jobs.add(job)
        job.finished.connect(self._jobFinished)
        job.start()

    def _jobFinished(self, job):
        with self._lock:
            self._jobs.discard(job)
        job.callback(job.getResult())

    def _show(self, text, error=True):
        self.shown_messages.append(text)
        Logger.log("w" if error else "i", "partscreen gate: %s", text)
        try:
            kind = getattr(Message, "MessageType", None)
            extra = {"message_type": kind.ERROR} if (kind is not None and error) else {}
            Message(text, lifetime=0, title=TITLE, **extra).show()
        except Exception:  # no GUI (tests, headless): the log line above is the message
            pass

    def _showLastDecision(self):
        r = self._last_record
        if r is None:
            self._show("No job has been screened since Cura started.", error=False)
        else:
            self._show("Last decision: %s (%s, verdict %s)%s" % (r.get("decision"), r.get("stage"), r.get("verdict"),
                                                                 (": " + r["message"]) if r.get("message") else ""),
                       error=False)

    # --- models, when slicing starts ----------------------------------------------------

    def _onSlicingStarted(self, *args):
        meshes = scene_meshes(self._scene.getRoot())
        key = meshes_key(meshes)
        self._sliced_key, self._sliced_meshes = key, meshes
        self.withMeshVerdict(key, meshes, self._afterMeshVerdict)

    def withMeshVerdict(self, key, meshes, callback):
        """Calls callback(record) with the models' verdict: at once when known, else after screening."""
        with self._lock:
            known = self._mesh_results.get(key)
            if known is None:
                waiting = self._pending.get(key)
                self._pending.setdefault(key, []).append(callback)
                if waiting is not None:
                    return  # already being screened
        if known is not None:
            callback(known)
            return
        self._run(functools.partial(self.screenMeshes, meshes, key), functools.partial(self._meshScreened, key))

    def _meshScreened(self, key, record):
        with self._lock:
            if record.get("verdict") != "error":  # errors are retried next time
                self._mesh_results[key] = record
            # ...but until then the scene stays blocked, errors included.
            if record.get("decision") == "blocked":
                self._blocked[key] = record
            else:
                self._blocked.pop(key, None)
            callbacks = self._pending.pop(key, [])
        self._last_record = record
        for cb in callbacks:
            cb(record)

    def screenMeshes(self, meshes, key=None):
        """Writes the meshes to binary STLs and screens them as one job (blocking; any thread)."""
        if not meshes:
            # A G-code file opened in Cura has no models: its G-code screen decides alone.
            return {"stage": "model", "verdict": "none", "decision": "released", "matches": [], "message": None,
                    "meshes_key": key}
        cfg = self.config()
        work = tempfile.mkdtemp(prefix="partscreen-cura-")
        try:
            files = []
            try:
                for i, (name, tri) in enumerate(meshes):
                    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.splitext(name)[0])[:60] or "mesh"
                    path = os.path.join(work, "%02d_%s.stl" % (i, safe))
                    screening.write_binary_stl(path, tri)
                    files.append(path)
            except (OSError, screening.GateError) as e:
                return self._errorRecord(cfg, "model", "cannot write the models for screening: %s" % e)
            return screening.screen_files(cfg, files, "model", "a model on the build plate",
                                          {"meshes": [name for name, _ in meshes], "meshes_key": key})
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _errorRecord(self, cfg, stage, error):
        decision = "released_unscreened" if cfg["fail_open"] else "blocked"
        return {"stage": stage, "verdict": "error", "decision": decision, "error": error, "matches": [],
                "message": screening.error_message(error, cfg["contact"])}

    def _afterMeshVerdict(self, record):
        if record.get("decision") == "blocked" and record.get("meshes_key", self._sliced_key) == self._sliced_key:
            self.blockSlice(record)

    def blockSlice(self, record):
        """Stops CuraEngine, drops the G-code of every plate and says why."""
        backend = self._backend
        if backend is not None:
            try:
                backend.stopSlicing()
            except Exception:
                Logger.logException("w", "partscreen gate: stopSlicing failed")
            if BackendState is not None and hasattr(backend, "setState"):
                backend.setState(BackendState.Error)
        gcode = getattr(self._scene, "gcode_dict", None) if self._scene is not None else None
        if isinstance(gcode, dict):
            for plate in list(gcode):
                gcode[plate] = []
        self._show(record["message"])

    # --- G-code, when it is saved or sent -----------------------------------------------

    def currentGCode(self):
        """The active plate's G-code chunks (Cura keeps them in scene.gcode_dict), or None."""
        gcode = getattr(self._scene, "gcode_dict", None)
        if not gcode:
            return None
        plate = 0
        app = self._application()
        try:
            plate = app.getMultiBuildPlateModel().activeBuildPlate
        except Exception:
            pass
        chunks = gcode.get(plate)
        return chunks if chunks else None

    def screenGCode(self, chunks):
        """Screens G-code chunks (blocking; any thread); cached by the text's sha256."""
        h = hashlib.sha256()
        for c in chunks:
            h.update(c.encode("utf-8", "replace"))
        digest = h.hexdigest()
        with self._lock:
            known = self._gcode_results.get(digest)
        if known is not None:
            return known
        cfg = self.config()
        work = tempfile.mkdtemp(prefix="partscreen-cura-")
        try:
            path = os.path.join(work, "job.gcode")
            try:
                screening.write_gcode(path, chunks)
            except OSError as e:
                return self._errorRecord(cfg, "gcode", "cannot write the G-code for screening: %s" % e)
            record = screening.screen_files(cfg, [path], "gcode", "the sliced G-code")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if record["verdict"] != "error":
            with self._lock:
                self._gcode_results[digest] = record
        return record

    def _gatedWrite(self, device, nodes, file_name=None, limit_mimetypes=False, file_handler=None,
                    filter_by_machine=False, **kwargs):
        original = device._partscreen_original_write
        chunks = self.currentGCode()
        if chunks is None:
            # Nothing sliced. A scene whose models were blocked writes nothing at all (Cura's
            # G-code writer would save an empty job); otherwise this is a model or project export.
            with self._lock:
                known = self._blocked.get(meshes_key(scene_meshes(self._scene.getRoot())))
            if known is not None:
                self._show(known["message"])
                return None
            return original(nodes, file_name, limit_mimetypes, file_handler, filter_by_machine, **kwargs)
        chunks = list(chunks)
        key, meshes = self._sliced_key, self._sliced_meshes
        if key is None:  # sliced before the gate was attached: screen the scene as it is now
            meshes = scene_meshes(self._scene.getRoot())
            key = meshes_key(meshes)
        progress = None
        try:
            progress = Message("Screening the print job with partscreen...", lifetime=0, dismissable=False,
                               progress=-1, title=TITLE)
            progress.show()
        except Exception:
            progress = None

        def release_or_block(mesh_record):
            def after_gcode(gcode_record):
                if progress is not None:
                    progress.hide()
                self._last_record = gcode_record
                for record in (mesh_record, gcode_record):
                    if record.get("decision") == "blocked":
                        self._show(record["message"])
                        return
                for record in (mesh_record, gcode_record):
                    if record.get("decision") == "released_unscreened":
                        self._show(record["message"], error=False)
                original(nodes, file_name, limit_mimetypes, file_handler, filter_by_machine, **kwargs)

            if mesh_record.get("decision") == "blocked":
                after_gcode({"decision": "released", "stage": "gcode", "verdict": "not screened"})
                return
            self._run(functools.partial(self.screenGCode, chunks), after_gcode)

        self.withMeshVerdict(key, meshes, release_or_block)

# SPDX-License-Identifier: GPL-3.0-or-later
"""Guards FreeCAD's export entry points with partscreen.

FreeCAD 0.20 exports through module-level `export(objects, filename, ...)` functions: the GUI's
File > Export (Gui::Application::exportTo) runs `import MODULE` and `MODULE.export(__objs__,
u"FILE")` for the module registered with FreeCAD.addExportType for the chosen format, and
scripts call the same functions. The modules behind the formats screened here:

  Mesh        STL, 3MF, OBJ, AMF, PLY, OFF, SMF, BMS      (Mesh/Init.py)
  Import      STEP (FreeCADCmd)                          (Part/Init.py)
  ImportGui   STEP (GUI: Import/InitGui.py swaps Import for ImportGui), glTF
  Part        BREP, IGES (and STEP when called directly)
  importOBJ   OBJ, the Arch module's writer
  stepZ       compressed STEP (.stpz)

Each `export` is replaced, when its module is first imported (a sys.meta_path hook, so FreeCAD
starts no slower), by a wrapper that tessellates the objects with Mesh.export into a temporary
STL (the tolerance the real export would use: a Mesh export's own arguments, otherwise the
Mesh preference MaxDeviationExport, default 0.1 mm), screens it, and only then calls the
original. A blocked export raises ExportBlocked (scripts) after showing a dialog (GUI); no file
is written.

Not wrapped (C++ methods, which Python cannot replace): Part.Shape.exportStl/exportStep/
exportBrep, Mesh.Mesh.write and the Mesh workbench's own "Export mesh" command (which calls
Mesh.write). The guard stops careless exports in managed installs; it is not a sandbox.
"""

import importlib.abc
import importlib.util
import os
import shutil
import sys
import tempfile

import FreeCAD

import partscreen_cadguard as guard
from partscreen_cadguard import ExportBlocked  # noqa: re-exported for scripts

HERE = os.path.dirname(os.path.abspath(__file__))
ICON = os.path.join(HERE, "Resources", "icons", "partscreen.svg")
COMMAND = "PartScreen_ScreenSelection"
GUARDED = ("Mesh", "Import", "ImportGui", "Part", "importOBJ", "stepZ")
MESH_PREFS = "User parameter:BaseApp/Preferences/Mod/Mesh"

_original_mesh_export = None
_gui = False


def host_name():
    return "freecad " + ".".join(str(v) for v in FreeCAD.Version()[:3])


def _mesh_export():
    """The unwrapped Mesh.export: the tessellator for screening."""
    global _original_mesh_export
    if _original_mesh_export is None:
        import Mesh
        _original_mesh_export = getattr(Mesh.export, "__wrapped__", Mesh.export)
    return _original_mesh_export


def _as_list(objects):
    if objects is None:
        return []
    if isinstance(objects, (list, tuple)):
        return list(objects)
    return [objects]


def tessellate(objects, path, mesh_args=(), mesh_kwargs=None):
    """Writes `objects` as an STL; returns its triangle count (0: nothing solid to screen)."""
    args = tuple(mesh_args)
    kwargs = dict(mesh_kwargs or {})
    if not args and "tolerance" not in kwargs:
        kwargs["tolerance"] = FreeCAD.ParamGet(MESH_PREFS).GetFloat("MaxDeviationExport", 0.1)
    kwargs.pop("exportAmfCompressed", None)
    _mesh_export()(_as_list(objects), path, *args[:1], **kwargs)
    if not os.path.exists(path):
        return 0
    import Mesh
    return Mesh.Mesh(path).CountFacets


def screen_objects(objects, output, action="export", mesh_args=(), mesh_kwargs=None):
    """Tessellates and screens `objects`; returns a partscreen_cadguard.Decision (never raises for
    a screening problem: the decision says blocked and why)."""
    work = tempfile.mkdtemp(prefix="partscreen-freecad-")
    try:
        stl = os.path.join(work, (os.path.splitext(os.path.basename(output or "selection"))[0] or "part") + ".stl")
        try:
            triangles = tessellate(objects, stl, mesh_args, mesh_kwargs)
        except Exception as e:  # a shape Mesh.export cannot mesh is not released unscreened
            return guard.screen([], host_name(), output, action,
                                failed="cannot tessellate the objects for screening: %s" % e)
        if triangles == 0:
            return guard.screen([], host_name(), output, action,
                                failed="the objects have no surface to screen (nothing solid to export?)")
        return guard.screen([stl], host_name(), output, action)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def show_dialog(title, text, critical=True):
    if not _gui:
        return
    try:
        from PySide2 import QtWidgets
    except ImportError:
        from PySide import QtGui as QtWidgets
    import FreeCADGui
    box = QtWidgets.QMessageBox.critical if critical else QtWidgets.QMessageBox.information
    box(FreeCADGui.getMainWindow(), title, text)


def guarded(original, module_name):
    def export(objects, filename, *args, **kwargs):
        mesh_args, mesh_kwargs = (args, kwargs) if module_name == "Mesh" else ((), {})
        decision = screen_objects(objects, filename, "export", mesh_args, mesh_kwargs)
        if not decision.allowed:
            FreeCAD.Console.PrintError(decision.message + "\n")
            show_dialog("partscreen: export blocked", decision.message)
            raise ExportBlocked(decision)
        if decision.message:
            FreeCAD.Console.PrintWarning(decision.message + "\n")
        return original(objects, filename, *args, **kwargs)

    export.__wrapped__ = original
    export.__doc__ = (original.__doc__ or "") + "\n(screened by partscreen before writing)"
    export.partscreen_guard = module_name
    return export


def patch(module):
    fn = getattr(module, "export", None)
    if fn is None or getattr(fn, "partscreen_guard", None):
        return
    module.export = guarded(fn, module.__name__)


class _Loader(importlib.abc.Loader):
    """Runs the real loader, then guards the module's export before anyone else sees it."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        patch(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self):
        self._busy = set()

    def find_spec(self, name, path=None, target=None):
        if name not in GUARDED or name in self._busy:
            return None
        self._busy.add(name)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._busy.discard(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader)
        return spec


def install():
    """Called by Init.py. Idempotent."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
    for name in GUARDED:
        if name in sys.modules:
            patch(sys.modules[name])


class ScreenSelectionCommand:
    def GetResources(self):
        return {"MenuText": "Screen selection", "Pixmap": ICON,
                "ToolTip": "Screen the selected objects (or all visible ones) with partscreen, without exporting"}

    def IsActive(self):
        return FreeCAD.ActiveDocument is not None

    def Activated(self):
        import FreeCADGui
        objects = FreeCADGui.Selection.getSelection() or [
            o for o in FreeCAD.ActiveDocument.Objects
            if (hasattr(o, "Shape") or hasattr(o, "Mesh")) and getattr(o, "Visibility", True)]
        decision = screen_selection(objects)
        FreeCAD.Console.PrintMessage(summary(decision) + "\n")
        show_dialog("partscreen", summary(decision), critical=not decision.allowed)


def screen_selection(objects):
    return screen_objects(objects, None, "screen_selection")


def summary(decision):
    if decision.message:
        return decision.message.replace("No file was written. ", "")
    return "partscreen: clear (%s); nothing enrolled was found." % (
        ", ".join("%s %.2f" % (m["reference"], m["score"]) for m in decision.record["matches"]) or "no matches")


def install_gui():
    """Called by InitGui.py."""
    global _gui
    import FreeCADGui
    _gui = True
    FreeCADGui.addCommand(COMMAND, ScreenSelectionCommand())
    # FreeCAD 1.x can add the command to every workbench's Tools menu; 0.20 has no manipulators,
    # so there it lives in the PartScreen workbench.
    if hasattr(FreeCADGui, "addWorkbenchManipulator"):
        class _Manipulator:
            def modifyMenuBar(self):
                return [{"append": COMMAND, "menuItem": "Std_DlgMacroRecord"}]
        FreeCADGui.addWorkbenchManipulator(_Manipulator())

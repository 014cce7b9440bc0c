# SPDX-License-Identifier: GPL-3.0-or-later
"""PartScreen export guard for Blender: screens the file an exporter writes before it is kept.

The STL, PLY and OBJ exporters of Blender 3.4 (io_mesh_stl, io_mesh_ply, io_scene_obj) and the
3MF exporter when its add-on is installed (export_mesh.threemf) are Python operators: this
add-on replaces each registered class's execute() with one that lets the real
exporter write into a private folder next to the chosen file (same file name, so the bytes are
the ones the exporter would have written), screens what it wrote with partscreen, and moves it
into place only when it is released. A blocked export is cancelled with an error report and
leaves no file. Unregistering restores the original operators.

Not guarded: C++ exporters, which Python cannot subclass: wm.obj_export (the new OBJ writer,
File > Export > Wavefront in 3.2+; the guarded legacy one is export_scene.obj) and, in Blender
4.x, wm.stl_export and wm.ply_export, which replace the Python STL and PLY add-ons (4.1+).

Configuration: environment / ~/.config/partscreen/cad.conf (see partscreen_cadguard.py), then
this add-on's preferences (pack, partscreen program).
"""

import os
import shutil

import bpy

from . import partscreen_cadguard as guard

bl_info = {
    "name": "PartScreen export guard",
    "author": "partscreen developers",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "File > Export (STL, PLY, OBJ legacy, 3MF)",
    "description": "Screens exported parts with partscreen and blocks enrolled reference parts",
    "category": "Import-Export",
}

# operator id -> the file extensions it writes that carry geometry (an OBJ's .mtl does not)
GUARDED = {
    "export_mesh.stl": (".stl",),
    "export_mesh.ply": (".ply",),
    "export_scene.obj": (".obj",),
    "export_mesh.threemf": (".3mf",),
}
_replaced = {}  # idname -> (operator class, its own execute)


def _rna_class(idname):
    module, name = idname.split(".")
    return getattr(bpy.types, "%s_OT_%s" % (module.upper(), name), None)


class PartScreenPreferences(bpy.types.AddonPreferences):
    bl_idname = __name__
    pack: bpy.props.StringProperty(name="Signature pack", subtype="FILE_PATH",
                                   description="Used when PARTSCREEN_PACK and cad.conf do not name one")
    program: bpy.props.StringProperty(name="partscreen program", subtype="FILE_PATH",
                                      description="Used when PARTSCREEN_BIN and cad.conf do not name one")

    def draw(self, context):
        self.layout.prop(self, "pack")
        self.layout.prop(self, "program")


def _preferences():
    try:
        prefs = bpy.context.preferences.addons[__name__].preferences
        return {"pack": bpy.path.abspath(prefs.pack) if prefs.pack else None,
                "bin": bpy.path.abspath(prefs.program) if prefs.program else None}
    except (KeyError, AttributeError):
        return None


def guarded_execute(self, context, original_execute, extensions):
    target = bpy.path.abspath(self.filepath)
    work = guard.private_dir(target)
    try:
        self.filepath = os.path.join(work, os.path.basename(target))
        try:
            result = original_execute(self, context)
        finally:
            self.filepath = target
        if "FINISHED" not in result:
            return result
        written = sorted(os.listdir(work))
        meshes = [os.path.join(work, n) for n in written if os.path.splitext(n)[1].lower() in extensions]
        decision = guard.screen(meshes, "blender " + bpy.app.version_string, target, "export",
                                overrides=_preferences()) if meshes else None
        if decision is not None and not decision.allowed:
            self.report({"ERROR"}, decision.message)
            return {"CANCELLED"}
        if decision is not None and decision.message:
            self.report({"WARNING"}, decision.message)
        for n in written:
            os.replace(os.path.join(work, n), os.path.join(os.path.dirname(target), n))
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _make_execute(original, extensions):
    # Exactly (self, context): Blender checks an operator method's argument count.
    def execute(self, context):
        return guarded_execute(self, context, original, extensions)

    execute.partscreen_guarded = True
    execute.__wrapped__ = original
    return execute


def guard_operators():
    """Guards every listed exporter registered now; returns the ids guarded. The registered class's
    execute is replaced in place (Blender looks it up on each call), so the exporter add-on's own
    unregister keeps working."""
    done = []
    for idname, extensions in GUARDED.items():
        cls = _rna_class(idname)
        execute = getattr(cls, "execute", None) if cls is not None else None
        if execute is None:
            continue
        if not getattr(execute, "partscreen_guarded", False):
            guarded = _make_execute(execute, extensions)
            _replaced[idname] = (cls, execute)
            cls.execute = guarded
        done.append(idname)
    return done


def restore_operators():
    for idname, (cls, execute) in list(_replaced.items()):
        if getattr(cls.execute, "partscreen_guarded", False):
            cls.execute = execute
        _replaced.pop(idname)


@bpy.app.handlers.persistent
def _reguard(*_args):
    # An exporter add-on enabled or reloaded after us registers its own class again.
    guard_operators()


def register():
    bpy.utils.register_class(PartScreenPreferences)
    guard_operators()
    bpy.app.handlers.load_post.append(_reguard)


def unregister():
    if _reguard in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_reguard)
    restore_operators()
    bpy.utils.unregister_class(PartScreenPreferences)

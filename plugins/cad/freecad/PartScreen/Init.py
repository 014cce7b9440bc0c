# SPDX-License-Identifier: GPL-3.0-or-later
# PartScreen add-on, run by FreeCAD and FreeCADCmd at start-up: guards every export entry point
# (see partscreen_freecad.py) before any user script or GUI command can reach it.
import partscreen_freecad

partscreen_freecad.install()

# SPDX-License-Identifier: GPL-3.0-or-later
# PartScreen add-on, GUI part: blocked exports show a dialog, and "Screen selection" is offered in
# the PartScreen workbench (and, on FreeCAD 1.x, in every workbench's Tools menu).
import FreeCADGui
import partscreen_freecad


class PartScreenWorkbench(FreeCADGui.Workbench):
    MenuText = "PartScreen"
    ToolTip = "Screen parts against a partscreen signature pack"
    Icon = partscreen_freecad.ICON

    def Initialize(self):
        self.appendToolbar("PartScreen", [partscreen_freecad.COMMAND])
        self.appendMenu("PartScreen", [partscreen_freecad.COMMAND])

    def GetClassName(self):
        return "Gui::PythonWorkbench"


partscreen_freecad.install_gui()
FreeCADGui.addWorkbench(PartScreenWorkbench())

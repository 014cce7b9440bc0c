# SPDX-License-Identifier: GPL-3.0-or-later
"""partscreen gate for Cura: see PartscreenGate.py."""

from . import PartscreenGate


def getMetaData():
    return {}


def register(app):
    return {"extension": PartscreenGate.PartscreenGate()}

# SPDX-License-Identifier: GPL-3.0-or-later
from . import Driver


def getMetaData():
    return {}


def register(app):
    return {"extension": Driver.Driver()}

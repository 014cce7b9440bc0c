// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Everything public, for callers who want one include.
#include "partscreen/error.h"
#include "partscreen/geometry.h"
#include "partscreen/io.h"
#include "partscreen/mesh.h"
#include "partscreen/pack.h"
#include "partscreen/report.h"
#include "partscreen/scan.h"
#include "partscreen/trust.h"
#include "partscreen/version.h"

// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Machine-readable output shared by the CLI, the plugins and the service.
#include <string>

#include "partscreen/error.h"
#include "partscreen/io.h"
#include "partscreen/scan.h"

namespace partscreen {

// One JSON object per loaded file: path, format, bytes, triangles, clean-up stats and the
// per-component summary.
std::string loaded_file_json(const LoadedFile& file);

// {"error": {"code": ..., "file": ..., "reason": ...}}
std::string error_json(const Error& error);

// The scan contract's JSON object (see README "scan --json").
std::string scan_result_json(const ScanResult& result);

// A shaded picture of the mesh as a greyscale PNG, size x size pixels, seen along a fixed
// direction in its principal-axes frame (so look-alikes come out in like poses), for reports a
// person reads. Empty for an empty or flat-to-a-point mesh.
std::string mesh_thumbnail_png(const Mesh& mesh, int size = 160);

}  // namespace partscreen

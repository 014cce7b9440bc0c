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

}  // namespace partscreen

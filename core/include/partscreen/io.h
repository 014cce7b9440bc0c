// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Reading mesh and CAD files into a cleaned, component-split Mesh in millimetres.
// Every file is untrusted: each reader enforces LoadOptions' limits and reports problems as a
// partscreen::Error naming the file and the reason.
#include <cstdint>
#include <string>
#include <vector>

#include "partscreen/geometry.h"
#include "partscreen/mesh.h"
#include "partscreen/surface.h"

namespace partscreen {

enum class FileFormat { unknown, stl_binary, stl_ascii, obj, ply, off, threemf, amf, gltf, glb, dae, step, iges, gcode, bgcode };

// Stable lower-case name ("stl_binary", "3mf", "step", ...).
const char* format_name(FileFormat format);

struct LoadOptions {
  uint64_t max_file_bytes = 512ull << 20;       // refused before reading when larger
  uint64_t max_triangles = 20'000'000;
  uint64_t max_components = 100'000;           // also caps 3MF object instances (build items, components)
  double max_coordinate_mm = 1.0e6;              // |x|,|y|,|z| beyond this is refused (1 km)
  uint64_t max_unzipped_bytes = 1ull << 30;      // 3MF / zip: total decompressed size
  double max_zip_ratio = 200.0;                  // 3MF / zip: decompressed / compressed, per entry
  double cad_deflection_mm = 0.05;               // STEP/IGES tessellation: linear deflection
  double cad_angular_deflection_rad = 0.35;      // STEP/IGES tessellation: angular deflection
  double max_seconds = 120.0;                    // wall-clock budget for one file (CAD tessellation)
};

struct LoadedFile {
  std::string path;
  FileFormat format = FileFormat::unknown;
  uint64_t file_bytes = 0;
  Mesh mesh;                                  // triangles grouped by component, millimetres
  std::vector<ComponentInfo> components;
  CleanStats clean;
  std::vector<OrientedSurface> surfaces;      // parts known only as oriented points (G-code objects)
  double unit_scale_to_mm = 1.0;              // what the file's declared unit was multiplied by
  double load_ms = 0.0;
};

// Guesses the format from the first bytes (content first, the extension only to break ties,
// e.g. a binary STL whose header starts with "solid").
FileFormat detect_format(const std::string& path, const unsigned char* head, size_t head_bytes, uint64_t file_bytes);

// Reads, cleans and splits one file. Throws partscreen::Error on any problem.
LoadedFile load_file(const std::string& path, const LoadOptions& options = {});

// Same for bytes already in memory (service uploads, zip members). `name` is used for format
// detection by extension and in error messages.
LoadedFile load_bytes(const std::string& name, const void* data, size_t size, const LoadOptions& options = {});

}  // namespace partscreen

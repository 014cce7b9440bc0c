// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal: the per-format readers behind load_file / load_bytes. Each one enforces the limits it
// can see (bytes, triangles, zip sizes, time) and throws partscreen::Error(file, reason); the
// shared checks (coordinates, cleaning, components, empty) run once afterwards in load.cpp.
#include <cstddef>
#include <cstdint>
#include <string>

#include "partscreen/io.h"

namespace partscreen::detail {

// What a reader hands back: raw triangles in millimetres plus the factor it applied to the
// file's declared unit.
struct RawMesh {
  Mesh mesh;
  double unit_scale_to_mm = 1.0;
};

// 3MF (zip + XML), read with libzip and pugixml.
RawMesh read_3mf(const std::string& name, const unsigned char* data, size_t size, const LoadOptions& options);

// Wavefront OBJ: positions and faces, in one pass (obj.cpp).
RawMesh read_obj(const std::string& name, const unsigned char* data, size_t size, const LoadOptions& options);

// PLY, OFF, AMF, glTF/GLB, DAE through Assimp (OBJ too, though load_file reads OBJ with read_obj:
// the tests compare the two). `sibling_dir` is the folder of the file when it came from disk
// (glTF .bin buffers); empty for in-memory uploads, which may then not reference any other file.
RawMesh read_with_assimp(const std::string& name, const unsigned char* data, size_t size, FileFormat format,
                         const LoadOptions& options, const std::string& sibling_dir);

// STEP and IGES through OpenCascade (tessellated with LoadOptions' deflections). Reads from a
// path because OCCT's IGES reader has no stream entry point.
RawMesh read_cad_file(const std::string& name, const std::string& path, FileFormat format, const LoadOptions& options);

// True when this build was made with OpenCascade.
bool cad_support_enabled();

// THE G-code hook. The G-code reader (core/src/gcode) replaces the body of this one function;
// until then it refuses G-code as unsupported. It fills out.surfaces and/or out.mesh.
void load_gcode(const std::string& name, const unsigned char* data, size_t size, const LoadOptions& options,
                LoadedFile& out);

}  // namespace partscreen::detail

// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: bytes -> the OBJ reader (read_obj) -> split_components. Any exception other
// than partscreen::Error (or bad_alloc) and any sanitizer report is a bug; so is a mesh with an
// index out of range, or one over the triangle limit.
#include <cstddef>
#include <cstdint>

#include "io/readers.h"
#include "partscreen/error.h"
#include "partscreen/geometry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  partscreen::LoadOptions options;
  options.max_triangles = 200'000;  // keeps each run fast; limits themselves are exercised
  options.max_file_bytes = 16u << 20;
  try {
    partscreen::Mesh mesh = partscreen::detail::read_obj("fuzz.obj", data, size, options).mesh;
    if (mesh.triangle_count() > options.max_triangles || mesh.positions.size() % 3 || mesh.indices.size() % 3) __builtin_trap();
    for (uint32_t i : mesh.indices)
      if (i >= mesh.vertex_count()) __builtin_trap();
    // Only vertices a face uses are kept.
    if (mesh.vertex_count() > mesh.indices.size()) __builtin_trap();
    uint64_t total = 0;
    for (const auto& c : partscreen::split_components(mesh)) total += c.triangle_count;
    if (total != mesh.triangle_count()) __builtin_trap();
  } catch (const partscreen::Error&) {
  }
  return 0;
}

// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: STL bytes -> read_stl_bytes -> split_components, and the report picture of
// the mesh (mesh_thumbnail_png). Any exception other than partscreen::Error (or bad_alloc) and any
// sanitizer report is a bug.
#include <cstddef>
#include <cstdint>

#include "io/stl.h"
#include "partscreen/error.h"
#include "partscreen/geometry.h"
#include "partscreen/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  partscreen::LoadOptions options;
  options.max_triangles = 200'000;  // keeps each run fast; limits themselves are exercised
  options.max_file_bytes = 16u << 20;
  try {
    partscreen::CleanStats stats;
    partscreen::Mesh mesh = partscreen::detail::read_stl_bytes("fuzz.stl", data, size, options, &stats);
    if (mesh.triangle_count() == 0 || stats.welded_vertices != mesh.vertex_count()) __builtin_trap();
    for (uint32_t i : mesh.indices)
      if (i >= mesh.vertex_count()) __builtin_trap();
    auto comps = partscreen::split_components(mesh);
    uint64_t total = 0;
    for (const auto& c : comps) {
      if (c.first_triangle != total || c.triangle_count == 0) __builtin_trap();
      total += c.triangle_count;
      auto m = partscreen::measure_component(mesh, c.first_triangle, c.triangle_count);
      if (m.closed != c.closed || m.manifold != c.manifold || m.area_mm2 != c.area_mm2) __builtin_trap();
    }
    if (total != mesh.triangle_count()) __builtin_trap();
    const std::string png = partscreen::mesh_thumbnail_png(mesh, 24);
    if (!png.empty() && png.compare(1, 3, "PNG") != 0) __builtin_trap();
  } catch (const partscreen::Error&) {
  }
  return 0;
}

// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Mesh clean-up and connected components: what every loader runs before features are computed.
#include <cstdint>
#include <vector>

#include "partscreen/mesh.h"

namespace partscreen {

struct CleanStats {
  uint64_t input_vertices = 0;
  uint64_t welded_vertices = 0;       // vertices left after merging identical positions
  uint64_t degenerate_triangles = 0;  // removed: two equal indices or zero area
};

// Merges vertices with bit-identical positions (after -0 == +0) and removes triangles that
// repeat a vertex or have zero area. Keeps triangle order otherwise. Never fails.
CleanStats clean_mesh(Mesh& mesh);

// Groups the triangles of `mesh` by connected component (shared vertices), reorders
// mesh.indices accordingly, and measures each component. Components are ordered by their
// first triangle in the input. Unreferenced vertices are kept (harmless).
std::vector<ComponentInfo> split_components(Mesh& mesh);

// Measures triangles [first, first + count) of `mesh` (area, signed volume, bounds, closed and
// manifold flags).
ComponentInfo measure_component(const Mesh& mesh, uint32_t first_triangle, uint32_t triangle_count);

// Copies triangles [first, first + count) into a compact mesh of their own.
Mesh extract_component(const Mesh& mesh, const ComponentInfo& component);

}  // namespace partscreen

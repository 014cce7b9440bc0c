// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The one mesh type partscreen passes around: flat arrays, millimetres, plain data.
#include <array>
#include <cstdint>
#include <cstddef>
#include <vector>

namespace partscreen {

struct Box {
  std::array<float, 3> min{0.f, 0.f, 0.f};
  std::array<float, 3> max{0.f, 0.f, 0.f};
};

// Indexed triangle mesh. positions holds x,y,z per vertex in millimetres; indices holds three
// vertex indices per triangle, counter-clockwise seen from outside where the source says so.
struct Mesh {
  std::vector<float> positions;
  std::vector<uint32_t> indices;

  size_t vertex_count() const { return positions.size() / 3; }
  size_t triangle_count() const { return indices.size() / 3; }
};

// One connected piece of a mesh (triangles that share vertices, transitively). After
// split_components() a mesh's triangles are grouped so that component i owns triangles
// [first_triangle, first_triangle + triangle_count).
struct ComponentInfo {
  uint32_t first_triangle = 0;
  uint32_t triangle_count = 0;
  double area_mm2 = 0.0;
  double volume_mm3 = 0.0;  // signed-volume magnitude; meaningful only when closed
  bool closed = false;      // every edge has exactly two incident triangles
  bool manifold = false;    // no edge has more than two incident triangles and orientation is consistent
  Box bounds;
};

}  // namespace partscreen

// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to core/src/eval: the mesh edits the transformation suite needs (plane cuts, booleans,
// decimation, remeshing). CGAL does the work inside cgal_cut.cpp and cgal_ops.cpp only; this
// header stays CGAL-free so variants.cpp and the tests compile fast.
#include <Eigen/Core>
#include <cstddef>
#include <vector>

#include "partscreen/mesh.h"

namespace partscreen::eval {

enum class CutMethod {
  automatic,   // exact CGAL clip when the mesh is a solid, else split_only
  split_only,  // always the fallback: split crossing triangles, triangulate the caps
};

struct CutInfo {
  bool exact_clip = false;      // CGAL::Polygon_mesh_processing::clip did the cut
  double cap_area = 0.0;        // fallback only: area of the caps added (both sides)
  size_t dangling_edges = 0;    // fallback only: cut edges left uncapped (not on a closed loop)
  bool cap_failed = false;      // fallback only: a cap could not be triangulated
};

// Cuts `mesh` by the plane through `point` with normal `normal` and returns the connected pieces
// of both sides, each closed by a planar cap where the surface crosses the plane in closed loops.
// Never throws except std::bad_alloc.
std::vector<Mesh> cut_by_plane(const Mesh& mesh, const Eigen::Vector3d& point, const Eigen::Vector3d& normal,
                               CutMethod method = CutMethod::automatic, CutInfo* info = nullptr);

// Connected pieces (triangles sharing vertices), each compacted, in order of first triangle.
std::vector<Mesh> connected_pieces(const Mesh& mesh);

// True when CGAL sees a closed, self-intersection-free surface that bounds a volume: the
// precondition of clip and corefinement.
bool is_solid(const Mesh& mesh);

enum class BooleanOp { unite, subtract };
struct BooleanStep {
  BooleanOp op = BooleanOp::unite;
  Mesh tool;  // a solid
};

// Applies the steps to `base` in order (corefinement booleans). A closed base that intersects
// itself is repaired first (autorefinement keeps the outer hull). False, with `out` untouched,
// when CGAL refuses: base or a tool is not a solid, or a result would not be manifold.
bool apply_booleans(const Mesh& base, const std::vector<BooleanStep>& steps, Mesh& out);

// Garland-Heckbert edge collapse down to `edge_ratio` of the edges. False when it cannot run.
bool simplify_edges(const Mesh& mesh, double edge_ratio, Mesh& out);

// Isotropic remeshing to `target_edge` (mm), sharp edges (> 60 degrees) kept as constraints.
bool remesh_isotropic(const Mesh& mesh, double target_edge, Mesh& out);

}  // namespace partscreen::eval

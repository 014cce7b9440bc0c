// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to core/src/eval, included only by cgal_cut.cpp and cgal_ops.cpp (CGAL compile time):
// the bridge between partscreen::Mesh and CGAL::Surface_mesh.
#include <CGAL/Exact_predicates_inexact_constructions_kernel.h>
#include <CGAL/Surface_mesh.h>

#include "partscreen/mesh.h"

namespace partscreen::eval {

using Kernel = CGAL::Exact_predicates_inexact_constructions_kernel;
using SurfaceMesh = CGAL::Surface_mesh<Kernel::Point_3>;

// Welds equal points, drops degenerate triangles, orients the soup and builds a Surface_mesh.
// With require_manifold, refuses soups whose orientation needed vertices duplicated (non-
// manifold edges or vertices); without, such vertices are duplicated as CGAL's
// orient_polygon_soup does. False when no valid mesh comes out.
bool to_surface_mesh(const Mesh& mesh, SurfaceMesh& sm, bool require_manifold);

Mesh from_surface_mesh(const SurfaceMesh& sm);

// Closed, no self-intersections, then oriented to bound a volume (outward normals).
bool make_solid(SurfaceMesh& sm);

}  // namespace partscreen::eval

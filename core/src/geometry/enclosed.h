// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal: the part of a component's surface that cannot be seen from outside it, e.g. a part
// buried in a hollow shell and held there by sprues (one connected component, so screening it
// whole compares the shell, not what it hides).
#include <vector>

#include "partscreen/mesh.h"

namespace partscreen::detail {

struct EnclosedSurface {
  std::vector<ComponentInfo> runs;  // consecutive triangles of the component, enclosed on both sides
  double area_mm2 = 0.0;
};

// Voxelises the component's surface (cells of max extent / resolution), flood-fills the empty
// cells reachable from outside its bounding box, and keeps the triangles from which neither side
// (along the normal, so orientation does not matter, nor along the neighbourhood's normal, which
// vertex noise on tiny triangles does not scramble) reaches that outside air: walls of closed
// cavities and whatever sits inside them. Openings narrower than ~2 * close_cells cells do not
// count as open (a drain hole does not expose what the shell hides). Open pockets and wide holes
// reach outside and are kept out; the solid interior of an ordinary part has no surface.
EnclosedSurface enclosed_surface(const Mesh& mesh, const ComponentInfo& component, int resolution = 112,
                                 int close_cells = 3);

}  // namespace partscreen::detail

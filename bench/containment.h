// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// An engine-independent check of a reported match, for the accuracy benchmark: does the upload
// really contain the reference's surface where the engine placed it? The engine judges coverage
// at its keypoints with a tolerance of 1.2% of the reference size; this samples the reference
// MESH densely, moves it with the reported transform (refined by a few rounds of similarity ICP
// on the dense samples, so a slightly loose engine pose does not decide the answer), and measures
// exact point-to-triangle distances (CGAL AABB tree) at a tighter tolerance, both ways.
#include <array>
#include <cstddef>

#include "partscreen/mesh.h"

namespace partscreen::bench {

struct Containment {
  double reference_found = 0.0;   // share of the reference's area within tolerance of the upload
  double upload_explained = 0.0;  // share of the upload's area within tolerance of the placed reference
  double reference_found_loose = 0.0;  // the same as reference_found at 3x the tolerance (the
                                       // engine's own fit tolerance): how much a tolerance decides
  double tolerance_mm = 0.0;
  double scale = 1.0;             // of the refined transform
};

// transform: row-major 4x4, reference -> upload (partscreen::Match::transform).
// tolerance_fraction: of the placed reference's size (square root of its area).
Containment dense_containment(const Mesh& reference, const Mesh& upload, const std::array<double, 16>& transform,
                              double tolerance_fraction = 0.004, size_t samples = 20000);

}  // namespace partscreen::bench

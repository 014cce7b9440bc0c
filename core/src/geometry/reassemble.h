// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal: pieces of a part cut with planes, put back together. A plane cut leaves a flat cap on
// each side, and the two caps are the same shape: glued cap to cap, the pieces are the part again,
// and the part can be screened whole (a piece alone is small and ambiguous; cut often enough, no
// piece fits its reference on its own).
#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "partscreen/mesh.h"

namespace partscreen::detail {

struct PieceInput {
  const Mesh* mesh = nullptr;
  ComponentInfo component;
};

// Where a piece goes in its reassembly: x -> rotation * x + translation (a proper rigid motion).
struct Placement {
  Eigen::Matrix3d rotation = Eigen::Matrix3d::Identity();
  Eigen::Vector3d translation = Eigen::Vector3d::Zero();
};

struct Reassembly {
  std::vector<uint32_t> pieces;  // indices into the input, two or more, the largest first
  std::vector<Placement> placements;  // per piece, into the largest piece's frame
  Mesh mesh;                     // the pieces placed in the first one's frame, glued caps left out
  double area_mm2 = 0.0;
};

struct ReassembleOptions {
  size_t max_pieces = 16;            // pieces looked at (the largest); pairs grow with the square
  size_t max_triangles = 2'000'000;  // in all pieces looked at (finding caps reads every triangle)
  size_t max_caps_per_piece = 24;    // flat faces per piece tried as caps (the largest)
  double min_cap_share = 0.01;       // of the piece's area: smaller flat faces are not caps worth gluing
  double area_tolerance = 0.02;      // two caps' areas and second moments agree within this
  double min_overlap = 0.9;          // of each cap's samples lying on the other once glued
  size_t max_gluings = 128;          // gluings tried in one job (each is a small ICP), whatever it holds
};

// Clusters of pieces glued at congruent flat faces, each piece on the outer side of its partner's
// face (cut pieces lie on opposite sides of their cut). Deterministic.
std::vector<Reassembly> reassemble_pieces(const std::vector<PieceInput>& pieces, const ReassembleOptions& options = {});

}  // namespace partscreen::detail

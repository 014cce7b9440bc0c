// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal: components that are exact rigid copies of one another (a slicer's plate of instances,
// a print farm's plate of sixteen brackets, the same part in two files of a job), so the scan
// describes and verifies each shape once.
#include <cstdint>
#include <vector>

#include "partscreen/mesh.h"

namespace partscreen::detail {

struct ComponentRef {
  const Mesh* mesh = nullptr;
  ComponentInfo component;
};

struct RigidCopy {
  int32_t source = -1;   // index of the earlier item this one copies, or -1
  float rotation[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};  // row-major, proper (det +1)
  float translation[3] = {0, 0, 0};                  // item = rotation * source + translation
};

// For each item, the first earlier item it is a copy of: the same triangles in the same order
// (so the same area within 0.1%; up to 1% of either's triangles may be missing, as when a
// writer's rounding made them degenerate and clean-up dropped them), every corner within 5e-4 of
// the component's size (bounding-box diagonal: what writers that round coordinates leave) of the
// source's corner moved by one rotation and translation. Mirror images are not copies here,
// though the descriptors are reflection-invariant: sharing a source's fits with its mirror image
// was tried, and a mirror-symmetric part cut in four (the right quarters written as mirror
// images of the left ones) was then found at 0.74 of its surface instead of 0.94, with fewer
// distinct RANSAC poses among the pieces. Each item is compared with at most
// max_sources distinct shapes of its triangle count, so the work stays linear in the job.
std::vector<RigidCopy> find_rigid_copies(const std::vector<ComponentRef>& items, size_t max_sources = 8);

}  // namespace partscreen::detail

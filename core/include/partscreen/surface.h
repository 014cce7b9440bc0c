// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A surface known only as oriented points: what G-code walls are rebuilt into, and what the
// engine samples every mesh component into before computing shape features.
#include <cstdint>
#include <string>
#include <vector>

#include "partscreen/mesh.h"

namespace partscreen {

struct OrientedSurface {
  std::string name;               // e.g. "object 2" on a G-code plate, for reports
  std::vector<float> positions;   // x,y,z per point, millimetres
  std::vector<float> normals;     // unit outward normal per point
  double area_mm2 = 0.0;          // surface area the points stand for (0: unknown)
  bool walls_only = false;        // true when only side walls are known (G-code): top and bottom
                                  // skins are missing, so coverage ignores near-horizontal surface
  Box bounds;
};

}  // namespace partscreen

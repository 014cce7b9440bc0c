// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal: the engine's fixed geometric vocabulary. Every length is a fraction of a shape's size
// L = sqrt(surface area), which is rotation-, mirror- and remesh-invariant and scales linearly.
// Changing any of these changes what a pack means: bump kPackFormatVersion.
#include <cmath>

namespace partscreen::detail {

constexpr float kRadiusFraction = 0.10f;    // descriptor radius = 0.10 L
constexpr float kKeypointFraction = 0.05f;  // keypoint spacing = radius / 2
constexpr float kDenseFraction = 0.005f;    // dense sampling spacing for references and uploads
constexpr size_t kMaxDensePoints = 120000;  // dense cloud cap (spacing grows beyond)

// Uploads are described on a ladder of radii r_j = kRadiusFraction * L_component * kRungRatio^j:
// j = 0 is right for a whole part; j > 0 for pieces (the component is smaller than the part);
// j < 0 for a part fused with extra material (the component is larger). kRungRatio^4 ~ 2.5 in
// size, i.e. pieces down to ~1/6 of the part's area and fused material up to ~6x.
constexpr float kRungRatio = 1.2599210f;  // 2^(1/3)
constexpr int kRungMin = -4;
constexpr int kRungMax = 4;

inline float rung_factor(int j) { return std::pow(kRungRatio, float(j)); }

}  // namespace partscreen::detail

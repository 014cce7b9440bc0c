// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal: similarity transforms that may include a reflection.
#include <Eigen/Core>
#include <Eigen/Geometry>
#include <Eigen/LU>
#include <vector>

namespace partscreen::detail {

struct Similarity {
  Eigen::Matrix3f rotation = Eigen::Matrix3f::Identity();  // orthogonal; det -1 when mirrored
  float scale = 1.f;
  Eigen::Vector3f translation = Eigen::Vector3f::Zero();
  bool mirrored() const { return rotation.determinant() < 0.f; }
  Eigen::Vector3f apply(const Eigen::Vector3f& p) const { return scale * (rotation * p) + translation; }
};

// outer after inner: compose(outer, inner).apply(p) == outer.apply(inner.apply(p)).
inline Similarity compose(const Similarity& outer, const Similarity& inner) {
  Similarity out;
  out.rotation = outer.rotation * inner.rotation;
  out.scale = outer.scale * inner.scale;
  out.translation = outer.scale * (outer.rotation * inner.translation) + outer.translation;
  return out;
}

// The inverse map: inverse(S).apply(S.apply(p)) == p.
inline Similarity inverse(const Similarity& s) {
  Similarity out;
  out.rotation = s.rotation.transpose();
  out.scale = 1.f / s.scale;
  out.translation = -(out.scale * (out.rotation * s.translation));
  return out;
}

enum class Handedness { proper, mirrored, best };

// Least-squares similarity mapping src[i] -> dst[i] (Umeyama, PAMI 1991), with the reflection
// decided by `hand` (best: the lower residual of the two). Weights optional (empty = 1).
// fixed_scale > 0: the scale is known (the rotation does not depend on it; the translation is
// solved for it), a rigid fit. Returns false when the problem is degenerate (fewer than 3 points
// or all collinear).
bool fit_similarity(const std::vector<Eigen::Vector3f>& src, const std::vector<Eigen::Vector3f>& dst,
                    const std::vector<float>& weights, Handedness hand, Similarity& out, float fixed_scale = 0.f);

}  // namespace partscreen::detail

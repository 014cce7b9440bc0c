// SPDX-License-Identifier: GPL-3.0-or-later
#include "copies.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <Eigen/Dense>

namespace partscreen::detail {
namespace {

Eigen::Vector3d corner(const ComponentRef& c, size_t k) {  // k-th corner of the component's triangles, in order
  const uint32_t v = c.mesh->indices[3 * size_t(c.component.first_triangle) + k];
  const float* p = &c.mesh->positions[3 * size_t(v)];
  return Eigen::Vector3d(p[0], p[1], p[2]);
}

// Whether b is a rigid, proper copy of a corner for corner; its placement when so.
bool rigid_copy(const ComponentRef& a, const ComponentRef& b, RigidCopy& out) {
  const size_t corners = 3 * size_t(a.component.triangle_count);
  // Kabsch (Umeyama without scale) on up to 256 corners spread over the list, then every corner
  // checked against the placement.
  const size_t step = std::max<size_t>(1, corners / 256);
  Eigen::Vector3d ma = Eigen::Vector3d::Zero(), mb = Eigen::Vector3d::Zero();
  size_t n = 0;
  for (size_t k = 0; k < corners; k += step, ++n) {
    ma += corner(a, k);
    mb += corner(b, k);
  }
  ma /= double(n);
  mb /= double(n);
  Eigen::Matrix3d H = Eigen::Matrix3d::Zero();
  for (size_t k = 0; k < corners; k += step) H += (corner(a, k) - ma) * (corner(b, k) - mb).transpose();
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(H, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Eigen::Matrix3d R = svd.matrixV() * svd.matrixU().transpose();
  if (!(R.determinant() > 0.0)) return false;  // a mirror image (or degenerate)
  const Eigen::Vector3d t = mb - R * ma;
  const Box& box = a.component.bounds;
  const double size = std::sqrt(double(box.max[0] - box.min[0]) * (box.max[0] - box.min[0]) +
                                double(box.max[1] - box.min[1]) * (box.max[1] - box.min[1]) +
                                double(box.max[2] - box.min[2]) * (box.max[2] - box.min[2]));
  // Float coordinates of a copy placed far out on a plate are rounded to ~1e-7 of their value.
  double far = 0.0;
  for (int d = 0; d < 3; ++d) far = std::max({far, std::fabs(double(b.component.bounds.min[d])), std::fabs(double(b.component.bounds.max[d]))});
  const double tolerance = 1e-5 * size + 4e-7 * far;
  if (!(size > 0.0)) return false;
  for (size_t k = 0; k < corners; ++k)
    if ((R * corner(a, k) + t - corner(b, k)).squaredNorm() > tolerance * tolerance) return false;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) out.rotation[3 * r + c] = float(R(r, c));
    out.translation[r] = float(t[r]);
  }
  return true;
}

}  // namespace

std::vector<RigidCopy> find_rigid_copies(const std::vector<ComponentRef>& items, size_t max_sources) {
  std::vector<RigidCopy> out(items.size());
  std::map<uint32_t, std::vector<int32_t>> sources;  // triangle count -> distinct shapes seen
  for (size_t i = 0; i < items.size(); ++i) {
    const ComponentInfo& c = items[i].component;
    if (c.triangle_count == 0 || !items[i].mesh) continue;
    std::vector<int32_t>& seen = sources[c.triangle_count];
    for (int32_t s : seen) {
      const ComponentInfo& x = items[size_t(s)].component;
      // (Not the volume: an open component's signed volume depends on where it lies.)
      if (std::fabs(x.area_mm2 - c.area_mm2) > 1e-4 * x.area_mm2) continue;
      if (rigid_copy(items[size_t(s)], items[i], out[i])) {
        out[i].source = s;
        break;
      }
    }
    if (out[i].source < 0 && seen.size() < max_sources) seen.push_back(int32_t(i));
  }
  return out;
}

}  // namespace partscreen::detail

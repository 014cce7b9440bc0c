// SPDX-License-Identifier: GPL-3.0-or-later
#include "copies.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <Eigen/Dense>

namespace partscreen::detail {
namespace {

constexpr double kCopyTolerance = 5e-4;  // of the component's bounding-box diagonal, per corner

Eigen::Vector3d corner(const ComponentRef& c, size_t k) {  // k-th corner of the component's triangles, in order
  const uint32_t v = c.mesh->indices[3 * size_t(c.component.first_triangle) + k];
  const float* p = &c.mesh->positions[3 * size_t(v)];
  return Eigen::Vector3d(p[0], p[1], p[2]);
}

double diagonal(const Box& box) {
  double d2 = 0.0;
  for (int d = 0; d < 3; ++d) d2 += double(box.max[d] - box.min[d]) * (box.max[d] - box.min[d]);
  return std::sqrt(d2);
}

// How far b's corners may lie from a's moved ones. Float coordinates of a copy placed far out on
// a plate are rounded to ~1e-7 of their value. Writers that keep a few decimals (ASCII STL, OBJ,
// 3MF: 0.001-0.01 mm) move every instance's corners by up to that much: corners within 5e-4 of
// the size (0.02 mm on a 40 mm part, a tenth of the dense sampling spacing) are the same shape to
// the scan. A plate of eight 26k-triangle joints rounded to 0.001 mm was screened copy by copy,
// 6x the exact plate's time.
double corner_tolerance(const ComponentRef& a, const ComponentRef& b) {
  double far = 0.0;
  for (int d = 0; d < 3; ++d) far = std::max({far, std::fabs(double(b.component.bounds.min[d])), std::fabs(double(b.component.bounds.max[d]))});
  return kCopyTolerance * diagonal(a.component.bounds) + 4e-7 * far;
}

using CornerPairs = std::vector<std::pair<size_t, size_t>>;  // (a's corner, b's corner)

// The proper rigid motion that best carries a's corners onto b's: Kabsch (Umeyama without scale)
// on up to 256 pairs spread over the list. False for a mirror image (or degenerate pairs).
bool fit_rigid(const ComponentRef& a, const ComponentRef& b, const CornerPairs& pairs, Eigen::Matrix3d& R, Eigen::Vector3d& t) {
  if (pairs.empty()) return false;
  const size_t step = std::max<size_t>(1, pairs.size() / 256);
  Eigen::Vector3d ma = Eigen::Vector3d::Zero(), mb = Eigen::Vector3d::Zero();
  size_t n = 0;
  for (size_t k = 0; k < pairs.size(); k += step, ++n) {
    ma += corner(a, pairs[k].first);
    mb += corner(b, pairs[k].second);
  }
  ma /= double(n);
  mb /= double(n);
  Eigen::Matrix3d H = Eigen::Matrix3d::Zero();
  for (size_t k = 0; k < pairs.size(); k += step) H += (corner(a, pairs[k].first) - ma) * (corner(b, pairs[k].second) - mb).transpose();
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(H, Eigen::ComputeFullU | Eigen::ComputeFullV);
  R = svd.matrixV() * svd.matrixU().transpose();
  t = mb - R * ma;
  return R.determinant() > 0.0;
}

// Whether the corner pairs are one proper rigid motion apart within the tolerance, every pair
// checked; its placement when so.
bool rigid_copy(const ComponentRef& a, const ComponentRef& b, const CornerPairs& pairs, RigidCopy& out) {
  Eigen::Matrix3d R;
  Eigen::Vector3d t;
  if (!(diagonal(a.component.bounds) > 0.0) || !fit_rigid(a, b, pairs, R, t)) return false;
  const double tolerance = corner_tolerance(a, b);
  for (const auto& [ka, kb] : pairs)
    if ((R * corner(a, ka) + t - corner(b, kb)).squaredNorm() > tolerance * tolerance) return false;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) out.rotation[3 * r + c] = float(R(r, c));
    out.translation[r] = float(t[r]);
  }
  return true;
}

// Corner pairs of two components whose triangles come in the same order, but for a few that
// one of them lost (a writer's rounding made them degenerate, and clean-up dropped them). The
// motion is first fitted on the leading triangles whose three sides agree (at least 16, at most
// 256, up to the first that does not); then both lists are walked, pairing triangles whose
// corners that motion carries within the tolerance (sides alone would pair the wrong ones of a
// regular tessellation), stepping over up to sixteen unpaired triangles on either side to find
// the next pair. A triangle stepped over must be a sliver (no wider than twice the tolerance
// across), as those lost to rounding are: a moved corner makes its triangles fail, and they are
// no slivers. Empty when a triangle that is no sliver is left unpaired, or fewer than 99% of
// either's triangles pair.
CornerPairs aligned_corners(const ComponentRef& a, const ComponentRef& b) {
  const double tolerance = corner_tolerance(a, b), slack = 2.0 * tolerance;
  auto sides = [](const ComponentRef& c, size_t t) {
    const Eigen::Vector3d p = corner(c, 3 * t), q = corner(c, 3 * t + 1), r = corner(c, 3 * t + 2);
    return Eigen::Vector3d((q - p).norm(), (r - q).norm(), (p - r).norm());
  };
  auto sliver = [&](const ComponentRef& c, size_t t) {  // its least height within the slack
    const Eigen::Vector3d p = corner(c, 3 * t), q = corner(c, 3 * t + 1), r = corner(c, 3 * t + 2);
    const double longest = sides(c, t).maxCoeff();
    return longest <= slack || (q - p).cross(r - p).norm() <= slack * longest;
  };
  auto slivers = [&](const ComponentRef& c, size_t from, size_t count) {
    for (size_t k = from; k < from + count; ++k)
      if (!sliver(c, k)) return false;
    return true;
  };
  const size_t na = a.component.triangle_count, nb = b.component.triangle_count;
  CornerPairs lead;
  for (size_t k = 0; k < std::min({na, nb, size_t(256)}); ++k) {
    if ((sides(a, k) - sides(b, k)).cwiseAbs().maxCoeff() > slack) break;
    for (size_t c = 0; c < 3; ++c) lead.push_back({3 * k + c, 3 * k + c});
  }
  Eigen::Matrix3d R;
  Eigen::Vector3d t;
  if (lead.size() < 3 * 16 || !fit_rigid(a, b, lead, R, t)) return {};
  auto same = [&](size_t ta, size_t tb) {
    for (size_t c = 0; c < 3; ++c)
      if ((R * corner(a, 3 * ta + c) + t - corner(b, 3 * tb + c)).squaredNorm() > tolerance * tolerance) return false;
    return true;
  };
  constexpr size_t kLookAhead = 16;
  CornerPairs pairs;
  size_t i = 0, j = 0, paired = 0;
  while (i < na && j < nb) {
    if (same(i, j)) {
      for (size_t k = 0; k < 3; ++k) pairs.push_back({3 * i + k, 3 * j + k});
      ++i, ++j, ++paired;
      continue;
    }
    // The nearest resumption: skip s1 of a's and s2 of b's triangles, fewest skipped first.
    bool found = false;
    for (size_t skipped = 1; skipped <= 2 * kLookAhead && !found; ++skipped)
      for (size_t s1 = 0; s1 <= std::min(skipped, kLookAhead) && !found; ++s1) {
        const size_t s2 = skipped - s1;
        if (s2 > kLookAhead || i + s1 >= na || j + s2 >= nb) continue;
        if (same(i + s1, j + s2) && slivers(a, i, s1) && slivers(b, j, s2)) i += s1, j += s2, found = true;
      }
    if (!found) return {};
  }
  if (!slivers(a, i, na - i) || !slivers(b, j, nb - j)) return {};  // the tails left unpaired
  if (double(paired) < 0.99 * double(std::max(na, nb))) return {};
  return pairs;
}

}  // namespace

std::vector<RigidCopy> find_rigid_copies(const std::vector<ComponentRef>& items, size_t max_sources) {
  std::vector<RigidCopy> out(items.size());
  std::map<uint32_t, std::vector<int32_t>> sources;  // triangle count -> distinct shapes seen
  for (size_t i = 0; i < items.size(); ++i) {
    const ComponentInfo& c = items[i].component;
    if (c.triangle_count == 0 || !items[i].mesh) continue;
    // Shapes with the same triangle count first (corner for corner), then those within 1% of it
    // (a few triangles lost to rounding), at most max_sources tries in all.
    std::vector<int32_t> tries;
    auto same = sources.find(c.triangle_count);
    if (same != sources.end()) tries = same->second;
    const uint32_t spread = c.triangle_count / 100;
    for (auto it = sources.lower_bound(c.triangle_count - spread); it != sources.end() && it->first <= c.triangle_count + spread; ++it)
      if (it->first != c.triangle_count) tries.insert(tries.end(), it->second.begin(), it->second.end());
    if (tries.size() > max_sources) tries.resize(max_sources);
    for (int32_t s : tries) {
      const ComponentRef& x = items[size_t(s)];
      // (Not the volume: an open component's signed volume depends on where it lies.)
      if (std::fabs(x.component.area_mm2 - c.area_mm2) > 1e-3 * x.component.area_mm2) continue;
      CornerPairs pairs;
      if (x.component.triangle_count == c.triangle_count) {
        pairs.resize(3 * size_t(c.triangle_count));
        for (size_t k = 0; k < pairs.size(); ++k) pairs[k] = {k, k};
      }
      if (!pairs.empty() && rigid_copy(x, items[i], pairs, out[i])) {
        out[i].source = s;
        break;
      }
      pairs = aligned_corners(x, items[i]);
      if (!pairs.empty() && rigid_copy(x, items[i], pairs, out[i])) {
        out[i].source = s;
        break;
      }
    }
    std::vector<int32_t>& seen = sources[c.triangle_count];
    if (out[i].source < 0 && seen.size() < max_sources) seen.push_back(int32_t(i));
  }
  return out;
}

}  // namespace partscreen::detail

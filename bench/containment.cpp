// SPDX-License-Identifier: GPL-3.0-or-later
// Dense containment check (see containment.h). Exact point-to-triangle distances with CGAL's AABB
// tree (Alliez, Tayeb & Wormser, CGAL manual "3D Fast Intersection and Distance Computation");
// the pose is refined by point-to-point ICP (Besl & McKay 1992) with Umeyama's similarity fit
// (PAMI 1991, Eigen::umeyama).
#include "containment.h"

#include <CGAL/AABB_traits.h>
#include <CGAL/AABB_tree.h>
#include <CGAL/AABB_triangle_primitive.h>
#include <CGAL/Simple_cartesian.h>

#include <Eigen/Dense>
#include <Eigen/Geometry>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace partscreen::bench {
namespace {

using K = CGAL::Simple_cartesian<double>;
using Triangle = K::Triangle_3;
using Point = K::Point_3;
using Triangles = std::vector<Triangle>;
using Primitive = CGAL::AABB_triangle_primitive<K, Triangles::const_iterator>;
using Tree = CGAL::AABB_tree<CGAL::AABB_traits<K, Primitive>>;
using V3 = Eigen::Vector3d;

struct Sample {
  V3 p, n;
  double w;
};

Triangles triangles_of(const Mesh& m, const Eigen::Matrix3d& M = Eigen::Matrix3d::Identity(), const V3& t = V3::Zero()) {
  Triangles out;
  out.reserve(m.triangle_count());
  auto v = [&](uint32_t i) {
    const V3 p = M * V3(m.positions[3 * i], m.positions[3 * i + 1], m.positions[3 * i + 2]) + t;
    return Point(p.x(), p.y(), p.z());
  };
  for (size_t f = 0; f < m.triangle_count(); ++f) {
    Triangle tri(v(m.indices[3 * f]), v(m.indices[3 * f + 1]), v(m.indices[3 * f + 2]));
    if (!tri.is_degenerate()) out.push_back(tri);
  }
  return out;
}

// Area-weighted, seeded: the same samples every run.
std::vector<Sample> sample(const Triangles& tris, size_t n, uint64_t seed) {
  std::vector<double> cum(tris.size());
  double total = 0.0;
  for (size_t i = 0; i < tris.size(); ++i) cum[i] = (total += std::sqrt(tris[i].squared_area()));
  std::vector<Sample> out;
  if (!(total > 0.0)) return out;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  out.reserve(n);
  for (size_t s = 0; s < n; ++s) {
    const size_t i = std::min(size_t(std::lower_bound(cum.begin(), cum.end(), u(rng) * total) - cum.begin()), tris.size() - 1);
    const Triangle& t = tris[i];
    const double r1 = std::sqrt(u(rng)), r2 = u(rng);
    auto P = [&](int k) { return V3(t[k].x(), t[k].y(), t[k].z()); };
    const V3 p = (1 - r1) * P(0) + r1 * (1 - r2) * P(1) + r1 * r2 * P(2);
    out.push_back(Sample{p, (P(1) - P(0)).cross(P(2) - P(0)).normalized(), total / double(n)});
  }
  return out;
}

V3 normal_of(const Triangle& t) {
  const V3 a(t[0].x(), t[0].y(), t[0].z()), b(t[1].x(), t[1].y(), t[1].z()), c(t[2].x(), t[2].y(), t[2].z());
  return (b - a).cross(c - a).normalized();
}

// Share of the samples' area within tol of the tree's surface where the surfaces agree in
// direction (|cos| >= 0.7: STL winding is not trusted, crossing surfaces do not count).
double within(const std::vector<Sample>& samples, const Tree& tree, double tol) {
  double hit = 0.0, total = 0.0;
  for (const Sample& s : samples) {
    total += s.w;
    const auto [q, prim] = tree.closest_point_and_primitive(Point(s.p.x(), s.p.y(), s.p.z()));
    const V3 d(q.x() - s.p.x(), q.y() - s.p.y(), q.z() - s.p.z());
    if (d.squaredNorm() <= tol * tol && std::fabs(normal_of(*prim).dot(s.n)) >= 0.7) hit += s.w;
  }
  return total > 0.0 ? hit / total : 0.0;
}

}  // namespace

Containment dense_containment(const Mesh& reference, const Mesh& upload, const std::array<double, 16>& transform,
                              double tolerance_fraction, size_t samples) {
  Containment out;
  Eigen::Matrix3d M;
  V3 t;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) M(r, c) = transform[r * 4 + c];
    t(r) = transform[r * 4 + 3];
  }
  const Triangles up = triangles_of(upload);
  if (up.empty() || reference.triangle_count() == 0) return out;
  Tree up_tree(up.begin(), up.end());
  up_tree.accelerate_distance_queries();
  const Triangles ref_local = triangles_of(reference);
  double ref_area = 0.0;
  for (const Triangle& tri : ref_local) ref_area += std::sqrt(tri.squared_area());
  // Reference samples in its own coordinates; moved by the current pose each round.
  const std::vector<Sample> local = sample(ref_local, samples, 0x5eed);
  auto placed = [&](const Eigen::Matrix3d& A, const V3& b) {
    std::vector<Sample> s = local;
    const double scale = std::cbrt(std::fabs(A.determinant()));
    for (Sample& e : s) {
      e.p = A * e.p + b;
      e.n = (A * e.n).normalized();  // a similarity: normals turn with it
      e.w *= scale * scale;
    }
    return s;
  };
  double scale = std::cbrt(std::fabs(M.determinant()));
  const double gate0 = 0.03 * std::sqrt(ref_area) * scale;
  // ICP refinement: a proper similarity correction on top of the reported pose (mirroring, if
  // any, stays in M).
  for (int it = 0; it < 8; ++it) {
    const double gate = std::max(gate0 * std::pow(0.7, it), 2.0 * tolerance_fraction * std::sqrt(ref_area) * scale);
    const std::vector<Sample> s = placed(M, t);
    std::vector<V3> src, dst;
    for (size_t i = 0; i < s.size(); i += 4) {
      const auto q = up_tree.closest_point(Point(s[i].p.x(), s[i].p.y(), s[i].p.z()));
      const V3 qv(q.x(), q.y(), q.z());
      if ((qv - s[i].p).squaredNorm() <= gate * gate) {
        src.push_back(s[i].p);
        dst.push_back(qv);
      }
    }
    if (src.size() < 50) break;
    Eigen::Matrix3Xd a(3, src.size()), b(3, src.size());
    for (size_t i = 0; i < src.size(); ++i) {
      a.col(Eigen::Index(i)) = src[i];
      b.col(Eigen::Index(i)) = dst[i];
    }
    const Eigen::Matrix4d C = Eigen::umeyama(a, b, true);
    if (!C.allFinite()) break;
    M = C.topLeftCorner<3, 3>() * M;
    t = C.topLeftCorner<3, 3>() * t + C.topRightCorner<3, 1>();
    scale = std::cbrt(std::fabs(M.determinant()));
  }
  out.scale = scale;
  out.tolerance_mm = tolerance_fraction * std::sqrt(ref_area) * scale;
  const std::vector<Sample> ref_placed = placed(M, t);
  out.reference_found = within(ref_placed, up_tree, out.tolerance_mm);
  out.reference_found_loose = within(ref_placed, up_tree, 3.0 * out.tolerance_mm);
  const Triangles ref_world = triangles_of(reference, M, t);
  Tree ref_tree(ref_world.begin(), ref_world.end());
  ref_tree.accelerate_distance_queries();
  out.upload_explained = within(sample(up, samples, 0x5eee), ref_tree, out.tolerance_mm);
  return out;
}

}  // namespace partscreen::bench

// SPDX-License-Identifier: GPL-3.0-or-later
// Non-invertibility: try to rebuild a reference's surface from what its pack stores (keypoint
// positions) with CGAL's advancing-front surface reconstruction (Cohen-Steiner & Da, "A greedy
// Delaunay-based surface reconstruction algorithm", 2004) and with the convex hull, and measure
// how far the result is from the real part: the share of the part's surface within a printing
// tolerance of the reconstruction, and the part's genus (holes) against the reconstruction's.
// A control reconstructs the same way from a dense sample of the true surface and must come
// close: the measurement can tell a good reconstruction from a bad one. The bound is documented
// in docs/packs.md ("Why it cannot be turned back into a printable part").
#include <CGAL/AABB_traits.h>
#include <CGAL/AABB_tree.h>
#include <CGAL/AABB_triangle_primitive.h>
#include <CGAL/Advancing_front_surface_reconstruction.h>
#include <CGAL/Exact_predicates_inexact_constructions_kernel.h>
#include <CGAL/Surface_mesh.h>
#include <CGAL/convex_hull_3.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "engine_fixtures.h"
#include "pack/pack_data.h"
#include "partscreen/partscreen.h"

namespace partscreen::test {
namespace {

using K = CGAL::Exact_predicates_inexact_constructions_kernel;
using P = K::Point_3;
using Tri = K::Triangle_3;
using Prim = CGAL::AABB_triangle_primitive<K, std::vector<Tri>::const_iterator>;
using Tree = CGAL::AABB_tree<CGAL::AABB_traits<K, Prim>>;

struct Indexed {
  std::vector<P> points;
  std::vector<std::array<size_t, 3>> faces;
};

std::vector<Tri> triangles(const Indexed& m) {
  std::vector<Tri> t;
  for (const auto& f : m.faces) t.emplace_back(m.points[f[0]], m.points[f[1]], m.points[f[2]]);
  return t;
}

// Euler characteristic V - E + F over the vertices faces use, and the number of boundary edges.
struct Topology { long euler = 0; size_t boundary_edges = 0; size_t components = 0; };
Topology topology(const Indexed& m) {
  std::map<std::pair<size_t, size_t>, int> edges;
  std::set<size_t> used;
  for (const auto& f : m.faces)
    for (int i = 0; i < 3; ++i) {
      used.insert(f[i]);
      edges[{std::min(f[i], f[(i + 1) % 3]), std::max(f[i], f[(i + 1) % 3])}]++;
    }
  Topology t;
  t.euler = long(used.size()) - long(edges.size()) + long(m.faces.size());
  for (auto& [e, n] : edges) t.boundary_edges += n == 1;
  // Components by union-find over face vertices.
  std::map<size_t, size_t> parent;
  std::function<size_t(size_t)> find = [&](size_t x) { return parent[x] == x ? x : parent[x] = find(parent[x]); };
  for (size_t v : used) parent[v] = v;
  for (const auto& f : m.faces) {
    parent[find(f[0])] = find(f[1]);
    parent[find(f[1])] = find(f[2]);
  }
  std::set<size_t> roots;
  for (size_t v : used) roots.insert(find(v));
  t.components = roots.size();
  return t;
}

Indexed advancing_front(const std::vector<P>& pts) {
  Indexed m;
  m.points = pts;
  CGAL::advancing_front_surface_reconstruction(pts.begin(), pts.end(), std::back_inserter(m.faces));
  return m;
}

Indexed convex_hull(const std::vector<P>& pts) {
  CGAL::Surface_mesh<P> sm;
  CGAL::convex_hull_3(pts.begin(), pts.end(), sm);
  Indexed m;
  for (auto v : sm.vertices()) m.points.push_back(sm.point(v));
  for (auto f : sm.faces()) {
    std::array<size_t, 3> idx{};
    int i = 0;
    for (auto v : CGAL::vertices_around_face(sm.halfedge(f), sm)) if (i < 3) idx[i++] = size_t(v);
    m.faces.push_back(idx);
  }
  return m;
}

// Area-weighted uniform samples of the true surface (fixed seed).
std::vector<P> sample_surface(const Mesh& mesh, size_t n, uint32_t seed) {
  std::vector<double> cum;
  double total = 0;
  auto vtx = [&](uint32_t i) { return P(mesh.positions[3 * i], mesh.positions[3 * i + 1], mesh.positions[3 * i + 2]); };
  for (size_t t = 0; t < mesh.triangle_count(); ++t) {
    total += std::sqrt(Tri(vtx(mesh.indices[3 * t]), vtx(mesh.indices[3 * t + 1]), vtx(mesh.indices[3 * t + 2])).squared_area());
    cum.push_back(total);
  }
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<P> out;
  for (size_t i = 0; i < n; ++i) {
    const size_t t = size_t(std::lower_bound(cum.begin(), cum.end(), u(rng) * total) - cum.begin());
    double a = u(rng), b = u(rng);
    if (a + b > 1) { a = 1 - a; b = 1 - b; }
    const P p0 = vtx(mesh.indices[3 * t]), p1 = vtx(mesh.indices[3 * t + 1]), p2 = vtx(mesh.indices[3 * t + 2]);
    out.push_back(p0 + a * (p1 - p0) + b * (p2 - p0));
  }
  return out;
}

struct Fit { double within_tolerance = 0; double median = 0; double p90 = 0; double p99 = 0; };
// How much of the true surface (samples) lies within `tol` of the reconstruction; distances in L.
Fit fit_of(const std::vector<Tri>& rebuilt, const std::vector<P>& truth, double tol, double L) {
  Fit f;
  if (rebuilt.empty()) { f.median = f.p90 = f.p99 = 1e9; return f; }
  Tree tree(rebuilt.begin(), rebuilt.end());
  tree.accelerate_distance_queries();
  std::vector<double> d;
  for (const P& p : truth) d.push_back(std::sqrt(tree.squared_distance(p)));
  size_t in = 0;
  for (double x : d) in += x <= tol;
  std::sort(d.begin(), d.end());
  f.within_tolerance = double(in) / double(d.size());
  f.median = d[d.size() / 2] / L;
  f.p90 = d[d.size() * 9 / 10] / L;
  f.p99 = d[d.size() * 99 / 100] / L;
  return f;
}

Indexed indexed_mesh(const Mesh& mesh) {
  Indexed m;
  for (size_t i = 0; i < mesh.vertex_count(); ++i)
    m.points.emplace_back(mesh.positions[3 * i], mesh.positions[3 * i + 1], mesh.positions[3 * i + 2]);
  for (size_t t = 0; t < mesh.triangle_count(); ++t)
    m.faces.push_back({mesh.indices[3 * t], mesh.indices[3 * t + 1], mesh.indices[3 * t + 2]});
  return m;
}

// A printing tolerance of 0.2 mm on a part whose size L = sqrt(area) is 100 mm.
constexpr double kToleranceOfL = 0.002;

TEST(Invertibility, KeypointsDoNotRebuildAPrintablePart) {
  PARTSCREEN_REQUIRE_CGAL_DATA();
  TempDir d("partscreen_invert");
  for (const char* stem : {"fandisk", "couplingdown", "mech-holes-shark", "anchor"}) {
    SCOPED_TRACE(stem);
    EnrollOptions o;
    o.threads = 2;
    enroll(reference_inputs({stem}), d.file("one.pack"), o);
    const Pack pack = Pack::open(d.file("one.pack"));
    const PackData& pd = pack.data();
    std::vector<P> keypoints;
    for (uint32_t k = 0; k < pd.keypoint_count; ++k)
      keypoints.emplace_back(pd.keypoints[k].position[0], pd.keypoints[k].position[1], pd.keypoints[k].position[2]);
    const double L = pack.reference(0).size_mm, tol = kToleranceOfL * L;
    // Keypoint spacing: median distance to the nearest other keypoint.
    std::vector<double> nn;
    for (size_t i = 0; i < keypoints.size(); ++i) {
      double best = 1e300;
      for (size_t j = 0; j < keypoints.size(); ++j)
        if (i != j) best = std::min(best, CGAL::squared_distance(keypoints[i], keypoints[j]));
      nn.push_back(std::sqrt(best));
    }
    std::nth_element(nn.begin(), nn.begin() + long(nn.size() / 2), nn.end());
    const double spacing = nn[nn.size() / 2] / L;

    const LoadedFile f = load_file(cgal_mesh(stem));
    const std::vector<P> truth = sample_surface(f.mesh, 20000, 7);
    const Topology original = topology(indexed_mesh(f.mesh));
    const Indexed afsr = advancing_front(keypoints), hull = convex_hull(keypoints);
    const Fit fa = fit_of(triangles(afsr), truth, tol, L), fh = fit_of(triangles(hull), truth, tol, L);
    // Control: the same reconstruction from a dense sample of the true surface.
    const Indexed dense = advancing_front(sample_surface(f.mesh, 30000, 11));
    const Fit fd = fit_of(triangles(dense), truth, tol, L);
    const Topology ta = topology(afsr), td = topology(dense);
    std::printf("%-17s %3zu keypoints, spacing %.3f L, tolerance %.3f L | keypoints+AFSR: %4.1f%% within, p90 %.1fx p99 %.1fx "
                "tolerance, euler %ld, %zu open edges | hull: %4.1f%% within, p99 %.1fx | dense control: %4.1f%% within, "
                "p90 %.1fx p99 %.1fx, euler %ld | part: euler %ld\n",
                stem, keypoints.size(), spacing, kToleranceOfL, 100 * fa.within_tolerance, fa.p90 / kToleranceOfL,
                fa.p99 / kToleranceOfL, ta.euler, ta.boundary_edges, 100 * fh.within_tolerance, fh.p99 / kToleranceOfL,
                100 * fd.within_tolerance, fd.p90 / kToleranceOfL, fd.p99 / kToleranceOfL, td.euler, original.euler);
    EXPECT_GT(spacing, 0.02);
    EXPECT_LT(spacing, 0.10);
    // Keypoints lie on the surface, so broad flat faces come back; what does not come back is
    // everything between them: a tenth of the surface is off by more than twice the tolerance,
    // the worst percent by more than five times (holes, fillets, slots, edges).
    EXPECT_GT(fa.p90, 2 * kToleranceOfL);
    EXPECT_GT(fa.p99, 5 * kToleranceOfL);
    EXPECT_LT(fa.within_tolerance, 0.8);
    EXPECT_GT(fh.p99, 5 * kToleranceOfL);
    // A part with holes (Euler characteristic below 2) does not come back as the same closed solid.
    if (original.euler < 2) {
      EXPECT_TRUE(ta.euler != original.euler || ta.boundary_edges > 0);
    }
    // Control: the same reconstruction from a dense sample of the true surface is within the
    // tolerance almost everywhere, so the measurement is not what fails.
    EXPECT_GT(fd.within_tolerance, 0.95);
    EXPECT_LT(fd.p90, kToleranceOfL);
    EXPECT_GT(fa.p99, 3 * fd.p99);
  }
}

}  // namespace
}  // namespace partscreen::test

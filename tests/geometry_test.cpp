// SPDX-License-Identifier: GPL-3.0-or-later
// clean_mesh / split_components / measure_component on generated shapes with known measures,
// and a cross-check of the component split against CGAL's connected_components.
#include <gtest/gtest.h>
#include <Eigen/Geometry>

#include <CGAL/Polygon_mesh_processing/connected_components.h>
#include <CGAL/Polygon_mesh_processing/measure.h>
#include <CGAL/Simple_cartesian.h>
#include <CGAL/Surface_mesh.h>

#include <map>
#include <set>

#include "geometry/copies.h"
#include "io/stl.h"
#include "partscreen/geometry.h"
#include "stl_fixtures.h"

using namespace partscreen;
using namespace partscreen::test;

namespace {

Mesh welded(const std::vector<Tri>& tris) {
  Mesh m = soup(tris);
  clean_mesh(m);
  return m;
}

// split_components must report exactly what measure_component says about each group.
void expect_consistent(const Mesh& m, const std::vector<ComponentInfo>& comps) {
  uint32_t next = 0;
  for (const ComponentInfo& c : comps) {
    EXPECT_EQ(c.first_triangle, next);
    next += c.triangle_count;
    ComponentInfo r = measure_component(m, c.first_triangle, c.triangle_count);
    EXPECT_EQ(c.area_mm2, r.area_mm2);
    EXPECT_EQ(c.volume_mm3, r.volume_mm3);
    EXPECT_EQ(c.closed, r.closed);
    EXPECT_EQ(c.manifold, r.manifold);
    EXPECT_EQ(c.bounds.min, r.bounds.min);
    EXPECT_EQ(c.bounds.max, r.bounds.max);
  }
  EXPECT_EQ(next, m.triangle_count());
}

}  // namespace

TEST(Geometry, CubeMeasures) {
  Mesh m = welded(cube(3));
  auto comps = split_components(m);
  ASSERT_EQ(comps.size(), 1u);
  EXPECT_DOUBLE_EQ(comps[0].area_mm2, 6 * 9.0);
  EXPECT_DOUBLE_EQ(comps[0].volume_mm3, 27.0);
  EXPECT_TRUE(comps[0].closed);
  EXPECT_TRUE(comps[0].manifold);
  EXPECT_EQ(comps[0].bounds.max[2], 3.f);
  expect_consistent(m, comps);
}

TEST(Geometry, TwoDisjointCubesAreTwoComponentsInInputOrder) {
  // Interleave the triangles so the split has to regroup them.
  auto a = cube(2, 0, 0, 0), b = cube(5, 10, 0, 0);
  std::vector<Tri> tris;
  for (size_t i = 0; i < 12; ++i) {
    tris.push_back(b[i]);
    tris.push_back(a[i]);
  }
  Mesh m = welded(tris);
  auto comps = split_components(m);
  ASSERT_EQ(comps.size(), 2u);
  EXPECT_EQ(comps[0].triangle_count, 12u);
  EXPECT_DOUBLE_EQ(comps[0].volume_mm3, 125.0);  // the first triangle belongs to the big cube
  EXPECT_DOUBLE_EQ(comps[0].area_mm2, 150.0);
  EXPECT_DOUBLE_EQ(comps[1].volume_mm3, 8.0);
  EXPECT_DOUBLE_EQ(comps[1].area_mm2, 24.0);
  EXPECT_TRUE(comps[0].closed && comps[1].closed);
  EXPECT_EQ(comps[1].bounds.min[0], 0.f);
  EXPECT_EQ(comps[0].bounds.min[0], 10.f);
  expect_consistent(m, comps);
  // Triangle order inside a component is kept (stable grouping).
  Mesh big = welded(b);
  Mesh part = extract_component(m, comps[0]);
  EXPECT_EQ(part.positions, big.positions);
  EXPECT_EQ(part.indices, big.indices);
}

TEST(Geometry, OpenBoxIsNotClosed) {
  auto tris = cube(1);
  tris.erase(tris.begin() + 2, tris.begin() + 4);  // remove the top face
  Mesh m = welded(tris);
  auto comps = split_components(m);
  ASSERT_EQ(comps.size(), 1u);
  EXPECT_FALSE(comps[0].closed);
  EXPECT_TRUE(comps[0].manifold);
  EXPECT_DOUBLE_EQ(comps[0].area_mm2, 5.0);
  expect_consistent(m, comps);
}

TEST(Geometry, FlippedTriangleAndFinEdgeAreNotManifold) {
  auto flipped = cube(1);
  std::swap(flipped[4][0], flipped[4][3]);
  std::swap(flipped[4][1], flipped[4][4]);
  std::swap(flipped[4][2], flipped[4][5]);
  Mesh m = welded(flipped);
  auto comps = split_components(m);
  ASSERT_EQ(comps.size(), 1u);
  EXPECT_FALSE(comps[0].manifold);
  EXPECT_FALSE(comps[0].closed);
  expect_consistent(m, comps);

  auto fin = cube(1);
  fin.push_back({0, 0, 0, 1, 0, 0, 0.5f, -1, 0});  // a third triangle on the edge (0,0,0)-(1,0,0)
  Mesh f = welded(fin);
  auto fc = split_components(f);
  ASSERT_EQ(fc.size(), 1u);
  EXPECT_FALSE(fc[0].manifold);
  expect_consistent(f, fc);
}

TEST(Geometry, CleanMeshDropsDegenerateAndWelds) {
  std::vector<Tri> tris = cube(1);
  tris.push_back({0, 0, 0, 0, 0, 0, 1, 0, 0});
  Mesh m = soup(tris);
  CleanStats s = clean_mesh(m);
  EXPECT_EQ(s.input_vertices, 39u);
  EXPECT_EQ(s.welded_vertices, 8u);
  EXPECT_EQ(s.degenerate_triangles, 1u);
  EXPECT_EQ(m.triangle_count(), 12u);
}

TEST(Geometry, SplitMatchesMeasureOnAssimpModels) {
  for (const char* name : {"Spider_binary.stl", "Wuson.stl", "sphereWithHole.stl", "3DSMaxExport.STL"}) {
    SCOPED_TRACE(name);
    Mesh m = detail::read_stl_file(std::string(PARTSCREEN_ASSIMP_MODELS) + "/STL/" + name, {}, nullptr);
    const size_t nt = m.triangle_count();
    auto comps = split_components(m);
    EXPECT_GE(comps.size(), 1u);
    EXPECT_EQ(m.triangle_count(), nt);
    expect_consistent(m, comps);
  }
}

// --- CGAL cross-check ------------------------------------------------------------------------
// CGAL joins faces across shared edges, partscreen across shared vertices; on edge-manifold
// meshes without vertex-only contacts the two partitions must be identical.

using Kernel = CGAL::Simple_cartesian<double>;
using SurfaceMesh = CGAL::Surface_mesh<Kernel::Point_3>;
namespace PMP = CGAL::Polygon_mesh_processing;

namespace {

// Builds a CGAL mesh with face i = triangle i; false if CGAL refuses a face (non-manifold).
bool to_cgal(const Mesh& m, SurfaceMesh& out) {
  std::vector<SurfaceMesh::Vertex_index> vs;
  for (size_t v = 0; v < m.vertex_count(); ++v)
    vs.push_back(out.add_vertex(Kernel::Point_3(m.positions[3 * v], m.positions[3 * v + 1], m.positions[3 * v + 2])));
  for (size_t t = 0; t < m.triangle_count(); ++t)
    if (out.add_face(vs[m.indices[3 * t]], vs[m.indices[3 * t + 1]], vs[m.indices[3 * t + 2]]) == SurfaceMesh::null_face())
      return false;
  return true;
}

void cross_check(const std::string& what, Mesh m) {
  SCOPED_TRACE(what);
  auto comps = split_components(m);
  SurfaceMesh sm;
  ASSERT_TRUE(to_cgal(m, sm)) << "test mesh must be edge-manifold for CGAL";
  auto fcc = sm.add_property_map<SurfaceMesh::Face_index, std::size_t>("f:cc", 0).first;
  const size_t n = PMP::connected_components(sm, fcc);
  ASSERT_EQ(n, comps.size());
  std::set<size_t> seen;
  for (const ComponentInfo& c : comps) {
    std::set<size_t> ids;
    for (uint32_t t = c.first_triangle; t < c.first_triangle + c.triangle_count; ++t)
      ids.insert(fcc[SurfaceMesh::Face_index(t)]);
    ASSERT_EQ(ids.size(), 1u) << "one partscreen component spans several CGAL components";
    EXPECT_TRUE(seen.insert(*ids.begin()).second) << "two partscreen components share a CGAL component";
    std::vector<SurfaceMesh::Face_index> faces;
    for (uint32_t t = c.first_triangle; t < c.first_triangle + c.triangle_count; ++t) faces.emplace_back(t);
    EXPECT_NEAR(PMP::area(faces, sm), c.area_mm2, 1e-9 * c.area_mm2);
  }
  if (comps.size() == 1) {
    EXPECT_EQ(CGAL::is_closed(sm), comps[0].closed);
    if (comps[0].closed) {
      EXPECT_NEAR(std::fabs(PMP::volume(sm)), comps[0].volume_mm3, 1e-9 * comps[0].volume_mm3);
    }
  }
}

}  // namespace

TEST(GeometryCgal, ComponentsMatchCgal) {
  cross_check("cube", welded(cube(2)));
  cross_check("two cubes", welded(concat(cube(2), cube(3, 10))));
  cross_check("torus", welded(torus(40, 16, 20, 5)));
  const auto box = cube(1);
  cross_check("open box", welded(std::vector<Tri>(box.begin() + 2, box.end())));
  std::vector<Tri> many;
  for (int i = 0; i < 20; ++i) many = concat(many, i % 2 ? cube(1.5f, 10.f * i) : torus(12, 6, 3, 1, 10.f * i));
  cross_check("twenty parts", welded(many));
  int real = 0;
  for (const char* name : {"Spider_binary.stl", "Wuson.stl", "sphereWithHole.stl", "3DSMaxExport.STL"}) {
    Mesh m = detail::read_stl_file(std::string(PARTSCREEN_ASSIMP_MODELS) + "/STL/" + name, {}, nullptr);
    SurfaceMesh probe;
    if (!to_cgal(m, probe)) continue;  // CGAL cannot hold non-manifold input; covered above
    cross_check(name, m);
    ++real;
  }
  std::printf("cross-checked %d assimp models\n", real);
  EXPECT_GE(real, 1);
}

// A plate of instances: the torus, and copies of it turned about a slanted axis and moved (one
// 2 m out, where float coordinates are rounded coarser; one written with its coordinates rounded
// to 0.01 mm, as writers that keep two decimals do), are copies of the first; its mirror image, a
// copy with one vertex moved by 1% of its size, and a cube are not. Each copy names the first
// torus and the placement that carries it there, corner for corner.
TEST(Geometry, RigidCopiesAreFoundCornerForCorner) {
  const std::vector<Tri> part = torus(24, 12, 10.f, 3.f);
  auto placed = [&](float angle, float tx, float ty, float tz, float mirror_x) {
    const Eigen::Matrix3f R = Eigen::AngleAxisf(angle, Eigen::Vector3f(1.f, 2.f, 0.5f).normalized()).toRotationMatrix();
    std::vector<Tri> out = part;
    for (Tri& t : out) {
      for (int k = 0; k < 3; ++k) {
        Eigen::Vector3f p(mirror_x * t[3 * k], t[3 * k + 1], t[3 * k + 2]);
        p = R * p + Eigen::Vector3f(tx, ty, tz);
        for (int a = 0; a < 3; ++a) t[3 * k + a] = p[a];
      }
      if (mirror_x < 0.f) std::swap_ranges(t.begin() + 3, t.begin() + 6, t.begin() + 6);  // outward again
    }
    return out;
  };
  std::vector<Tri> nudged = placed(0.3f, 0.f, 80.f, 0.f, 1.f);
  nudged[5][0] += 0.26f;  // 1% of the torus's 26 mm
  std::vector<Tri> rounded = placed(0.9f, 120.f, 40.f, 3.f, 1.f);
  for (Tri& t : rounded)
    for (float& c : t) c = std::round(c * 100.f) / 100.f;
  std::vector<Tri> plate = part;
  for (const std::vector<Tri>& more : {placed(1.1f, 60.f, 0.f, 0.f, 1.f), placed(0.f, 0.f, 40.f, 5.f, 1.f), placed(2.5f, 2000.f, -30.f, 0.f, 1.f),
                                       placed(0.7f, -60.f, 0.f, 0.f, -1.f), nudged, cube(8.f, 0.f, -60.f, 0.f), rounded})
    plate = concat(plate, more);
  Mesh m = welded(plate);
  const std::vector<ComponentInfo> comps = split_components(m);
  ASSERT_EQ(comps.size(), 8u);
  std::vector<detail::ComponentRef> items;
  for (const ComponentInfo& c : comps) items.push_back({&m, c});
  const std::vector<detail::RigidCopy> copies = detail::find_rigid_copies(items);
  ASSERT_EQ(copies.size(), 8u);
  const int32_t expected[8] = {-1, 0, 0, 0, -1, -1, -1, 0};
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(copies[i].source, expected[i]) << "component " << i;
    if (copies[i].source < 0) continue;
    const Eigen::Map<const Eigen::Matrix<float, 3, 3, Eigen::RowMajor>> R(copies[i].rotation);
    const Eigen::Map<const Eigen::Vector3f> t(copies[i].translation);
    double worst = 0.0;
    for (uint32_t k = 0; k < 3 * comps[0].triangle_count; ++k) {
      const Eigen::Map<const Eigen::Vector3f> a(&m.positions[3 * m.indices[3 * comps[0].first_triangle + k]]);
      const Eigen::Map<const Eigen::Vector3f> b(&m.positions[3 * m.indices[3 * comps[i].first_triangle + k]]);
      worst = std::max(worst, double((R * a + t - b).norm()));
    }
    EXPECT_LT(worst, i == 7 ? 0.01 : 1e-3) << "component " << i;  // 0.01 mm rounding moves a corner up to 0.0087 mm
    EXPECT_NEAR(R.determinant(), 1.f, 1e-4f);
  }
}

// Writers that round coordinates collapse a part's slivers, and clean-up drops them: a turned and
// moved copy of a torus holding three slivers (a triangle split 1 um off one of its sides, as
// fine tessellation leaves them), written without them, is still a copy of it; one that lost a
// real triangle instead is not, nor one that lost the slivers and had a corner moved by 1%.
TEST(Geometry, CopiesThatLostSliversToRoundingAreStillCopies) {
  std::vector<Tri> part;
  std::vector<bool> is_sliver;
  const std::vector<Tri> ring = torus(24, 12, 10.f, 3.f);
  for (size_t t = 0; t < ring.size(); ++t) {
    if (t % 200 != 100) {
      part.push_back(ring[t]);
      is_sliver.push_back(false);
      continue;
    }
    const Eigen::Map<const Eigen::Vector3f> p(&ring[t][0]), q(&ring[t][3]), r(&ring[t][6]);
    const Eigen::Vector3f mid = 0.5f * (p + q), s = mid + 0.001f * (r - mid).normalized();
    auto tri = [](const Eigen::Vector3f& a, const Eigen::Vector3f& b, const Eigen::Vector3f& c) {
      return Tri{a[0], a[1], a[2], b[0], b[1], b[2], c[0], c[1], c[2]};
    };
    part.insert(part.end(), {tri(p, s, r), tri(s, q, r), tri(p, q, s)});
    is_sliver.insert(is_sliver.end(), {false, false, true});
  }
  const Eigen::Matrix3f R = Eigen::AngleAxisf(0.8f, Eigen::Vector3f(0.3f, -1.f, 0.6f).normalized()).toRotationMatrix();
  auto moved = [&](bool (*keep)(size_t, bool), float tx) {
    std::vector<Tri> out;
    for (size_t t = 0; t < part.size(); ++t) {
      if (!keep(t, is_sliver[t])) continue;
      Tri m = part[t];
      for (int k = 0; k < 3; ++k) {
        const Eigen::Vector3f v = R * Eigen::Vector3f(m[3 * k], m[3 * k + 1], m[3 * k + 2]) + Eigen::Vector3f(tx, 20.f, 1.f);
        for (int a = 0; a < 3; ++a) m[3 * k + a] = v[a];
      }
      out.push_back(m);
    }
    return out;
  };
  std::vector<Tri> nudged = moved([](size_t, bool sliver) { return !sliver; }, 150.f);
  nudged[40][0] += 0.26f;  // 1% of the torus's 26 mm
  const std::vector<Tri> plate = concat(concat(concat(part, moved([](size_t, bool sliver) { return !sliver; }, 50.f)),
                                               moved([](size_t t, bool) { return t != 250; }, 100.f)),
                                        nudged);
  Mesh m = welded(plate);
  const std::vector<ComponentInfo> comps = split_components(m);
  ASSERT_EQ(comps.size(), 4u);
  EXPECT_EQ(comps[0].triangle_count, comps[1].triangle_count + 3);
  std::vector<detail::ComponentRef> items;
  for (const ComponentInfo& c : comps) items.push_back({&m, c});
  const std::vector<detail::RigidCopy> copies = detail::find_rigid_copies(items);
  ASSERT_EQ(copies.size(), 4u);
  EXPECT_EQ(copies[0].source, -1);
  EXPECT_EQ(copies[1].source, 0);
  EXPECT_EQ(copies[2].source, -1);
  EXPECT_EQ(copies[3].source, -1);
  // The placement found is the one applied.
  const Eigen::Map<const Eigen::Matrix<float, 3, 3, Eigen::RowMajor>> found(copies[1].rotation);
  EXPECT_LT((found - R).cwiseAbs().maxCoeff(), 1e-4f);
  EXPECT_NEAR(copies[1].translation[0], 50.f, 1e-3f);
}


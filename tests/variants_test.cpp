// SPDX-License-Identifier: GPL-3.0-or-later
// The transformation suite: plane cuts are exact and capped (areas and volumes add up), booleans
// give one closed component of the right volume, decimation and remeshing keep the shape, every
// kind is deterministic and either makes a mesh or refuses with invalid_argument. Meshes: shapes
// generated here with known cross-sections, and CGAL's sample parts from Debian's libcgal-demo.
#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <unistd.h>

#include "eval/mesh_ops.h"
#include "partscreen/error.h"
#include "partscreen/io.h"
#include "partscreen/variants.h"

namespace fs = std::filesystem;
using namespace partscreen;
using V3 = Eigen::Vector3d;

namespace {

const double kPi = 3.14159265358979323846;

V3 vert(const Mesh& m, uint32_t i) { return V3(m.positions[3 * i], m.positions[3 * i + 1], m.positions[3 * i + 2]); }

double area(const Mesh& m) {
  double a = 0;
  for (size_t f = 0; f + 2 < m.indices.size(); f += 3)
    a += 0.5 * (vert(m, m.indices[f + 1]) - vert(m, m.indices[f])).cross(vert(m, m.indices[f + 2]) - vert(m, m.indices[f])).norm();
  return a;
}

// Signed volume (divergence theorem): positive for an outward-wound closed surface.
double volume(const Mesh& m) {
  double v = 0;
  for (size_t f = 0; f + 2 < m.indices.size(); f += 3)
    v += vert(m, m.indices[f]).dot(vert(m, m.indices[f + 1]).cross(vert(m, m.indices[f + 2]))) / 6.0;
  return v;
}

// Every edge used once in each direction: closed and consistently oriented.
bool closed_oriented(const Mesh& m) {
  std::map<std::pair<uint32_t, uint32_t>, int> directed;
  for (size_t f = 0; f + 2 < m.indices.size(); f += 3)
    for (int k = 0; k < 3; ++k) directed[{m.indices[f + k], m.indices[f + (k + 1) % 3]}]++;
  for (auto& [e, n] : directed) {
    auto it = directed.find({e.second, e.first});
    if (n != 1 || it == directed.end() || it->second != 1) return false;
  }
  return !directed.empty();
}

double sum(const std::vector<Mesh>& ms, double (*f)(const Mesh&)) {
  double s = 0;
  for (const Mesh& m : ms) s += f(m);
  return s;
}

void add_vertex(Mesh& m, double x, double y, double z) {
  // (push_back, not insert of a list: GCC 12 warns a false -Wstringop-overflow on the latter here)
  for (double c : {x, y, z}) m.positions.push_back(float(c));
}

// Prism over a 2D polygon (counter-clockwise ring) from z = 0 to h; `cap` triangulates the ring.
Mesh prism(const std::vector<std::array<double, 2>>& ring, const std::vector<std::array<uint32_t, 3>>& cap, double h) {
  Mesh m;
  const uint32_t n = uint32_t(ring.size());
  for (double z : {0.0, h})
    for (auto& p : ring) add_vertex(m, p[0], p[1], z);
  for (auto& t : cap) {
    m.indices.insert(m.indices.end(), {t[0], t[2], t[1]});              // bottom faces -z
    m.indices.insert(m.indices.end(), {n + t[0], n + t[1], n + t[2]});  // top faces +z
  }
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t j = (i + 1) % n;
    m.indices.insert(m.indices.end(), {i, j, n + j, i, n + j, n + i});
  }
  return m;
}

Mesh cube(double s) { return prism({{{0, 0}}, {{s, 0}}, {{s, s}}, {{0, s}}}, {{{0, 1, 2}}, {{0, 2, 3}}}, s); }

// U-shaped prism: 30 x 20 outline with a 10 x 10 notch, area 500 mm^2, concave.
Mesh u_prism(double h) {
  return prism({{{0, 0}}, {{30, 0}}, {{30, 20}}, {{20, 20}}, {{20, 10}}, {{10, 10}}, {{10, 20}}, {{0, 20}}},
               {{{0, 1, 4}}, {{1, 2, 3}}, {{1, 3, 4}}, {{0, 4, 5}}, {{0, 5, 6}}, {{0, 6, 7}}}, h);
}

// Tube (regular n-gon outer radius R, inner r) along z from 0 to h; `open_top` leaves the top
// annulus out (an open mesh, as many real STLs are).
Mesh tube(double R, double r, double h, int n, bool open_top = false) {
  Mesh m;
  for (double z : {0.0, h})
    for (double rad : {R, r})
      for (int i = 0; i < n; ++i) add_vertex(m, rad * std::cos(2 * kPi * i / n), rad * std::sin(2 * kPi * i / n), z);
  const uint32_t N = uint32_t(n);
  auto id = [&](int top, int inner, int i) { return uint32_t((top * 2 + inner) * n + (i % n)); };
  for (int i = 0; i < n; ++i) {
    uint32_t a0 = id(0, 0, i), a1 = id(0, 0, i + 1), b0 = id(1, 0, i), b1 = id(1, 0, i + 1);  // outer wall
    m.indices.insert(m.indices.end(), {a0, a1, b1, a0, b1, b0});
    uint32_t c0 = id(0, 1, i), c1 = id(0, 1, i + 1), d0 = id(1, 1, i), d1 = id(1, 1, i + 1);  // inner wall faces in
    m.indices.insert(m.indices.end(), {c0, d1, c1, c0, d0, d1});
    m.indices.insert(m.indices.end(), {a0, c1, a1, a0, c0, c1});  // bottom faces -z
    if (!open_top) m.indices.insert(m.indices.end(), {b0, b1, d1, b0, d1, d0});
  }
  (void)N;
  return m;
}

double polygon_area(double R, int n) { return 0.5 * n * R * R * std::sin(2 * kPi / n); }

struct CutCase {
  std::string name;
  Mesh mesh;
  V3 point, normal;
  double cross_section;  // analytic
  size_t pieces;
};

std::vector<CutCase> cut_cases() {
  std::vector<CutCase> cases;
  // Cube 20 cut by z = 10 + 0.2 x: a parallelogram of 20 x 20 * sqrt(1 + 0.04).
  cases.push_back({"cube", cube(20), V3(0, 0, 10), V3(-0.2, 0, 1), 400 * std::sqrt(1.04), 2});
  // Tube cut obliquely through its walls: the annulus over cos(tilt).
  cases.push_back({"tube", tube(10, 6, 30, 48), V3(0, 0, 15), V3(0.1, 0.2, 1),
                   (polygon_area(10, 48) - polygon_area(6, 48)) * std::sqrt(1 + 0.01 + 0.04), 2});
  // U prism cut across both arms by y = 15 + 0.1 z: two 10-wide strips, three pieces.
  cases.push_back({"u_across_arms", u_prism(20), V3(0, 15, 0), V3(0, 1, -0.1), 2 * 10 * 20 * std::sqrt(1.01), 3});
  // U prism cut by a plane across its extrusion: the concave outline itself.
  cases.push_back({"u_outline", u_prism(20), V3(0, 0, 8), V3(0.05, -0.05, 1), 500 * std::sqrt(1 + 0.005), 2});
  return cases;
}

}  // namespace

TEST(PlaneCut, GeneratedShapesAreValidSolids) {
  for (const CutCase& c : cut_cases()) {
    EXPECT_TRUE(closed_oriented(c.mesh)) << c.name;
    EXPECT_GT(volume(c.mesh), 0) << c.name;
    EXPECT_TRUE(eval::is_solid(c.mesh)) << c.name;
  }
}

// Pieces' area = part area + two caps of the cross-section; volumes add up; every piece closed.
TEST(PlaneCut, ExactClipAndFallbackCapTheCrossSection) {
  for (const CutCase& c : cut_cases())
    for (eval::CutMethod method : {eval::CutMethod::automatic, eval::CutMethod::split_only}) {
      const std::string label = c.name + (method == eval::CutMethod::automatic ? " clip" : " split");
      eval::CutInfo info;
      std::vector<Mesh> pieces = eval::cut_by_plane(c.mesh, c.point, c.normal, method, &info);
      EXPECT_EQ(info.exact_clip, method == eval::CutMethod::automatic) << label;
      ASSERT_EQ(pieces.size(), c.pieces) << label;
      const double expected = area(c.mesh) + 2 * c.cross_section;
      EXPECT_NEAR(sum(pieces, area), expected, 0.01 * expected) << label;
      EXPECT_NEAR(sum(pieces, volume), volume(c.mesh), 0.01 * volume(c.mesh)) << label;
      for (const Mesh& p : pieces) {
        EXPECT_TRUE(closed_oriented(p)) << label;
        EXPECT_GT(volume(p), 0) << label;
      }
      if (method == eval::CutMethod::split_only) {
        EXPECT_NEAR(info.cap_area, 2 * c.cross_section, 0.01 * c.cross_section) << label;
        EXPECT_EQ(info.dangling_edges, 0u) << label;
      }
    }
}

TEST(PlaneCut, OpenMeshFallsBackAndCapsItsClosedLoops) {
  // Open at the top: CGAL refuses, the split caps the annulus where the walls cross the plane.
  Mesh open = tube(10, 6, 30, 40, /*open_top=*/true);
  EXPECT_FALSE(eval::is_solid(open));
  eval::CutInfo info;
  std::vector<Mesh> pieces = eval::cut_by_plane(open, V3(0, 0, 12), V3(0, 0, 1), eval::CutMethod::automatic, &info);
  EXPECT_FALSE(info.exact_clip);
  ASSERT_EQ(pieces.size(), 2u);
  const double annulus = polygon_area(10, 40) - polygon_area(6, 40);
  EXPECT_NEAR(info.cap_area, 2 * annulus, 0.01 * annulus);
  EXPECT_NEAR(sum(pieces, area), area(open) + 2 * annulus, 0.01 * area(open));
  // A cut along the open wall leaves chains that do not close: they stay uncapped, no crash.
  Mesh sheet;
  add_vertex(sheet, 0, 0, 0); add_vertex(sheet, 10, 0, 0); add_vertex(sheet, 10, 10, 0); add_vertex(sheet, 0, 10, 0);
  sheet.indices = {0, 1, 2, 0, 2, 3};
  pieces = eval::cut_by_plane(sheet, V3(5, 0, 0), V3(1, 0.3, 0), eval::CutMethod::automatic, &info);
  EXPECT_EQ(pieces.size(), 2u);
  EXPECT_NEAR(sum(pieces, area), 100.0, 1e-3);
  EXPECT_GT(info.dangling_edges, 0u);
}

TEST(PlaneCut, PlaneMissingThePartReturnsItWhole) {
  Mesh c = cube(10);
  for (eval::CutMethod method : {eval::CutMethod::automatic, eval::CutMethod::split_only}) {
    std::vector<Mesh> pieces = eval::cut_by_plane(c, V3(0, 0, 50), V3(0, 0, 1), method);
    ASSERT_EQ(pieces.size(), 1u);
    EXPECT_NEAR(volume(pieces[0]), 1000.0, 1e-6);
  }
}

// Two overlapping cubes in one mesh (closed, but intersecting itself, as many exported
// multi-body STLs are): booleans repair it to the union first; the cut falls back to the split.
TEST(Booleans, SelfIntersectingBaseIsRepairedThenCut) {
  Mesh two = cube(10), b = cube(10);
  for (size_t i = 0; i < b.positions.size(); ++i) b.positions[i] += 5.0f;
  const uint32_t base = uint32_t(two.vertex_count());
  two.positions.insert(two.positions.end(), b.positions.begin(), b.positions.end());
  for (uint32_t i : b.indices) two.indices.push_back(base + i);
  EXPECT_FALSE(eval::is_solid(two));
  Mesh corner = cube(4), out;
  for (float& c : corner.positions) c += 12.0f;  // [12, 16]^3 overlaps [5, 15]^3 in [12, 15]^3
  ASSERT_TRUE(eval::apply_booleans(two, {{eval::BooleanOp::subtract, corner}}, out));
  EXPECT_TRUE(closed_oriented(out));
  EXPECT_EQ(eval::connected_pieces(out).size(), 1u);
  EXPECT_NEAR(volume(out), 1000 + 1000 - 125 - 27, 1e-3);
  // An open tool is refused, not guessed at.
  Mesh open_tool = tube(3, 1, 30, 16, true);
  EXPECT_FALSE(eval::apply_booleans(cube(10), {{eval::BooleanOp::subtract, open_tool}}, out));

  eval::CutInfo info;
  std::vector<Mesh> pieces = eval::cut_by_plane(two, V3(0, 0, 3), V3(0, 0, 1), eval::CutMethod::automatic, &info);
  EXPECT_FALSE(info.exact_clip);
  EXPECT_NEAR(sum(pieces, volume), 2000.0, 1e-3);  // each cube's own volume, overlap counted twice
  EXPECT_NEAR(info.cap_area, 2 * 100.0, 1e-3);     // z = 3 crosses only the first cube
}

namespace {

const char* kArchive = "/usr/share/doc/libcgal-dev/data.tar.gz";
const char* kParts[] = {"couplingdown.off", "pinion.off", "rotor.off", "spool.off"};

class VariantSuite : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("partscreen-variants-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::string cmd = "tar -xzf " + std::string(kArchive) + " -C " + dir_.string();
    for (const char* p : kParts) cmd += std::string(" data/meshes/") + p;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "cannot unpack " << kArchive << " (install libcgal-dev)";
    parts_ = new std::vector<std::pair<std::string, Mesh>>();
    for (const char* p : kParts) parts_->push_back({p, load_file((dir_ / "data/meshes" / p).string()).mesh});
    parts_->push_back({"tube", tube(10, 6, 30, 48)});
    parts_->push_back({"u_prism", u_prism(20)});
  }
  static void TearDownTestSuite() {
    fs::remove_all(dir_);
    delete parts_;
  }
  static fs::path dir_;
  static std::vector<std::pair<std::string, Mesh>>* parts_;
};
fs::path VariantSuite::dir_;
std::vector<std::pair<std::string, Mesh>>* VariantSuite::parts_ = nullptr;

double bbox_volume(const Mesh& m) {
  V3 lo = V3::Constant(1e300), hi = V3::Constant(-1e300);
  for (size_t i = 0; i < m.vertex_count(); ++i) {
    lo = lo.cwiseMin(vert(m, uint32_t(i)));
    hi = hi.cwiseMax(vert(m, uint32_t(i)));
  }
  V3 e = hi - lo;
  return e.x() * e.y() * e.z();
}

double diagonal(const Mesh& m) {
  V3 lo = V3::Constant(1e300), hi = V3::Constant(-1e300);
  for (size_t i = 0; i < m.vertex_count(); ++i) {
    lo = lo.cwiseMin(vert(m, uint32_t(i)));
    hi = hi.cwiseMax(vert(m, uint32_t(i)));
  }
  return (hi - lo).norm();
}

Mesh only_file(const Variant& v) {
  EXPECT_EQ(v.files.size(), 1u) << v.name;
  return v.files.empty() ? Mesh{} : v.files[0];
}

}  // namespace

TEST_F(VariantSuite, SampleMeshesAreSolids) {
  for (auto& [name, m] : *parts_) {
    EXPECT_TRUE(eval::is_solid(m)) << name;
    EXPECT_GT(std::abs(volume(m)), 0) << name;
  }
}

// The same cut by the exact clip and by the fallback gives the same area and volume: two
// independent constructions of the same caps.
TEST_F(VariantSuite, ClipAndFallbackAgreeOnRealParts) {
  for (auto& [name, m] : *parts_) {
    V3 lo = V3::Constant(1e300), hi = V3::Constant(-1e300);
    for (size_t i = 0; i < m.vertex_count(); ++i) {
      lo = lo.cwiseMin(vert(m, uint32_t(i)));
      hi = hi.cwiseMax(vert(m, uint32_t(i)));
    }
    const V3 p = 0.5 * (lo + hi), n = V3(0.3, -0.5, 0.8);
    eval::CutInfo clip_info, split_info;
    std::vector<Mesh> clip = eval::cut_by_plane(m, p, n, eval::CutMethod::automatic, &clip_info);
    std::vector<Mesh> split = eval::cut_by_plane(m, p, n, eval::CutMethod::split_only, &split_info);
    EXPECT_TRUE(clip_info.exact_clip) << name;
    EXPECT_EQ(split_info.dangling_edges, 0u) << name;
    EXPECT_GT(split_info.cap_area, 0) << name;
    EXPECT_NEAR(sum(clip, area), area(m) + split_info.cap_area, 0.01 * area(m)) << name;
    EXPECT_NEAR(sum(split, area), area(m) + split_info.cap_area, 1e-6 * area(m)) << name;
    EXPECT_NEAR(sum(clip, volume), std::abs(volume(m)), 0.01 * std::abs(volume(m))) << name;
    EXPECT_NEAR(sum(split, volume), std::abs(volume(m)), 0.01 * std::abs(volume(m))) << name;
    EXPECT_EQ(clip.size(), split.size()) << name;
  }
}

TEST_F(VariantSuite, EveryKindMakesAMeshOrRefusesAndIsDeterministic) {
  std::vector<Mesh> others;
  for (auto& [name, m] : *parts_) others.push_back(m);
  std::vector<std::pair<std::string, Mesh>> inputs = *parts_;
  inputs.push_back({"open_tube", tube(10, 6, 30, 32, true)});
  Mesh sheet;
  add_vertex(sheet, 0, 0, 0); add_vertex(sheet, 10, 0, 0); add_vertex(sheet, 0, 10, 0);
  sheet.indices = {0, 1, 2};
  inputs.push_back({"one_triangle", sheet});
  for (auto& [name, m] : inputs)
    for (VariantKind k : all_variant_kinds()) {
      const std::string label = name + " " + variant_name(k);
      try {
        Variant a = make_variant(m, k, 7, others);
        Variant b = make_variant(m, k, 7, others);
        ASSERT_FALSE(a.files.empty()) << label;
        size_t triangles = 0;
        for (const Mesh& f : a.files) triangles += f.triangle_count();
        EXPECT_GT(triangles, 0u) << label;
        EXPECT_EQ(a.name, b.name) << label;
        ASSERT_EQ(a.files.size(), b.files.size()) << label;
        for (size_t f = 0; f < a.files.size(); ++f) {
          EXPECT_EQ(a.files[f].indices, b.files[f].indices) << label;
          ASSERT_EQ(a.files[f].positions.size(), b.files[f].positions.size()) << label;
          EXPECT_EQ(0, std::memcmp(a.files[f].positions.data(), b.files[f].positions.data(), 4 * a.files[f].positions.size())) << label;
        }
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_argument) << label << ": " << e.what();
      }
    }
  EXPECT_THROW(make_variant(Mesh{}, VariantKind::pieces, 1), Error);
}

TEST_F(VariantSuite, PiecesAreClosedAndAddUpToThePart) {
  for (auto& [name, m] : *parts_)
    for (uint64_t seed : {1, 2, 3}) {
      Variant v = make_variant(m, VariantKind::pieces, seed);
      const std::string label = name + " " + v.name;
      EXPECT_NE(v.name.find(",clip)"), std::string::npos) << label;
      std::vector<Mesh> pieces;
      for (const Mesh& f : v.files)
        for (Mesh& p : eval::connected_pieces(f)) pieces.push_back(std::move(p));
      EXPECT_GE(pieces.size(), 2u) << label;
      for (const Mesh& p : pieces) EXPECT_TRUE(closed_oriented(p)) << label;
      EXPECT_NEAR(sum(pieces, volume), std::abs(volume(m)), 0.01 * std::abs(volume(m))) << label;
      // Caps add area, but never more than two cross-sections per cut (each at most the part's
      // projected extent); the old centroid fan produced several times the part's area.
      EXPECT_GT(sum(pieces, area), area(m)) << label;
      EXPECT_LT(sum(pieces, area), 2.0 * area(m)) << label;
    }
}

TEST_F(VariantSuite, FusedAndBuriedAreOneClosedComponent) {
  for (auto& [name, m] : *parts_) {
    const double vp = std::abs(volume(m)), vb = 0.216 * bbox_volume(m), d = diagonal(m);
    Mesh f = only_file(make_variant(m, VariantKind::fused, 5));
    EXPECT_EQ(eval::connected_pieces(f).size(), 1u) << name;
    EXPECT_TRUE(closed_oriented(f)) << name;
    // Half the block lies outside the part's bounding box, all of it at most adds.
    EXPECT_GT(volume(f), vp + 0.5 * vb - 1e-3 * vp) << name;
    EXPECT_LT(volume(f), vp + vb + 1e-3 * vp) << name;

    Variant bv = make_variant(m, VariantKind::buried, 5);
    EXPECT_NE(bv.name.find("(union)"), std::string::npos) << name << " " << bv.name;
    Mesh b = only_file(bv);
    EXPECT_EQ(eval::connected_pieces(b).size(), 1u) << name;
    EXPECT_TRUE(closed_oriented(b)) << name;
    // Shell volume from the construction (gap 5%, wall 3% of the diagonal, an escape hole of
    // 4% x 4% through one wall), sprues at most four
    // sticks of 2% x 2% x (2% + 5% + 1.5%) of the diagonal.
    V3 lo = V3::Constant(1e300), hi = V3::Constant(-1e300);
    for (size_t i = 0; i < m.vertex_count(); ++i) {
      lo = lo.cwiseMin(vert(m, uint32_t(i)));
      hi = hi.cwiseMax(vert(m, uint32_t(i)));
    }
    V3 inner = hi - lo + V3::Constant(0.1 * d), outer = inner + V3::Constant(0.06 * d);
    double shell = outer.prod() - inner.prod(), sprues = 4 * std::pow(0.02 * d, 2) * 0.085 * d;
    double escape = std::pow(0.04 * d, 2) * 0.03 * d;  // the hole through one wall
    EXPECT_GT(volume(b), vp + shell - escape - 1e-3 * shell) << name;
    EXPECT_LT(volume(b), vp + shell + sprues) << name;
  }
}

TEST_F(VariantSuite, HolesRemoveALittleMaterial) {
  for (auto& [name, m] : *parts_)
    for (uint64_t seed : {1, 2}) {
      Variant v = make_variant(m, VariantKind::holes, seed);
      Mesh h = only_file(v);
      const double vp = std::abs(volume(m)), d = diagonal(m);
      EXPECT_TRUE(closed_oriented(h)) << name << " " << v.name;
      EXPECT_LT(volume(h), vp * (1 - 1e-4)) << name << " " << v.name;
      // At most three cylinders of diameter 8% of the diagonal, each shorter than the diagonal.
      EXPECT_GT(volume(h), vp - 3 * kPi * std::pow(0.04 * d, 2) * d) << name << " " << v.name;
    }
}

TEST_F(VariantSuite, LetteringAddsOrCarvesALittleMaterial) {
  // (Whether a seed embosses or engraves does not depend on the part: seeds 1-3 engrave, 4-6 emboss.)
  size_t embossed = 0, engraved = 0, refused = 0;
  for (auto& [name, m] : *parts_)
    for (uint64_t seed : {1, 2, 3, 4, 5, 6}) {
      Variant v;
      try {
        v = make_variant(m, VariantKind::lettering, seed);
      } catch (const Error& e) {
        // Only a part with no spot to take the label may refuse, and it says so.
        EXPECT_NE(std::string(e.what()).find("lettering: no spot"), std::string::npos) << name << ": " << e.what();
        ++refused;
        continue;
      }
      Mesh h = only_file(v);
      const std::string label = name + " " + v.name;
      const double vp = std::abs(volume(m)), d = diagonal(m);
      EXPECT_TRUE(closed_oriented(h)) << label;
      EXPECT_EQ(eval::connected_pieces(h).size(), eval::connected_pieces(m).size()) << label;
      // At most five digits of seven strokes, each at most 3% x 1% of the diagonal across and
      // reaching a stroke depth (1%) past the surface under it on either side, which lies within
      // three stroke depths of the label's plane: at most 8% of the diagonal along the normal.
      const double most = 5 * 7 * 0.03 * 0.01 * 0.08 * d * d * d;
      const bool emboss = v.name.find("emboss") != std::string::npos;
      EXPECT_TRUE(emboss || v.name.find("engrave") != std::string::npos) << label;
      if (emboss) {
        EXPECT_GT(std::abs(volume(h)), vp) << label;
        EXPECT_LT(std::abs(volume(h)), vp + most) << label;
      } else {
        EXPECT_LT(std::abs(volume(h)), vp) << label;
        EXPECT_GT(std::abs(volume(h)), vp - most) << label;
      }
      EXPECT_GT(area(h), area(m)) << label;  // strokes add their sides either way
      EXPECT_LT(area(h), 1.1 * area(m)) << label;
      ++(emboss ? embossed : engraved);
    }
  EXPECT_GT(embossed, 0u);
  EXPECT_GT(engraved, 0u);
  EXPECT_LT(refused, (embossed + engraved) / 3) << "most parts take a label";
}

// The counts and radius a fillets variant's name gives: "fillets(round R,fill F,r P%...)".
struct FilletLabel {
  int rounded = -1, filled = -1;
  double radius_share = 0;  // of the diagonal
  bool halved = false;
};
FilletLabel fillet_label(const std::string& name) {
  FilletLabel l;
  double percent = 0;
  if (std::sscanf(name.c_str(), "fillets(round %d,fill %d,r %lf%%", &l.rounded, &l.filled, &percent) == 3) l.radius_share = percent / 100;
  l.halved = name.find("halved") != std::string::npos;
  return l;
}

TEST_F(VariantSuite, FilletsRoundOuterEdgesAndFillInnerCorners) {
  // The U prism (30 x 20 x 20, a 10 x 10 notch) has edges 10, 20 and 30 long, all meeting at 90
  // degrees: two inner corners (the notch's, 20 long) and the rest outer edges. A quarter-round
  // fillet of radius r on an edge of length L takes (1 - pi/4) r^2 L off an outer edge and adds it
  // to an inner corner (the tool runs 5% of r past an outer edge's ends and stops 5% short of an
  // inner corner's; its 16-chord arc lies 0.6% off). Both replace 2r of flat face by a quarter
  // circle, so the area shrinks either way.
  const Mesh u = u_prism(20);
  const double vu = std::abs(volume(u)), au = area(u), d = diagonal(u), wedge = 1 - kPi / 4;
  int only_filled = 0, only_rounded = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    const Variant v = make_variant(u, VariantKind::fillets, seed);
    const Mesh h = only_file(v);
    const std::string label = v.name + " seed " + std::to_string(seed);
    const FilletLabel l = fillet_label(v.name);
    ASSERT_GE(l.rounded, 0) << label;
    ASSERT_GT(l.rounded + l.filled, 0) << label;
    EXPECT_LE(l.rounded + l.filled, 3) << label;
    EXPECT_LE(l.filled, 2) << label;
    EXPECT_FALSE(l.halved) << label << ": every face is at least 10 wide";
    EXPECT_GE(l.radius_share, 0.01) << label;
    EXPECT_LE(l.radius_share, 0.025) << label;
    EXPECT_TRUE(closed_oriented(h)) << label;
    EXPECT_EQ(eval::connected_pieces(h).size(), 1u) << label;
    EXPECT_LT(area(h), au) << label;
    const double r = l.radius_share * d, per_length = wedge * r * r, change = std::abs(volume(h)) - vu;
    if (l.rounded == 0) {
      EXPECT_NEAR(change, l.filled * per_length * 20, 0.03 * l.filled * per_length * 20) << label;
      ++only_filled;
    } else if (l.filled == 0) {
      EXPECT_LT(change, 0) << label;
      if (l.rounded == 1) {  // one edge, of one of the prism's lengths
        const double length = -change / per_length;
        EXPECT_TRUE(std::abs(length - 10) < 0.3 || std::abs(length - 20) < 0.6 || std::abs(length - 30) < 0.9) << label << ": " << length;
      }
      ++only_rounded;
    }
  }
  EXPECT_GT(only_filled, 0);
  EXPECT_GT(only_rounded, 0);

  // A cylinder has no straight sharp edge: refused with the reason. Real parts take fillets or
  // say why not, and change by a few fillets' worth at most.
  try {
    make_variant(tube(10, 6, 30, 48), VariantKind::fillets, 1);
    ADD_FAILURE() << "a tube was filleted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fillets: no straight sharp edge"), std::string::npos) << e.what();
  }
  size_t made = 0;
  for (auto& [name, m] : *parts_) {
    if (name == "tube") continue;
    for (uint64_t seed : {1, 2}) {
      Variant v;
      try {
        v = make_variant(m, VariantKind::fillets, seed);
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("fillets: no straight sharp edge"), std::string::npos) << name << ": " << e.what();
        continue;
      }
      const Mesh h = only_file(v);
      const std::string label = name + " " + v.name;
      const double vp = std::abs(volume(m)), dp = diagonal(m), r = fillet_label(v.name).radius_share * dp;
      EXPECT_TRUE(closed_oriented(h)) << label;
      EXPECT_EQ(eval::connected_pieces(h).size(), eval::connected_pieces(m).size()) << label;
      EXPECT_NE(std::abs(volume(h)), vp) << label;
      EXPECT_NEAR(std::abs(volume(h)), vp, 3 * wedge * r * r * dp) << label;  // three runs, none longer than the diagonal
      ++made;
    }
  }
  EXPECT_GE(made, 4u) << "pinion, rotor and spool have straight sharp edges";
}

TEST_F(VariantSuite, DecimateAndRemeshKeepTheShape) {
  // Twelve triangles have none to spare.
  try {
    make_variant(cube(20), VariantKind::decimate, 3);
    ADD_FAILURE() << "a decimated 12-triangle cube was made";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("12 triangles are too few"), std::string::npos) << e.what();
  }
  for (auto& [name, m] : *parts_) {
    const double vp = std::abs(volume(m)), ap = area(m), d = diagonal(m);
    // A quarter of a low-poly prism is not the prism any more: such a case is refused with the
    // reason; whatever is made keeps area and volume within 10%, real parts their volume within 5%.
    try {
      Variant dv = make_variant(m, VariantKind::decimate, 3);
      Mesh dm = only_file(dv);
      EXPECT_NE(dv.name.find("quadric"), std::string::npos) << name;
      EXPECT_GT(dm.triangle_count(), 0.15 * m.triangle_count()) << name;
      EXPECT_LT(dm.triangle_count(), 0.35 * m.triangle_count()) << name;
      EXPECT_NEAR(std::abs(volume(dm)), vp, 0.10 * vp) << name;
      EXPECT_NEAR(area(dm), ap, 0.10 * ap) << name;
      if (m.triangle_count() >= 1000) {
        EXPECT_NEAR(std::abs(volume(dm)), vp, 0.05 * vp) << name;
      }
    } catch (const Error& e) {
      EXPECT_LT(m.triangle_count(), 1000u) << name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find("too few to lose 75%"), std::string::npos) << e.what();
    }

    Mesh rm = only_file(make_variant(m, VariantKind::remesh, 3));
    EXPECT_NEAR(std::abs(volume(rm)), vp, 0.03 * vp) << name;
    EXPECT_NEAR(area(rm), ap, 0.03 * ap) << name;
    double edges = 0;
    for (size_t f = 0; f + 2 < rm.indices.size(); f += 3)
      for (int k = 0; k < 3; ++k) edges += (vert(rm, rm.indices[f + k]) - vert(rm, rm.indices[f + (k + 1) % 3])).norm();
    const double mean = edges / double(rm.indices.size());
    EXPECT_GT(mean, 0.5 * 0.01 * d) << name;
    EXPECT_LT(mean, 1.5 * 0.01 * d) << name;
  }
}

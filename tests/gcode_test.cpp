// SPDX-License-Identifier: GPL-3.0-or-later
// G-code reader and wall reconstruction, on G-code made at test time by Debian's PrusaSlicer
// from meshes generated here (a box with a through-hole, an L bracket, a cylinder), plus every
// limit and error class on hand-made and damaged input.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "partscreen/error.h"
#include "partscreen/eval.h"
#include "partscreen/gcode.h"
#include "partscreen/io.h"
#include "partscreen/pack.h"
#include "partscreen/scan.h"
#include "temp_dir.h"

namespace {

using partscreen::ErrorCode;
using partscreen::GcodeOptions;
using partscreen::GcodeStats;
using partscreen::OrientedSurface;
using Tri = std::array<std::array<double, 3>, 3>;
constexpr double kPi = 3.14159265358979323846;

struct TestMesh {
  std::string name;
  std::vector<Tri> tris;
};

// A prism from a cap triangulation in the XY plane (CCW seen from +Z) and its boundary loops.
void add_prism(std::vector<Tri>& out, const std::vector<std::array<double, 2>>& cap_tris,
               const std::vector<std::vector<std::array<double, 2>>>& loops, double height) {
  for (size_t i = 0; i + 2 < cap_tris.size() + 2 && i < cap_tris.size(); i += 3) {
    const auto &a = cap_tris[i], &b = cap_tris[i + 1], &c = cap_tris[i + 2];
    out.push_back({{{a[0], a[1], height}, {b[0], b[1], height}, {c[0], c[1], height}}});
    out.push_back({{{a[0], a[1], 0}, {c[0], c[1], 0}, {b[0], b[1], 0}}});
  }
  for (const auto& loop : loops)  // outer loops CCW, holes CW: outward normals
    for (size_t i = 0; i < loop.size(); ++i) {
      const auto& p = loop[i];
      const auto& q = loop[(i + 1) % loop.size()];
      out.push_back({{{p[0], p[1], 0}, {q[0], q[1], 0}, {q[0], q[1], height}}});
      out.push_back({{{p[0], p[1], 0}, {q[0], q[1], height}, {p[0], p[1], height}}});
    }
}

// Box sx * sy * sz with a vertical through-hole of radius r at its centre.
TestMesh box_with_hole(double sx, double sy, double sz, double r) {
  std::vector<double> ang;
  for (int i = 0; i < 64; ++i) ang.push_back(2 * kPi * i / 64);
  for (double cx : {sx / 2, -sx / 2})
    for (double cy : {sy / 2, -sy / 2}) {
      double a = std::atan2(cy, cx);
      if (a < 0) a += 2 * kPi;
      ang.push_back(a);
    }
  std::sort(ang.begin(), ang.end());
  std::vector<std::array<double, 2>> circle, rect, caps;
  for (double a : ang) {
    const double c = std::cos(a), s = std::sin(a);
    const double t = std::min(std::fabs(c) > 1e-12 ? sx / 2 / std::fabs(c) : 1e30,
                              std::fabs(s) > 1e-12 ? sy / 2 / std::fabs(s) : 1e30);
    circle.push_back({sx / 2 + r * c, sy / 2 + r * s});
    rect.push_back({sx / 2 + t * c, sy / 2 + t * s});
  }
  for (size_t i = 0; i < ang.size(); ++i) {
    const size_t j = (i + 1) % ang.size();
    caps.insert(caps.end(), {circle[i], rect[i], rect[j]});
    caps.insert(caps.end(), {circle[i], rect[j], circle[j]});
  }
  std::vector<std::array<double, 2>> outer = {{0, 0}, {sx, 0}, {sx, sy}, {0, sy}};
  std::vector<std::array<double, 2>> hole(circle.rbegin(), circle.rend());
  TestMesh m{"box_hole", {}};
  add_prism(m.tris, caps, {outer, hole}, sz);
  return m;
}

// An L-shaped bracket profile extruded upward: legs a (long) and b, thickness t.
TestMesh l_bracket(double a, double b, double t, double height) {
  std::vector<std::array<double, 2>> outer = {{0, 0}, {a, 0}, {a, t}, {t, t}, {t, b}, {0, b}};
  std::vector<std::array<double, 2>> caps = {{0, 0}, {a, 0}, {a, t}, {0, 0}, {a, t}, {0, t},
                                             {0, t}, {t, t}, {t, b}, {0, t}, {t, b}, {0, b}};
  TestMesh m{"l_bracket", {}};
  add_prism(m.tris, caps, {outer}, height);
  return m;
}

// A rectangular frame sx * sy: ends `end` thick, long sides `side` thick (thinner than two
// perimeters, so PrusaSlicer prints them as single open lines between the ends' loops).
TestMesh thin_frame(double sx, double sy, double end, double side, double height) {
  std::vector<std::array<double, 2>> caps;
  auto rect = [&](double x0, double y0, double x1, double y1) {
    caps.insert(caps.end(), {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y0}, {x1, y1}, {x0, y1}});
  };
  rect(0, 0, sx, side);
  rect(0, sy - side, sx, sy);
  rect(0, side, end, sy - side);
  rect(sx - end, side, sx, sy - side);
  std::vector<std::array<double, 2>> outer = {{0, 0}, {sx, 0}, {sx, sy}, {0, sy}};
  std::vector<std::array<double, 2>> hole = {{end, side}, {end, sy - side}, {sx - end, sy - side}, {sx - end, side}};
  TestMesh m{"thin_frame", {}};
  add_prism(m.tris, caps, {outer, hole}, height);
  return m;
}

TestMesh cylinder(double r, double height, int n = 96) {
  std::vector<std::array<double, 2>> outer, caps;
  for (int i = 0; i < n; ++i) outer.push_back({r * std::cos(2 * kPi * i / n), r * std::sin(2 * kPi * i / n)});
  for (int i = 0; i < n; ++i) caps.insert(caps.end(), {{0, 0}, outer[i], outer[(i + 1) % n]});
  TestMesh m{"cylinder", {}};
  add_prism(m.tris, caps, {outer}, height);
  return m;
}

void write_stl(const std::string& path, const TestMesh& m) {
  std::ofstream f(path, std::ios::binary);
  char header[80] = {};
  f.write(header, 80);
  const uint32_t n = static_cast<uint32_t>(m.tris.size());
  f.write(reinterpret_cast<const char*>(&n), 4);
  for (const Tri& t : m.tris) {
    float v[12] = {0, 0, 0};
    for (int i = 0; i < 3; ++i)
      for (int a = 0; a < 3; ++a) v[3 + 3 * i + a] = static_cast<float>(t[i][a]);
    f.write(reinterpret_cast<const char*>(v), 48);
    const uint16_t attr = 0;
    f.write(reinterpret_cast<const char*>(&attr), 2);
  }
}

struct Bounds {
  double lo[3] = {1e30, 1e30, 1e30}, hi[3] = {-1e30, -1e30, -1e30};
};

Bounds mesh_bounds(const TestMesh& m) {
  Bounds b;
  for (const Tri& t : m.tris)
    for (const auto& p : t)
      for (int a = 0; a < 3; ++a) {
        b.lo[a] = std::min(b.lo[a], p[a]);
        b.hi[a] = std::max(b.hi[a], p[a]);
      }
  return b;
}

double point_tri_dist(const std::array<double, 3>& p, const Tri& t) {
  // Ericson, Real-Time Collision Detection, 5.1.5 closest point on triangle.
  auto sub = [](const std::array<double, 3>& a, const std::array<double, 3>& b) {
    return std::array<double, 3>{a[0] - b[0], a[1] - b[1], a[2] - b[2]};
  };
  auto dot = [](const std::array<double, 3>& a, const std::array<double, 3>& b) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  };
  const auto &a = t[0], &b = t[1], &c = t[2];
  const auto ab = sub(b, a), ac = sub(c, a), ap = sub(p, a);
  std::array<double, 3> q;
  const double d1 = dot(ab, ap), d2 = dot(ac, ap);
  auto at = [&](double v, double w) {
    return std::array<double, 3>{a[0] + ab[0] * v + ac[0] * w, a[1] + ab[1] * v + ac[1] * w,
                                 a[2] + ab[2] * v + ac[2] * w};
  };
  if (d1 <= 0 && d2 <= 0) {
    q = a;
  } else {
    const auto bp = sub(p, b);
    const double d3 = dot(ab, bp), d4 = dot(ac, bp);
    const auto cp = sub(p, c);
    const double d5 = dot(ab, cp), d6 = dot(ac, cp);
    const double vc = d1 * d4 - d3 * d2, vb = d5 * d2 - d1 * d6, va = d3 * d6 - d5 * d4;
    if (d3 >= 0 && d4 <= d3) q = b;
    else if (vc <= 0 && d1 >= 0 && d3 <= 0) q = at(d1 / (d1 - d3), 0);
    else if (d6 >= 0 && d5 <= d6) q = c;
    else if (vb <= 0 && d2 >= 0 && d6 <= 0) q = at(0, d2 / (d2 - d6));
    else if (va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0) {
      const double w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
      q = {b[0] + (c[0] - b[0]) * w, b[1] + (c[1] - b[1]) * w, b[2] + (c[2] - b[2]) * w};
    } else {
      const double den = 1.0 / (va + vb + vc);
      q = at(vb * den, vc * den);
    }
  }
  const auto d = sub(p, q);
  return std::sqrt(dot(d, d));
}

double mesh_dist(const TestMesh& m, const std::array<double, 3>& p) {
  double best = 1e30;
  for (const Tri& t : m.tris) best = std::min(best, point_tri_dist(p, t));
  return best;
}

bool have(const char* tool) {
  const std::string cmd = std::string("command -v ") + tool + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

using partscreen::test::TempDir;

// Slices the meshes (one plate) with PrusaSlicer; returns the G-code path.
std::string prusa_slice(const TempDir& dir, const std::vector<TestMesh>& meshes, const std::string& args,
                        const std::string& tag) {
  std::string inputs;
  for (size_t i = 0; i < meshes.size(); ++i) {
    const std::string stl = dir.path() + "/" + tag + "_" + std::to_string(i) + "_" + meshes[i].name + ".stl";
    write_stl(stl, meshes[i]);
    inputs += " '" + stl + "'";
  }
  const std::string out = dir.path() + "/" + tag + ".gcode";
  const std::string cmd = "prusa-slicer --export-gcode " + args + " --output '" + out + "'" + inputs +
                          " > '" + dir.path() + "/" + tag + ".log' 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return out;
}

// Which mesh an object is (closest XY extent), and its XY shift from the mesh to the object.
struct Placed {
  const TestMesh* mesh = nullptr;
  double dx = 0, dy = 0;
};

Placed place(const OrientedSurface& s, const std::vector<TestMesh>& meshes) {
  Placed best;
  double err = 1e30;
  for (const TestMesh& m : meshes) {
    const Bounds b = mesh_bounds(m);
    const double e = std::fabs((s.bounds.max[0] - s.bounds.min[0]) - (b.hi[0] - b.lo[0])) +
                     std::fabs((s.bounds.max[1] - s.bounds.min[1]) - (b.hi[1] - b.lo[1]));
    if (e < err) {
      err = e;
      best.mesh = &m;
      best.dx = 0.5 * (s.bounds.min[0] + s.bounds.max[0]) - 0.5 * (b.lo[0] + b.hi[0]);
      best.dy = 0.5 * (s.bounds.min[1] + s.bounds.max[1]) - 0.5 * (b.lo[1] + b.hi[1]);
    }
  }
  return best;
}

// Checks one rebuilt object against its mesh: closeness of wall points and coverage of the
// mesh's side walls. Returns {fraction of wall points within 0.3 mm, side-wall coverage}.
std::pair<double, double> compare(const OrientedSurface& s, const Placed& pl) {
  const TestMesh& m = *pl.mesh;
  size_t walls = 0, close = 0;
  std::vector<std::array<double, 3>> wall_pts;
  for (size_t i = 0; i < s.positions.size(); i += 3) {
    if (std::fabs(s.normals[i + 2]) > 0.5) continue;
    const std::array<double, 3> p = {s.positions[i] - pl.dx, s.positions[i + 1] - pl.dy, s.positions[i + 2]};
    wall_pts.push_back(p);
    ++walls;
    if (mesh_dist(m, p) <= 0.3) ++close;
  }
  // Side-wall samples of the mesh every ~0.5 mm.
  size_t samples = 0, covered = 0;
  for (const Tri& t : m.tris) {
    const double ux = t[1][0] - t[0][0], uy = t[1][1] - t[0][1], uz = t[1][2] - t[0][2];
    const double vx = t[2][0] - t[0][0], vy = t[2][1] - t[0][1], vz = t[2][2] - t[0][2];
    const double nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
    const double area2 = std::sqrt(nx * nx + ny * ny + nz * nz);
    if (std::fabs(nz) > 0.1 * area2) continue;
    const int n = std::max(1, static_cast<int>(std::sqrt(area2 / 2 / 0.25)));
    for (int i = 0; i < n; ++i)
      for (int j = 0; i + j < n; ++j) {
        const double a = (i + 1.0 / 3) / n, b = (j + 1.0 / 3) / n;
        const std::array<double, 3> p = {t[0][0] + ux * a + vx * b, t[0][1] + uy * a + vy * b,
                                         t[0][2] + uz * a + vz * b};
        ++samples;
        for (const auto& q : wall_pts) {
          const double dx = q[0] - p[0], dy = q[1] - p[1], dz = q[2] - p[2];
          if (dx * dx + dy * dy + dz * dz <= 0.36) {
            ++covered;
            break;
          }
        }
      }
  }
  return {walls ? double(close) / walls : 0.0, samples ? double(covered) / samples : 0.0};
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

#define REQUIRE_PRUSA()                                                                           \
  if (!have("prusa-slicer")) GTEST_SKIP() << "prusa-slicer is not installed (apt-get install prusa-slicer)"

// The checks every sliced plate gets: one object per mesh, the layer height, the skirt dropped,
// walls close to and covering each mesh; with check_height, each object as tall as its mesh.
void expect_rebuilt_plate(const std::string& g, const std::vector<TestMesh>& meshes, const std::string& tag,
                          double layer_height, bool check_height) {
  GcodeStats st;
  const auto objs = partscreen::read_gcode_file(g, {}, &st);
  ASSERT_EQ(objs.size(), meshes.size()) << tag;
  EXPECT_NEAR(st.layer_height_mm, layer_height, 0.011) << tag;
  EXPECT_GT(st.dropped_objects, 0u) << tag << ": the skirt should be found and dropped";
  for (const auto& s : objs) {
    const Placed pl = place(s, meshes);
    const auto [close, cover] = compare(s, pl);
    EXPECT_GE(close, 0.97) << tag << " " << s.name << " (" << pl.mesh->name << "): wall points within 0.3 mm";
    EXPECT_GE(cover, 0.90) << tag << " " << s.name << " (" << pl.mesh->name << "): side walls covered";
    if (check_height) {
      const Bounds b = mesh_bounds(*pl.mesh);
      EXPECT_NEAR(s.bounds.max[2] - s.bounds.min[2], b.hi[2] - b.lo[2], 0.25) << tag << " " << s.name << ": height";
    }
    EXPECT_FALSE(s.walls_only);
    EXPECT_GT(s.area_mm2, 0.0);
  }
}

void expect_plate(const std::vector<TestMesh>& meshes, const std::string& args, const std::string& tag,
                  double layer_height) {
  TempDir dir;
  expect_rebuilt_plate(prusa_slice(dir, meshes, args, tag), meshes, tag, layer_height, false);
}

#define REQUIRE_CURA()                                                                            \
  if (!have("CuraEngine")) GTEST_SKIP() << "CuraEngine is not installed (apt-get install cura-engine)"

// Slices the meshes (one plate) with CuraEngine and the minimal machine definition in
// tests/data/gcode (Debian's cura-engine ships no definitions). CuraEngine centres each mesh's
// own coordinates on the bed, so the meshes are spread apart along X.
std::string cura_slice(const TempDir& dir, const std::vector<TestMesh>& meshes, const std::string& args,
                       const std::string& tag) {
  std::string cmd = "CuraEngine slice -j '" PARTSCREEN_TEST_DATA "/gcode/cura_test_printer.def.json' " + args;
  for (size_t i = 0; i < meshes.size(); ++i) {
    const std::string stl = dir.path() + "/" + tag + "_" + std::to_string(i) + "_" + meshes[i].name + ".stl";
    write_stl(stl, meshes[i]);
    cmd += " -l '" + stl + "' -s mesh_position_x=" + std::to_string(40.0 * i - 20.0 * (meshes.size() - 1));
  }
  const std::string out = dir.path() + "/" + tag + ".gcode";
  cmd += " -o '" + out + "' > '" + dir.path() + "/" + tag + ".log' 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return out;
}

// Same checks as expect_plate, on G-code from CuraEngine (one skirt loop in the definition).
void expect_cura_plate(const std::vector<TestMesh>& meshes, const std::string& args, const std::string& tag,
                       double layer_height) {
  TempDir dir;
  expect_rebuilt_plate(cura_slice(dir, meshes, args, tag), meshes, tag, layer_height, true);
}

}  // namespace

TEST(GcodeSlicers, PrusaOnePartWithHole) {
  REQUIRE_PRUSA();
  expect_plate({box_with_hole(20, 15, 8, 3)}, "--skirts 1 --brim-width 3", "one", 0.3);
}

TEST(GcodeSlicers, PrusaTwoAndThreeParts) {
  REQUIRE_PRUSA();
  // --merge arranges the parts on one plate (without it they would all sit at the bed centre).
  expect_plate({box_with_hole(20, 15, 6, 3), l_bracket(25, 15, 4, 10)}, "--merge --skirts 1 --brim-width 3", "two",
               0.3);
  expect_plate({box_with_hole(20, 15, 6, 3), l_bracket(25, 15, 4, 10), cylinder(6, 8)},
               "--merge --skirts 2 --brim-width 2 --layer-height 0.2 --first-layer-height 0.2", "three", 0.2);
}

TEST(GcodeSlicers, PrusaLayerHeights) {
  REQUIRE_PRUSA();
  for (double h : {0.1, 0.2, 0.3}) {
    char args[128];
    std::snprintf(args, sizeof args, "--skirts 1 --layer-height %.2f --first-layer-height %.2f", h, std::max(h, 0.2));
    expect_plate({box_with_hole(18, 14, 5, 2.5)}, args, "h" + std::to_string(int(h * 10)), h);
  }
}

// The inside of a frame whose long sides are single open lines is a hole: before open lines
// along the outside counted as loops, it was taken for a gap between infill lines and filled,
// so the inner walls were lost (a corpus plug aligner scanned clear). No skirt: on a first
// layer a skirt encloses the part, so its open lines border no outside there (see the report).
TEST(GcodeSlicers, PrusaThinWalledFrameKeepsItsHole) {
  REQUIRE_PRUSA();
  TempDir dir;
  const TestMesh frame = thin_frame(17.7, 7.3, 2, 0.6, 5);
  const auto objs = partscreen::read_gcode_file(prusa_slice(dir, {frame}, "--skirts 0 --perimeter-generator classic", "frame"));
  ASSERT_EQ(objs.size(), 1u);
  const auto [close, cover] = compare(objs[0], place(objs[0], {frame}));
  EXPECT_GE(close, 0.97);
  EXPECT_GE(cover, 0.90) << "the inner walls are missing";
}

TEST(GcodeSlicers, CommentsStrippedSameResult) {
  REQUIRE_PRUSA();
  TempDir dir;
  const std::vector<TestMesh> meshes = {box_with_hole(20, 15, 6, 3), cylinder(5, 6)};
  const std::string g = prusa_slice(dir, meshes, "--merge --skirts 1 --gcode-comments", "c");
  const std::string bare = dir.path() + "/bare.gcode";
  ASSERT_EQ(std::system(("sed 's/;.*//' '" + g + "' > '" + bare + "'").c_str()), 0);
  const auto a = partscreen::read_gcode_file(g);
  const auto b = partscreen::read_gcode_file(bare);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].positions, b[i].positions);
    EXPECT_EQ(a[i].normals, b[i].normals);
  }
}

TEST(GcodeSlicers, PrusaSequentialPrinting) {
  REQUIRE_PRUSA();
  // Copies are separate objects, printed one after the other from the bed up.
  TempDir dir;
  const TestMesh part = box_with_hole(16, 12, 5, 2.5);
  const std::string g = prusa_slice(dir, {part}, "--duplicate 2 --skirts 1 --complete-objects "
                                    "--extruder-clearance-height 20 --extruder-clearance-radius 20", "seq");
  const auto objs = partscreen::read_gcode_file(g);
  ASSERT_EQ(objs.size(), 2u);
  for (const auto& s : objs) {
    const auto [close, cover] = compare(s, place(s, {part}));
    EXPECT_GE(close, 0.97);
    EXPECT_GE(cover, 0.90);
  }
}

TEST(GcodeSlicers, PrusaVaseCylinder) {
  REQUIRE_PRUSA();
  TempDir dir;
  const TestMesh cyl = cylinder(10, 15);
  const std::string g = prusa_slice(dir, {cyl},
                                    "--spiral-vase --perimeters 1 --top-solid-layers 0 --fill-density 0% --skirts 1",
                                    "vase");
  GcodeStats st;
  const auto objs = partscreen::read_gcode_file(g, {}, &st);
  EXPECT_TRUE(st.spiral);
  ASSERT_EQ(objs.size(), 1u);
  const auto [close, cover] = compare(objs[0], place(objs[0], {cyl}));
  EXPECT_GE(close, 0.97);
  EXPECT_GE(cover, 0.90);
}

TEST(GcodeSlicers, CuraOnePartWithHole) {
  REQUIRE_CURA();
  expect_cura_plate({box_with_hole(20, 15, 8, 3)}, "", "cura_one", 0.2);
}

TEST(GcodeSlicers, CuraTwoPartsThinLayers) {
  REQUIRE_CURA();
  // Infill is printed every layer only when its thickness follows the layer height.
  expect_cura_plate({box_with_hole(20, 15, 6, 3), l_bracket(25, 15, 4, 10)},
                    "-s layer_height=0.15 -s infill_sparse_thickness=0.15", "cura_two", 0.15);
}

// A 16 mm clamp-sized part sliced by `partscreen eval` (both slicers) is caught. The eval used to
// blow every part under 20 mm up to 60 mm "to be printable": a 3.8x enlargement, beyond the
// scales a scan accepts as the same part (0.45..2.2), so such references scored 0 as G-code
// while their meshes were found. Small parts now print at their own size.
TEST(GcodeSlicers, EvalSlicesSmallPartsAtTheirOwnSize) {
  REQUIRE_PRUSA();
  REQUIRE_CURA();
  TempDir dir;
  const std::vector<TestMesh> parts = {box_with_hole(16, 9, 6, 1.6), l_bracket(25, 15, 4, 10), cylinder(6, 8)};
  std::vector<partscreen::ReferenceInput> inputs;
  std::vector<partscreen::EvalReference> refs;
  for (const TestMesh& m : parts) {
    const std::string stl = dir.path() + "/" + m.name + ".stl";
    write_stl(stl, m);
    inputs.push_back(partscreen::ReferenceInput{stl, m.name, "demo", ""});
    refs.push_back({m.name, stl});
  }
  const std::string pack_path = dir.path() + "/refs.pack";
  partscreen::enroll(inputs, pack_path);
  partscreen::EvalOptions o;
  o.kinds = {"gcode_prusa", "gcode_cura"};
  o.cura_definition = PARTSCREEN_TEST_DATA "/gcode/cura_test_printer.def.json";
  o.cases_dir = dir.path() + "/cases";
  const partscreen::EvalReport r = partscreen::run_eval(partscreen::Pack::open(pack_path), {refs[0]}, {}, o);
  ASSERT_EQ(r.cases.size(), 2u);
  for (const partscreen::EvalCase& c : r.cases) {
    EXPECT_EQ(c.name.find("scaled"), std::string::npos) << c.name;
    EXPECT_EQ(c.verdict, "flagged") << c.id << " " << c.name << ": " << c.top_reference << " " << c.score << " " << c.note;
    EXPECT_EQ(c.top_reference, "box_hole") << c.id;
  }
}

// CGAL's pinion (libcgal-demo) moved and scaled to a printable size as `partscreen eval` does
// for its slicer cases (its 1.8 units read as inches: 45 mm; printable_factor in eval.cpp). Its bevelled flanks slope so that the step between layers is narrower
// than a bead: no skin shows there, only walls, whose normals must tilt with the slope.
// Before wall normals followed the outline's drift between layers, a quarter of the wall
// points faced more than 45 degrees away from the mesh and the CuraEngine job scanned clear
// (0.35 against the pinion's own signature, the mesh itself scores 1.00).
TEST(GcodeSlicers, CuraSlopedPinionFacesTheMeshAndIsFlagged) {
  REQUIRE_CURA();
  const std::string off = std::string(PARTSCREEN_CGAL_MESHES) + "/pinion.off";
  ASSERT_TRUE(std::ifstream(off).good()) << off << " missing: install libcgal-demo and re-run cmake";
  const partscreen::Mesh raw = partscreen::load_file(off).mesh;
  double lo[3] = {1e30, 1e30, 1e30};
  for (size_t v = 0; v < raw.vertex_count(); ++v)
    for (int a = 0; a < 3; ++a) lo[a] = std::min(lo[a], double(raw.positions[3 * v + a]));
  const double factor = 25.4;
  TestMesh pinion{"pinion", {}};
  for (size_t t = 0; t < raw.triangle_count(); ++t) {
    Tri tri;
    for (int k = 0; k < 3; ++k)
      for (int a = 0; a < 3; ++a) tri[k][a] = (raw.positions[3 * raw.indices[3 * t + k] + a] - lo[a]) * factor;
    pinion.tris.push_back(tri);
  }
  TempDir dir;
  const std::string g = cura_slice(dir, {pinion}, "", "pinion");
  const auto objs = partscreen::read_gcode_file(g);
  ASSERT_EQ(objs.size(), 1u);
  const Placed pl = place(objs[0], {pinion});
  // Every point's normal against the normal of the mesh triangle nearest to it.
  size_t points = 0, facing = 0, tilted = 0;
  const OrientedSurface& s = objs[0];
  for (size_t i = 0; i < s.positions.size(); i += 3 * 11) {
    const std::array<double, 3> p = {s.positions[i] - pl.dx, s.positions[i + 1] - pl.dy, s.positions[i + 2]};
    double best = 1e30;
    const Tri* nearest = nullptr;
    for (const Tri& t : pinion.tris) {
      const double d = point_tri_dist(p, t);
      if (d < best) {
        best = d;
        nearest = &t;
      }
    }
    const Tri& t = *nearest;
    const double ux = t[1][0] - t[0][0], uy = t[1][1] - t[0][1], uz = t[1][2] - t[0][2];
    const double vx = t[2][0] - t[0][0], vy = t[2][1] - t[0][1], vz = t[2][2] - t[0][2];
    const double nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
    const double agree = (nx * s.normals[i] + ny * s.normals[i + 1] + nz * s.normals[i + 2]) / std::sqrt(nx * nx + ny * ny + nz * nz);
    ++points;
    facing += agree > 0.7;
    tilted += std::fabs(s.normals[i + 2]) > 0.2 && std::fabs(s.normals[i + 2]) < 0.95;
  }
  ASSERT_GT(points, 1000u);
  EXPECT_GE(double(facing) / points, 0.97) << "points facing within 45 degrees of the mesh";
  EXPECT_GE(double(tilted) / points, 0.10) << "the flanks' points are neither walls nor skins";

  // The job against the pinion's signature among other sample parts.
  std::vector<partscreen::ReferenceInput> refs;
  for (const char* stem : {"pinion", "rotor", "spool", "anchor"})
    refs.push_back(partscreen::ReferenceInput{std::string(PARTSCREEN_CGAL_MESHES) + "/" + stem + ".off", stem, "demo", ""});
  const std::string pack_path = dir.path() + "/refs.pack";
  partscreen::enroll(refs, pack_path);
  const partscreen::ScanResult r = partscreen::scan_files({g}, partscreen::Pack::open(pack_path));
  EXPECT_EQ(r.verdict, partscreen::Verdict::flagged);
  ASSERT_FALSE(r.matches.empty());
  EXPECT_EQ(r.matches[0].reference, "pinion");
  EXPECT_GE(r.matches[0].score, 0.9);
}

// ---- reader semantics on hand-written G-code ---------------------------------------------

namespace {
// A square wall loop of `n` nested perimeters and zig-zag infill, `layers` layers: enough for
// one object, written in the dialect features under test by `style`.
std::string square_part(int layers, const std::string& style) {
  std::ostringstream o;
  o << "G21\nG90\nM82\nG92 E0\n";
  double e = 0;
  const double epm = 0.0333;  // 0.45 x 0.2 bead of 1.75 mm filament
  for (int k = 1; k <= layers; ++k) {
    const double z = 0.2 * k;
    o << "G1 Z" << z << " F600\n";
    for (int p = 0; p < 3; ++p) {
      const double d = 0.225 + 0.43 * p;
      const double x0 = 10 + d, y0 = 10 + d, x1 = 30 - d, y1 = 30 - d;
      o << "G0 X" << x0 << " Y" << y0 << "\n";
      const double pts[4][2] = {{x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}};
      double px = x0, py = y0;
      for (auto& q : pts) {
        e += epm * std::hypot(q[0] - px, q[1] - py);
        if (style == "relative") o << "G91\nG1 X" << q[0] - px << " Y" << q[1] - py << " E" << epm * std::hypot(q[0] - px, q[1] - py) << "\nG90\n";
        else if (style == "inch") o << "G20\nG1 X" << q[0] / 25.4 << " Y" << q[1] / 25.4 << " E" << e / 25.4 << "\nG21\n";
        else o << "G1 X" << q[0] << " Y" << q[1] << " E" << e << "\n";
        px = q[0];
        py = q[1];
      }
    }
    // infill
    o << "G0 X11.5 Y11.5\n";
    for (double y = 11.5; y < 28.5; y += 2) {
      e += epm * 17;
      o << "G1 X28.5 Y" << y << " E" << e << "\n";
      o << "G0 X11.5 Y" << y + 2 << "\n";
    }
  }
  return o.str();
}

std::vector<OrientedSurface> parse(const std::string& s, const GcodeOptions& o = {}, GcodeStats* st = nullptr) {
  return partscreen::read_gcode_bytes("mem.gcode", s.data(), s.size(), o, st);
}

ErrorCode error_of(const std::string& s, const GcodeOptions& o = {}) {
  try {
    parse(s, o);
  } catch (const partscreen::Error& e) {
    return e.code();
  }
  return ErrorCode::internal;
}
}  // namespace

TEST(GcodeReader, DialectsGiveTheSameSquare) {
  const auto a = parse(square_part(10, "absolute"));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_NEAR(a[0].bounds.min[0], 10.0, 0.1);
  EXPECT_NEAR(a[0].bounds.max[0], 30.0, 0.1);
  EXPECT_NEAR(a[0].bounds.max[2], 2.0, 0.01);
  for (const std::string style : {"relative", "inch"}) {
    const auto b = parse(square_part(10, style));
    ASSERT_EQ(b.size(), 1u) << style;
    for (int k = 0; k < 3; ++k) {
      EXPECT_NEAR(b[0].bounds.min[k], a[0].bounds.min[k], 0.02) << style;
      EXPECT_NEAR(b[0].bounds.max[k], a[0].bounds.max[k], 0.02) << style;
    }
  }
}

TEST(GcodeReader, LineNumbersChecksumsCommentsAndArcs) {
  // A cylinder wall printed as G2 arcs (I/J form) with line numbers, checksums and both comment
  // kinds, 3 perimeters a line apart; the rebuilt points sit on radius 10.
  std::ostringstream o;
  o << "N1 G21*33\nN2 G90 ; absolute\n(a comment) M83\n";
  int n = 3;
  for (int k = 1; k <= 12; ++k) {
    o << "N" << n++ << " G1 Z" << 0.2 * k << "*7 ; layer\n";
    for (int p = 0; p < 3; ++p) {
      const double r = 10 - 0.225 - 0.43 * p;
      o << "N" << n++ << " G0 X" << 50 + r << " Y50\n";
      o << "N" << n++ << " G2 X" << 50 + r << " Y50 I" << -r << " J0 E" << 0.0333 * 2 * kPi * r << " (full circle)\n";
    }
    o << "G1 X43 Y50\n";
    for (int i = 0; i < 6; ++i) o << "G1 X57 Y" << 45 + 2 * i << " E0.4\nG0 X43 Y" << 47 + 2 * i << "\n";
  }
  GcodeStats st;
  const auto s = parse(o.str(), {}, &st);
  ASSERT_EQ(s.size(), 1u);
  size_t walls = 0;
  for (size_t i = 0; i < s[0].positions.size(); i += 3) {
    if (std::fabs(s[0].normals[i + 2]) > 0.5) continue;
    ++walls;
    EXPECT_NEAR(std::hypot(s[0].positions[i] - 50, s[0].positions[i + 1] - 50), 10.0, 0.1);
  }
  EXPECT_GT(walls, 12u * 100u);
  EXPECT_EQ(st.layers, 12u);
}

TEST(GcodeReader, G92ResetAndFirmwareRetractionDoNotExtrude) {
  // E reset to 0 between moves and G10/G11 retractions must not create or lose beads; a
  // retraction (E decreasing) while travelling is not extrusion.
  std::string g = square_part(6, "absolute");
  std::string with;
  std::istringstream in(g);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("G0", 0) == 0) with += "G10\n" + line + "\nG11\n";
    else with += line + "\n";
  }
  const auto a = parse(g), b = parse(with);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].positions, b[0].positions);
  const auto c = parse("G1 Z0.2\nG92 E0\nG1 X0 Y0\nG1 X10 Y0 E0.33\nG92 E0\nG1 X20 Y0 E-1\nG1 X30 Y0 E-0.67\n");
  // Only the first and last moves extrude: one thin purge line, dropped as thin.
  EXPECT_TRUE(c.empty());
}

TEST(GcodeReader, TravelArcsEndWhereTheyShould) {
  // Every travel of the square printed as G2/G3 detours (a full circle, then the move as half a
  // turn), every third with a retraction primed back after it: a travel arc prints nothing and
  // leaves the head at its end point, so the rebuilt part is the same. (The reader no longer
  // linearises such arcs: a file of full-circle travels cost 63x the parse time of straight
  // moves; see bench/results/gcode.md.)
  const std::string g = square_part(6, "absolute");
  std::string with;
  std::istringstream in(g);
  std::string line;
  double x = 0, y = 0, e = 0;
  int k = 0;
  while (std::getline(in, line)) {
    double nx = x, ny = y, ne = e;
    if (line.rfind("G0", 0) == 0 && std::sscanf(line.c_str(), "G0 X%lf Y%lf", &nx, &ny) == 2) {
      with += "G2 X" + std::to_string(x) + " Y" + std::to_string(y) + " I40 J0\n";  // full circle, radius 40
      const bool retract = ++k % 3 == 0;
      with += std::string(k % 2 ? "G3" : "G2") + " X" + std::to_string(nx) + " Y" + std::to_string(ny) + " I" +
              std::to_string((nx - x) / 2) + " J" + std::to_string((ny - y) / 2) + (retract ? " E" + std::to_string(e - 0.8) : "") + "\n";
      if (retract) with += "G1 E" + std::to_string(e) + "\n";  // M82: absolute E
    } else {
      with += line + "\n";
      if (std::sscanf(line.c_str(), "G1 X%lf Y%lf E%lf", &nx, &ny, &ne) < 2) nx = x, ny = y;
    }
    x = nx, y = ny, e = ne;
  }
  ASSERT_NE(with.find(" E"), std::string::npos);
  const auto a = parse(g), b = parse(with);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].positions, b[0].positions);
}

TEST(GcodeErrors, BinaryGcodeIsUnsupported) {
  EXPECT_EQ(error_of(std::string("GCDE\x01\x00\x00\x00", 8)), ErrorCode::unsupported_format);
  const unsigned char head[] = {'G', 'C', 'D', 'E', 1, 0};
  EXPECT_TRUE(partscreen::looks_like_bgcode(head, sizeof head));
  EXPECT_FALSE(partscreen::looks_like_gcode(head, sizeof head));
  try {
    parse(std::string("GCDE\x01\x00", 6));
  } catch (const partscreen::Error& e) {
    EXPECT_NE(std::string(e.what()).find("export plain G-code"), std::string::npos);
  }
}

TEST(GcodeErrors, LongLineNamesItsNumber) {
  std::string g = "G21\nG90\n; " + std::string(5000, 'x') + "\n";
  try {
    parse(g);
    FAIL() << "a 5000-byte line was accepted";
  } catch (const partscreen::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::malformed);
    EXPECT_NE(e.reason().find("line 3"), std::string::npos) << e.reason();
  }
  GcodeOptions big;
  big.max_line_bytes = 8000;
  EXPECT_EQ(error_of(g, big), ErrorCode::empty);  // accepted, but prints nothing
}

TEST(GcodeErrors, AbsurdCoordinates) {
  try {
    parse("G21\nG90\nG1 X10 Y10\nG1 X999999999 Y10 E1\n");
    FAIL();
  } catch (const partscreen::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_coordinates);
    EXPECT_NE(e.reason().find("line 4"), std::string::npos) << e.reason();
  }
  EXPECT_EQ(error_of("G91\n" + std::string(20, '\n') + [] {
              std::string s;
              for (int i = 0; i < 200; ++i) s += "G1 X900 E1\n";
              return s;
            }()),
            ErrorCode::invalid_coordinates);
  EXPECT_EQ(error_of("G1 X1 Y1\nG2 X2 Y2 I999999999 J0 E1\n"), ErrorCode::invalid_coordinates);
}

TEST(GcodeErrors, GarbageEmptyAndLimits) {
  EXPECT_EQ(error_of(""), ErrorCode::empty);
  EXPECT_EQ(error_of("; only a comment\n"), ErrorCode::malformed);
  EXPECT_EQ(error_of("G28\nG1 Z5\nM104 S200\n"), ErrorCode::empty);  // no extrusion
  std::string garbage;
  uint32_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x = x * 1103515245u + 12345u;
    garbage.push_back(static_cast<char>((x >> 16) % 97 == 0 ? '\n' : (x >> 8) & 0xff));
  }
  const ErrorCode g = error_of(garbage);
  EXPECT_TRUE(g == ErrorCode::malformed || g == ErrorCode::empty) << partscreen::error_code_name(g);
  GcodeOptions small;
  small.max_segments = 100;
  EXPECT_EQ(error_of(square_part(10, "absolute"), small), ErrorCode::limit_exceeded);
  small = {};
  small.max_file_bytes = 1000;
  EXPECT_EQ(error_of(square_part(10, "absolute"), small), ErrorCode::limit_exceeded);
  small = {};
  small.max_points_per_object = 500;
  const auto capped = parse(square_part(10, "absolute"), small);
  ASSERT_EQ(capped.size(), 1u);
  EXPECT_EQ(capped[0].positions.size(), 3u * 500u);
  EXPECT_THROW(partscreen::read_gcode_file("/nonexistent/part.gcode"), partscreen::Error);
}

TEST(GcodeErrors, FloodOfTinyMovesIsMerged) {
  std::ostringstream o;
  o << "G90\nM83\nG1 Z0.2\nG1 X0 Y0\n";
  for (int i = 1; i <= 100000; ++i) o << "G1 X" << i * 0.001 << " Y0 E0.00003\n";
  GcodeStats st;
  try {
    parse(o.str(), {}, &st);
  } catch (const partscreen::Error&) {
  }
  GcodeOptions small;
  small.max_segments = 10;
  // 100k collinear moves fold into a single segment, far below the cap.
  EXPECT_NO_THROW({
    try {
      parse(o.str(), small);
    } catch (const partscreen::Error& e) {
      if (e.code() == ErrorCode::limit_exceeded) throw;
    }
  });
}

TEST(GcodeErrors, TruncatedSlicerOutputNeverCrashes) {
  REQUIRE_PRUSA();
  TempDir dir;
  const std::string g = read_all(prusa_slice(dir, {box_with_hole(12, 10, 3, 2)}, "--skirts 1", "t"));
  ASSERT_GT(g.size(), 1000u);
  size_t ok = 0;
  for (size_t cut = 0; cut < g.size(); cut += g.size() / 97 + 1) {
    try {
      parse(g.substr(0, cut));
      ++ok;
    } catch (const partscreen::Error&) {
    }
  }
  EXPECT_GT(ok, 50u);
  // Bytes flipped at random places: still an Error or a result, never a crash.
  uint32_t x = 7;
  for (int round = 0; round < 30; ++round) {
    std::string d = g;
    for (int i = 0; i < 50; ++i) {
      x = x * 1664525u + 1013904223u;
      d[x % d.size()] = static_cast<char>(x >> 24);
    }
    try {
      parse(d);
    } catch (const partscreen::Error&) {
    }
  }
}

// Inputs the fuzzer found: slow ones (a G2/G3 arc spanning a window of millions of cells) and a
// command number beyond int (undefined behaviour in the cast, caught by UBSan). Read
// with the fuzz target's limits: each must end in surfaces or an Error, with bounded output.
TEST(GcodeErrors, FuzzRegressionsFinish) {
  GcodeOptions fuzz;
  fuzz.max_file_bytes = 1 << 20;
  fuzz.max_segments = 200'000;
  fuzz.max_points_per_object = 20'000;
  fuzz.max_raster_cells = 2'000'000;
  int files = 0;
  for (const char* name : {"arc-window-1.gcode", "arc-window-2.gcode", "huge-command-number.gcode"}) {
    const std::string data = read_all(std::string(PARTSCREEN_TEST_DATA "/gcode/fuzz-regressions/") + name);
    ASSERT_FALSE(data.empty()) << name;
    ++files;
    for (const GcodeOptions& opt : {fuzz, GcodeOptions{}}) {
      try {
        GcodeStats st;
        const auto objs = parse(data, opt, &st);
        EXPECT_EQ(objs.size(), st.objects) << name;
        EXPECT_LE(objs.size(), opt.max_objects) << name;
        for (const auto& s : objs) {
          EXPECT_LE(s.positions.size(), 3u * opt.max_points_per_object) << name;
          for (float v : s.positions) ASSERT_TRUE(std::isfinite(v)) << name;
        }
      } catch (const partscreen::Error&) {
      }
    }
  }
  EXPECT_EQ(files, 3);
}

// 2000 beads 100 m long: at 0.5 mm spacing that would be 4e8 wall samples. Under
// max_raster_cells the grid coarsens and the samples thin out, so this ends quickly with
// bounded output (the thin lines themselves are dropped as purge lines).
TEST(GcodeErrors, HugeBeadsStayBounded) {
  std::ostringstream o;
  o << "G90\nM83\n";
  for (int k = 1; k <= 20; ++k) {
    o << "G1 Z" << 0.2 * k << "\n";
    for (int i = 0; i < 100; ++i) {
      const double y = -50000.0 + 1000.0 * i;
      o << "G0 X-50000 Y" << y << "\nG1 X50000 Y" << y + 500 << " E3000\n";
    }
  }
  GcodeOptions opt;
  opt.max_raster_cells = 2'000'000;
  opt.max_points_per_object = 5'000;
  GcodeStats st;
  try {
    const auto objs = parse(o.str(), opt, &st);
    EXPECT_EQ(objs.size(), st.objects);
    for (const auto& s : objs) EXPECT_LE(s.positions.size(), 3u * 5'000u);
  } catch (const partscreen::Error& e) {
    FAIL() << "huge but valid moves should rebuild: " << e.what();
  }
  EXPECT_EQ(st.extruding_segments, 2000u);
  EXPECT_EQ(st.layers, 20u);
}

TEST(GcodeDetect, LooksLikeGcode) {
  auto yes = [](const std::string& s) {
    return partscreen::looks_like_gcode(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  };
  EXPECT_TRUE(yes(square_part(1, "absolute")));
  EXPECT_TRUE(yes("; generated by a slicer\n; another\nM107\nG28\nG1 Z5\n"));
  EXPECT_TRUE(yes("N10 G1 X1*12\nN11 G1 X2*13\n"));
  EXPECT_FALSE(yes("solid part\n  facet normal 0 0 1\n"));
  EXPECT_FALSE(yes("# obj\nv 0 0 0\nv 1 0 0\nf 1 2 3\n"));
  EXPECT_FALSE(yes(std::string("G1\0X", 4)));
  EXPECT_FALSE(yes(""));
}

// SPDX-License-Identifier: GPL-3.0-or-later
// The OBJ reader (core/src/io/obj.cpp): the same shapes as Assimp on Assimp's own OBJ test files,
// polygons triangulated inside their outline, and the cases where it reads what a slicer would.
#include <Eigen/Core>
#include <Eigen/Geometry>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "io/readers.h"
#include "io_test_util.h"
#include "partscreen/error.h"
#include "partscreen/io.h"

namespace {

using namespace partscreen;
using iotest::assimp_model;
using iotest::slurp;

Eigen::Vector3d corner(const Mesh& m, size_t t, int k) {
  const size_t v = m.indices[3 * t + k];
  return Eigen::Vector3d(m.positions[3 * v], m.positions[3 * v + 1], m.positions[3 * v + 2]);
}

// Total area of the triangles, and their summed area vector (the signed projection: a closed
// surface sums to zero, a flat face to its area times its normal).
struct Surface { double area = 0.0; Eigen::Vector3d vector = Eigen::Vector3d::Zero(); Eigen::AlignedBox3d box; size_t triangles = 0; };
Surface surface_of(const Mesh& m) {
  Surface s;
  s.triangles = m.triangle_count();
  for (size_t t = 0; t < m.triangle_count(); ++t) {
    const Eigen::Vector3d a = corner(m, t, 0), b = corner(m, t, 1), c = corner(m, t, 2);
    const Eigen::Vector3d n = 0.5 * (b - a).cross(c - a);
    s.area += n.norm();
    s.vector += n;
    for (const auto& p : {a, b, c}) s.box.extend(p);
  }
  return s;
}

Mesh read(const std::string& text, const LoadOptions& o = {}) {
  return detail::read_obj("test.obj", reinterpret_cast<const unsigned char*>(text.data()), text.size(), o).mesh;
}

// The error loading the text gives (ErrorCode::internal if it loads: no test expects that code).
ErrorCode code_of(const std::string& text, const LoadOptions& o = {}, std::string* what = nullptr) {
  try {
    load_bytes("test.obj", text.data(), text.size(), o);
  } catch (const Error& e) {
    if (what) *what = e.what();
    return e.code();
  }
  return ErrorCode::internal;
}

TEST(ObjReader, SameShapesAsAssimpOnItsTestFiles) {
  // Every OBJ of assimp-testmodels that Assimp reads to triangles: the same triangle count, area,
  // area vector (orientation) and bounding box of the vertices faces use.
  int compared = 0;
  for (const char* rel : {"OBJ/box.obj", "OBJ/box_longline.obj", "OBJ/box_mat_with_spaces.obj", "OBJ/box_without_lineending.obj",
                          "OBJ/concave_polygon.obj", "OBJ/cube_mtllib_after_g.obj", "OBJ/cube_usemtl.obj",
                          "OBJ/cube_with_vertexcolors.obj", "OBJ/cube_with_vertexcolors_uni.obj", "OBJ/empty_mat.obj",
                          "OBJ/multiple_spaces.obj", "OBJ/regr01.obj", "OBJ/regr_3429812.obj", "OBJ/space_in_material_name.obj",
                          "OBJ/spider.obj", "OBJ/testmixed.obj", "OBJ/WusonOBJ.obj", "invalid/malformed2.obj"}) {
    SCOPED_TRACE(rel);
    REQUIRE_FILE(assimp_model(rel));
    const std::string bytes = slurp(assimp_model(rel));
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    const Surface ours = surface_of(detail::read_obj(rel, data, bytes.size(), {}).mesh);
    const Surface theirs = surface_of(detail::read_with_assimp(rel, data, bytes.size(), FileFormat::obj, {}, "").mesh);
    EXPECT_EQ(ours.triangles, theirs.triangles);
    EXPECT_NEAR(ours.area, theirs.area, 1e-5 * theirs.area);
    EXPECT_LE((ours.vector - theirs.vector).norm(), 1e-5 * theirs.area);
    EXPECT_LE((ours.box.min() - theirs.box.min()).norm(), 1e-5 * theirs.box.diagonal().norm());
    EXPECT_LE((ours.box.max() - theirs.box.max()).norm(), 1e-5 * theirs.box.diagonal().norm());
    ++compared;
  }
  EXPECT_EQ(compared, 18);
}

// A comb of `teeth` teeth as one face (the outline of a flat part), counter-clockwise from +z.
std::string comb_face(int teeth) {
  std::string text;
  for (int t = 0; t < teeth; ++t) {  // tooth t: x from 2t to 2t + 1, y from 1 to 3
    const std::string x0 = std::to_string(2 * t), x1 = std::to_string(2 * t + 1), x2 = std::to_string(2 * t + 2);
    text += "v " + x0 + " 3 0\nv " + x1 + " 3 0\nv " + x1 + " 1 0\nv " + x2 + " 1 0\n";
  }
  text += "v " + std::to_string(2 * teeth) + " 0 0\nv 0 0 0\nf";
  for (int k = 4 * teeth + 2; k >= 1; --k) text += " " + std::to_string(k);  // listed clockwise: reversed
  return text + "\n";
}

TEST(ObjReader, ConcavePolygonsStayInsideTheirOutline) {
  // An L of three unit squares as one face, and a comb of five teeth: a fan from the first
  // corner would lay triangles across the notches (more area, some of it facing backwards).
  const Mesh l = read("v 0 0 0\nv 2 0 0\nv 2 1 0\nv 1 1 0\nv 1 2 0\nv 0 2 0\nf 1 2 3 4 5 6\n");
  Surface s = surface_of(l);
  EXPECT_EQ(s.triangles, 4u);
  EXPECT_NEAR(s.area, 3.0, 1e-9);
  EXPECT_NEAR(s.vector.z(), 3.0, 1e-9);  // every triangle faces +z, as the face's winding says
  // From the corner that sees the whole L a fan happens to be right; from the next one it is not.
  s = surface_of(read("v 0 0 0\nv 2 0 0\nv 2 1 0\nv 1 1 0\nv 1 2 0\nv 0 2 0\nf 3 4 5 6 1 2\n"));
  EXPECT_NEAR(s.area, 3.0, 1e-9);
  const int n = 5 * 4 + 2;
  const std::string comb = comb_face(5);
  s = surface_of(read(comb));
  EXPECT_EQ(s.triangles, size_t(n - 2));
  EXPECT_NEAR(s.area, 10.0 + 5 * 2.0, 1e-9);  // base 10 x 1, teeth 1 x 2 each
  EXPECT_NEAR(s.vector.z(), 20.0, 1e-9);
}

TEST(ObjReader, HugeConcavePolygonStillLoads) {
  // Ear clipping a polygon of n corners costs up to n^3 point tests: past the reader's budget
  // the rest is fanned, so the file loads (wrongly triangulated, but whole) instead of hanging.
  const int teeth = 20000;
  const Surface s = surface_of(read(comb_face(teeth)));
  EXPECT_EQ(s.triangles, size_t(4 * teeth));
  EXPECT_GE(s.area, 4.0 * teeth - 1e-6);  // a fan overlaps itself: at least the true area
}

TEST(ObjReader, ReadsWhatSlicersPrint) {
  // Indented lines, faces before the vertices they use, negative (relative) corners, corners with
  // texture and normal indices, '+' signs, CRLF line ends and no final newline.
  const std::string text =
      "# a tetrahedron\r\n"
      "  f 1/1/1 3//1 2\r\n"
      "\tv 0 0 0\r\n"
      "v +1 0 0 0.5 0.5 0.5\r\n"
      "v 0 1.0e0 0\r\n"
      "v 0 0 1.\r\n"
      "vn 0 0 1\r\n"
      "f 1 2 4\r\n"
      "f -3 -2 -1 # a comment\r\n"
      "f\t-4 -1 -2";
  const LoadedFile f = load_bytes("tet.obj", text.data(), text.size());
  EXPECT_EQ(f.format, FileFormat::obj);
  EXPECT_EQ(f.mesh.triangle_count(), 4u);
  ASSERT_EQ(f.components.size(), 1u);
  EXPECT_TRUE(f.components[0].closed);
  EXPECT_NEAR(f.components[0].volume_mm3, 1.0 / 6.0, 1e-9);
  // A vertex no face uses is not part of the shape, however far away.
  const std::string stray = text + "\nv 1e9 0 0\n";
  EXPECT_EQ(load_bytes("tet.obj", stray.data(), stray.size()).mesh.vertex_count(), 4u);
}

// `prusa-slicer --info FILE`: its facet count and volume (-1 when it did not say).
struct SlicerInfo { long facets = -1; double volume = -1.0; };
SlicerInfo prusa_info(const std::string& path) {
  SlicerInfo info;
  FILE* p = popen(("prusa-slicer --info '" + path + "' 2>/dev/null").c_str(), "r");
  if (!p) return info;
  char line[512];
  while (std::fgets(line, sizeof line, p)) {
    std::sscanf(line, "number_of_facets = %ld", &info.facets);
    std::sscanf(line, "volume = %lf", &info.volume);
  }
  pclose(p);
  return info;
}

TEST(ObjReader, SeesTheFacetsPrusaSlicerPrints) {
  // What the screen sees must be what the slicer prints. Assimp skipped indented face lines,
  // which PrusaSlicer reads: geometry hidden from the screen that still reaches the printer.
  if (std::system("command -v prusa-slicer >/dev/null 2>&1") != 0) GTEST_SKIP() << "prusa-slicer not installed (scripts/setup.sh installs it)";
  const std::string tet = "v 0 0 0\nv 10 0 0\nv 0 10 0\nv 0 0 10\n";
  const std::vector<std::pair<std::string, std::string>> generated = {
      {"indented.obj", tet + "  f 1 3 2\n\tf 1 2 4\n f 2 3 4\nf 1 4 3\n"},
      {"forward.obj", "  f 1 3 2\n" + tet + "\tf 1 2 4\n f -3 -2 -1\nf 1 4 3\n"},
      {"quads.obj", "v 0 0 0\nv 10 0 0\nv 10 20 0\nv 0 20 0\nv 0 0 5\nv 10 0 5\nv 10 20 5\nv 0 20 5\n"
                    "f 4 3 2 1\nf 5 6 7 8\nf 1 2 6 5\nf 2 3 7 6\nf 3 4 8 7\nf 4 1 5 8\n"}};
  std::vector<std::string> paths;
  for (const auto& [name, text] : generated) paths.push_back(iotest::write_file(name, text));
  for (const char* rel : {"OBJ/box.obj", "OBJ/spider.obj", "OBJ/WusonOBJ.obj", "OBJ/regr01.obj", "OBJ/empty_mat.obj"}) {
    REQUIRE_FILE(assimp_model(rel));
    paths.push_back(assimp_model(rel));
  }
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    const SlicerInfo slicer = prusa_info(path);
    ASSERT_GT(slicer.facets, 0) << "prusa-slicer --info gave no facet count";
    const LoadedFile f = load_file(path);
    // (Ours is counted after degenerate triangles are dropped; the slicer counts them.)
    EXPECT_EQ(long(f.mesh.triangle_count() + f.clean.degenerate_triangles), slicer.facets);
    if (f.components.size() == 1 && f.components[0].closed) {
      EXPECT_NEAR(f.components[0].volume_mm3, slicer.volume, 1e-3 * slicer.volume);
    }
  }
}

TEST(ObjReader, BadCornersNameTheirLine) {
  std::string what;
  EXPECT_EQ(code_of("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", {}, &what), ErrorCode::malformed);
  EXPECT_NE(what.find("line 4"), std::string::npos) << what;
  EXPECT_NE(what.find("vertex 4"), std::string::npos) << what;
  EXPECT_EQ(code_of("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", {}, &what), ErrorCode::malformed);
  EXPECT_NE(what.find("line 4"), std::string::npos) << what;
  EXPECT_EQ(code_of("v 0 0 0\nv 1 0 0\nf -1 -2 -3\n", {}, &what), ErrorCode::malformed);
  EXPECT_NE(what.find("line 3"), std::string::npos) << what;
  EXPECT_EQ(code_of("v 0 0 0\nv 1 x 0\n", {}, &what), ErrorCode::malformed);
  EXPECT_NE(what.find("line 2"), std::string::npos) << what;
  EXPECT_EQ(code_of("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 a\n"), ErrorCode::malformed);
  EXPECT_EQ(code_of("v 0 0 0\nv 1 0 0\nv 0 1e99 0\nf 1 2 3\n"), ErrorCode::invalid_coordinates);
  EXPECT_EQ(code_of("v 0 0 0\nv 1 0 0\nv 0 nan 0\nf 1 2 3\n"), ErrorCode::invalid_coordinates);
  EXPECT_EQ(code_of(slurp(assimp_model("invalid/malformed.obj"))), ErrorCode::malformed);
}

TEST(ObjReader, TriangleLimitHoldsForFacesAndPolygons) {
  // max_triangles counts triangles, so a polygon counts as many as it makes, and a face longer
  // than the limit allows stops where it crosses it.
  LoadOptions o;
  o.max_triangles = 1000;
  std::string text = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\n";
  for (int i = 0; i < 1000; ++i) text += (i % 2 ? "f\t1 2 3\n" : "f 1 2 3\n");
  EXPECT_EQ(read(text, o).triangle_count(), 1000u);
  std::string what;
  EXPECT_EQ(code_of(text + "f 2 4 3\n", o, &what), ErrorCode::limit_exceeded);
  EXPECT_NE(what.find("more than 1000 triangles"), std::string::npos) << what;
  EXPECT_NE(what.find("line 1005"), std::string::npos) << what;
  std::string polygon = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf";
  for (int i = 0; i < 100000; ++i) polygon += " 1 2 3";
  EXPECT_EQ(code_of(polygon + "\n", o, &what), ErrorCode::limit_exceeded);
  EXPECT_NE(what.find("line 4"), std::string::npos) << what;
}

}  // namespace

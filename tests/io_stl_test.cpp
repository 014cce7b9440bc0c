// SPDX-License-Identifier: GPL-3.0-or-later
// STL reader: real files from Debian's assimp-testmodels, meshes generated in code, and every
// error class. Expected values are derived (clean_mesh of the soup, counts of what was written).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "io/stl.h"
#include "partscreen/error.h"
#include "partscreen/geometry.h"
#include "stl_fixtures.h"

using namespace partscreen;
using namespace partscreen::test;

namespace {

const std::string kModels = std::string(PARTSCREEN_ASSIMP_MODELS) + "/STL/";

Mesh read_bytes(const std::string& bytes, const LoadOptions& o = {}, CleanStats* s = nullptr) {
  return detail::read_stl_bytes("test.stl", u8(bytes), bytes.size(), o, s);
}

// Runs f, which must throw partscreen::Error; returns it.
template <class F>
Error error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no partscreen::Error thrown";
  return Error(ErrorCode::internal, "", "none");
}

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "partscreen_io_stl_" + name; }

void expect_same_mesh(const Mesh& a, const Mesh& b) {
  EXPECT_EQ(a.positions, b.positions);
  EXPECT_EQ(a.indices, b.indices);
}

}  // namespace

TEST(StlRead, ReaderEqualsCleanMeshOfTheSoup) {
  auto tris = concat(cube(10), torus(24, 12, 30, 5, 100));
  tris.push_back(tris[0]);  // duplicate triangle: kept (not degenerate)
  Tri flat = {0, 0, 0, 1, 1, 1, 2, 2, 2};
  tris.insert(tris.begin() + 5, flat);  // collinear: zero area
  Tri repeated = {3, 3, 3, 3, 3, 3, 4, 5, 6};
  tris.push_back(repeated);
  CleanStats stats;
  Mesh m = read_bytes(binary_stl(tris), {}, &stats);
  Mesh expected = soup(tris);
  CleanStats expected_stats = clean_mesh(expected);
  expect_same_mesh(m, expected);
  EXPECT_EQ(stats.input_vertices, expected_stats.input_vertices);
  EXPECT_EQ(stats.welded_vertices, expected_stats.welded_vertices);
  EXPECT_EQ(stats.degenerate_triangles, 2u);
  EXPECT_EQ(stats.degenerate_triangles, expected_stats.degenerate_triangles);
  EXPECT_EQ(m.triangle_count(), tris.size() - 2);
}

TEST(StlRead, CubeWeldsToEightVertices) {
  CleanStats stats;
  Mesh m = read_bytes(binary_stl(cube(2.5f)), {}, &stats);
  EXPECT_EQ(m.vertex_count(), 8u);
  EXPECT_EQ(m.triangle_count(), 12u);
  EXPECT_EQ(stats.input_vertices, 36u);
  EXPECT_EQ(stats.welded_vertices, 8u);
  EXPECT_EQ(stats.degenerate_triangles, 0u);
}

TEST(StlRead, NegativeZeroWeldsWithPositiveZero) {
  std::vector<Tri> tris = {{0.f, 0.f, 0.f, 1, 0, 0, 0, 1, 0}, {-0.f, -0.f, -0.f, 0, 1, 0, 0, 0, 1}};
  Mesh m = read_bytes(binary_stl(tris));
  EXPECT_EQ(m.vertex_count(), 4u);
  EXPECT_EQ(m.indices[0], m.indices[3]);
  for (float f : m.positions) EXPECT_FALSE(f == 0.f && std::signbit(f)) << "stored -0";
}

TEST(StlRead, BinaryWhoseHeaderStartsWithSolid) {
  auto tris = cube(4);
  Mesh plain = read_bytes(binary_stl(tris, "plain header"));
  for (const char* header : {"solid cube", "SOLID", "solid", "  solid part exported by CAD"}) {
    const std::string bytes = binary_stl(tris, header);
    EXPECT_TRUE(detail::is_binary_stl(u8(bytes), bytes.size(), bytes.size()));
    expect_same_mesh(read_bytes(bytes), plain);
  }
}

TEST(StlRead, AsciiAndBinaryOfTheSameMeshAgree) {
  auto tris = concat(cube(3, 1, 2, 3), torus(16, 8, 20, 4));
  expect_same_mesh(read_bytes(ascii_stl(tris)), read_bytes(binary_stl(tris)));
}

TEST(StlRead, SpiderAsciiAndBinaryGiveTheSameMesh) {
  LoadOptions o;
  CleanStats sa, sb;
  Mesh a = detail::read_stl_file(kModels + "Spider_ascii.stl", o, &sa);
  Mesh b = detail::read_stl_file(kModels + "Spider_binary.stl", o, &sb);
  ASSERT_EQ(a.triangle_count(), b.triangle_count());
  ASSERT_EQ(a.vertex_count(), b.vertex_count());
  EXPECT_EQ(a.indices, b.indices);
  // The ASCII file prints 6 decimals; the binary holds the floats they were rounded from.
  ASSERT_EQ(a.positions.size(), b.positions.size());
  for (size_t i = 0; i < a.positions.size(); ++i) ASSERT_NEAR(a.positions[i], b.positions[i], 1e-6 * (1 + std::fabs(b.positions[i])));
  EXPECT_EQ(sa.input_vertices, sb.input_vertices);
  EXPECT_EQ(sa.degenerate_triangles, sb.degenerate_triangles);
}

TEST(StlRead, AssimpModelsLoadFromFileAndBytesAlike) {
  for (const char* name : {"3DSMaxExport.STL", "Spider_ascii.stl", "Spider_binary.stl", "Wuson.stl", "sphereWithHole.stl",
                           "triangle.stl", "triangle_with_empty_solid.stl", "triangle_with_two_solids.stl",
                           "formatDetection"}) {
    SCOPED_TRACE(name);
    const std::string path = kModels + name;
    const std::string bytes = read_all(path);
    ASSERT_FALSE(bytes.empty()) << "install assimp-testmodels";
    CleanStats s1, s2;
    Mesh f = detail::read_stl_file(path, {}, &s1);
    Mesh b = detail::read_stl_bytes(path, u8(bytes), bytes.size(), {}, &s2);
    expect_same_mesh(f, b);
    EXPECT_GT(f.triangle_count(), 0u);
    EXPECT_EQ(s1.welded_vertices, f.vertex_count());
    const bool binary = detail::is_binary_stl(u8(bytes), bytes.size(), bytes.size());
    if (binary) {
      EXPECT_EQ(s1.input_vertices, 3ull * (bytes.size() - 84) / 50);
    }
  }
}

TEST(StlRead, TwoSolidsInOneFile) {
  Mesh m = detail::read_stl_file(kModels + "triangle_with_two_solids.stl", {}, nullptr);
  EXPECT_EQ(m.triangle_count(), 2u);
  EXPECT_EQ(m.vertex_count(), 6u);
  EXPECT_EQ(split_components(m).size(), 2u);
  Mesh e = detail::read_stl_file(kModels + "triangle_with_empty_solid.stl", {}, nullptr);
  EXPECT_EQ(e.triangle_count(), 1u);
}

TEST(StlRead, AsciiToleratesCaseWhitespaceCrlfAndQuads) {
  const std::string text =
      "\xEF\xBB\xBF  SOLID My Part  \r\n"
      "FACET NORMAL 0 0 1\r\n\tOUTER LOOP\r\n"
      "VERTEX +0 0 0\r\n  vertex 1.0E0 0 0\r\n vertex 1 1 0\r\n vertex 0 1e+0 0\r\n"
      "ENDLOOP\r\nEndFacet\r\n"
      "facet outer loop vertex 5 5 5 vertex 6 5 5 vertex 5 6 5 endloop endfacet\r\n"
      "endsolid My Part\r\n"
      "solid second\nfacet normal 0 0 0 outer loop vertex 9 9 9 vertex 10 9 9 vertex 9 10 9 endloop endfacet";
  CleanStats s;
  Mesh m = read_bytes(text, {}, &s);
  EXPECT_EQ(m.triangle_count(), 4u);  // quad -> 2, plus 2 triangles
  EXPECT_EQ(m.vertex_count(), 10u);
  EXPECT_EQ(s.input_vertices, 12u);
}

TEST(StlRead, AsciiOneLineFile) {
  Mesh m = read_bytes("solid x facet normal 0 0 1 outer loop vertex 0 0 0 vertex 1 0 0 vertex 0 1 0 endloop endfacet endsolid x");
  EXPECT_EQ(m.triangle_count(), 1u);
}

TEST(StlRead, LargeFilesStreamAcrossChunkBoundaries) {
  // Both files are several read chunks (~800 KB) long, so tokens and records straddle chunks.
  auto tris = concat(torus(200, 60, 50, 10), cube(7, 200));
  const std::string bin = binary_stl(tris), txt = ascii_stl(tris);
  ASSERT_GT(txt.size(), 3u << 20);
  write_all(temp_path("big.stl"), bin);
  write_all(temp_path("big_ascii.stl"), txt);
  Mesh expected = soup(tris);
  clean_mesh(expected);
  expect_same_mesh(detail::read_stl_file(temp_path("big.stl"), {}, nullptr), expected);
  expect_same_mesh(detail::read_stl_file(temp_path("big_ascii.stl"), {}, nullptr), expected);
  std::remove(temp_path("big.stl").c_str());
  std::remove(temp_path("big_ascii.stl").c_str());
}

// --- errors ---------------------------------------------------------------------------------

TEST(StlErrors, TruncatedBinaryAtEveryLength) {
  const std::string full = binary_stl(cube(1), "benign cube");
  for (size_t len = 0; len < full.size(); ++len) {
    Error e = error_of([&] { read_bytes(full.substr(0, len)); });
    if (len == 0) {
      EXPECT_EQ(e.code(), ErrorCode::empty);
    } else {
      EXPECT_EQ(e.code(), ErrorCode::malformed) << len << ": " << e.what();
    }
  }
  Error e = error_of([&] { read_bytes(full.substr(0, 84 + 50 * 3 + 7)); });
  EXPECT_NE(e.reason().find("truncated binary STL: header says 12 triangles, file holds room for 3"), std::string::npos)
      << e.reason();
  EXPECT_EQ(e.file(), "test.stl");
}

TEST(StlErrors, TruncatedBinaryWithSolidHeaderAtEveryLength) {
  const std::string full = binary_stl(cube(1), "solid cube");
  for (size_t len = 0; len < full.size(); ++len) {
    Error e = error_of([&] { read_bytes(full.substr(0, len)); });
    EXPECT_TRUE(e.code() == ErrorCode::malformed || e.code() == ErrorCode::empty) << len << ": " << e.what();
  }
  Error e = error_of([&] { read_bytes(full.substr(0, 300)); });
  EXPECT_NE(e.reason().find("header says 12 triangles"), std::string::npos) << e.reason();
}

TEST(StlErrors, TruncatedAsciiAtEveryLength) {
  const std::string full = ascii_stl(cube(1));
  for (size_t len = 0; len < full.size(); ++len) {
    const std::string cut = full.substr(0, len);
    try {
      Mesh m = read_bytes(cut);
      // Only cuts at or after a complete facet may load (a missing 'endsolid' is tolerated).
      EXPECT_LE(m.triangle_count(), 12u);
      EXPECT_NE(cut.rfind("endfacet"), std::string::npos);
    } catch (const Error& e) {
      EXPECT_TRUE(e.code() == ErrorCode::malformed || e.code() == ErrorCode::empty) << len << ": " << e.what();
    }
  }
}

TEST(StlErrors, NanAndInfinity) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    auto tris = cube(1);
    tris[7][4] = bad;
    Error e = error_of([&] { read_bytes(binary_stl(tris)); });
    EXPECT_EQ(e.code(), ErrorCode::invalid_coordinates);
    EXPECT_NE(e.reason().find("triangle 8"), std::string::npos) << e.reason();
  }
  std::string txt = ascii_stl(cube(1));
  txt.replace(txt.find("vertex 1 0 0"), 12, "vertex nan 0 0");
  EXPECT_EQ(error_of([&] { read_bytes(txt); }).code(), ErrorCode::invalid_coordinates);
  std::string huge = ascii_stl(cube(1));
  huge.replace(huge.find("vertex 1 0 0"), 12, "vertex 1e60 0 0");
  EXPECT_EQ(error_of([&] { read_bytes(huge); }).code(), ErrorCode::invalid_coordinates);
}

TEST(StlErrors, CoordinatesBeyondTheCap) {
  auto tris = cube(10, 2.0e6f);
  EXPECT_EQ(error_of([&] { read_bytes(binary_stl(tris)); }).code(), ErrorCode::invalid_coordinates);
  EXPECT_EQ(error_of([&] { read_bytes(ascii_stl(tris)); }).code(), ErrorCode::invalid_coordinates);
  LoadOptions o;
  o.max_coordinate_mm = 5;
  Error e = error_of([&] { read_bytes(binary_stl(cube(10)), o); });
  EXPECT_EQ(e.code(), ErrorCode::invalid_coordinates);
  EXPECT_NE(e.reason().find("max_coordinate_mm"), std::string::npos);
  o.max_coordinate_mm = 10;
  EXPECT_EQ(read_bytes(binary_stl(cube(10)), o).triangle_count(), 12u);  // the cap itself is allowed
}

TEST(StlErrors, OverMaxTriangles) {
  LoadOptions o;
  o.max_triangles = 11;
  for (const std::string& bytes : {binary_stl(cube(1)), ascii_stl(cube(1))}) {
    Error e = error_of([&] { read_bytes(bytes, o); });
    EXPECT_EQ(e.code(), ErrorCode::limit_exceeded);
    EXPECT_NE(e.reason().find("max_triangles"), std::string::npos);
  }
  o.max_triangles = 12;
  EXPECT_EQ(read_bytes(binary_stl(cube(1)), o).triangle_count(), 12u);
  // A header claiming 4 billion triangles is refused before anything is allocated.
  std::string lying(84, '\0');
  const uint32_t n = 0xFFFFFFFFu;
  std::memcpy(&lying[80], &n, 4);
  EXPECT_EQ(error_of([&] { read_bytes(lying); }).code(), ErrorCode::malformed);
}

TEST(StlErrors, OverMaxFileBytesIsCheckedBeforeReading) {
  // A sparse 600 MB file: refusing it must not read it (that would take seconds and RAM).
  const std::string path = temp_path("sparse.stl");
  {
    int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 600ll << 20), 0);
    ::close(fd);
  }
  Error e = error_of([&] { detail::read_stl_file(path, {}, nullptr); });
  EXPECT_EQ(e.code(), ErrorCode::limit_exceeded);
  EXPECT_EQ(e.file(), path);
  std::remove(path.c_str());
  LoadOptions o;
  o.max_file_bytes = 100;
  EXPECT_EQ(error_of([&] { read_bytes(binary_stl(cube(1)), o); }).code(), ErrorCode::limit_exceeded);
}

TEST(StlErrors, GarbageBytes) {
  std::mt19937 rng(1234);
  for (size_t size : {1u, 50u, 83u, 84u, 85u, 134u, 1000u, 70000u}) {
    for (const char* prefix : {"", "solid ", "solid x\nfacet normal 0 0 1 outer loop vertex 1 "}) {
      std::string bytes = prefix;
      while (bytes.size() < size) bytes.push_back(char(rng()));
      if (detail::is_binary_stl(u8(bytes), bytes.size(), bytes.size())) continue;
      Error e = error_of([&] { read_bytes(bytes); });
      EXPECT_TRUE(e.code() == ErrorCode::malformed || e.code() == ErrorCode::empty) << e.what();
    }
  }
  std::string long_token = "solid x\nfacet " + std::string(5000, 'a');
  EXPECT_EQ(error_of([&] { read_bytes(long_token); }).code(), ErrorCode::malformed);
  EXPECT_EQ(error_of([&] { read_bytes("solid x\nfacet normal 0 0 1 outer loop vertex 1 2 three"); }).code(),
            ErrorCode::malformed);
  EXPECT_EQ(error_of([&] { read_bytes("solid x\nfacet normal 0 0 1 outer loop vertex 1 2 3 endloop endfacet"); }).code(),
            ErrorCode::malformed);  // a facet with one vertex
}

TEST(StlErrors, EmptyInputs) {
  EXPECT_EQ(error_of([&] { read_bytes(""); }).code(), ErrorCode::empty);
  EXPECT_EQ(error_of([&] { read_bytes("solid empty\nendsolid empty\n"); }).code(), ErrorCode::empty);
  EXPECT_EQ(error_of([&] { read_bytes(binary_stl({})); }).code(), ErrorCode::empty);
  std::vector<Tri> flat = {{0, 0, 0, 1, 1, 1, 2, 2, 2}, {1, 1, 1, 1, 1, 1, 1, 1, 1}};
  Error e = error_of([&] { read_bytes(binary_stl(flat)); });
  EXPECT_EQ(e.code(), ErrorCode::empty);
  const std::string path = temp_path("empty.stl");
  write_all(path, "");
  EXPECT_EQ(error_of([&] { detail::read_stl_file(path, {}, nullptr); }).code(), ErrorCode::empty);
  std::remove(path.c_str());
}

TEST(StlErrors, MissingFileAndDirectory) {
  Error e = error_of([&] { detail::read_stl_file(temp_path("does_not_exist.stl"), {}, nullptr); });
  EXPECT_EQ(e.code(), ErrorCode::io);
  EXPECT_NE(e.reason().find("check the path"), std::string::npos);
  EXPECT_EQ(error_of([&] { detail::read_stl_file(::testing::TempDir(), {}, nullptr); }).code(), ErrorCode::io);
}

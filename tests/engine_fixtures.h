// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Shared by the engine tests (match_test, pack_test, scan_cli_test): CGAL's Debian-packaged sample
// meshes (libcgal-demo, extracted into the build tree at configure time, see tests/CMakeLists.txt),
// temporary folders, and small file helpers. Every part here is a generic mechanical shape.
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "partscreen/partscreen.h"
#include "temp_dir.h"

namespace partscreen::test {

// Extracted from /usr/share/doc/libcgal-dev/data.tar.gz by CMake (PARTSCREEN_CGAL_MESHES).
inline std::string cgal_mesh(const std::string& stem) { return std::string(PARTSCREEN_CGAL_MESHES) + "/" + stem + ".off"; }

// Benign mechanical references enrolled by the engine tests, and meshes never enrolled.
inline const std::vector<std::string>& reference_stems() {
  static const std::vector<std::string> k = {"pinion", "rotor", "couplingdown", "spool", "anchor", "handle", "fandisk"};
  return k;
}
inline std::vector<std::string> distractor_paths() {
  return {cgal_mesh("mech-holes-shark"), cgal_mesh("turbine"), cgal_mesh("oblong"), cgal_mesh("cylinder"),
          std::string(PARTSCREEN_TEST_MODELS) + "/STL/Spider_binary.stl", std::string(PARTSCREEN_TEST_MODELS) + "/STL/Wuson.stl",
          std::string(PARTSCREEN_TEST_MODELS) + "/STL/sphereWithHole.stl", std::string(PARTSCREEN_TEST_MODELS) + "/OBJ/spider.obj"};
}

// Fails the calling test with the one thing to do when the sample data is missing.
inline bool have_cgal_data() {
  return std::filesystem::exists(cgal_mesh("pinion"));
}
#define PARTSCREEN_REQUIRE_CGAL_DATA()                                                                  \
  ASSERT_TRUE(::partscreen::test::have_cgal_data())                                                 \
      << "CGAL sample meshes missing under " PARTSCREEN_CGAL_MESHES                                  \
         ": install libcgal-demo (scripts/setup.sh does) and re-run cmake"

// A pack enrolled once for a whole test suite (in SetUpTestSuite), with the folder it lives in;
// TearDownTestSuite calls reset() so both are gone before the next suite.
struct SuitePack {
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<Pack> pack;
  void reset() {
    pack.reset();
    dir.reset();
  }
};

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const std::string& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), std::streamsize(size));
}

inline void write_text(const std::string& path, const std::string& text) { write_bytes(path, text.data(), text.size()); }

// One reference per CGAL stem, id = stem, category "demo".
inline std::vector<ReferenceInput> reference_inputs(const std::vector<std::string>& stems) {
  std::vector<ReferenceInput> out;
  for (const std::string& s : stems) out.push_back(ReferenceInput{cgal_mesh(s), s, "demo", "sample part " + s});
  return out;
}

}  // namespace partscreen::test

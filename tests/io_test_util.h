// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Helpers shared by the io tests: Debian test-data paths (one place), scratch files, and
// generated 3MF archives (libzip) so limit and unit cases need no checked-in binaries.
#include <zip.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "partscreen/io.h"
#include "temp_dir.h"

namespace iotest {

// Debian packages: assimp-testmodels, occt-misc (paths set in tests/CMakeLists.txt).
inline std::string assimp_model(const std::string& rel) { return std::string(PARTSCREEN_ASSIMP_MODELS) + "/" + rel; }
inline std::string occt_data(const std::string& rel) { return std::string(PARTSCREEN_OCCT_DATA) + "/" + rel; }
inline std::string test_data(const std::string& rel) { return std::string(PARTSCREEN_TEST_DATA) + "/" + rel; }

inline bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

// Fails (not skips) when packaged data is missing: the setup script installs it.
#define REQUIRE_FILE(p) ASSERT_TRUE(iotest::exists(p)) << "missing test data " << (p) << " (install the Debian package)"

// A file's bytes ("" when it cannot be read).
inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Removed when the test process exits.
inline std::string scratch_dir() { return partscreen::test::process_temp_dir("partscreen-iotest"); }

inline std::string write_file(const std::string& name, const std::string& bytes) {
  std::string path = scratch_dir() + "/" + name;
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  return path;
}

// Zip with the given (name, content) entries, deflated.
inline std::string make_zip(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string path = scratch_dir() + "/zip-build.tmp";
  std::remove(path.c_str());
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!z) return {};
  for (auto& e : entries) {
    zip_source_t* s = zip_source_buffer(z, e.second.data(), e.second.size(), 0);
    zip_int64_t idx = zip_file_add(z, e.first.c_str(), s, ZIP_FL_OVERWRITE);
    zip_set_file_compression(z, zip_uint64_t(idx), ZIP_CM_DEFLATE, 9);
  }
  if (zip_close(z) != 0) return {};
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

inline const char* kRels =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Target=\"/3D/3dmodel.model\" Id=\"rel0\" "
    "Type=\"http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel\"/></Relationships>";

// An axis-aligned box mesh as a 3MF <object>, outward-facing triangles.
inline std::string box_object(int id, double sx, double sy, double sz) {
  const double v[8][3] = {{0, 0, 0}, {sx, 0, 0}, {sx, sy, 0}, {0, sy, 0},
                          {0, 0, sz}, {sx, 0, sz}, {sx, sy, sz}, {0, sy, sz}};
  const int t[12][3] = {{0, 2, 1}, {0, 3, 2}, {4, 5, 6}, {4, 6, 7}, {0, 1, 5}, {0, 5, 4},
                        {1, 2, 6}, {1, 6, 5}, {2, 3, 7}, {2, 7, 6}, {3, 0, 4}, {3, 4, 7}};
  std::string s = "<object id=\"" + std::to_string(id) + "\" type=\"model\"><mesh><vertices>";
  char buf[160];
  for (auto& p : v) {
    std::snprintf(buf, sizeof buf, "<vertex x=\"%.17g\" y=\"%.17g\" z=\"%.17g\"/>", p[0], p[1], p[2]);
    s += buf;
  }
  s += "</vertices><triangles>";
  for (auto& f : t) {
    std::snprintf(buf, sizeof buf, "<triangle v1=\"%d\" v2=\"%d\" v3=\"%d\"/>", f[0], f[1], f[2]);
    s += buf;
  }
  return s + "</triangles></mesh></object>";
}

inline std::string model_xml(const std::string& unit, const std::string& resources, const std::string& build) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<model unit=\"" + unit + "\" xml:lang=\"en-US\" "
         "xmlns=\"http://schemas.microsoft.com/3dmanufacturing/core/2015/02\" "
         "xmlns:p=\"http://schemas.microsoft.com/3dmanufacturing/production/2015/06\">"
         "<resources>" + resources + "</resources><build>" + build + "</build></model>";
}

inline std::string make_3mf(const std::string& model, std::vector<std::pair<std::string, std::string>> extra = {}) {
  std::vector<std::pair<std::string, std::string>> e = {{"_rels/.rels", kRels}, {"3D/3dmodel.model", model}};
  for (auto& x : extra) e.push_back(x);
  return make_zip(e);
}

inline double total_area(const partscreen::LoadedFile& f) {
  double a = 0;
  for (auto& c : f.components) a += c.area_mm2;
  return a;
}

}  // namespace iotest

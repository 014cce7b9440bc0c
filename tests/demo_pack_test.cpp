// SPDX-License-Identifier: GPL-3.0-or-later
// The committed demo pack (models/reference/demo.pack) must be what its manifest produces, and
// must catch a disguised copy of each of its references. Source meshes: CGAL's sample data from
// Debian's libcgal-demo (unpacked here into a temporary folder).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "partscreen/pack.h"
#include "partscreen/scan.h"
#include "partscreen/variants.h"

namespace fs = std::filesystem;
using namespace partscreen;

namespace {

const char* kArchive = "/usr/share/doc/libcgal-dev/data.tar.gz";

class DemoPack : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("partscreen-demo-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const std::string cmd = "tar -xzf " + std::string(kArchive) + " -C " + dir_.string() + " data/meshes";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "cannot unpack " << kArchive << " (install libcgal-demo)";
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static fs::path dir_;
};
fs::path DemoPack::dir_;

}  // namespace

TEST_F(DemoPack, MatchesManifest) {
  const std::string manifest = std::string(PARTSCREEN_SOURCE_DIR) + "/models/reference/demo.csv";
  const std::string committed = std::string(PARTSCREEN_SOURCE_DIR) + "/models/reference/demo.pack";
  const std::string rebuilt = (dir_ / "demo.pack").string();
  EnrollOptions options;
  options.pack_name = "demo";
  enroll(read_manifest(manifest, dir_.string()), rebuilt, options);
  Pack a = Pack::open(committed), b = Pack::open(rebuilt);
  ASSERT_EQ(a.reference_count(), b.reference_count());
  for (size_t i = 0; i < a.reference_count(); ++i) {
    EXPECT_EQ(a.reference(i).id, b.reference(i).id);
    EXPECT_EQ(a.reference(i).keypoint_count, b.reference(i).keypoint_count);
  }
  // Enrolment is deterministic, so a stale committed pack shows here: run scripts/make-demo-pack.sh.
  EXPECT_EQ(a.content_hex(), b.content_hex()) << "models/reference/demo.pack is stale: run scripts/make-demo-pack.sh";
}

TEST_F(DemoPack, CatchesDisguisedReferencesAndClearsOthers) {
  Pack pack = Pack::open(std::string(PARTSCREEN_SOURCE_DIR) + "/models/reference/demo.pack");
  const auto refs = read_manifest(std::string(PARTSCREEN_SOURCE_DIR) + "/models/reference/demo.csv", dir_.string());
  ScanOptions options;
  options.threads = 2;
  for (const ReferenceInput& r : refs) {
    LoadedFile f = load_file(r.path);
    Variant v = make_variant(f.mesh, VariantKind::combined, 11);
    std::vector<LoadedFile> job;
    for (const Mesh& m : v.files) job.push_back(loaded_from_mesh(m, r.id + ".stl"));
    ScanResult res = scan_loaded(job, pack, options);
    EXPECT_EQ(res.verdict, Verdict::flagged) << r.id;
    ASSERT_FALSE(res.matches.empty()) << r.id;
    EXPECT_EQ(res.matches[0].reference, r.id);
    EXPECT_NEAR(res.matches[0].scale, v.expected_scale, 0.05 * v.expected_scale) << r.id;
  }
  for (const char* other : {"turbine.off", "blade.off", "elephant-with-holes.off", "mech-holes-shark.off"}) {
    ScanResult res = scan_files({(dir_ / "data/meshes" / other).string()}, pack, options);
    EXPECT_EQ(res.verdict, Verdict::clear) << other << " scored " << (res.matches.empty() ? 0.0 : res.matches[0].score);
  }
}

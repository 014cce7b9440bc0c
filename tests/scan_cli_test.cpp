// SPDX-License-Identifier: GPL-3.0-or-later
// `partscreen enroll` and `partscreen scan` run as a user runs them (subprocess, no terminal) on
// CGAL's sample parts: exit codes, the scan --json contract, and the same answer as the library.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine_fixtures.h"
#include "partscreen/partscreen.h"
#include "partscreen/variants.h"
#include "run_program.h"

namespace partscreen::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

using partscreen::test::Outcome;

Outcome run(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), PARTSCREEN_CLI);
  return partscreen::test::run_program(std::move(args), dir.path());
}

json parse(const Outcome& r) {
  try {
    return json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "stdout is not JSON (" << e.what() << "):\n" << r.out << "\nstderr:\n" << r.err;
    return json();
  }
}

// One pack of four references for the file, made with the CLI itself.
class ScanCli : public ::testing::Test {
public:
  static void SetUpTestSuite() {
    if (!have_cgal_data() || dir_) return;
    dir_ = new TempDir("partscreen_scan_cli");
    enroll_result_ = new Outcome(run(*dir_, {"enroll", "--threads", "2", "--category", "demo", "--out", dir_->file("refs.pack"),
                                             cgal_mesh("pinion"), cgal_mesh("rotor"), cgal_mesh("anchor"), cgal_mesh("fandisk")}));
    // A rotated, rescaled fandisk as an upload.
    Variant v = make_variant(load_file(cgal_mesh("fandisk")).mesh, VariantKind::scale, 3);
    write_binary_stl(v.files[0], dir_->file("upload.stl"));
    expected_scale_ = v.expected_scale;
  }
  static void TearDownTestSuite() {
    delete enroll_result_;
    delete dir_;
    enroll_result_ = nullptr;
    dir_ = nullptr;
  }

protected:
  void SetUp() override {
    PARTSCREEN_REQUIRE_CGAL_DATA();
    ASSERT_EQ(enroll_result_->exit_code, 0) << enroll_result_->err;
  }
  static std::string pack() { return dir_->file("refs.pack"); }
  static TempDir* dir_;
  static Outcome* enroll_result_;
  static double expected_scale_;
};
TempDir* ScanCli::dir_ = nullptr;
Outcome* ScanCli::enroll_result_ = nullptr;
double ScanCli::expected_scale_ = 1.0;

TEST_F(ScanCli, EnrollWritesAPackTheLibraryOpens) {
  EXPECT_NE(enroll_result_->out.find("wrote "), std::string::npos) << enroll_result_->out;
  const Pack p = Pack::open(pack());
  ASSERT_EQ(p.reference_count(), 4u);
  EXPECT_EQ(p.reference(0).id, "pinion");
  EXPECT_EQ(p.reference(3).category, "demo");
  EXPECT_EQ(p.name(), "refs");  // --name defaults to the file stem of --out
}

TEST_F(ScanCli, ExitCodesClearFlaggedError) {
  TempDir d;
  Outcome clear = run(d, {"scan", "--threads", "2", "--pack", pack(), cgal_mesh("oblong")});
  EXPECT_EQ(clear.exit_code, 0) << clear.out << clear.err;
  EXPECT_NE(clear.out.find("verdict: clear"), std::string::npos) << clear.out;

  Outcome flagged = run(d, {"scan", "--threads", "2", "--pack", pack(), dir_->file("upload.stl")});
  EXPECT_EQ(flagged.exit_code, 1) << flagged.out << flagged.err;
  EXPECT_NE(flagged.out.find("verdict: flagged"), std::string::npos) << flagged.out;
  EXPECT_NE(flagged.out.find("'fandisk'"), std::string::npos) << flagged.out;

  // Unreadable upload: exit 2, one error line naming it.
  write_text(d.file("garbage.stl"), "this is not a mesh, just words\n");
  Outcome bad_file = run(d, {"scan", "--pack", pack(), d.file("garbage.stl")});
  EXPECT_EQ(bad_file.exit_code, 2) << bad_file.out << bad_file.err;
  EXPECT_NE(bad_file.err.find(d.file("garbage.stl")), std::string::npos) << bad_file.err;
  Outcome missing_file = run(d, {"scan", "--pack", pack(), d.file("absent.stl")});
  EXPECT_EQ(missing_file.exit_code, 2);

  // Unreadable packs: missing, truncated, not a pack.
  const auto bytes = read_bytes(pack());
  write_bytes(d.file("cut.pack"), bytes.data(), bytes.size() / 2);
  for (const std::string& p : {d.file("absent.pack"), d.file("cut.pack"), cgal_mesh("oblong")}) {
    Outcome r = run(d, {"scan", "--pack", p, cgal_mesh("oblong")});
    EXPECT_EQ(r.exit_code, 2) << p << "\n" << r.out << r.err;
    EXPECT_EQ(r.err.rfind("partscreen: " + p + ": ", 0), 0u) << r.err;
  }
  Outcome json_bad_pack = run(d, {"scan", "--json", "--pack", d.file("cut.pack"), cgal_mesh("oblong")});
  EXPECT_EQ(json_bad_pack.exit_code, 2);
  json j = parse(json_bad_pack);
  EXPECT_EQ(j["error"]["code"], "invalid_pack") << j.dump();
  EXPECT_EQ(j["error"]["file"], d.file("cut.pack"));

  // Missing --pack, no files: usage errors.
  EXPECT_EQ(run(d, {"scan", cgal_mesh("oblong")}).exit_code, 2);
  EXPECT_EQ(run(d, {"scan", "--pack", pack()}).exit_code, 2);
}

TEST_F(ScanCli, JsonContract) {
  TempDir d;
  const std::string upload = dir_->file("upload.stl");
  Outcome r = run(d, {"scan", "--json", "--threads", "2", "--pack", pack(), upload});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const json j = parse(r);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["verdict"], "flagged");
  ASSERT_TRUE(j["matches"].is_array());
  ASSERT_FALSE(j["matches"].empty());
  for (const json& m : j["matches"]) {
    for (const char* k : {"reference", "category", "label"}) EXPECT_TRUE(m[k].is_string()) << k;
    for (const char* k : {"score", "coverage", "scale", "explained", "absent", "hidden", "wall_mismatch"}) EXPECT_TRUE(m[k].is_number()) << k;
    EXPECT_TRUE(m["mirrored"].is_boolean());
    EXPECT_TRUE(m["filled_in"].is_boolean());
    ASSERT_TRUE(m["transform"].is_array());
    ASSERT_EQ(m["transform"].size(), 4u);
    for (const json& row : m["transform"]) {
      ASSERT_TRUE(row.is_array());
      ASSERT_EQ(row.size(), 4u);
      for (const json& x : row) EXPECT_TRUE(x.is_number());
    }
    EXPECT_EQ(m["transform"][3], json::array({0.0, 0.0, 0.0, 1.0}));
    ASSERT_TRUE(m["parts"].is_array());
    ASSERT_FALSE(m["parts"].empty());
    for (const json& p : m["parts"]) {
      EXPECT_EQ(p["file"], upload);
      EXPECT_TRUE(p["component"].is_number_unsigned());
      EXPECT_TRUE(p["coverage"].is_number());
      EXPECT_EQ(p["enclosed"], false);
      EXPECT_EQ(p["reassembled"], false);  // one whole upload: nothing glued
    }
  }
  const json& top = j["matches"][0];
  EXPECT_EQ(top["reference"], "fandisk");
  EXPECT_EQ(top["category"], "demo");
  EXPECT_NEAR(top["scale"].get<double>() / expected_scale_, 1.0, 0.10);
  // The transform's upper 3x3 is scale * rotation: its determinant is +-scale^3.
  const json& T = top["transform"];
  auto t = [&](int r, int c) { return T[r][c].get<double>(); };
  const double det = t(0, 0) * (t(1, 1) * t(2, 2) - t(1, 2) * t(2, 1)) - t(0, 1) * (t(1, 0) * t(2, 2) - t(1, 2) * t(2, 0)) +
                     t(0, 2) * (t(1, 0) * t(2, 1) - t(1, 1) * t(2, 0));
  const double s = top["scale"].get<double>();
  EXPECT_NEAR(std::fabs(det), s * s * s, 0.02 * s * s * s);
  EXPECT_EQ(det < 0, top["mirrored"].get<bool>());

  ASSERT_TRUE(j["files"].is_array());
  ASSERT_EQ(j["files"].size(), 1u);
  EXPECT_EQ(j["files"][0]["path"], upload);
  EXPECT_EQ(j["files"][0]["ok"], true);
  EXPECT_EQ(j["files"][0]["format"], "stl_binary");
  for (const char* k : {"load_ms", "features_ms", "candidates_ms", "verify_ms", "total_ms"})
    EXPECT_TRUE(j["timings"][k].is_number()) << k;
  EXPECT_EQ(j["pack"]["checksum"], Pack::open(pack()).checksum_hex());

  // The CLI says what the library says for the same job.
  ScanOptions o;
  o.threads = 2;
  const ScanResult lib = scan_files({upload}, Pack::open(pack()), o);
  EXPECT_EQ(j["verdict"], verdict_name(lib.verdict));
  ASSERT_EQ(j["matches"].size(), lib.matches.size());
  EXPECT_NEAR(top["score"].get<double>(), lib.matches[0].score, 1e-4);
  EXPECT_NEAR(top["coverage"].get<double>(), lib.matches[0].coverage, 1e-4);
}

// One unreadable file in a two-file job: the job is not cleared (verdict "error", exit 2), the
// readable file is still reported, and stderr names the bad one.
TEST_F(ScanCli, JobWithAnUnreadableFileIsAnError) {
  TempDir d;
  write_text(d.file("broken.stl"), "solid x\nfacet normal 0 0 1\nouter loop\nvertex 1 2\n");
  Outcome r = run(d, {"scan", "--json", "--threads", "2", "--pack", pack(), cgal_mesh("oblong"), d.file("broken.stl")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const json j = parse(r);
  EXPECT_EQ(j["verdict"], "error");
  ASSERT_EQ(j["files"].size(), 2u);
  bool saw_good = false, saw_bad = false;
  for (const json& f : j["files"]) {
    if (f["path"] == cgal_mesh("oblong")) {
      saw_good = true;
      EXPECT_EQ(f["ok"], true);
    } else {
      saw_bad = true;
      EXPECT_EQ(f["path"], d.file("broken.stl"));
      EXPECT_EQ(f["ok"], false);
      EXPECT_TRUE(f["error"]["code"].is_string());
      EXPECT_FALSE(f["error"]["reason"].get<std::string>().empty());
    }
  }
  EXPECT_TRUE(saw_good && saw_bad) << j["files"].dump();
  EXPECT_NE(r.err.find(d.file("broken.stl")), std::string::npos) << r.err;
  // Human output too.
  Outcome h = run(d, {"scan", "--pack", pack(), cgal_mesh("oblong"), d.file("broken.stl")});
  EXPECT_EQ(h.exit_code, 2);
  EXPECT_NE(h.out.find("verdict: error"), std::string::npos) << h.out;
}

TEST_F(ScanCli, EnrollFromManifest) {
  TempDir d;
  write_text(d.file("refs.csv"), "path,id,category,label\n" + cgal_mesh("spool") + ",spool-a,\"bobbins, thread\",\"Spool \"\"A\"\"\"\n" +
                                     cgal_mesh("handle") + ",handle-b,demo,Door handle\n");
  Outcome r = run(d, {"enroll", "--json", "--threads", "2", "--manifest", d.file("refs.csv"), "--name", "manifest pack", "--out",
                      d.file("m.pack")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = parse(r);
  ASSERT_EQ(j["references"].size(), 2u);
  EXPECT_EQ(j["references"][0]["id"], "spool-a");
  EXPECT_EQ(j["references"][0]["category"], "bobbins, thread");
  EXPECT_EQ(j["references"][0]["label"], "Spool \"A\"");
  EXPECT_GT(j["references"][1]["keypoints"].get<int>(), 0);
  EXPECT_EQ(j["bytes"].get<uint64_t>(), fs::file_size(d.file("m.pack")));
  const Pack p = Pack::open(d.file("m.pack"));
  EXPECT_EQ(p.name(), "manifest pack");
  EXPECT_EQ(p.reference(1).label, "Door handle");

  // A manifest naming a missing file: exit 2, the file named, nothing written.
  write_text(d.file("bad.csv"), "path\nnot_here.stl\n");
  Outcome bad = run(d, {"enroll", "--manifest", d.file("bad.csv"), "--out", d.file("bad.pack")});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find(d.file("not_here.stl")), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(d.file("bad.pack")));
  // Nothing to enrol, or no --out: exit 2.
  EXPECT_EQ(run(d, {"enroll", "--out", d.file("none.pack")}).exit_code, 2);
  EXPECT_EQ(run(d, {"enroll", cgal_mesh("spool")}).exit_code, 2);
}

TEST_F(ScanCli, HelpExitsZero) {
  TempDir d;
  for (const char* cmd : {"enroll", "scan"}) {
    for (const auto& args : {std::vector<std::string>{cmd, "--help"}, std::vector<std::string>{"help", cmd}}) {
      Outcome r = run(d, args);
      EXPECT_EQ(r.exit_code, 0) << cmd;
      for (const char* needle : {"Usage:", "Examples:", "Exit codes:", "--json"})
        EXPECT_NE(r.out.find(needle), std::string::npos) << cmd << ": " << needle << " missing";
    }
  }
}

}  // namespace
}  // namespace partscreen::test

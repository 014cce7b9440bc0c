// SPDX-License-Identifier: GPL-3.0-or-later
// `partscreen eval` / run_eval end to end on CGAL's Debian-packaged sample parts (libcgal-demo):
// the report's numbers are checked against scans made here of the very files it scanned, its
// rates are recomputed from its own case list, and a run is deterministic for a seed and resumes
// from its journal to the same report. Collision mode and the HTML page (rendered by Debian's
// chromium) are checked through the real program.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <zlib.h>
#include <nlohmann/json.hpp>

#include "engine_fixtures.h"
#include "partscreen/eval.h"
#include "partscreen/report.h"
#include "partscreen/variants.h"
#include "run_program.h"

namespace partscreen {
namespace {

namespace fs = std::filesystem;
using test::cgal_mesh;
using test::TempDir;
using json = nlohmann::json;

const std::vector<std::string> kRefs = {"pinion", "rotor", "spool"};

std::vector<EvalReference> refs() {
  std::vector<EvalReference> out;
  for (const auto& s : kRefs) out.push_back({s, cgal_mesh(s)});
  return out;
}
std::vector<std::string> distractors() {
  return {cgal_mesh("turbine"), cgal_mesh("oblong"), cgal_mesh("cylinder"), cgal_mesh("mech-holes-shark"),
          std::string(PARTSCREEN_TEST_MODELS) + "/STL/Wuson.stl"};
}

// One pack for the whole file: enrolling is the slow part and every test reads the same one.
class EvalTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("partscreen_eval");
    if (!test::have_cgal_data()) return;
    EnrollOptions eo;
    eo.pack_name = "eval-test";
    enroll(test::reference_inputs(kRefs), dir_->file("refs.pack"), eo);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { PARTSCREEN_REQUIRE_CGAL_DATA(); }
  static Pack pack() { return Pack::open(dir_->file("refs.pack")); }
  static EvalOptions options(const std::string& sub, std::vector<std::string> kinds) {
    EvalOptions o;
    o.kinds = std::move(kinds);
    o.seed = 11;
    o.scan.threads = 2;
    o.scan.report_score = 0.05;
    o.cases_dir = dir_->file(sub + "-cases");
    o.journal_path = dir_->file(sub + ".jsonl");
    return o;
  }
  static TempDir* dir_;
};
TempDir* EvalTest::dir_ = nullptr;

// What a case must equal when run again: everything but timings.
std::string key(const EvalCase& c) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9f", c.score);
  return c.id + "|" + c.name + "|" + c.verdict + "|" + c.top_reference + "|" + buf;
}

// What the report sets apart as a reference's relatives rather than false positives: only tokens
// naming a side, size, count, revision or number of holes are dropped.
TEST(DesignFamily, DropsVariantTokensOnly) {
  EXPECT_EQ(design_family("/x/front_idler_left_lower.stl"), design_family("y/front_idler_right_lower.STL"));
  EXPECT_EQ(design_family("z_rear_insert_2hole.stl"), design_family("z_rear_insert_3hole.stl"));
  EXPECT_EQ(design_family("umbilical_mount_3holes.stl"), design_family("umbilical_mount.stl"));
  EXPECT_EQ(design_family("side_skirt_a_250_x2.stl"), design_family("side_skirt_b_350_x2.stl"));
  EXPECT_EQ(design_family("bracket_v2.stl"), design_family("bracket_rev3.stl"));
  EXPECT_NE(design_family("front_idler_left_upper.stl"), design_family("front_idler_left_lower.stl"));
  EXPECT_NE(design_family("holes_plate.stl"), design_family("plate.stl"));  // a word, not a hole count
  EXPECT_NE(design_family("spool_holder.stl"), design_family("spool_holder_arm.stl"));
}

TEST_F(EvalTest, ReportNumbersMatchTheScansItRan) {
  EvalOptions o = options("e2e", {"rigid", "mirror", "pieces", "plate", "format_3mf", "format_obj"});
  o.keep_case_files = true;
  const EvalReport report = run_eval(pack(), refs(), distractors(), o);
  ASSERT_TRUE(report.complete);
  ASSERT_EQ(report.cases.size(), kRefs.size() * o.kinds.size() + distractors().size());
  const std::string out = dir_->file("e2e-report");
  write_eval_report(report, out);
  std::ifstream in(out + "/report.json");
  const json j = json::parse(in);
  ASSERT_EQ(j["cases"].size(), report.cases.size());
  EXPECT_EQ(j["pack"]["references"], kRefs.size());
  EXPECT_EQ(j["seed"], 11);

  // Every reference case's files, scanned again here, give the verdict, reference and score the
  // report holds; so does every distractor.
  size_t rescanned = 0;
  for (const json& c : j["cases"]) {
    if (c["verdict"] == "skipped") continue;
    std::vector<std::string> files;
    for (const json& f : c["files"])
      files.push_back(c["group"] == "reference" ? o.cases_dir + "/" + f.get<std::string>() : f.get<std::string>());
    ScanOptions so = o.scan;
    const ScanResult r = scan_files(files, pack(), so);
    SCOPED_TRACE(c["id"].get<std::string>());
    EXPECT_EQ(c["verdict"], verdict_name(r.verdict));
    EXPECT_EQ(c["top_reference"], r.matches.empty() ? "" : r.matches[0].reference);
    EXPECT_NEAR(c["score"].get<double>(), r.matches.empty() ? 0.0 : r.matches[0].score, 1e-9);
    EXPECT_NEAR(c["scale"].get<double>(), r.matches.empty() ? 0.0 : r.matches[0].scale, 1e-6);
    ++rescanned;
  }
  EXPECT_GE(rescanned, kRefs.size() * 5 + distractors().size());

  // The summary is what the case list says.
  size_t cases = 0, flagged = 0, review = 0, right = 0, dist = 0, dist_flag = 0, dist_review = 0;
  std::map<std::string, std::pair<size_t, size_t>> per_kind;  // cases, flagged
  std::set<std::string> fp_files;
  for (const json& c : j["cases"]) {
    if (c["verdict"] == "skipped") continue;
    if (c["group"] == "reference") {
      ++cases;
      const bool f = c["verdict"] == "flagged";
      flagged += f;
      review += c["verdict"] == "review";
      right += f && c["top_reference"] == c["reference"];
      per_kind[c["kind"]].first++;
      per_kind[c["kind"]].second += f;
    } else if (c["group"] == "distractor") {
      ++dist;
      dist_flag += c["verdict"] == "flagged";
      dist_review += c["verdict"] == "review";
      if (c["verdict"] != "clear") fp_files.insert(c["files"][0].get<std::string>());
    }
  }
  const json& s = j["summary"];
  EXPECT_EQ(s["cases"], cases);
  EXPECT_EQ(s["flagged"], flagged);
  EXPECT_EQ(s["review"], review);
  EXPECT_EQ(s["right_reference"], right);
  EXPECT_DOUBLE_EQ(s["detection_rate"].get<double>(), double(flagged) / double(cases));
  EXPECT_EQ(s["distractors"], dist);
  EXPECT_EQ(s["distractors_flagged"], dist_flag);
  EXPECT_EQ(s["distractors_review"], dist_review);
  ASSERT_EQ(s["by_kind"].size(), o.kinds.size());
  for (const json& k : s["by_kind"]) {
    EXPECT_EQ(k["cases"], per_kind[k["kind"]].first) << k["kind"];
    EXPECT_EQ(k["flagged"], per_kind[k["kind"]].second) << k["kind"];
  }
  std::set<std::string> listed;
  for (const json& f : s["false_positives"]) listed.insert(f["file"].get<std::string>());
  EXPECT_EQ(listed, fp_files);
  // With 5 distractors no false-positive rate of 1% or 0.1% can be told apart.
  for (const json& t : s["thresholds_for_false_positive_rates"]) EXPECT_FALSE(t["estimable"].get<bool>());

  // The engine itself: rigid copies and STL/OBJ/3MF round trips of these parts are caught as
  // the right reference, and none of these unrelated parts is flagged.
  for (const EvalCase& c : report.cases)
    if (c.group == "reference" && (c.kind == "rigid" || c.kind == "format_3mf" || c.kind == "format_obj")) {
      EXPECT_TRUE(c.detected() && c.right_reference()) << c.id << ": " << c.verdict << " " << c.top_reference;
    }
  EXPECT_EQ(dist_flag, 0u);

  // The page: self-contained, one figure per chart, every kind and reference named.
  std::ifstream hin(out + "/report.html");
  const std::string html((std::istreambuf_iterator<char>(hin)), {});
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  size_t svgs = 0;
  for (size_t p = html.find("<svg"); p != std::string::npos; p = html.find("<svg", p + 1)) ++svgs;
  EXPECT_EQ(svgs, 3u);
  for (const std::string& k : o.kinds) EXPECT_NE(html.find(">" + k + "<"), std::string::npos) << k;
  for (const std::string& r : kRefs) EXPECT_NE(html.find(">" + r + "<"), std::string::npos) << r;
  EXPECT_NE(html.find("too few distractors to tell"), std::string::npos);
}

TEST_F(EvalTest, SameSeedSameCasesAndVerdicts) {
  const std::vector<std::string> kinds = {"scale", "pieces", "holes"};
  EvalOptions a = options("seed-a", kinds), b = options("seed-b", kinds), c = options("seed-c", kinds);
  a.journal_path = b.journal_path = c.journal_path = "";
  c.seed = 12;
  const std::vector<std::string> d = {distractors()[0]};
  const EvalReport ra = run_eval(pack(), refs(), d, a), rb = run_eval(pack(), refs(), d, b), rc = run_eval(pack(), refs(), d, c);
  ASSERT_EQ(ra.cases.size(), rb.cases.size());
  for (size_t i = 0; i < ra.cases.size(); ++i) {
    EXPECT_EQ(key(ra.cases[i]), key(rb.cases[i]));
    EXPECT_EQ(ra.cases[i].seed, rb.cases[i].seed);
  }
  // Another seed makes other cases (scale factors are in the case names).
  size_t differ = 0;
  for (size_t i = 0; i < ra.cases.size(); ++i) differ += ra.cases[i].name != rc.cases[i].name;
  EXPECT_GT(differ, 0u);
}

TEST_F(EvalTest, InterruptedRunResumesToTheSameReport) {
  const std::vector<std::string> kinds = {"rigid", "scale", "pieces"};
  EvalOptions full = options("full", kinds);
  const EvalReport whole = run_eval(pack(), refs(), distractors(), full);
  ASSERT_TRUE(whole.complete);

  EvalOptions part = options("part", kinds);
  part.max_new_cases = 4;
  const EvalReport first = run_eval(pack(), refs(), distractors(), part);
  EXPECT_FALSE(first.complete);
  EXPECT_EQ(first.cases.size(), 4u);
  // A crash in the middle of writing a line leaves half a line: it must not cost the next case.
  {
    std::ofstream j(part.journal_path, std::ios::app);
    j << "{\"id\":\"pinion/pie";
  }
  part.max_new_cases = 3;
  const EvalReport second = run_eval(pack(), refs(), distractors(), part);
  EXPECT_EQ(second.resumed, 4u);
  EXPECT_EQ(second.cases.size(), 7u);
  part.max_new_cases = 0;
  const EvalReport last = run_eval(pack(), refs(), distractors(), part);
  EXPECT_TRUE(last.complete);
  EXPECT_EQ(last.resumed, 7u);
  ASSERT_EQ(last.cases.size(), whole.cases.size());
  for (size_t i = 0; i < whole.cases.size(); ++i) EXPECT_EQ(key(last.cases[i]), key(whole.cases[i]));
  EXPECT_EQ(last.summary.flagged, whole.summary.flagged);
  EXPECT_EQ(last.summary.distractor_review, whole.summary.distractor_review);

  // A journal of a run with other inputs is refused, not mixed in.
  EvalOptions other = part;
  other.seed = 99;
  EXPECT_THROW(run_eval(pack(), refs(), distractors(), other), Error);
}

TEST_F(EvalTest, SlicerCasesAreRealGcode) {
  if (system("command -v prusa-slicer >/dev/null 2>&1") != 0 || system("command -v CuraEngine >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "prusa-slicer or CuraEngine is not installed (apt-get install prusa-slicer cura-engine)";
  EvalOptions o = options("slicers", {"gcode_prusa", "gcode_cura"});
  o.keep_case_files = true;
  o.cura_definition = PARTSCREEN_CURA_DEFINITION;
  // rotor: pinion's single-point foot leaves PrusaSlicer's first layer empty (it refuses to slice).
  const EvalReport r = run_eval(pack(), {refs()[1]}, {}, o);
  ASSERT_EQ(r.cases.size(), 2u);
  ASSERT_EQ(r.slicer_versions.size(), 2u);
  for (const EvalCase& c : r.cases) {
    SCOPED_TRACE(c.id);
    ASSERT_NE(c.verdict, "skipped") << c.note;
    ASSERT_EQ(c.files.size(), 1u);
    const std::string path = o.cases_dir + "/" + c.files[0];
    EXPECT_EQ(fs::path(path).extension(), ".gcode");
    const ScanResult again = scan_files({path}, pack(), o.scan);
    EXPECT_EQ(c.verdict, verdict_name(again.verdict));
    // Read as G-code (walls rebuilt), not an error; whether these small sample parts, scaled up,
    // are caught in G-code is what the report measures, not what this test asserts.
    ASSERT_EQ(again.files.size(), 1u);
    EXPECT_EQ(again.files[0].format, "gcode");
    EXPECT_TRUE(again.files[0].ok) << again.files[0].error;
    EXPECT_NE(c.verdict, "error");
    EXPECT_NEAR(c.score, again.matches.empty() ? 0.0 : again.matches[0].score, 1e-9);
  }
}

// Through the program: collision mode lists the benign part that is a copy of the new reference,
// and the page renders in a real browser.
TEST_F(EvalTest, CollisionModeFlagsACopyAndListsTheRest) {
  TempDir t("partscreen_eval_cli");
  const std::string dist = t.file("benign");
  fs::create_directories(dist);
  for (const std::string& d : distractors()) fs::copy_file(d, dist + "/" + fs::path(d).filename().string());
  // An everyday part that happens to be the new reference turned around.
  const Variant v = make_variant(load_file(cgal_mesh("rotor")).mesh, VariantKind::rigid, 5);
  write_binary_stl(v.files[0], dist + "/bracket_copy.stl");
  const std::string out = t.file("collide");
  const test::Outcome r =
      test::run_program({PARTSCREEN_CLI, "eval", "--collision", cgal_mesh("rotor"), "--distractors", dist, "--out", out}, t.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(out + "/report.json");
  const json j = json::parse(in);
  EXPECT_EQ(j["mode"], "collision");
  EXPECT_EQ(j["pack"]["references"], 1);
  EXPECT_EQ(j["cases"].size(), distractors().size() + 1);
  ASSERT_EQ(j["summary"]["false_positives"].size(), 1u);
  EXPECT_EQ(fs::path(j["summary"]["false_positives"][0]["file"].get<std::string>()).filename(), "bracket_copy.stl");
  EXPECT_EQ(j["summary"]["false_positives"][0]["reference"], "rotor");
  EXPECT_NE(r.out.find("bracket_copy.stl"), std::string::npos) << r.out;

  if (system("command -v chromium >/dev/null 2>&1") != 0) GTEST_SKIP() << "chromium is not installed (apt-get install chromium)";
  const test::Outcome page = test::run_program(
      {"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
       "--disable-component-update", "--no-first-run", "--user-data-dir=" + t.file("chromium"), "--dump-dom",
       "file://" + out + "/report.html"},
      t.path());
  ASSERT_EQ(page.exit_code, 0) << page.err;
  // The browser built the page's DOM: the chart, the false-positive row and its two pictures
  // (the distractor, the reference) are in it.
  EXPECT_NE(page.out.find("<svg"), std::string::npos);
  size_t pictures = 0;
  for (size_t at = page.out.find("data:image/png;base64,"); at != std::string::npos; at = page.out.find("data:image/png;base64,", at + 1))
    ++pictures;
  EXPECT_EQ(pictures, 2u);
  EXPECT_NE(page.out.find("alt=\"bracket_copy.stl\""), std::string::npos);
  EXPECT_NE(page.out.find("bracket_copy.stl"), std::string::npos);
  EXPECT_NE(page.out.find("collision check"), std::string::npos);
}

// Through the program: a run stopped by its case limit is finished by the same command, and the
// report equals a run made in one go (the resumed cases' match details included).
TEST_F(EvalTest, CommandResumesFromItsJournal) {
  TempDir t("partscreen_eval_resume");
  const std::string refs_dir = t.file("refs"), dist_dir = t.file("benign");
  fs::create_directories(refs_dir);
  fs::create_directories(dist_dir);
  fs::copy_file(cgal_mesh("spool"), refs_dir + "/spool.off");
  fs::copy_file(cgal_mesh("oblong"), dist_dir + "/oblong.off");
  auto run = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {PARTSCREEN_CLI, "eval", "--references", refs_dir, "--distractors", dist_dir,
                                     "--kinds", "rigid,scale,mirror", "--seed", "3", "--out", out};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_program(args, t.path());
  };
  const test::Outcome stopped = run(t.file("a"), {"--stop-after", "2"});
  ASSERT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_NE(stopped.out.find("stopped early"), std::string::npos) << stopped.out;
  const test::Outcome resumed = run(t.file("a"), {});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("resumed: 2 finished cases"), std::string::npos) << resumed.out;
  ASSERT_EQ(run(t.file("b"), {}).exit_code, 0);
  auto cases = [&](const std::string& out) {
    std::ifstream in(out + "/report.json");
    const json j = json::parse(in);
    EXPECT_TRUE(j["complete"].get<bool>());
    std::vector<std::string> keys;
    for (const json& c : j["cases"])
      keys.push_back(c["id"].get<std::string>() + "|" + c["name"].get<std::string>() + "|" + c["verdict"].get<std::string>() + "|" +
                     std::to_string(c["score"].get<double>()) + "|" + std::to_string(c["hidden"].get<double>()) + "|" +
                     std::to_string(c["wall_mismatch"].get<double>()));
    return keys;
  };
  const auto a = cases(t.file("a")), b = cases(t.file("b"));
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(a, b);
}

// The pixels of an 8-bit greyscale PNG as mesh_thumbnail_png writes it (one IDAT, no filters).
std::vector<uint8_t> grey_pixels(const std::string& png, int& width, int& height) {
  auto u32 = [&](size_t at) {
    return uint32_t(uint8_t(png[at])) << 24 | uint32_t(uint8_t(png[at + 1])) << 16 | uint32_t(uint8_t(png[at + 2])) << 8 | uint8_t(png[at + 3]);
  };
  std::string idat;
  width = height = 0;
  for (size_t at = 8; at + 12 <= png.size();) {
    const uint32_t n = u32(at);
    const std::string type = png.substr(at + 4, 4);
    if (type == "IHDR") width = int(u32(at + 8)), height = int(u32(at + 12));
    if (type == "IDAT") idat += png.substr(at + 8, n);
    at += 12 + n;
  }
  std::vector<uint8_t> raw(size_t(height) * size_t(width + 1));
  uLongf size = raw.size();
  if (uncompress(raw.data(), &size, reinterpret_cast<const Bytef*>(idat.data()), uLong(idat.size())) != Z_OK || size != raw.size()) return {};
  std::vector<uint8_t> pixels;
  for (int y = 0; y < height; ++y) pixels.insert(pixels.end(), raw.begin() + y * (width + 1) + 1, raw.begin() + (y + 1) * (width + 1));
  return pixels;
}

// Report pictures come out in the part's own principal frame: a part turned and moved anywhere in
// its file is drawn alike (what lets a reader compare a false positive with its reference at a
// glance), while another part is not.
TEST(Thumbnail, TurnedCopiesLookAlikeAndOtherPartsDoNot) {
  const Mesh rotor = load_file(cgal_mesh("rotor")).mesh;
  int w = 0, h = 0;
  const std::string png = mesh_thumbnail_png(rotor, 120);
  ASSERT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  const std::vector<uint8_t> a = grey_pixels(png, w, h);
  ASSERT_EQ(w, 120);
  ASSERT_EQ(h, 120);
  ASSERT_EQ(a.size(), 120u * 120u);
  const size_t drawn = size_t(std::count_if(a.begin(), a.end(), [](uint8_t v) { return v < 255; }));
  EXPECT_GT(drawn, a.size() / 10);  // the part fills the picture, not a corner of it
  auto differing = [&](const Mesh& m) {
    int w2 = 0, h2 = 0;
    const std::vector<uint8_t> b = grey_pixels(mesh_thumbnail_png(m, 120), w2, h2);
    if (b.size() != a.size()) return 1.0;
    size_t off = 0;
    for (size_t i = 0; i < a.size(); ++i) off += std::abs(int(a[i]) - int(b[i])) > 40;
    return double(off) / double(drawn);
  };
  for (uint64_t seed : {1, 2, 3}) {
    const double d = differing(make_variant(rotor, VariantKind::rigid, seed).files[0]);
    std::printf("turned copy (seed %llu): %.1f%% of the part's pixels differ\n", (unsigned long long)seed, 100 * d);
    EXPECT_LT(d, 0.05) << seed;
  }
  const double other = differing(load_file(cgal_mesh("anchor")).mesh);
  std::printf("another part: %.1f%% differ\n", 100 * other);
  EXPECT_GT(other, 0.3);
  EXPECT_TRUE(mesh_thumbnail_png(Mesh{}, 120).empty());
}

}  // namespace
}  // namespace partscreen

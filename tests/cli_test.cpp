// SPDX-License-Identifier: GPL-3.0-or-later
// Runs the built `partscreen` program as a user would (subprocess, no terminal) on Debian's
// assimp-testmodels, and checks exit codes, the one-line error format and that --json carries
// the same numbers the core API reports for the same file.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "partscreen/partscreen.h"
#include "run_program.h"
#include "temp_dir.h"

namespace {

using nlohmann::json;

const std::string kModels = PARTSCREEN_TEST_MODELS;

using partscreen::test::Outcome;


const std::string& temp_dir() { return partscreen::test::process_temp_dir("partscreen_cli"); }

Outcome run(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {PARTSCREEN_CLI};
  argv.insert(argv.end(), args.begin(), args.end());
  return partscreen::test::run_program(std::move(argv), temp_dir());
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The documented error format: exactly one line "partscreen: WHAT: reason".
void expect_one_error_line(const std::string& err, const std::string& what) {
  ASSERT_EQ(lines(err).size(), 1u) << err;
  EXPECT_EQ(err.back(), '\n');
  EXPECT_EQ(err.rfind("partscreen: " + what + ": ", 0), 0u) << err;
  EXPECT_GT(err.size(), ("partscreen: " + what + ": \n").size()) << "empty reason: " << err;
}

std::string write_file(const std::string& name, const std::string& bytes) {
  const std::string path = temp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// Bytes no reader accepts: not STL (wrong size for its count), no known magic, binary noise.
std::string garbage_bytes() {
  std::string g = "this is not a mesh\n";
  uint32_t x = 12345;
  for (int i = 0; i < 1000; ++i) {
    x = x * 1103515245u + 12345u;
    g.push_back(char(x >> 24));
  }
  return g;
}

const std::vector<std::string> kGoodFiles = {
    kModels + "/STL/Spider_binary.stl",
    kModels + "/STL/Spider_ascii.stl",
    kModels + "/STL/sphereWithHole.stl",
    kModels + "/OBJ/box.obj",
};

TEST(Cli, HelpAndVersionExitZero) {
  Outcome top = run({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("info"), std::string::npos);
  EXPECT_NE(top.out.find("Exit codes"), std::string::npos);
  EXPECT_TRUE(top.err.empty()) << top.err;

  for (const auto& args : {std::vector<std::string>{"help", "info"}, std::vector<std::string>{"info", "--help"}}) {
    Outcome r = run(args);
    EXPECT_EQ(r.exit_code, 0);
    // The help teaches every option with its default, examples and exit codes.
    for (const char* needle : {"Usage:", "--json", "--max-bytes", "--max-triangles", "(default: ", "Examples:",
                               "Exit codes:", "  2  "})
      EXPECT_NE(r.out.find(needle), std::string::npos) << needle << " missing in:\n" << r.out;
  }

  Outcome v = run({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out, std::string("partscreen ") + partscreen::version_string() + "\n");
}

// The default shown after an option's help, e.g. "512M" for --max-bytes.
std::string shown_default(const std::string& help, const std::string& option) {
  const size_t at = help.find("  " + option + " ");
  if (at == std::string::npos) return "";
  const size_t open = help.find("(default: ", at);
  const size_t close = help.find(')', open);
  if (open == std::string::npos || close == std::string::npos) return "";
  return help.substr(open + 10, close - open - 10);
}

uint64_t parse_size(std::string s) {
  int shift = 0;
  switch (s.empty() ? '\0' : s.back()) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    default: break;
  }
  if (shift) s.pop_back();
  return std::stoull(s) << shift;
}

TEST(Cli, HelpShowsLoadOptionDefaults) {
  const partscreen::LoadOptions d;
  Outcome r = run({"help", "info"});
  EXPECT_EQ(shown_default(r.out, "--max-triangles N"), std::to_string(d.max_triangles)) << r.out;
  const std::string bytes = shown_default(r.out, "--max-bytes N");
  ASSERT_FALSE(bytes.empty()) << r.out;
  EXPECT_EQ(parse_size(bytes), d.max_file_bytes) << bytes;
}

TEST(Cli, InfoJsonMatchesCoreApi) {
  std::vector<std::string> args = {"info", "--json"};
  args.insert(args.end(), kGoodFiles.begin(), kGoodFiles.end());
  Outcome r = run(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << "no progress bar or noise without a terminal: " << r.err;
  const json doc = json::parse(r.out);
  ASSERT_TRUE(doc.is_array());
  ASSERT_EQ(doc.size(), kGoodFiles.size());
  for (size_t i = 0; i < kGoodFiles.size(); ++i) {
    SCOPED_TRACE(kGoodFiles[i]);
    const partscreen::LoadedFile f = partscreen::load_file(kGoodFiles[i]);
    const json& j = doc[i];
    ASSERT_FALSE(j.contains("error")) << j.dump();
    EXPECT_EQ(j.at("path"), kGoodFiles[i]);
    EXPECT_EQ(j.at("format"), partscreen::format_name(f.format));
    EXPECT_EQ(j.at("bytes").get<uint64_t>(), f.file_bytes);
    EXPECT_GT(j.at("triangles").get<uint64_t>(), 0u);
    EXPECT_EQ(j.at("triangles").get<uint64_t>(), f.mesh.triangle_count());
    EXPECT_EQ(j.at("vertices").get<uint64_t>(), f.mesh.vertex_count());
    EXPECT_EQ(j.at("clean").at("input_vertices").get<uint64_t>(), f.clean.input_vertices);
    EXPECT_EQ(j.at("clean").at("welded_vertices").get<uint64_t>(), f.clean.welded_vertices);
    EXPECT_EQ(j.at("clean").at("degenerate_triangles_removed").get<uint64_t>(), f.clean.degenerate_triangles);
    EXPECT_GE(j.at("load_ms").get<double>(), 0.0);
    ASSERT_EQ(j.at("components").size(), f.components.size());
    EXPECT_EQ(j.at("component_count").get<size_t>(), f.components.size());
    uint64_t sum = 0;
    for (size_t c = 0; c < f.components.size(); ++c) {
      const json& jc = j.at("components")[c];
      EXPECT_EQ(jc.at("triangles").get<uint32_t>(), f.components[c].triangle_count);
      EXPECT_EQ(jc.at("closed").get<bool>(), f.components[c].closed);
      EXPECT_EQ(jc.at("manifold").get<bool>(), f.components[c].manifold);
      EXPECT_NEAR(jc.at("area_mm2").get<double>(), f.components[c].area_mm2, 1e-3);
      EXPECT_NEAR(jc.at("volume_mm3").get<double>(), f.components[c].volume_mm3, 1e-3);
      for (int d = 0; d < 3; ++d) {
        EXPECT_NEAR(jc.at("bbox").at("min_mm")[d].get<double>(), f.components[c].bounds.min[d], 1e-3);
        EXPECT_NEAR(jc.at("bbox").at("max_mm")[d].get<double>(), f.components[c].bounds.max[d], 1e-3);
      }
      sum += jc.at("triangles").get<uint64_t>();
    }
    EXPECT_EQ(sum, f.mesh.triangle_count());
  }
}

TEST(Cli, InfoTableForPeople) {
  const std::string path = kGoodFiles[0];
  const partscreen::LoadedFile f = partscreen::load_file(path);
  Outcome r = run({"info", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  EXPECT_EQ(r.out.rfind(path + "\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(partscreen::format_name(f.format)), std::string::npos) << r.out;
  std::string tri = std::to_string(f.mesh.triangle_count());
  for (int i = int(tri.size()) - 3; i > 0; i -= 3) tri.insert(size_t(i), ",");
  EXPECT_NE(r.out.find("triangles   " + tri + " "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("components  " + std::to_string(f.components.size())), std::string::npos) << r.out;
}

TEST(Cli, MissingFileIsOneLineAndExitTwo) {
  const std::string missing = temp_dir() + "/no_such_part.stl";
  Outcome r = run({"info", missing});
  EXPECT_EQ(r.exit_code, 2);
  expect_one_error_line(r.err, missing);
  EXPECT_TRUE(r.out.empty()) << r.out;

  Outcome j = run({"info", "--json", missing});
  EXPECT_EQ(j.exit_code, 2);
  expect_one_error_line(j.err, missing);
  const json doc = json::parse(j.out);
  ASSERT_TRUE(doc.is_array());
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0].at("error").at("code"), "io");
  EXPECT_EQ(doc[0].at("error").at("file"), missing);
  EXPECT_FALSE(doc[0].at("error").at("reason").get<std::string>().empty());
}

TEST(Cli, GarbageFileGivesTheCoresError) {
  const std::string path = write_file("garbage.stl", garbage_bytes());
  partscreen::ErrorCode expected = partscreen::ErrorCode::internal;
  try {
    partscreen::load_file(path);
    FAIL() << "the core accepted garbage";
  } catch (const partscreen::Error& e) {
    expected = e.code();
  }
  EXPECT_NE(expected, partscreen::ErrorCode::internal);
  Outcome r = run({"info", "--json", path});
  EXPECT_EQ(r.exit_code, 2);
  expect_one_error_line(r.err, path);
  const json doc = json::parse(r.out);
  EXPECT_EQ(doc.at(0).at("error").at("code"), partscreen::error_code_name(expected));
}

TEST(Cli, OneBadFileDoesNotHideTheOthers) {
  const std::string missing = temp_dir() + "/missing.obj";
  Outcome r = run({"info", "--json", kGoodFiles[0], missing, kGoodFiles[3]});
  EXPECT_EQ(r.exit_code, 2);
  expect_one_error_line(r.err, missing);
  const json doc = json::parse(r.out);
  ASSERT_EQ(doc.size(), 3u);
  EXPECT_TRUE(doc[0].contains("triangles"));
  EXPECT_TRUE(doc[1].contains("error"));
  EXPECT_TRUE(doc[2].contains("triangles"));
}

TEST(Cli, LimitsComeFromOptions) {
  const std::string path = kGoodFiles[0];
  const partscreen::LoadedFile f = partscreen::load_file(path);
  ASSERT_GT(f.mesh.triangle_count(), 10u);
  ASSERT_GT(f.file_bytes, 1024u);
  Outcome t = run({"info", "--json", "--max-triangles", "10", path});
  EXPECT_EQ(t.exit_code, 2);
  expect_one_error_line(t.err, path);
  EXPECT_EQ(json::parse(t.out).at(0).at("error").at("code"), "limit_exceeded");
  Outcome b = run({"info", "--json", "--max-bytes=1K", path});
  EXPECT_EQ(b.exit_code, 2);
  EXPECT_EQ(json::parse(b.out).at(0).at("error").at("code"), "limit_exceeded");
  // Raising them back lets the same file through.
  // The cap applies to triangles as read, before degenerate ones are removed.
  const uint64_t read = f.mesh.triangle_count() + f.clean.degenerate_triangles;
  Outcome ok = run({"info", "--max-triangles", std::to_string(read), "--max-bytes",
                std::to_string(f.file_bytes), path});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST(Cli, UsageErrorsAreOneLineAndExitTwo) {
  Outcome unknown = run({"info", "--frobnicate", kGoodFiles[0]});
  EXPECT_EQ(unknown.exit_code, 2);
  expect_one_error_line(unknown.err, "--frobnicate");
  EXPECT_TRUE(unknown.out.empty());

  Outcome unknown_json = run({"info", "--json", "--frobnicate", kGoodFiles[0]});
  EXPECT_EQ(unknown_json.exit_code, 2);
  expect_one_error_line(unknown_json.err, "--frobnicate");
  const json e = json::parse(unknown_json.out);
  EXPECT_EQ(e.at("error").at("code"), "invalid_argument");
  EXPECT_EQ(e.at("error").at("file"), "--frobnicate");

  Outcome bad_value = run({"info", "--max-triangles", "many", kGoodFiles[0]});
  EXPECT_EQ(bad_value.exit_code, 2);
  expect_one_error_line(bad_value.err, "--max-triangles");

  Outcome no_value = run({"info", kGoodFiles[0], "--max-bytes"});
  EXPECT_EQ(no_value.exit_code, 2);
  expect_one_error_line(no_value.err, "--max-bytes");

  Outcome no_files = run({"info"});
  EXPECT_EQ(no_files.exit_code, 2);
  expect_one_error_line(no_files.err, "info");

  Outcome no_command = run({});
  EXPECT_EQ(no_command.exit_code, 2);
  EXPECT_EQ(lines(no_command.err).size(), 1u);

  Outcome bad_command = run({"frobnicate"});
  EXPECT_EQ(bad_command.exit_code, 2);
  expect_one_error_line(bad_command.err, "frobnicate");

  Outcome bad_help = run({"help", "frobnicate"});
  EXPECT_EQ(bad_help.exit_code, 2);
  expect_one_error_line(bad_help.err, "frobnicate");
}

}  // namespace

// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A scratch folder for tests, removed with everything in it when the owner goes away. ctest runs
// each test in its own process, so a folder that outlived its test would pile up in /tmp run
// after run.
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

namespace partscreen::test {

class TempDir {
public:
  explicit TempDir(const std::string& prefix = "partscreen_engine") {
    std::string tmpl = ::testing::TempDir() + prefix + "_XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed in " + ::testing::TempDir());
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

// One folder for the whole test process, made on first use and removed at exit.
inline const std::string& process_temp_dir(const std::string& prefix) {
  static const TempDir dir(prefix);
  return dir.path();
}

}  // namespace partscreen::test

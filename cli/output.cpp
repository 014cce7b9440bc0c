// SPDX-License-Identifier: GPL-3.0-or-later
// Error lines, JSON printing and the progress bar: how every command talks to people and scripts.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "partscreen/report.h"

namespace partscreen::cli {

std::string hint_for(const Error& e, const std::string& command) {
  const std::string help = command.empty() ? "'partscreen --help'" : "'partscreen help " + command + "'";
  switch (e.code()) {
    case ErrorCode::io: return "check that the path exists and is readable";
    case ErrorCode::empty: return "";
    case ErrorCode::unsupported_format:
      return "supported: STL, OBJ, PLY, OFF, 3MF, AMF, glTF/GLB, STEP, IGES, ASCII G-code";
    case ErrorCode::malformed: return "the file may be truncated or corrupt: export it again from its source";
    case ErrorCode::limit_exceeded:
      if (e.reason().find("bytes") != std::string::npos) return "if you trust the file, raise --max-bytes";
      if (e.reason().find("triangles") != std::string::npos) return "if you trust the file, raise --max-triangles";
      return "";
    case ErrorCode::invalid_coordinates: return "";
    case ErrorCode::invalid_pack: return "make the pack again with 'partscreen enroll'";
    case ErrorCode::invalid_argument: return "see " + help;
    case ErrorCode::internal: return "this is a bug in partscreen: please report it with the file";
    case ErrorCode::untrusted_pack: return "";  // the reason says what to do
  }
  return "";
}

void print_error_line(const Error& e, const std::string& command) {
  std::string line = "partscreen: ";
  if (!e.file().empty()) line += e.file() + ": ";
  line += e.reason();
  const std::string hint = hint_for(e, command);
  if (!hint.empty()) line += " (" + hint + ")";
  // Exactly one line, whatever the reason holds (readers quote file content in reasons).
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

std::string error_object(const Error& e, const std::string& command) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(error_json(e));
  const std::string hint = hint_for(e, command);
  if (!hint.empty()) j["error"]["hint"] = hint;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void print_json(const std::string& compact) {
  std::cout << nlohmann::ordered_json::parse(compact).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
            << '\n';
  std::cout.flush();
}

// ---- Progress ----

namespace {
constexpr size_t kMinItemsForProgress = 4;  // fewer files finish before a bar would help
constexpr size_t kBarWidth = 30;
}  // namespace

Progress::Progress(size_t total, bool allowed)
    : total_(total), enabled_(allowed && total >= kMinItemsForProgress && isatty(STDERR_FILENO)) {}

Progress::~Progress() { finish(); }

void Progress::step(const std::string& item) {
  if (!enabled_) return;
  const size_t filled = total_ ? done_ * kBarWidth / total_ : 0;
  std::string name = item;
  if (name.size() > 40) name = "..." + name.substr(name.size() - 37);
  std::fprintf(stderr, "\r\033[K[%s%s] %zu/%zu %s", std::string(filled, '#').c_str(),
               std::string(kBarWidth - filled, ' ').c_str(), done_ + 1, total_, name.c_str());
  std::fflush(stderr);
  drawn_ = true;
  ++done_;
}

void Progress::clear() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

void Progress::finish() { clear(); }

}  // namespace partscreen::cli

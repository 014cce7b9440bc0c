// SPDX-License-Identifier: GPL-3.0-or-later
// Public entry points of the G-code stage: streaming read, reconstruction, format sniffing.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>

#include "gcode/gcode_internal.h"
#include "partscreen/error.h"
#include "partscreen/gcode.h"

namespace partscreen {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::vector<OrientedSurface> finish(const std::string& name, gcode::Parser& parser, const GcodeOptions& options,
                                    GcodeStats* stats, Clock::time_point t0) {
  gcode::ParseResult parsed = parser.finish();
  GcodeStats st;
  st.bytes = parsed.bytes;
  st.lines = parsed.lines;
  st.moves = parsed.moves;
  st.merged_segments = parsed.merged;
  st.parse_ms = ms_since(t0);
  const auto t1 = Clock::now();
  auto out = gcode::rebuild(name, std::move(parsed.segments), options, st);
  st.rebuild_ms = ms_since(t1);
  if (stats) *stats = st;
  return out;
}

void check_options(const std::string& name, const GcodeOptions& o) {
  if (o.max_line_bytes == 0 || o.max_segments == 0 || !(o.max_coordinate_mm > 0) || !(o.point_spacing_mm > 0) ||
      o.max_points_per_object == 0)
    throw Error(ErrorCode::invalid_argument, name, "GcodeOptions: limits and spacing must be positive");
}

}  // namespace

std::vector<OrientedSurface> read_gcode_file(const std::string& path, const GcodeOptions& options, GcodeStats* stats) {
  check_options(path, options);
  const auto t0 = Clock::now();
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw Error(ErrorCode::io, path, std::string("cannot open: ") + std::strerror(errno));
  if (std::fseek(f.get(), 0, SEEK_END) == 0) {
    const long size = std::ftell(f.get());
    if (size > 0 && static_cast<uint64_t>(size) > options.max_file_bytes)
      throw Error(ErrorCode::limit_exceeded, path,
                  "larger than " + std::to_string(options.max_file_bytes) + " bytes (max_file_bytes)");
    std::rewind(f.get());
  }
  gcode::Parser parser(path, options);
  std::vector<char> buf(1 << 20);
  for (;;) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), f.get());
    if (n > 0) parser.feed(buf.data(), n);
    if (n < buf.size()) {
      if (std::ferror(f.get())) throw Error(ErrorCode::io, path, "read failure");
      break;
    }
  }
  return finish(path, parser, options, stats, t0);
}

std::vector<OrientedSurface> read_gcode_bytes(const std::string& name, const void* data, size_t size,
                                              const GcodeOptions& options, GcodeStats* stats) {
  check_options(name, options);
  const auto t0 = Clock::now();
  if (size > options.max_file_bytes)
    throw Error(ErrorCode::limit_exceeded, name,
                "larger than " + std::to_string(options.max_file_bytes) + " bytes (max_file_bytes)");
  gcode::Parser parser(name, options);
  if (size) parser.feed(static_cast<const char*>(data), size);
  return finish(name, parser, options, stats, t0);
}

bool looks_like_bgcode(const unsigned char* head, size_t n) {
  return head && n >= 4 && std::memcmp(head, "GCDE", 4) == 0;
}

bool looks_like_gcode(const unsigned char* head, size_t n) {
  if (!head || n == 0 || looks_like_bgcode(head, n)) return false;
  // Judge complete lines only (the last one may be cut by the head size).
  size_t commands = 0, comments = 0, other = 0;
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && head[j] != '\n' && head[j] != '\r') {
      if (head[j] == 0) return false;
      ++j;
    }
    if (j == n && i > 0) break;
    size_t p = i;
    while (p < j && (head[p] == ' ' || head[p] == '\t')) ++p;
    if (p < j) {
      auto up = [](unsigned char c) { return static_cast<unsigned char>(c >= 'a' && c <= 'z' ? c - 32 : c); };
      if (up(head[p]) == 'N') {  // line number
        ++p;
        while (p < j && head[p] >= '0' && head[p] <= '9') ++p;
        while (p < j && head[p] == ' ') ++p;
      }
      if (p < j && (head[p] == ';' || head[p] == '(')) {
        ++comments;
      } else if (p + 1 < j + 1 && p < j && (up(head[p]) == 'G' || up(head[p]) == 'M' || up(head[p]) == 'T') &&
                 p + 1 < j && head[p + 1] >= '0' && head[p + 1] <= '9') {
        ++commands;
      } else {
        ++other;  // Klipper macros, garbage
      }
    }
    i = j + 1;
  }
  if (commands == 0) return comments >= 2 && other == 0;
  return commands >= 1 && other <= (commands + comments) / 4;
}

}  // namespace partscreen

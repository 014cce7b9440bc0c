// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal interface between the streaming G-code reader and the wall reconstruction.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "partscreen/gcode.h"

namespace partscreen {
namespace gcode {

// One extruding move, in millimetres. `e_per_mm` is filament (E axis, millimetres of filament
// or, after M200 D.., converted to filament millimetres) per millimetre of XY travel: the bead's
// cross-section is proportional to it. `chain` numbers runs of extruding moves not interrupted
// by travel: a closed chain is a perimeter loop candidate.
struct Segment {
  float x0, y0, z0, x1, y1, z1;
  float e_per_mm;
  uint32_t chain;
};

struct ParseResult {
  std::vector<Segment> segments;
  uint64_t bytes = 0;
  uint64_t lines = 0;
  uint64_t moves = 0;
  uint64_t merged = 0;
};

// Streaming parser: feed() any chunking of the bytes, then finish(). Holds at most one line
// (max_line_bytes) besides the kept segments.
class Parser {
public:
  Parser(std::string name, const GcodeOptions& options);
  ~Parser();
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;
  void feed(const char* data, size_t n);
  ParseResult finish();

private:
  struct State;
  State* s_;
};

// Rebuilds one OrientedSurface per printed object from the extruding segments (consumed).
std::vector<OrientedSurface> rebuild(const std::string& name, std::vector<Segment>&& segments,
                                     const GcodeOptions& options, GcodeStats& stats);

}  // namespace gcode
}  // namespace partscreen

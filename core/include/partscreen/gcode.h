// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Rebuilding printed objects' surfaces from plain-text G-code (Marlin / RepRap / Klipper as
// written by PrusaSlicer, SuperSlicer, OrcaSlicer, Bambu Studio, CuraEngine).
// Comments are never trusted: objects, layers, widths and walls come from the moves alone.
// Every file is untrusted: GcodeOptions' limits are enforced while streaming, and problems are
// reported as partscreen::Error naming the file, the reason and, where it applies, the line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "partscreen/surface.h"

namespace partscreen {

struct GcodeOptions {
  // Reader limits.
  uint64_t max_file_bytes = 1ull << 30;          // refused before reading when larger
  uint32_t max_line_bytes = 4096;                 // a longer line is malformed
  uint64_t max_segments = 20'000'000;             // extruding segments kept after merging
  double max_coordinate_mm = 1.0e5;               // |X|,|Y|,|Z| beyond this is refused (100 m)
  uint32_t max_arc_segments = 720;                // G2/G3 linearisation cap per arc
  double arc_tolerance_mm = 0.01;                 // chord error allowed when linearising arcs
  double merge_tolerance_mm = 0.01;               // collinear tiny moves are merged within this
  // Reconstruction.
  double point_spacing_mm = 0.5;                  // along walls and on skins (small prints: down to 0.6x)
  uint32_t max_points_per_object = 200'000;       // uniformly subsampled beyond this
  uint32_t max_objects = 1000;                    // more separate objects is limit_exceeded
  bool skins = true;                              // add top/bottom skins (else walls_only)
  // Work bound: raster cells over all layers (layer windows, and bead cells apart). Beyond it
  // the grid coarsens, and wall samples thin out beyond a sixteenth of it, so rebuild time and
  // memory are bounded whatever the coordinates; real prints stay far below.
  uint64_t max_raster_cells = 100'000'000;
};

struct GcodeStats {
  uint64_t bytes = 0;
  uint64_t lines = 0;
  uint64_t moves = 0;                  // G0/G1/G2/G3 commands
  uint64_t extruding_segments = 0;     // kept after merging
  uint64_t merged_segments = 0;        // tiny collinear moves folded into their neighbours
  uint32_t layers = 0;                 // distinct extrusion heights (vase: height bins)
  uint32_t objects = 0;                // surfaces returned
  uint32_t dropped_objects = 0;        // skirts, purge lines, supports (thin structures)
  double layer_height_mm = 0.0;        // most common layer height
  double extrusion_width_mm = 0.0;     // estimated from perimeter spacing (or filament fallback)
  bool spiral = false;                 // vase mode detected (Z rising while extruding)
  double parse_ms = 0.0;
  double rebuild_ms = 0.0;
};

// Reads a G-code file and returns one surface per printed object ("object 1", ...), ordered by
// their lowest-left corner on the plate. Throws partscreen::Error (binary G-code is
// unsupported_format; oversize lines malformed; coordinates beyond the cap invalid_coordinates;
// no extrusion at all empty).
std::vector<OrientedSurface> read_gcode_file(const std::string& path, const GcodeOptions& options = {},
                                             GcodeStats* stats = nullptr);

// Same for bytes in memory; `name` is used in error messages.
std::vector<OrientedSurface> read_gcode_bytes(const std::string& name, const void* data, size_t size,
                                              const GcodeOptions& options = {}, GcodeStats* stats = nullptr);

// True when the first bytes look like plain-text G-code (commands such as G1/M104 or ';'
// comments, no NUL bytes). False for binary G-code: see looks_like_bgcode().
bool looks_like_gcode(const unsigned char* head, size_t n);

// True when the bytes start with the binary G-code magic "GCDE".
bool looks_like_bgcode(const unsigned char* head, size_t n);

}  // namespace partscreen

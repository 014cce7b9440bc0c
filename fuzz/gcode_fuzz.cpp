// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer entry point for the G-code reader and reconstruction.
// Link: partscreen::core (which pulls TBB and Threads) and -fsanitize=fuzzer.
#include <cstddef>
#include <cstdint>

#include "partscreen/error.h"
#include "partscreen/gcode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  partscreen::GcodeOptions options;
  // Small caps keep each run fast; the limits themselves are part of what is exercised.
  options.max_file_bytes = 1 << 20;
  options.max_segments = 200'000;
  options.max_points_per_object = 20'000;
  // Bounds the raster work (windows, bead cells, wall samples), so no input can run for seconds.
  options.max_raster_cells = 2'000'000;
  (void)partscreen::looks_like_gcode(data, size);
  try {
    partscreen::GcodeStats stats;
    (void)partscreen::read_gcode_bytes("fuzz.gcode", data, size, options, &stats);
  } catch (const partscreen::Error&) {
  }
  return 0;
}

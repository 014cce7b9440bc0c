// SPDX-License-Identifier: GPL-3.0-or-later
// The io stage's G-code hook: plain-text G-code is rebuilt into one oriented surface per printed
// object by the gcode stage (core/src/gcode). The file-size cap of LoadOptions applies.
#include "io/readers.h"
#include "partscreen/error.h"
#include "partscreen/gcode.h"

namespace partscreen::detail {

void load_gcode(const std::string& name, const unsigned char* data, size_t size, const LoadOptions& options,
                LoadedFile& out) {
  GcodeOptions g;
  g.max_file_bytes = options.max_file_bytes;
  g.max_coordinate_mm = std::min(g.max_coordinate_mm, options.max_coordinate_mm);
  out.surfaces = read_gcode_bytes(name, data, size, g);
  if (out.surfaces.empty())
    throw Error(ErrorCode::empty, name, "G-code: no printed object found (only travel moves, or thin lines such as a skirt or purge line)");
}

}  // namespace partscreen::detail

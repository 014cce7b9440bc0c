// SPDX-License-Identifier: GPL-3.0-or-later
// Placeholder for the G-code reader: load_file / load_bytes detect G-code and call
// detail::load_gcode(). The G-code stage replaces this file with its reader.
#include "io/readers.h"
#include "partscreen/error.h"

namespace partscreen::detail {

void load_gcode(const std::string& name, const unsigned char*, size_t, const LoadOptions&, LoadedFile&) {
  throw Error(ErrorCode::unsupported_format, name, "G-code: reading toolpaths is not supported in this build yet");
}

}  // namespace partscreen::detail

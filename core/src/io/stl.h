// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal: the STL reader (binary and ASCII). Welds vertices while parsing so a 100 MB file
// never exists as an unwelded triangle soup in memory.
#include <cstddef>
#include <cstdint>
#include <string>

#include "partscreen/geometry.h"
#include "partscreen/io.h"

namespace partscreen::detail {

// True when the bytes are a binary STL: 84 + 50 * count == size, even if the header starts
// with "solid" (SolidWorks and others write that).
bool is_binary_stl(const unsigned char* head, size_t head_bytes, uint64_t file_bytes);

// Reads an STL file from disk in bounded memory (streamed in chunks). Returns a welded mesh with
// degenerate triangles removed (stats filled). Throws Error (file, reason) on any problem:
// truncated binary (count mismatch), NaN/Inf, coordinates over the cap, too many triangles,
// malformed ASCII, empty.
Mesh read_stl_file(const std::string& path, const LoadOptions& options, CleanStats* stats);

// Same for bytes in memory.
Mesh read_stl_bytes(const std::string& name, const unsigned char* data, size_t size, const LoadOptions& options,
                    CleanStats* stats);

}  // namespace partscreen::detail

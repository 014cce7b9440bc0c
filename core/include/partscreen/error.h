// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Typed errors raised at every boundary where partscreen reads something a stranger made
// (mesh and CAD files, G-code, packs, requests). One error says which file and why, in words
// a person can act on. The CLI turns it into one line and exit code 2; plugins and the service
// turn it into their own error objects. Nothing else is thrown by the public API except
// std::bad_alloc.
#include <stdexcept>
#include <string>

namespace partscreen {

enum class ErrorCode {
  io,                  // cannot open or read (missing file, permission, read failure)
  empty,               // the file holds no bytes, or no triangles after cleaning
  unsupported_format,  // recognised but not supported (e.g. binary G-code), or not recognised at all
  malformed,           // the content breaks its format (truncated, bad numbers, bad structure)
  limit_exceeded,      // a configured cap (bytes, triangles, components, coordinates, zip ratio...)
  invalid_coordinates, // NaN, infinity, or a magnitude beyond the coordinate cap
  invalid_pack,        // a signature pack that is truncated, corrupt, foreign or of another version
  invalid_argument,    // a caller-side mistake (bad option value, empty job)
  internal,            // a bug in partscreen: please report it with the file
  untrusted_pack,      // a readable pack refused by the trust rules (unsigned, tampered, unknown
                       // key, expired, rolled back): see partscreen/trust.h
};

// Stable lower-case name of a code, used in JSON ("error": {"code": "limit_exceeded"}).
const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
public:
  Error(ErrorCode code, std::string file, std::string reason);
  ErrorCode code() const { return code_; }
  const std::string& file() const { return file_; }
  const std::string& reason() const { return reason_; }

private:
  ErrorCode code_;
  std::string file_;
  std::string reason_;
};

}  // namespace partscreen

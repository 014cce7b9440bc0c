// SPDX-License-Identifier: GPL-3.0-or-later
#include "partscreen/error.h"

namespace partscreen {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::io: return "io";
    case ErrorCode::empty: return "empty";
    case ErrorCode::unsupported_format: return "unsupported_format";
    case ErrorCode::malformed: return "malformed";
    case ErrorCode::limit_exceeded: return "limit_exceeded";
    case ErrorCode::invalid_coordinates: return "invalid_coordinates";
    case ErrorCode::invalid_pack: return "invalid_pack";
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::internal: return "internal";
    case ErrorCode::untrusted_pack: return "untrusted_pack";
  }
  return "internal";
}

static std::string compose(const std::string& file, const std::string& reason) {
  return file.empty() ? reason : file + ": " + reason;
}

Error::Error(ErrorCode code, std::string file, std::string reason)
    : std::runtime_error(compose(file, reason)), code_(code), file_(std::move(file)), reason_(std::move(reason)) {}

}  // namespace partscreen

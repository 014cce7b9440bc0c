// SPDX-License-Identifier: GPL-3.0-or-later
// Builds without OpenCascade (PARTSCREEN_WITH_OCCT=OFF): STEP and IGES are refused as unsupported.
#include "io/readers.h"
#include "partscreen/error.h"

namespace partscreen::detail {

bool cad_support_enabled() { return false; }

RawMesh read_cad_file(const std::string& name, const std::string&, FileFormat format, const LoadOptions&) {
  throw Error(ErrorCode::unsupported_format, name,
              std::string(format_name(format)) + ": this build has no CAD support (built without OpenCascade)");
}

}  // namespace partscreen::detail

// SPDX-License-Identifier: GPL-3.0-or-later
#include "partscreen/version.h"

namespace partscreen {
const char* version_string() { return PARTSCREEN_VERSION_STRING; }
}  // namespace partscreen

// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#define PARTSCREEN_VERSION_MAJOR 0
#define PARTSCREEN_VERSION_MINOR 1
#define PARTSCREEN_VERSION_PATCH 0

namespace partscreen {
const char* version_string();  // "0.1.0"
}

// SPDX-License-Identifier: GPL-3.0-or-later
#include <cstdio>
#include "partscreen/version.h"
int main(int argc, char** argv) { std::printf("partscreen %s\n", partscreen::version_string()); return 0; }

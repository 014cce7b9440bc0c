#!/usr/bin/env bash
# Configures and builds partscreen (Release, Ninja) into build/.
# Extra arguments go to cmake's configure step, e.g. scripts/build.sh -DPARTSCREEN_WERROR=ON
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${PARTSCREEN_JOBS:-$(nproc)}"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$root/build" --parallel "$jobs"

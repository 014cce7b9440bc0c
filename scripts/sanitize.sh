#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${PARTSCREEN_JOBS:-$(nproc)}"
"$root/scripts/setup.sh"
# No Python binding here: an ASan-built module cannot load into Debian's (uninstrumented)
# python3 without preloading the runtime; the plugins' tests then screen through the ASan CLI.
cmake -S "$root" -B "$root/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARTSCREEN_SANITIZE=ON \
  -DPARTSCREEN_BUILD_BENCH=OFF -DPARTSCREEN_BUILD_PYTHON=OFF "$@"
cmake --build "$root/build-asan" --parallel "$jobs"
# Any finding fails the run: UBSan halts (the build also uses -fno-sanitize-recover), ASan
# reports leaks at exit.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$root/scripts/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
ctest --test-dir "$root/build-asan" --output-on-failure -j2

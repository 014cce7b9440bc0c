// SPDX-License-Identifier: GPL-3.0-or-later
// STEP/IGES support lives in a separate module (libpartscreen_cad.so, built from occt_mesh.cpp)
// that is loaded on the first CAD file. OpenCascade is 16 large shared libraries whose symbol
// resolution alone cost every partscreen process ~40 ms at start-up, whether or not it ever saw
// a CAD file; most jobs are meshes and G-code.
#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "io/readers.h"
#include "partscreen/error.h"

namespace partscreen::detail {
namespace {

using ReadFn = int (*)(const char*, const char*, int, const LoadOptions*, RawMesh*, int*, char*, size_t);

std::string exe_dir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string p(buf, size_t(n));
  return p.substr(0, p.find_last_of('/'));
}

struct Module {
  ReadFn read = nullptr;
  std::string tried;
};

const Module& module() {
  static Module m;
  static std::once_flag once;
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("PARTSCREEN_CAD_MODULE")) candidates.push_back(env);
#ifdef PARTSCREEN_CAD_MODULE_BUILD_PATH
    candidates.push_back(PARTSCREEN_CAD_MODULE_BUILD_PATH);
#endif
    const std::string dir = exe_dir();
    if (!dir.empty()) {
      candidates.push_back(dir + "/libpartscreen_cad.so");
      candidates.push_back(dir + "/../lib/partscreen/libpartscreen_cad.so");
    }
    for (const std::string& c : candidates) {
      m.tried += (m.tried.empty() ? "" : ", ") + c;
      if (::access(c.c_str(), R_OK) != 0) continue;
      void* h = ::dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) continue;
      m.read = reinterpret_cast<ReadFn>(::dlsym(h, "partscreen_cad_read_v1"));
      if (m.read) return;
    }
  });
  return m;
}

}  // namespace

bool cad_support_enabled() { return true; }

RawMesh read_cad_file(const std::string& name, const std::string& path, FileFormat format, const LoadOptions& options) {
  const Module& m = module();
  if (!m.read)
    throw Error(ErrorCode::unsupported_format, name,
                std::string(format_name(format)) + ": the CAD module libpartscreen_cad.so was not found (looked at " + m.tried +
                    "); set PARTSCREEN_CAD_MODULE to its path");
  RawMesh out;
  int code = 0;
  char reason[1024] = {0};
  if (m.read(name.c_str(), path.c_str(), int(format), &options, &out, &code, reason, sizeof reason) != 0)
    throw Error(ErrorCode(code), name, reason);
  return out;
}

}  // namespace partscreen::detail

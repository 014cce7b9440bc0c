// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: 3MF bytes -> load_bytes (zip directory checks, inflation limits, the model
// XML, object instancing through build items and components, then the shared cleaning and
// component split). Random bytes rarely survive a zip's checksums, so an input that is not a zip
// is taken as the model part itself and stored, uncompressed, in a zip around it: mutations then
// reach the instancing code (nesting, cycles, transforms, indices), where the reader's own logic
// is. Any exception other than partscreen::Error, any sanitizer report, and any input that runs
// past libFuzzer's -timeout or -rss_limit_mb are bugs.
#include <zip.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "partscreen/error.h"
#include "partscreen/io.h"

namespace {

// `model` as 3D/3dmodel.model in a stored zip, built in memory with libzip.
std::string stored_3mf(const uint8_t* model, size_t size) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(nullptr, 0, 0, &err);
  if (!src) return {};
  zip_source_keep(src);
  zip_t* za = zip_open_from_source(src, ZIP_TRUNCATE, &err);
  std::string out;
  if (za) {
    zip_source_t* part = zip_source_buffer(za, model, size, 0);
    const zip_int64_t idx = part ? zip_file_add(za, "3D/3dmodel.model", part, ZIP_FL_OVERWRITE) : -1;
    if (idx < 0) zip_source_free(part);
    if (idx >= 0) zip_set_file_compression(za, zip_uint64_t(idx), ZIP_CM_STORE, 0);
    if (zip_close(za) != 0) zip_discard(za);
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_source_stat(src, &st) == 0 && (st.valid & ZIP_STAT_SIZE) && zip_source_open(src) == 0) {
      out.resize(size_t(st.size));
      if (zip_source_read(src, out.data(), st.size) != zip_int64_t(st.size)) out.clear();
      zip_source_close(src);
    }
  }
  zip_source_free(src);
  zip_error_fini(&err);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  partscreen::LoadOptions options;
  options.max_triangles = 200'000;  // keeps each run fast; limits themselves are exercised
  options.max_components = 10'000;
  options.max_file_bytes = 16u << 20;
  options.max_unzipped_bytes = 64u << 20;
  const bool zip = size >= 4 && std::memcmp(data, "PK\x03\x04", 4) == 0;
  const std::string wrapped = zip ? std::string() : stored_3mf(data, size);
  const void* bytes = zip ? static_cast<const void*>(data) : wrapped.data();
  const size_t n = zip ? size : wrapped.size();
  if (n == 0) return 0;
  try {
    partscreen::LoadedFile f = partscreen::load_bytes("fuzz.3mf", bytes, n, options);
    if (f.mesh.triangle_count() == 0 || f.components.empty()) __builtin_trap();  // empty must be an error
    for (uint32_t i : f.mesh.indices)
      if (i >= f.mesh.vertex_count()) __builtin_trap();
    uint64_t total = 0;
    for (const auto& c : f.components) total += c.triangle_count;
    if (total != f.mesh.triangle_count()) __builtin_trap();
  } catch (const partscreen::Error&) {
  }
  return 0;
}

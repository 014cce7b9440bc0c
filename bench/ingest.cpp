// SPDX-License-Identifier: GPL-3.0-or-later
// Ingestion benchmark: read + weld + split_components of one file, timed in-process.
//   partscreen_ingest FILE [REPEATS]      -> one line "key=value ..." (median ms, MB/s, peak RSS)
//       *.stl goes through read_stl_file + split_components (the STL rows measured since the
//       first version); anything else (3MF, STEP, ...) through the public load_file, i.e. what a
//       user gets: for STEP that is OCCT read + tessellation at the default deflection. Only
//       max_seconds is raised (to 1800 s) so that the largest generated CAD files are timed
//       instead of refused; every other limit is the default.
//   partscreen_ingest --generate OUT BYTES [SOURCE.stl ...]
//       writes a binary STL of about BYTES by tiling copies of the source parts on a grid, each
//       copy translated and scaled by a tiny per-copy factor so no two copies weld together
//       (a build plate of many parts). Without sources it tiles a generated torus.
// bench/ingest.sh drives it next to assimp and admesh.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "io/stl.h"
#include "partscreen/error.h"
#include "partscreen/geometry.h"
#include "partscreen/io.h"

using namespace partscreen;

namespace {

Mesh torus(int nu, int nv, float R, float r) {
  Mesh m;
  for (int i = 0; i < nu; ++i)
    for (int j = 0; j < nv; ++j) {
      double u = 2 * M_PI * i / nu, v = 2 * M_PI * j / nv;
      m.positions.push_back(float((R + r * std::cos(v)) * std::cos(u)));
      m.positions.push_back(float((R + r * std::cos(v)) * std::sin(u)));
      m.positions.push_back(float(r * std::sin(v)));
    }
  for (int i = 0; i < nu; ++i)
    for (int j = 0; j < nv; ++j) {
      uint32_t a = i * nv + j, b = ((i + 1) % nu) * nv + j, c = ((i + 1) % nu) * nv + (j + 1) % nv,
               d = i * nv + (j + 1) % nv;
      m.indices.insert(m.indices.end(), {a, b, c, a, c, d});
    }
  return m;
}

int generate(const char* out, uint64_t bytes, char** sources, int nsources) {
  std::vector<Mesh> parts;
  for (int i = 0; i < nsources; ++i) {
    try {
      parts.push_back(detail::read_stl_file(sources[i], LoadOptions{}, nullptr));
    } catch (const Error& e) {
      std::fprintf(stderr, "skipping %s\n", e.what());
    }
  }
  if (parts.empty()) parts.push_back(torus(400, 100, 40.f, 10.f));
  const uint64_t triangles = bytes > 84 ? (bytes - 84) / 50 : 1;
  std::FILE* f = std::fopen(out, "wb");
  if (!f) return std::perror(out), 1;
  char header[80] = "partscreen ingest benchmark: tiled benign parts";
  uint32_t count = uint32_t(triangles);
  std::fwrite(header, 1, 80, f);
  std::fwrite(&count, 4, 1, f);
  uint64_t written = 0;
  std::vector<unsigned char> rec(50, 0);
  for (uint64_t copy = 0; written < triangles; ++copy) {
    const Mesh& m = parts[copy % parts.size()];
    const float dx = float(copy % 16) * 300.f, dy = float((copy / 16) % 16) * 300.f, dz = float(copy / 256) * 300.f;
    const float s = 1.0f + float(copy) * 1e-6f;
    for (size_t t = 0; t < m.triangle_count() && written < triangles; ++t, ++written) {
      float v[12] = {0, 0, 0};
      for (int k = 0; k < 3; ++k) {
        const float* p = m.positions.data() + 3 * size_t(m.indices[3 * t + k]);
        v[3 + 3 * k] = p[0] * s + dx;
        v[4 + 3 * k] = p[1] * s + dy;
        v[5 + 3 * k] = p[2] * s + dz;
      }
      std::memcpy(rec.data(), v, 48);
      std::fwrite(rec.data(), 1, 50, f);
    }
  }
  return std::fclose(f) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::strcmp(argv[1], "--generate") == 0)
    return generate(argv[2], std::strtoull(argv[3], nullptr, 10), argv + 4, argc - 4);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [REPEATS] | --generate OUT BYTES [SOURCES...]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  std::vector<double> ms;
  size_t triangles = 0, vertices = 0, components = 0, mesh_bytes = 0;
  uint64_t file_bytes = 0;
  std::string format = "stl_binary";
  std::string ext = path.size() >= 4 ? path.substr(path.size() - 4) : "";
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  const bool stl = ext == ".stl";
  LoadOptions options;
  options.max_seconds = 1800.0;
  try {
    for (int r = 0; r < repeats; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      if (stl) {
        CleanStats stats;
        Mesh mesh = detail::read_stl_file(path, LoadOptions{}, &stats);
        auto comps = split_components(mesh);
        auto t1 = std::chrono::steady_clock::now();
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        triangles = mesh.triangle_count();
        vertices = mesh.vertex_count();
        components = comps.size();
        mesh_bytes = mesh.positions.size() * 4 + mesh.indices.size() * 4;
      } else {
        LoadedFile loaded = load_file(path, options);
        auto t1 = std::chrono::steady_clock::now();
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        format = format_name(loaded.format);
        triangles = loaded.mesh.triangle_count();
        vertices = loaded.mesh.vertex_count();
        components = loaded.components.size();
        mesh_bytes = loaded.mesh.positions.size() * 4 + loaded.mesh.indices.size() * 4;
      }
    }
  } catch (const Error& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '"', '\'');
    std::printf("error=\"%s\"\n", what.c_str());
    return 1;
  }
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    std::fseek(f, 0, SEEK_END);
    file_bytes = uint64_t(std::ftell(f));
    std::fclose(f);
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::printf("format=%s file_bytes=%llu triangles=%zu vertices=%zu components=%zu median_ms=%.3f min_ms=%.3f mb_s=%.1f "
              "mtri_s=%.2f peak_rss_kb=%ld mesh_kb=%zu\n",
              format.c_str(), (unsigned long long)file_bytes, triangles, vertices, components, median, ms.front(),
              file_bytes / 1e6 / (median / 1e3), triangles / 1e6 / (median / 1e3), ru.ru_maxrss, mesh_bytes / 1024);
  return 0;
}

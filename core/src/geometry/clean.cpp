// SPDX-License-Identifier: GPL-3.0-or-later
// Vertex welding and degenerate-triangle removal.
// Welding merges bit-identical positions only: files written by CAD tools and slicers repeat
// shared corners exactly, and a tolerance weld would silently change topology of fine features.
#include <cstring>
#include <vector>

#include "partscreen/geometry.h"

namespace partscreen {
namespace {

inline uint32_t key_bits(float f) {
  if (f == 0.0f) f = 0.0f;  // -0 and +0 weld together
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline uint64_t hash3(uint32_t a, uint32_t b, uint32_t c) {
  uint64_t h = a * 0x9E3779B97F4A7C15ull;
  h ^= (b + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2)) * 0xC2B2AE3D27D4EB4Full;
  h ^= (c + 0x165667B19E3779F9ull + (h << 6) + (h >> 2)) * 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}

inline float tri_area2(const float* p, uint32_t a, uint32_t b, uint32_t c) {
  const float* A = p + 3 * size_t(a);
  const float* B = p + 3 * size_t(b);
  const float* C = p + 3 * size_t(c);
  float ux = B[0] - A[0], uy = B[1] - A[1], uz = B[2] - A[2];
  float vx = C[0] - A[0], vy = C[1] - A[1], vz = C[2] - A[2];
  float cx = uy * vz - uz * vy, cy = uz * vx - ux * vz, cz = ux * vy - uy * vx;
  return cx * cx + cy * cy + cz * cz;
}

}  // namespace

CleanStats clean_mesh(Mesh& mesh) {
  CleanStats stats;
  const size_t nv = mesh.vertex_count();
  stats.input_vertices = nv;

  // Open-addressing table of vertex ids keyed by position bits; power-of-two size, load <= 0.5.
  size_t cap = 16;
  while (cap < nv * 2) cap <<= 1;
  std::vector<uint32_t> table(cap, UINT32_MAX);
  std::vector<uint32_t> remap(nv);
  std::vector<float> out;
  out.reserve(mesh.positions.size());
  const float* p = mesh.positions.data();
  uint32_t next = 0;
  for (size_t v = 0; v < nv; ++v) {
    uint32_t x = key_bits(p[3 * v]), y = key_bits(p[3 * v + 1]), z = key_bits(p[3 * v + 2]);
    size_t slot = hash3(x, y, z) & (cap - 1);
    for (;;) {
      uint32_t id = table[slot];
      if (id == UINT32_MAX) {
        table[slot] = next;
        remap[v] = next++;
        out.push_back(p[3 * v] == 0.0f ? 0.0f : p[3 * v]);
        out.push_back(p[3 * v + 1] == 0.0f ? 0.0f : p[3 * v + 1]);
        out.push_back(p[3 * v + 2] == 0.0f ? 0.0f : p[3 * v + 2]);
        break;
      }
      const float* q = out.data() + 3 * size_t(id);
      if (key_bits(q[0]) == x && key_bits(q[1]) == y && key_bits(q[2]) == z) {
        remap[v] = id;
        break;
      }
      slot = (slot + 1) & (cap - 1);
    }
  }
  mesh.positions.swap(out);
  stats.welded_vertices = next;

  size_t w = 0;
  auto& idx = mesh.indices;
  for (size_t t = 0; t + 2 < idx.size(); t += 3) {
    uint32_t a = idx[t], b = idx[t + 1], c = idx[t + 2];
    if (a >= nv || b >= nv || c >= nv) { ++stats.degenerate_triangles; continue; }
    a = remap[a]; b = remap[b]; c = remap[c];
    if (a == b || b == c || a == c || tri_area2(mesh.positions.data(), a, b, c) == 0.0f) {
      ++stats.degenerate_triangles;
      continue;
    }
    idx[w++] = a; idx[w++] = b; idx[w++] = c;
  }
  idx.resize(w);
  return stats;
}

}  // namespace partscreen

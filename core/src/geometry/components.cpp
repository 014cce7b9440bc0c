// SPDX-License-Identifier: GPL-3.0-or-later
// Connected components by union-find over vertices, then per-component measures.
// Checked against CGAL's Polygon_mesh_processing::connected_components in tests.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "partscreen/geometry.h"

namespace partscreen {
namespace {

struct DisjointSets {
  std::vector<uint32_t> parent;
  explicit DisjointSets(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0u); }
  uint32_t find(uint32_t x) {
    while (parent[x] != x) {
      parent[x] = parent[parent[x]];  // path halving keeps trees flat without recursion
      x = parent[x];
    }
    return x;
  }
  void unite(uint32_t a, uint32_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }
};

}  // namespace

ComponentInfo measure_component(const Mesh& mesh, uint32_t first, uint32_t count) {
  ComponentInfo info;
  info.first_triangle = first;
  info.triangle_count = count;
  const float* p = mesh.positions.data();
  const uint32_t* idx = mesh.indices.data() + 3 * size_t(first);
  double area = 0.0, volume6 = 0.0;
  float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
  std::vector<uint64_t> edges;
  edges.reserve(size_t(count) * 3);
  for (uint32_t t = 0; t < count; ++t) {
    const uint32_t v[3] = {idx[3 * t], idx[3 * t + 1], idx[3 * t + 2]};
    double P[3][3];
    for (int k = 0; k < 3; ++k)
      for (int d = 0; d < 3; ++d) {
        float c = p[3 * size_t(v[k]) + d];
        P[k][d] = c;
        lo[d] = std::min(lo[d], c);
        hi[d] = std::max(hi[d], c);
      }
    double u[3] = {P[1][0] - P[0][0], P[1][1] - P[0][1], P[1][2] - P[0][2]};
    double w[3] = {P[2][0] - P[0][0], P[2][1] - P[0][1], P[2][2] - P[0][2]};
    double c[3] = {u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0]};
    area += 0.5 * std::sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);
    volume6 += P[0][0] * (P[1][1] * P[2][2] - P[1][2] * P[2][1]) - P[0][1] * (P[1][0] * P[2][2] - P[1][2] * P[2][0]) +
               P[0][2] * (P[1][0] * P[2][1] - P[1][1] * P[2][0]);
    for (int k = 0; k < 3; ++k) {
      uint32_t a = v[k], b = v[(k + 1) % 3];
      // Key: undirected edge in the high bits, direction in bit 0 (1 when a > b).
      uint64_t lo_v = std::min(a, b), hi_v = std::max(a, b);
      edges.push_back(((lo_v << 32 | hi_v) << 1) | (a > b ? 1u : 0u));
    }
  }
  std::sort(edges.begin(), edges.end());
  bool closed = count > 0, manifold = true;
  for (size_t i = 0; i < edges.size();) {
    size_t j = i;
    int forward = 0, backward = 0;
    while (j < edges.size() && (edges[j] >> 1) == (edges[i] >> 1)) {
      (edges[j] & 1 ? backward : forward)++;
      ++j;
    }
    int n = forward + backward;
    if (n != 2) closed = false;
    if (n > 2 || forward > 1 || backward > 1) manifold = false;
    i = j;
  }
  info.area_mm2 = area;
  info.volume_mm3 = std::fabs(volume6 / 6.0);
  info.closed = closed && manifold;
  info.manifold = manifold;
  for (int d = 0; d < 3; ++d) {
    info.bounds.min[d] = count ? lo[d] : 0.f;
    info.bounds.max[d] = count ? hi[d] : 0.f;
  }
  return info;
}

std::vector<ComponentInfo> split_components(Mesh& mesh) {
  const size_t nt = mesh.triangle_count();
  DisjointSets sets(mesh.vertex_count());
  const uint32_t* idx = mesh.indices.data();
  for (size_t t = 0; t < nt; ++t) {
    sets.unite(idx[3 * t], idx[3 * t + 1]);
    sets.unite(idx[3 * t], idx[3 * t + 2]);
  }
  // Number components in order of their first triangle, then counting-sort triangles.
  std::vector<uint32_t> label(mesh.vertex_count(), UINT32_MAX);
  std::vector<uint32_t> tri_comp(nt);
  std::vector<uint32_t> counts;
  for (size_t t = 0; t < nt; ++t) {
    uint32_t root = sets.find(idx[3 * t]);
    if (label[root] == UINT32_MAX) {
      label[root] = uint32_t(counts.size());
      counts.push_back(0);
    }
    tri_comp[t] = label[root];
    counts[tri_comp[t]]++;
  }
  std::vector<uint32_t> offsets(counts.size() + 1, 0);
  for (size_t c = 0; c < counts.size(); ++c) offsets[c + 1] = offsets[c] + counts[c];
  std::vector<uint32_t> sorted(mesh.indices.size());
  std::vector<uint32_t> cursor(offsets.begin(), offsets.end() - 1);
  for (size_t t = 0; t < nt; ++t) {
    uint32_t dst = cursor[tri_comp[t]]++;
    std::copy_n(idx + 3 * t, 3, sorted.begin() + 3 * size_t(dst));
  }
  mesh.indices.swap(sorted);
  std::vector<ComponentInfo> out;
  out.reserve(counts.size());
  for (size_t c = 0; c < counts.size(); ++c) out.push_back(measure_component(mesh, offsets[c], counts[c]));
  return out;
}

Mesh extract_component(const Mesh& mesh, const ComponentInfo& component) {
  Mesh out;
  std::vector<uint32_t> remap(mesh.vertex_count(), UINT32_MAX);
  const uint32_t* idx = mesh.indices.data() + 3 * size_t(component.first_triangle);
  out.indices.reserve(size_t(component.triangle_count) * 3);
  for (size_t i = 0; i < size_t(component.triangle_count) * 3; ++i) {
    uint32_t v = idx[i];
    if (remap[v] == UINT32_MAX) {
      remap[v] = uint32_t(out.positions.size() / 3);
      out.positions.insert(out.positions.end(), mesh.positions.begin() + 3 * size_t(v),
                           mesh.positions.begin() + 3 * size_t(v) + 3);
    }
    out.indices.push_back(remap[v]);
  }
  return out;
}

}  // namespace partscreen

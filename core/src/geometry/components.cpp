// SPDX-License-Identifier: GPL-3.0-or-later
// Connected components by union-find over vertices, then per-component measures.
// Checked against CGAL's Polygon_mesh_processing::connected_components in tests.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "partscreen/geometry.h"

namespace partscreen {

namespace {

// Area, signed volume and bounds of triangles [first, first + count), accumulated in one fixed
// order so split_components() and measure_component() give bit-identical results.
void measure_geometry(const Mesh& mesh, uint32_t first, uint32_t count, ComponentInfo& info) {
  const float* p = mesh.positions.data();
  const uint32_t* idx = mesh.indices.data() + 3 * size_t(first);
  double area = 0.0, volume6 = 0.0;
  float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
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
  }
  info.first_triangle = first;
  info.triangle_count = count;
  info.area_mm2 = area;
  info.volume_mm3 = std::fabs(volume6 / 6.0);
  for (int d = 0; d < 3; ++d) {
    info.bounds.min[d] = count ? lo[d] : 0.f;
    info.bounds.max[d] = count ? hi[d] : 0.f;
  }
}

constexpr uint8_t kOpen = 1;         // an edge without its opposite half-edge (or a self-edge)
constexpr uint8_t kNonManifold = 2;  // a directed edge used twice: > 2 faces or inconsistent orientation

// Per-vertex edge flags for the whole mesh at once (components never share edges). Both
// half-edges of an undirected edge {a, b} are bucketed under min(a, b) as (max << 1 | direction)
// in a CSR layout (4 bytes per half-edge, a third of sorting 64-bit edge keys), so each edge is
// judged inside one small bucket with the same rule as measure_component(): used n != 2 times ->
// open; one direction used twice -> non-manifold. Needs vertex ids < 2^31.
std::vector<uint8_t> edge_flags(const Mesh& mesh) {
  const size_t nv = mesh.vertex_count(), nt = mesh.triangle_count();
  const uint32_t* idx = mesh.indices.data();
  std::vector<uint32_t> off(nv + 1, 0);
  for (size_t t = 0; t < nt; ++t)
    for (int k = 0; k < 3; ++k) off[std::min(idx[3 * t + k], idx[3 * t + (k + 1) % 3]) + 1]++;
  for (size_t v = 0; v < nv; ++v) off[v + 1] += off[v];
  // Buckets are filled for one vertex range at a time, so the key buffer stays at a quarter of
  // the index array (peak memory of loading is bounded by 2x the mesh); each pass re-reads the
  // indices sequentially, which costs little.
  const size_t budget = std::max<size_t>(size_t(1) << 18, (3 * nt + 3) / 4);
  std::vector<uint32_t> key;
  std::vector<uint32_t> cursor;
  std::vector<uint8_t> flags(nv, 0);
  for (size_t lo = 0; lo < nv;) {
    size_t hi = lo + 1;  // at least one vertex per pass, even if its bucket alone is over budget
    while (hi < nv && off[hi + 1] - off[lo] <= budget) ++hi;
    const uint32_t base = off[lo];
    key.resize(off[hi] - base);
    cursor.assign(off.begin() + lo, off.begin() + hi);
    for (size_t t = 0; t < nt; ++t)
      for (int k = 0; k < 3; ++k) {
        const uint32_t a = idx[3 * t + k], b = idx[3 * t + (k + 1) % 3];
        const uint32_t m = std::min(a, b);
        if (m >= lo && m < hi) key[cursor[m - lo]++ - base] = std::max(a, b) << 1 | (a > b ? 1u : 0u);
      }
    for (size_t v = lo; v < hi; ++v) {
      uint32_t* b = key.data() + (off[v] - base);
      uint32_t* e = key.data() + (off[v + 1] - base);
      const size_t k = size_t(e - b);
      uint8_t f = 0;
      if (k <= 16) {  // typical buckets hold ~3 entries: count pairs without branches
        for (size_t i = 0; i < k; ++i) {
          unsigned same = 0, both = 0;
          for (size_t j = 0; j < k; ++j) {
            same += b[j] == b[i];
            both += (b[j] >> 1) == (b[i] >> 1);
          }
          f |= (both != 2 ? kOpen : 0) | (same > 1 ? kNonManifold : 0);
        }
      } else {
        std::sort(b, e);
        for (uint32_t* i = b; i < e;) {
          uint32_t* j = i;
          unsigned forward = 0, backward = 0;
          while (j < e && (*j >> 1) == (*i >> 1)) (*j++ & 1 ? backward : forward)++;
          f |= (forward + backward != 2 ? kOpen : 0) | (forward > 1 || backward > 1 ? kNonManifold : 0);
          i = j;
        }
      }
      flags[v] = f;
    }
    lo = hi;
  }
  return flags;
}

}  // namespace

ComponentInfo measure_component(const Mesh& mesh, uint32_t first, uint32_t count) {
  ComponentInfo info;
  measure_geometry(mesh, first, count, info);
  const uint32_t* idx = mesh.indices.data() + 3 * size_t(first);
  std::vector<uint64_t> edges;
  edges.reserve(size_t(count) * 3);
  for (uint32_t t = 0; t < count; ++t) {
    for (int k = 0; k < 3; ++k) {
      uint32_t a = idx[3 * t + k], b = idx[3 * t + (k + 1) % 3];
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
  info.closed = closed && manifold;
  info.manifold = manifold;
  return info;
}

std::vector<ComponentInfo> split_components(Mesh& mesh) {
  const size_t nt = mesh.triangle_count(), nv = mesh.vertex_count();
  const uint32_t* idx = mesh.indices.data();
  // Union-find; the root of a set is its smallest vertex, so comp[v] <= v throughout.
  std::vector<uint32_t> comp(nv);
  std::iota(comp.begin(), comp.end(), 0u);
  auto find = [&](uint32_t x) {
    while (comp[x] != x) {
      comp[x] = comp[comp[x]];  // path halving keeps trees flat without recursion
      x = comp[x];
    }
    return x;
  };
  for (size_t t = 0; t < nt; ++t) {
    uint32_t a = find(idx[3 * t]), b = find(idx[3 * t + 1]), c = find(idx[3 * t + 2]);
    uint32_t r = std::min({a, b, c});
    comp[a] = r;
    comp[b] = r;
    comp[c] = r;
  }
  for (size_t v = 0; v < nv; ++v) comp[v] = comp[comp[v]];  // roots precede: one pass flattens
  // Number components in order of their first triangle. Labels are parked on the roots with a
  // tag bit, then spread to every vertex (descending, so a root is rewritten after its members).
  constexpr uint32_t kTag = 0x80000000u, kNone = UINT32_MAX;
  std::vector<uint32_t> counts;
  std::vector<uint32_t> big_label;  // only for meshes with >= 2^31 vertices, where the tag bit is taken
  const bool tagged = nv < kTag;
  if (!tagged) big_label.assign(nv, kNone);
  for (size_t t = 0; t < nt; ++t) {
    uint32_t v = idx[3 * t];
    uint32_t r = (tagged && (comp[v] & kTag)) ? v : comp[v];
    uint32_t& slot = tagged ? comp[r] : big_label[r];
    if (tagged ? !(slot & kTag) : slot == kNone) {
      slot = uint32_t(counts.size()) | (tagged ? kTag : 0u);
      counts.push_back(0);
    }
    counts[slot & (tagged ? ~kTag : kNone)]++;
  }
  if (tagged) {
    for (size_t v = nv; v-- > 0;) {
      uint32_t x = comp[v];
      if (x & kTag) {
        comp[v] = x & ~kTag;
      } else {
        uint32_t y = comp[x];
        comp[v] = (x != v && (y & kTag)) ? (y & ~kTag) : kNone;
      }
    }
  } else {
    for (size_t v = 0; v < nv; ++v) comp[v] = big_label[comp[v]];
    std::vector<uint32_t>().swap(big_label);
  }
  std::vector<uint32_t> offsets(counts.size() + 1, 0);
  for (size_t c = 0; c < counts.size(); ++c) offsets[c + 1] = offsets[c] + counts[c];
  if (counts.size() > 1) {  // a single component is already grouped
    // Stable counting sort applied in place by following permutation cycles: 4 bytes per
    // triangle of scratch instead of a second index array.
    constexpr uint32_t kDone = UINT32_MAX;
    std::vector<uint32_t> dst(nt);
    std::vector<uint32_t> cursor(offsets.begin(), offsets.end() - 1);
    for (size_t t = 0; t < nt; ++t) dst[t] = cursor[comp[idx[3 * t]]]++;
    std::vector<uint32_t>().swap(comp);
    uint32_t* ix = mesh.indices.data();
    for (size_t t = 0; t < nt; ++t) {
      if (dst[t] == kDone || dst[t] == t) continue;
      uint32_t carry[3] = {ix[3 * t], ix[3 * t + 1], ix[3 * t + 2]};
      size_t d = dst[t];
      dst[t] = kDone;
      while (d != t) {
        for (int k = 0; k < 3; ++k) std::swap(carry[k], ix[3 * d + k]);
        const size_t next = dst[d];
        dst[d] = kDone;
        d = next;
      }
      std::copy_n(carry, 3, ix + 3 * t);
    }
  }
  std::vector<uint32_t>().swap(comp);
  std::vector<ComponentInfo> out(counts.size());
  if (!tagged) {  // ids beyond 2^31 do not fit edge_flags' keys: measure one component at a time
    for (size_t c = 0; c < counts.size(); ++c) out[c] = measure_component(mesh, offsets[c], counts[c]);
    return out;
  }
  const std::vector<uint8_t> flags = edge_flags(mesh);
  idx = mesh.indices.data();
  for (size_t c = 0; c < counts.size(); ++c) {
    ComponentInfo& info = out[c];
    measure_geometry(mesh, offsets[c], counts[c], info);
    uint8_t f = 0;
    for (size_t i = 3 * size_t(offsets[c]); i < 3 * size_t(offsets[c + 1]); ++i) f |= flags[idx[i]];
    info.manifold = !(f & kNonManifold);
    info.closed = counts[c] > 0 && f == 0;
  }
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

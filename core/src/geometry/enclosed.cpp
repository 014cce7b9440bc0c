// SPDX-License-Identifier: GPL-3.0-or-later
#include "enclosed.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <unordered_map>

namespace partscreen::detail {
namespace {

struct Grid {
  int n[3] = {0, 0, 0};
  float origin[3] = {0, 0, 0};
  float cell = 1.f;
  float inv_cell = 1.f;
  std::vector<uint8_t> state;  // 0 empty, 1 surface, 2 outside air
  size_t index(int x, int y, int z) const { return (size_t(z) * n[1] + y) * n[0] + x; }
  // Points are handled in cell units (x -> (x - origin) / cell): a point's cell is then its
  // coordinates truncated, with no per-point division or floor. SIZE_MAX off the grid.
  void to_cells(const float x[3], float out[3]) const {
    for (int k = 0; k < 3; ++k) out[k] = (x[k] - origin[k]) * inv_cell;
  }
  size_t cell_at(const float x[3]) const {
    int c[3];
    for (int k = 0; k < 3; ++k) {
      if (!(x[k] >= 0.f && x[k] < float(n[k]))) return SIZE_MAX;  // NaN too; no int overflow
      c[k] = int(x[k]);
    }
    return index(c[0], c[1], c[2]);
  }
};

// Ray/triangle intersection (Moller & Trumbore 1997, "Fast, minimum storage ray-triangle
// intersection"): the distance along the unit direction d, or -1 when the ray misses.
float ray_hits(const float o[3], const float d[3], const float a[3], const float b[3], const float c[3]) {
  float e1[3], e2[3], p[3], t[3], q[3];
  for (int k = 0; k < 3; ++k) {
    e1[k] = b[k] - a[k];
    e2[k] = c[k] - a[k];
    t[k] = o[k] - a[k];
  }
  p[0] = d[1] * e2[2] - d[2] * e2[1];
  p[1] = d[2] * e2[0] - d[0] * e2[2];
  p[2] = d[0] * e2[1] - d[1] * e2[0];
  const float det = e1[0] * p[0] + e1[1] * p[1] + e1[2] * p[2];
  if (std::fabs(det) < 1e-20f) return -1.f;
  const float inv = 1.f / det;
  const float u = (t[0] * p[0] + t[1] * p[1] + t[2] * p[2]) * inv;
  if (u < 0.f || u > 1.f) return -1.f;
  q[0] = t[1] * e1[2] - t[2] * e1[1];
  q[1] = t[2] * e1[0] - t[0] * e1[2];
  q[2] = t[0] * e1[1] - t[1] * e1[0];
  const float v = (d[0] * q[0] + d[1] * q[1] + d[2] * q[2]) * inv;
  if (v < 0.f || u + v > 1.f) return -1.f;
  return (e2[0] * q[0] + e2[1] * q[1] + e2[2] * q[2]) * inv;
}

void vertex(const Mesh& m, uint32_t t, int k, float out[3]) {
  const uint32_t v = m.indices[3 * t + k];
  for (int a = 0; a < 3; ++a) out[a] = m.positions[3 * v + a];
}

}  // namespace

EnclosedSurface enclosed_surface(const Mesh& mesh, const ComponentInfo& component, int resolution, int close_cells) {
  EnclosedSurface out;
  const Box& b = component.bounds;
  float extent = 0.f;
  for (int k = 0; k < 3; ++k) extent = std::max(extent, b.max[k] - b.min[k]);
  if (!(extent > 0.f) || resolution < 8) return out;
  Grid g;
  g.cell = extent / float(resolution - 4);
  g.inv_cell = 1.f / g.cell;
  for (int k = 0; k < 3; ++k) {
    g.origin[k] = b.min[k] - float(close_cells + 2) * g.cell;  // a free border all round: the flood starts there
    g.n[k] = std::max(5, int(std::ceil((b.max[k] - b.min[k]) / g.cell)) + 2 * close_cells + 5);
  }
  g.state.assign(size_t(g.n[0]) * g.n[1] * g.n[2], 0);

  // Surface cells: points on each triangle at most about half a cell apart (no gaps for the air
  // to leak through, however thin a wall). Rows run parallel to the longest edge, so a sliver
  // (common in CAD exports) costs samples along its length only, not length squared.
  const uint32_t first = component.first_triangle, end = first + component.triangle_count;
  std::vector<std::pair<uint32_t, uint32_t>> cell_triangles;  // (cell, triangle): for casting rays below
  cell_triangles.reserve(size_t(component.triangle_count) * 4);
  for (uint32_t t = first; t < end; ++t) {
    float v[3][3];
    for (int k = 0; k < 3; ++k) {
      float x[3];
      vertex(mesh, t, k, x);
      g.to_cells(x, v[k]);
    }
    // Most triangles of a finely tessellated upload lie inside one cell (cells are convex): that
    // cell is all the samples below would mark.
    const size_t c0 = g.cell_at(v[0]);
    if (c0 != SIZE_MAX && c0 == g.cell_at(v[1]) && c0 == g.cell_at(v[2])) {
      g.state[c0] = 1;
      cell_triangles.push_back({uint32_t(c0), t});
      continue;
    }
    float len2[3];
    for (int e = 0; e < 3; ++e) {
      const float* a = v[e];
      const float* b = v[(e + 1) % 3];
      len2[e] = (b[0] - a[0]) * (b[0] - a[0]) + (b[1] - a[1]) * (b[1] - a[1]) + (b[2] - a[2]) * (b[2] - a[2]);
    }
    const int e = int(std::max_element(len2, len2 + 3) - len2);
    const float* p = v[e];
    const float* q = v[(e + 1) % 3];
    const float* r = v[(e + 2) % 3];
    const float longest = std::sqrt(len2[e]);
    float pq[3], pr[3];
    for (int k = 0; k < 3; ++k) {
      pq[k] = q[k] - p[k];
      pr[k] = r[k] - p[k];
    }
    const float cx = pq[1] * pr[2] - pq[2] * pr[1], cy = pq[2] * pr[0] - pq[0] * pr[2], cz = pq[0] * pr[1] - pq[1] * pr[0];
    const float height = longest > 0.f ? std::sqrt(cx * cx + cy * cy + cz * cz) / longest : 0.f;
    // The angles at p and q are acute (pq is the longest edge), so every point between two rows
    // projects onto the longer of them: within half a cell across, a quarter along.
    const int rows = std::min(4096, std::max(1, int(std::ceil(2.f * height))));
    for (int i = 0; i <= rows; ++i) {
      const float u = float(i) / rows;
      float s0[3], s1[3];
      for (int k = 0; k < 3; ++k) {
        s0[k] = p[k] + u * (r[k] - p[k]);
        s1[k] = q[k] + u * (r[k] - q[k]);
      }
      const int steps = std::min(4096, std::max(1, int(std::ceil(2.f * (1.f - u) * longest))));
      for (int j = 0; j <= steps; ++j) {
        const float w = float(j) / steps;
        const float x[3] = {s0[0] + w * (s1[0] - s0[0]), s0[1] + w * (s1[1] - s0[1]), s0[2] + w * (s1[2] - s0[2])};
        const size_t cell = g.cell_at(x);
        if (cell == SIZE_MAX) continue;
        g.state[cell] = 1;
        if (cell_triangles.empty() || cell_triangles.back().first != cell || cell_triangles.back().second != t)
          cell_triangles.push_back({uint32_t(cell), t});
      }
    }
  }

  // The grid keeps close_cells + 2 empty layers around the component's box, so thickened surface
  // never reaches the outermost layer, and cells off it have all six neighbours in the grid: the
  // loops below step by index offsets without bounds checks.
  const ptrdiff_t dx = 1, dy = g.n[0], dz = ptrdiff_t(g.n[0]) * g.n[1];
  const ptrdiff_t offsets[6] = {-dx, dx, -dy, dy, -dz, dz};
  const size_t cells = g.state.size();

  // Openings narrower than about 2 * close_cells cells (drain holes in a shell around a buried
  // part) must not let the outside in: the surface is thickened by close_cells first
  // (morphological closing; narrow slots of ordinary parts close too, but they are a small share
  // of the surface).
  for (int pass = 0; pass < close_cells; ++pass) {
    std::vector<uint8_t> grown = g.state;
    for (size_t i = 0; i < cells; ++i)
      if (g.state[i] == 1)
        for (ptrdiff_t o : offsets) grown[size_t(ptrdiff_t(i) + o)] = 1;
    g.state.swap(grown);
  }

  // Outside air: empty cells connected to the grid's border (6-connected flood). The border layer
  // is air by construction; the flood starts from the layer inside it.
  std::vector<uint32_t> stack;
  for (int z = 0; z < g.n[2]; ++z)
    for (int y = 0; y < g.n[1]; ++y)
      for (int x = 0; x < g.n[0]; ++x) {
        const bool border = x == 0 || y == 0 || z == 0 || x == g.n[0] - 1 || y == g.n[1] - 1 || z == g.n[2] - 1;
        if (border) {
          g.state[g.index(x, y, z)] = 2;
        } else if (x == 1 || y == 1 || z == 1 || x == g.n[0] - 2 || y == g.n[1] - 2 || z == g.n[2] - 2) {
          const size_t i = g.index(x, y, z);
          if (g.state[i] == 0) {
            g.state[i] = 2;
            stack.push_back(uint32_t(i));
          }
        }
      }
  while (!stack.empty()) {
    const size_t i = stack.back();
    stack.pop_back();
    for (ptrdiff_t o : offsets) {
      const size_t j = size_t(ptrdiff_t(i) + o);
      if (g.state[j] == 0) {
        g.state[j] = 2;
        stack.push_back(uint32_t(j));
      }
    }
  }

  // A triangle sees outside when, stepping from its centroid along +normal or -normal, the first
  // cell that is not surface is outside air.
  // (Thickened surface all the way: a gap closed by the thickening or solid material; the other
  // side decides.)
  // (c in cell units; steps of one cell along the unit vector n.)
  auto side_sees_outside = [&](const float c[3], const float n[3], float sign) {
    for (int s = 1; s <= close_cells + 3; ++s) {
      float p[3];
      for (int k = 0; k < 3; ++k) p[k] = c[k] + sign * n[k] * float(s);
      const size_t i = g.cell_at(p);
      if (i == SIZE_MAX) return true;
      const uint8_t st = g.state[i];
      if (st == 2) return true;
      if (st == 0) return false;
    }
    return false;
  };
  // The walls of a closed cavity are enclosed too, but the cavity's own walls are the inside of
  // its shell: the material behind them leads outside. A hidden triangle is kept only when the
  // material behind it (along the inward normal: the component's orientation from its signed
  // volume) ends at a surface that does not face outside air, i.e. it bounds a body inside the
  // cavity, not the shell. Rays are cast against the triangles of the cells they pass through,
  // within a work budget linear in the triangle count (hostile meshes: millions of triangles in a
  // few cells); once it is spent, or when a ray finds nothing, the triangle stays enclosed.
  // Measured on corpus parts and a buried copy: up to 92 triangle tests per triangle of the component.
  // Triangles by cell (counting sort), built on the first hidden triangle: most components have none.
  std::vector<uint32_t> cell_start, cell_list;
  auto build_cell_lists = [&] {
    // Counts, summed into each cell's end, then filled backwards: each end steps back to its
    // cell's start, and the triangles keep their order within a cell.
    cell_start.assign(cells + 1, 0);
    for (const auto& [cell, t] : cell_triangles) ++cell_start[cell];
    for (size_t i = 0; i < cells; ++i) cell_start[i + 1] += cell_start[i];
    cell_list.resize(cell_triangles.size());
    for (size_t k = cell_triangles.size(); k-- > 0;) cell_list[--cell_start[cell_triangles[k].first]] = cell_triangles[k].second;
    std::vector<std::pair<uint32_t, uint32_t>>().swap(cell_triangles);
  };
  double signed_volume = 0.0;
  for (uint32_t t = first; t < end; ++t) {
    float a[3], bb[3], c[3];
    vertex(mesh, t, 0, a);
    vertex(mesh, t, 1, bb);
    vertex(mesh, t, 2, c);
    signed_volume += double(a[0]) * (double(bb[1]) * c[2] - double(bb[2]) * c[1]) -
                     double(a[1]) * (double(bb[0]) * c[2] - double(bb[2]) * c[0]) +
                     double(a[2]) * (double(bb[0]) * c[1] - double(bb[1]) * c[0]);
  }
  const float inward = signed_volume >= 0.0 ? -1.f : 1.f;  // along the normal into the material
  // Rays run to the grid's edge: one that misses the face it should exit by (triangles are listed
  // in the cells their samples fall in) then still reaches outside air, or the far wall of a cavity.
  const float max_ray = g.cell * std::sqrt(float(g.n[0]) * g.n[0] + float(g.n[1]) * g.n[1] + float(g.n[2]) * g.n[2]);
  size_t budget = 256 * size_t(component.triangle_count) + 65536;
  // (o in mm, for the ray tests against triangles; oc the same point in cell units.)
  auto backs_onto_outside = [&](uint32_t self, const float o[3], const float oc[3], const float n[3]) {
    if (cell_start.empty()) build_cell_lists();
    const float d[3] = {inward * n[0], inward * n[1], inward * n[2]};
    float best = -1.f;
    uint32_t hit = 0;
    size_t last = SIZE_MAX;
    for (float s = 0.f; s <= max_ray; s += 0.5f * g.cell) {
      if (budget == 0) return false;
      --budget;
      if (best >= 0.f && s > best + g.cell) break;
      const float sc = s * g.inv_cell;
      const float p[3] = {oc[0] + sc * d[0], oc[1] + sc * d[1], oc[2] + sc * d[2]};
      const size_t i = g.cell_at(p);
      if (i == SIZE_MAX) return best < 0.f;
      if (i == last) continue;
      last = i;
      if (best < 0.f && g.state[i] == 2) return true;  // reached outside air through the material
      for (uint32_t e = cell_start[i]; e < cell_start[i + 1]; ++e) {
        const uint32_t other = cell_list[e];
        if (other == self) continue;
        if (budget == 0) return false;
        --budget;
        float a[3], bb[3], cc[3];
        vertex(mesh, other, 0, a);
        vertex(mesh, other, 1, bb);
        vertex(mesh, other, 2, cc);
        const float h = ray_hits(o, d, a, bb, cc);
        if (h > 1e-3f * g.cell && (best < 0.f || h < best)) {
          best = h;
          hit = other;
        }
      }
    }
    if (best < 0.f) return false;
    // The surface where the material ends must face the way the ray goes (out of the material).
    float a[3], bb[3], cc[3];
    vertex(mesh, hit, 0, a);
    vertex(mesh, hit, 1, bb);
    vertex(mesh, hit, 2, cc);
    float e1[3], e2[3];
    for (int k = 0; k < 3; ++k) {
      e1[k] = bb[k] - a[k];
      e2[k] = cc[k] - a[k];
    }
    const float m[3] = {e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]};
    if (-inward * (m[0] * d[0] + m[1] * d[1] + m[2] * d[2]) <= 0.f) return false;
    const float q[3] = {o[0] + best * d[0], o[1] + best * d[1], o[2] + best * d[2]};
    float qc[3];
    g.to_cells(q, qc);
    return side_sees_outside(qc, d, 1.f);
  };
  // A triangle much smaller than the noise on its vertices (a finely tessellated upload with
  // vertex noise) has a normal pointing anywhere, and stepping along it runs inside the thickened
  // surface on both sides. Such triangles get a second look along the normal of their
  // neighbourhood: the mean of their corners' normals, each the area-weighted mean over the
  // triangles around that corner. Built on the first triangle that needs it (clean meshes rarely do).
  // (Corner normals are kept by vertex index over the component's range of indices, which split
  // components keep compact; a range much wider than the component's corners maps through a
  // sorted list of its vertices instead.)
  std::vector<uint32_t> corner_vertex;  // sorted vertices, when the range is sparse
  uint32_t first_vertex = 0;
  std::vector<float> corner_normal;     // 3 per vertex
  auto corner_slot = [&](uint32_t v) -> size_t {
    if (corner_vertex.empty()) return size_t(v - first_vertex);
    return size_t(std::lower_bound(corner_vertex.begin(), corner_vertex.end(), v) - corner_vertex.begin());
  };
  auto build_corner_normals = [&] {
    const auto begin = mesh.indices.begin() + 3 * size_t(first), stop = mesh.indices.begin() + 3 * size_t(end);
    const auto [lo, hi] = std::minmax_element(begin, stop);
    first_vertex = *lo;
    size_t slots = size_t(*hi - *lo) + 1;
    if (slots > 4 * size_t(stop - begin)) {
      corner_vertex.assign(begin, stop);
      std::sort(corner_vertex.begin(), corner_vertex.end());
      corner_vertex.erase(std::unique(corner_vertex.begin(), corner_vertex.end()), corner_vertex.end());
      slots = corner_vertex.size();
    }
    corner_normal.assign(3 * slots, 0.f);
    for (uint32_t t = first; t < end; ++t) {
      float a[3], bb[3], c[3];
      vertex(mesh, t, 0, a);
      vertex(mesh, t, 1, bb);
      vertex(mesh, t, 2, c);
      const float e1[3] = {bb[0] - a[0], bb[1] - a[1], bb[2] - a[2]}, e2[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
      const float m[3] = {e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]};
      for (int k = 0; k < 3; ++k) {
        float* sum = &corner_normal[3 * corner_slot(mesh.indices[3 * size_t(t) + k])];
        for (int a2 = 0; a2 < 3; ++a2) sum[a2] += m[a2];
      }
    }
  };
  auto smoothed_normal = [&](uint32_t t, float out[3]) {
    if (corner_normal.empty()) build_corner_normals();
    float sum[3] = {0.f, 0.f, 0.f};
    for (int k = 0; k < 3; ++k) {
      const float* m = &corner_normal[3 * corner_slot(mesh.indices[3 * size_t(t) + k])];
      const float l = std::sqrt(m[0] * m[0] + m[1] * m[1] + m[2] * m[2]);
      if (l > 0.f)
        for (int a = 0; a < 3; ++a) sum[a] += m[a] / l;
    }
    const float l = std::sqrt(sum[0] * sum[0] + sum[1] * sum[1] + sum[2] * sum[2]);
    if (!(l > 0.f)) return false;
    for (int a = 0; a < 3; ++a) out[a] = sum[a] / l;
    return true;
  };
  uint32_t run_start = 0;
  bool in_run = false;
  double run_area = 0.0;
  auto close_run = [&](uint32_t t) {
    if (!in_run) return;
    ComponentInfo r;
    r.first_triangle = run_start;
    r.triangle_count = t - run_start;
    r.area_mm2 = run_area;
    out.runs.push_back(r);
    out.area_mm2 += run_area;
    in_run = false;
  };
  // Hidden triangles of one cell facing the same way (one of six axis directions) share the
  // answer: a finely tessellated upload has tens of them per cell, and one ray decides for all
  // (about half the time of the pass on 100k-300k-triangle corpus uploads, enclosed area within 2%).
  std::unordered_map<uint64_t, bool> skin_by_cell;
  auto skin_of_cell = [&](uint32_t t, const float o[3], const float oc[3], const float n[3]) {
    const size_t cell = g.cell_at(oc);
    if (cell == SIZE_MAX) return backs_onto_outside(t, o, oc, n);
    int axis = 0;
    for (int k = 1; k < 3; ++k)
      if (std::fabs(n[k]) > std::fabs(n[axis])) axis = k;
    const uint64_t key = uint64_t(cell) * 6 + uint64_t(2 * axis + (n[axis] < 0.f));
    auto it = skin_by_cell.find(key);
    if (it != skin_by_cell.end()) return it->second;
    const bool skin = backs_onto_outside(t, o, oc, n);
    skin_by_cell.emplace(key, skin);
    return skin;
  };
  for (uint32_t t = first; t < end; ++t) {
    float a[3], bb[3], c[3];
    vertex(mesh, t, 0, a);
    vertex(mesh, t, 1, bb);
    vertex(mesh, t, 2, c);
    float e1[3], e2[3], n[3], centroid[3];
    for (int k = 0; k < 3; ++k) {
      e1[k] = bb[k] - a[k];
      e2[k] = c[k] - a[k];
      centroid[k] = (a[k] + bb[k] + c[k]) / 3.f;
    }
    n[0] = e1[1] * e2[2] - e1[2] * e2[1];
    n[1] = e1[2] * e2[0] - e1[0] * e2[2];
    n[2] = e1[0] * e2[1] - e1[1] * e2[0];
    const float len = std::sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    bool hidden = false;
    if (len > 0.f) {
      for (float& x : n) x /= len;
      float cc[3];
      g.to_cells(centroid, cc);
      hidden = !side_sees_outside(cc, n, 1.f) && !side_sees_outside(cc, n, -1.f);
      float sm[3];
      const bool smooth = hidden && smoothed_normal(t, sm);
      if (smooth) hidden = !side_sees_outside(cc, sm, 1.f) && !side_sees_outside(cc, sm, -1.f);
      hidden = hidden && !skin_of_cell(t, centroid, cc, smooth ? sm : n);
    }
    if (hidden) {
      if (!in_run) {
        in_run = true;
        run_start = t;
        run_area = 0.0;
      }
      run_area += 0.5 * double(len);
    } else {
      close_run(t);
    }
  }
  close_run(end);
  return out;
}

}  // namespace partscreen::detail

// SPDX-License-Identifier: GPL-3.0-or-later
#include "enclosed.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace partscreen::detail {
namespace {

struct Grid {
  int n[3] = {0, 0, 0};
  float origin[3] = {0, 0, 0};
  float cell = 1.f;
  std::vector<uint8_t> state;  // 0 empty, 1 surface, 2 outside air
  size_t index(int x, int y, int z) const { return (size_t(z) * n[1] + y) * n[0] + x; }
  bool cell_of(const float p[3], int c[3]) const {
    for (int k = 0; k < 3; ++k) {
      c[k] = int(std::floor((p[k] - origin[k]) / cell));
      if (c[k] < 0 || c[k] >= n[k]) return false;
    }
    return true;
  }
};

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
  for (int k = 0; k < 3; ++k) {
    g.origin[k] = b.min[k] - float(close_cells + 2) * g.cell;  // a free border all round: the flood starts there
    g.n[k] = std::max(5, int(std::ceil((b.max[k] - b.min[k]) / g.cell)) + 2 * close_cells + 5);
  }
  g.state.assign(size_t(g.n[0]) * g.n[1] * g.n[2], 0);

  // Surface cells: points on each triangle at most half a cell apart (no gaps for the air to leak
  // through, however thin a wall).
  const uint32_t first = component.first_triangle, end = first + component.triangle_count;
  for (uint32_t t = first; t < end; ++t) {
    float a[3], bb[3], c[3];
    vertex(mesh, t, 0, a);
    vertex(mesh, t, 1, bb);
    vertex(mesh, t, 2, c);
    float longest = 0.f;
    for (const float* e : {bb, c}) {
      float d2 = 0.f;
      for (int k = 0; k < 3; ++k) d2 += (e[k] - a[k]) * (e[k] - a[k]);
      longest = std::max(longest, std::sqrt(d2));
    }
    float bc2 = 0.f;
    for (int k = 0; k < 3; ++k) bc2 += (c[k] - bb[k]) * (c[k] - bb[k]);
    longest = std::max(longest, std::sqrt(bc2));
    const int steps = std::min(4096, std::max(1, int(std::ceil(2.f * longest / g.cell))));
    for (int i = 0; i <= steps; ++i)
      for (int j = 0; i + j <= steps; ++j) {
        const float u = float(i) / steps, v = float(j) / steps;
        float p[3];
        for (int k = 0; k < 3; ++k) p[k] = a[k] + u * (bb[k] - a[k]) + v * (c[k] - a[k]);
        int cell[3];
        if (g.cell_of(p, cell)) g.state[g.index(cell[0], cell[1], cell[2])] = 1;
      }
  }

  // Openings narrower than about 2 * close_cells cells (drain holes in a shell around a buried
  // part) must not let the outside in: the surface is thickened by close_cells first
  // (morphological closing; narrow slots of ordinary parts close too, but they are a small share
  // of the surface).
  for (int pass = 0; pass < close_cells; ++pass) {
    std::vector<uint8_t> grown = g.state;
    for (int z = 0; z < g.n[2]; ++z)
      for (int y = 0; y < g.n[1]; ++y)
        for (int x = 0; x < g.n[0]; ++x) {
          if (g.state[g.index(x, y, z)] != 1) continue;
          if (x > 0) grown[g.index(x - 1, y, z)] = 1;
          if (x + 1 < g.n[0]) grown[g.index(x + 1, y, z)] = 1;
          if (y > 0) grown[g.index(x, y - 1, z)] = 1;
          if (y + 1 < g.n[1]) grown[g.index(x, y + 1, z)] = 1;
          if (z > 0) grown[g.index(x, y, z - 1)] = 1;
          if (z + 1 < g.n[2]) grown[g.index(x, y, z + 1)] = 1;
        }
    g.state.swap(grown);
  }

  // Outside air: empty cells connected to the grid's border (6-connected flood).
  std::vector<uint32_t> stack;
  auto push = [&](int x, int y, int z) {
    const size_t i = g.index(x, y, z);
    if (g.state[i] != 0) return;
    g.state[i] = 2;
    stack.push_back(uint32_t(i));
  };
  for (int z = 0; z < g.n[2]; ++z)
    for (int y = 0; y < g.n[1]; ++y)
      for (int x = 0; x < g.n[0]; ++x)
        if (x == 0 || y == 0 || z == 0 || x == g.n[0] - 1 || y == g.n[1] - 1 || z == g.n[2] - 1) push(x, y, z);
  const size_t plane = size_t(g.n[0]) * g.n[1];
  while (!stack.empty()) {
    const size_t i = stack.back();
    stack.pop_back();
    const int x = int(i % g.n[0]), y = int((i / g.n[0]) % g.n[1]), z = int(i / plane);
    if (x > 0) push(x - 1, y, z);
    if (x + 1 < g.n[0]) push(x + 1, y, z);
    if (y > 0) push(x, y - 1, z);
    if (y + 1 < g.n[1]) push(x, y + 1, z);
    if (z > 0) push(x, y, z - 1);
    if (z + 1 < g.n[2]) push(x, y, z + 1);
  }

  // A triangle sees outside when, stepping from its centroid along +normal or -normal, the first
  // cell that is not surface is outside air.
  // (Thickened surface all the way: a gap closed by the thickening or solid material; the other
  // side decides.)
  auto side_sees_outside = [&](const float c[3], const float n[3], float sign) {
    for (int s = 1; s <= close_cells + 3; ++s) {
      float p[3];
      for (int k = 0; k < 3; ++k) p[k] = c[k] + sign * n[k] * (float(s) * g.cell);
      int cell[3];
      if (!g.cell_of(p, cell)) return true;
      const uint8_t st = g.state[g.index(cell[0], cell[1], cell[2])];
      if (st == 2) return true;
      if (st == 0) return false;
    }
    return false;
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
      hidden = !side_sees_outside(centroid, n, 1.f) && !side_sees_outside(centroid, n, -1.f);
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

// SPDX-License-Identifier: GPL-3.0-or-later
// Rebuilds printed objects' surfaces from extruding segments, trusting only the moves.
//
// Per layer (segments grouped by the Z they extrude at; vase mode by height bins) the beads are
// rasterised as capsules of their estimated width. Empty space is labelled: the component
// reaching the window border is outside; an enclosed empty component is a hole only when it is
// wider than half a bead and bordered (>= 90 %) by closed loops (perimeters). Any other enclosed
// gap (sparse infill, slivers) is material. This is the occupancy-raster approach with the
// loop test that keeps holes smaller than the infill spacing (a flood fill from outside alone
// would fill them).
// Wall points are sampled along every bead whose side faces empty space, offset outward by half
// the bead width, so they keep the G-code's sub-cell precision; the raster only decides sides.
// Material regions (8-connected) are linked to the overlapping regions of the nearest layer
// below (within 1.6 layer heights) with union-find: one set per printed object. Top and bottom
// skins are region cells not covered (within half a bead) by the linked layer above / below.
// Skirts, purge lines and sparse supports are dropped as thin structures (almost nothing
// survives an erosion by 0.75 bead width); a brim is the part of the first layer farther than
// a bead width from the object's second layer.
// Bead width: area = spacing * height for both the Prusa (rounded-rectangle) and the Cura
// model; the spacing between nested perimeter loops is measured, which calibrates filament
// area per E millimetre without trusting any comment; physical width = area / h + h (1 - pi/4)
// (PrusaSlicer's Flow model).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <unordered_map>

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include "gcode/gcode_internal.h"
#include "partscreen/error.h"

namespace partscreen {
namespace gcode {

namespace {

constexpr double kPi = 3.14159265358979323846;

struct Run {
  int32_t y, x0, x1;  // inclusive cell range on row y (global grid)
};

struct Region {
  uint32_t layer;
  std::vector<Run> runs;  // sorted by y, then x0
  int32_t bx0, by0, bx1, by1;
  uint64_t cells = 0;
  uint64_t eroded = 0;  // cells deeper than 0.75 bead width inside the material
  std::vector<float> walls;  // x, y, z_at_top, nx, ny per wall sample
  std::vector<uint32_t> below, above;
  uint32_t object = UINT32_MAX;
};

struct Layer {
  float z = 0;   // top of the beads
  float h = 0;   // thickness
  uint32_t first = 0, count = 0;  // into the ordered segment index
  std::vector<uint32_t> regions;
};

struct UnionFind {
  std::vector<uint32_t> p;
  explicit UnionFind(size_t n) : p(n) { std::iota(p.begin(), p.end(), 0u); }
  uint32_t find(uint32_t a) {
    while (p[a] != a) a = p[a] = p[p[a]];
    return a;
  }
  void unite(uint32_t a, uint32_t b) {
    a = find(a);
    b = find(b);
    if (a != b) p[std::max(a, b)] = std::min(a, b);
  }
};

bool runs_overlap(const Region& a, const Region& b) {
  if (a.bx1 < b.bx0 || b.bx1 < a.bx0 || a.by1 < b.by0 || b.by1 < a.by0) return false;
  size_t i = 0, j = 0;
  while (i < a.runs.size() && j < b.runs.size()) {
    const Run& r = a.runs[i];
    const Run& s = b.runs[j];
    if (r.y < s.y || (r.y == s.y && r.x1 < s.x0)) {
      ++i;
    } else if (s.y < r.y || (s.y == r.y && s.x1 < r.x0)) {
      ++j;
    } else {
      return true;
    }
  }
  return false;
}

// Runs of several regions merged, sorted by row, for "is there material near (x, y)".
struct RunSet {
  std::vector<Run> runs;
  int32_t bx0 = INT32_MAX, by0 = INT32_MAX, bx1 = INT32_MIN, by1 = INT32_MIN;
  std::vector<std::pair<int32_t, int32_t>> band;  // merged x intervals near one row
  void build(const std::vector<const Region*>& regions) {
    runs.clear();
    bx0 = by0 = INT32_MAX;
    bx1 = by1 = INT32_MIN;
    for (const Region* r : regions) {
      runs.insert(runs.end(), r->runs.begin(), r->runs.end());
      bx0 = std::min(bx0, r->bx0);
      by0 = std::min(by0, r->by0);
      bx1 = std::max(bx1, r->bx1);
      by1 = std::max(by1, r->by1);
    }
    if (regions.size() > 1)
      std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.y != b.y ? a.y < b.y : a.x0 < b.x0; });
  }
  // Some run within `rad` cells of (x, y) in both axes.
  bool near(int32_t x, int32_t y, int32_t rad) const {
    if (runs.empty() || x < bx0 - rad || x > bx1 + rad || y < by0 - rad || y > by1 + rad) return false;
    auto it = std::lower_bound(runs.begin(), runs.end(), y - rad, [](const Run& r, int32_t v) { return r.y < v; });
    for (; it != runs.end() && it->y <= y + rad; ++it)
      if (it->x1 >= x - rad && it->x0 <= x + rad) return true;
    return false;
  }
  // Prepares near() queries along row y as sorted disjoint x intervals (runs widened by rad).
  void prepare_row(int32_t y, int32_t rad) {
    band.clear();
    if (runs.empty() || y < by0 - rad || y > by1 + rad) return;
    auto it = std::lower_bound(runs.begin(), runs.end(), y - rad, [](const Run& r, int32_t v) { return r.y < v; });
    for (; it != runs.end() && it->y <= y + rad; ++it) band.emplace_back(it->x0 - rad, it->x1 + rad);
    std::sort(band.begin(), band.end());
    size_t o = 0;
    for (size_t i = 0; i < band.size(); ++i) {
      if (o > 0 && band[i].first <= band[o - 1].second + 1) band[o - 1].second = std::max(band[o - 1].second, band[i].second);
      else band[o++] = band[i];
    }
    band.resize(o);
  }
};

// near() along the prepared row for increasing x.
struct BandCursor {
  const std::vector<std::pair<int32_t, int32_t>>& band;
  size_t i = 0;
  bool covers(int32_t x) {
    while (i < band.size() && band[i].second < x) ++i;
    return i < band.size() && band[i].first <= x;
  }
};

// Boxes (in cells) bucketed on a coarse grid of about one tile per box (at most 64 x 64), so
// that "which boxes may touch this box" does not scan them all: plates with thousands of
// islands stay near-linear, and a layer with one region has one tile.
struct TileIndex {
  int32_t x0 = 0, y0 = 0, tile = 1, nx = 0, ny = 0;
  std::vector<std::vector<uint32_t>> cells;
  std::vector<uint32_t> stamp;
  uint32_t epoch = 0;
  template <class BoxOf>
  void build(size_t n, BoxOf box) {
    int32_t bx0 = INT32_MAX, by0 = INT32_MAX, bx1 = INT32_MIN, by1 = INT32_MIN;
    for (size_t i = 0; i < n; ++i) {
      const std::array<int32_t, 4> b = box(i);
      bx0 = std::min(bx0, b[0]);
      by0 = std::min(by0, b[1]);
      bx1 = std::max(bx1, b[2]);
      by1 = std::max(by1, b[3]);
    }
    x0 = bx0;
    y0 = by0;
    // About one tile per box (at most 64 x 64): a few boxes share one tile and cost nothing.
    const int64_t side = std::min<int64_t>(64, static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n)))));
    const int64_t span = n ? std::max<int64_t>(int64_t(bx1) - bx0, int64_t(by1) - by0) + 1 : 1;
    tile = static_cast<int32_t>(std::max<int64_t>(1, (span + side - 1) / std::max<int64_t>(1, side)));
    nx = n ? static_cast<int32_t>((int64_t(bx1) - bx0) / tile + 1) : 0;
    ny = n ? static_cast<int32_t>((int64_t(by1) - by0) / tile + 1) : 0;
    cells.assign(static_cast<size_t>(nx) * ny, {});
    stamp.assign(n, 0);
    epoch = 0;
    for (size_t i = 0; i < n; ++i) {
      const std::array<int32_t, 4> b = box(i);
      for (int32_t ty = (b[1] - y0) / tile; ty <= (b[3] - y0) / tile; ++ty)
        for (int32_t tx = (b[0] - x0) / tile; tx <= (b[2] - x0) / tile; ++tx)
          cells[static_cast<size_t>(ty) * nx + tx].push_back(static_cast<uint32_t>(i));
    }
  }
  // Indices whose tiles meet [qx0, qx1] x [qy0, qy1], ascending.
  void query(int64_t qx0, int64_t qy0, int64_t qx1, int64_t qy1, std::vector<uint32_t>& out) {
    out.clear();
    if (nx == 0) return;
    const int64_t tx0 = std::max<int64_t>(0, (qx0 - x0) / tile), tx1 = std::min<int64_t>(nx - 1, (qx1 - x0) / tile);
    const int64_t ty0 = std::max<int64_t>(0, (qy0 - y0) / tile), ty1 = std::min<int64_t>(ny - 1, (qy1 - y0) / tile);
    if (qx1 < x0 || qy1 < y0 || tx0 > tx1 || ty0 > ty1) return;
    if (++epoch == 0) {
      std::fill(stamp.begin(), stamp.end(), 0u);
      epoch = 1;
    }
    for (int64_t ty = ty0; ty <= ty1; ++ty)
      for (int64_t tx = tx0; tx <= tx1; ++tx)
        for (uint32_t i : cells[static_cast<size_t>(ty) * nx + tx])
          if (stamp[i] != epoch) {
            stamp[i] = epoch;
            out.push_back(i);
          }
    std::sort(out.begin(), out.end());
  }
};

double seg_len(const Segment& s) { return std::hypot(double(s.x1) - s.x0, double(s.y1) - s.y0); }

// Per-layer raster work. Everything but the row scans is proportional to the material, hole
// and gap cells, never to the window: empty space and material are handled as row runs
// (maximal spans of a row), labelled with union-find over runs (Rosenfeld & Pfaltz's two-pass
// connected-component labelling, run-based as in He, Chao & Suzuki, "A run-based two-scan
// labeling algorithm", IEEE TIP 2008), and the chamfer distances are swept over the runs only.
struct Span {
  int32_t x0, x1;  // inclusive, window cells
};

struct LayerGrid {
  double ox, oy, cs;  // global grid origin and cell size
  double w_typ;
  double spacing;
  bool spiral;
  const Segment* segs;
  const uint32_t* order;
  const uint8_t* is_loop;
  double k_area;
  double bead_width(const Segment& s, double h) const {
    const double w = s.e_per_mm * k_area / h + h * (1 - kPi / 4);
    return std::min(std::max(w, 0.1), 3.0);
  }
  int32_t cell_x(double x) const { return static_cast<int32_t>(std::floor((x - ox) / cs)); }
  int32_t cell_y(double y) const { return static_cast<int32_t>(std::floor((y - oy) / cs)); }
};

struct LayerScratch {
  std::vector<uint8_t> occ;    // 1 loop bead, 2 other bead, 4 enclosed gap filled as material
  std::vector<uint8_t> dist;   // saturated chamfer distance, zero outside the swept runs
  std::vector<Span> runs;      // empty runs, then material runs, in raster order
  std::vector<uint32_t> row;   // first run of each row (H + 1 entries)
  std::vector<uint32_t> parent;
  std::vector<uint8_t> depth;
  std::vector<uint64_t> loop_adj, other_adj;
  std::vector<uint8_t> kind;   // per empty run: 0 outside, 1 hole, 2 gap
  std::vector<Span> mruns;
  std::vector<uint32_t> mrow, mid;
};

uint32_t uf_find(std::vector<uint32_t>& p, uint32_t a) {
  while (p[a] != a) a = p[a] = p[p[a]];
  return a;
}
void uf_unite(std::vector<uint32_t>& p, uint32_t a, uint32_t b) {
  a = uf_find(p, a);
  b = uf_find(p, b);
  if (a != b) p[std::max(a, b)] = std::min(a, b);  // the root is the first run in raster order
}

// Index of the first byte in [x, n) that is zero (want_zero) or nonzero, else n.
inline int32_t scan_row(const uint8_t* r, int32_t x, int32_t n, bool want_zero) {
  if (want_zero) {
    const void* p = std::memchr(r + x, 0, static_cast<size_t>(n - x));
    return p ? static_cast<int32_t>(static_cast<const uint8_t*>(p) - r) : n;
  }
  while (x + 8 <= n) {
    uint64_t w;
    std::memcpy(&w, r + x, 8);
    if (w) return x + __builtin_ctzll(w) / 8;  // little-endian: lowest address in the low byte
    x += 8;
  }
  while (x < n && r[x] == 0) ++x;
  return x;
}

// Links the runs of two consecutive rows that touch: 4-connectivity (overlap) or, with
// `diag` = 1, 8-connectivity (overlap after widening by one cell).
void link_rows(const std::vector<Span>& runs, uint32_t a, uint32_t ae, uint32_t b, uint32_t be, int32_t diag,
               std::vector<uint32_t>& parent) {
  while (a < ae && b < be) {
    const Span& p = runs[a];
    const Span& q = runs[b];
    if (p.x1 + diag < q.x0) {
      ++a;
    } else if (q.x1 + diag < p.x0) {
      ++b;
    } else {
      uf_unite(parent, a, b);
      if (p.x1 < q.x1) ++a;
      else ++b;
    }
  }
}

// Chamfer (3-4) distance in thirds of a cell, swept over the given runs only (Borgefors,
// "Distance transformations in digital images", CVGIP 1986), saturated at `cap`: callers only
// compare with a threshold <= cap, and min(cap, d) obeys the same recurrence, so one byte per
// cell suffices. Cells outside the runs must hold 0: they are the distance sources. Runs never
// touch the window border.
template <class Pred>
void chamfer_runs(uint8_t* dist, int32_t W, int32_t H, const std::vector<Span>& runs, const std::vector<uint32_t>& row,
                  uint32_t cap, Pred use) {
  for (int32_t y = 1; y < H - 1; ++y)
    for (uint32_t r = row[y]; r < row[y + 1]; ++r) {
      if (!use(r)) continue;
      uint8_t* d = dist + static_cast<size_t>(y) * W;
      const uint8_t* u = d - W;
      for (int32_t x = runs[r].x0; x <= runs[r].x1; ++x) {
        uint32_t v = std::min<uint32_t>(d[x - 1] + 3u, u[x] + 3u);
        v = std::min<uint32_t>(v, std::min<uint32_t>(u[x - 1], u[x + 1]) + 4u);
        d[x] = static_cast<uint8_t>(std::min<uint32_t>(v, cap));
      }
    }
  for (int32_t y = H - 2; y >= 1; --y)
    for (uint32_t r = row[y + 1]; r-- > row[y];) {
      if (!use(r)) continue;
      uint8_t* d = dist + static_cast<size_t>(y) * W;
      const uint8_t* b = d + W;
      for (int32_t x = runs[r].x1; x >= runs[r].x0; --x) {
        uint32_t v = std::min<uint32_t>(d[x], d[x + 1] + 3u);
        v = std::min<uint32_t>(v, b[x] + 3u);
        v = std::min<uint32_t>(v, std::min<uint32_t>(b[x + 1], b[x - 1]) + 4u);
        d[x] = static_cast<uint8_t>(v);
      }
    }
}

// Rasterises, labels and samples one layer; appends its regions to `out` (layer index `k`).
void process_layer(const LayerGrid& G, const Layer& L, uint32_t k, LayerScratch& S, std::vector<Region>& out) {
  const double cs = G.cs;
  const double h = L.h;
  double wmax = 0;
  float lx0 = 1e30f, ly0 = 1e30f, lx1 = -1e30f, ly1 = -1e30f;
  for (uint32_t m = 0; m < L.count; ++m) {
    const Segment& s = G.segs[G.order[L.first + m]];
    lx0 = std::min({lx0, s.x0, s.x1});
    ly0 = std::min({ly0, s.y0, s.y1});
    lx1 = std::max({lx1, s.x0, s.x1});
    ly1 = std::max({ly1, s.y0, s.y1});
    wmax = std::max(wmax, G.bead_width(s, h));
  }
  const int32_t wx0 = G.cell_x(lx0 - wmax) - 3, wy0 = G.cell_y(ly0 - wmax) - 3;
  const int32_t W = G.cell_x(lx1 + wmax) + 4 - wx0, H = G.cell_y(ly1 + wmax) + 4 - wy0;
  const size_t N = static_cast<size_t>(W) * H;
  std::vector<uint8_t>& occ = S.occ;
  occ.assign(N, 0);

  // Beads as capsules of their width, filled row by row: on each row the capsule is one span,
  // the union of its end discs and its slab. `paint(row, x0, x1)` gets each span.
  auto raster = [&](const Segment& s, auto&& paint) {
    const double rc = 0.5 * G.bead_width(s, h) / cs, rc2 = rc * rc;
    const double ax = (s.x0 - G.ox) / cs - wx0, ay = (s.y0 - G.oy) / cs - wy0;
    const double bx = (s.x1 - G.ox) / cs - wx0, by = (s.y1 - G.oy) / cs - wy0;
    const double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy, len = std::sqrt(l2);
    const int32_t y0 = std::max(1, static_cast<int32_t>(std::floor(std::min(ay, by) - rc))),
                  y1 = std::min(H - 2, static_cast<int32_t>(std::ceil(std::max(ay, by) + rc)));
    // The slab's span on row cy: 0 <= (X - ax) dx + (cy - ay) dy <= l2 and
    // |(X - ax) dy - (cy - ay) dx| <= rc len, each bound linear in cy.
    const double rl = rc * len;
    const bool has_slab = l2 > 0;
    const double idx = dx != 0 ? 1.0 / dx : 0.0, idy = dy != 0 ? 1.0 / dy : 0.0;
    for (int32_t y = y0; y <= y1; ++y) {
      const double cy = y + 0.5;
      double lo = 1e300, hi = -1e300;
      const double ea = rc2 - (cy - ay) * (cy - ay), eb = rc2 - (cy - by) * (cy - by);
      if (ea >= 0) {
        const double r = std::sqrt(ea);
        lo = ax - r;
        hi = ax + r;
      }
      if (eb >= 0) {
        const double r = std::sqrt(eb);
        lo = std::min(lo, bx - r);
        hi = std::max(hi, bx + r);
      }
      if (has_slab) {
        double s0 = -1e300, s1 = 1e300;
        const double t = (cy - ay);
        if (dx != 0) {
          const double u = ax - t * dy * idx, v = u + l2 * idx;  // projection 0 and l2
          s0 = std::min(u, v);
          s1 = std::max(u, v);
        } else if (t * dy < 0 || t * dy > l2) {
          s1 = -1e300;
        }
        if (dy != 0) {
          const double c = ax + t * dx * idy, e = rl * std::fabs(idy);  // perpendicular offset +-rl
          s0 = std::max(s0, c - e);
          s1 = std::min(s1, c + e);
        } else if (std::fabs(t * dx) > rl) {
          s1 = -1e300;
        }
        if (s0 <= s1) {
          lo = std::min(lo, s0);
          hi = std::max(hi, s1);
        }
      }
      if (!(lo <= hi)) continue;
      const int32_t x0 = std::max<double>(1, std::ceil(lo - 0.5)), x1 = std::min<double>(W - 2, std::floor(hi - 0.5));
      if (x0 <= x1) paint(occ.data() + static_cast<size_t>(y) * W, x0, x1);
    }
  };
  for (uint32_t m = 0; m < L.count; ++m) {
    const uint32_t si = G.order[L.first + m];
    const uint8_t bits = G.is_loop[si] ? 1 : 2;
    raster(G.segs[si], [bits](uint8_t* r, int32_t x0, int32_t x1) {
      for (int32_t x = x0; x <= x1; ++x) r[x] |= bits;
    });
  }

  // Empty runs, 4-connected components. The border ring is empty, so run 0 is the outside.
  std::vector<Span>& runs = S.runs;
  std::vector<uint32_t>& row = S.row;
  runs.clear();
  row.assign(static_cast<size_t>(H) + 1, 0);
  for (int32_t y = 0; y < H; ++y) {
    row[y] = static_cast<uint32_t>(runs.size());
    const uint8_t* r = occ.data() + static_cast<size_t>(y) * W;
    int32_t x = 0;
    while (x < W) {
      const int32_t e = scan_row(r, x, W, false);  // first occupied cell
      if (e > x) runs.push_back({x, e - 1});
      x = e < W ? scan_row(r, e, W, true) : W;     // next empty cell
    }
  }
  row[H] = static_cast<uint32_t>(runs.size());
  const uint32_t nr = static_cast<uint32_t>(runs.size());
  std::vector<uint32_t>& parent = S.parent;
  parent.resize(nr);
  std::iota(parent.begin(), parent.end(), 0u);
  for (int32_t y = 1; y < H; ++y) link_rows(runs, row[y - 1], row[y], row[y], row[y + 1], 0, parent);
  for (uint32_t r = 0; r < nr; ++r) parent[r] = uf_find(parent, r);

  // Open beads along the outside count as loops: a wall thinner than two perimeters is printed as
  // one open line (PrusaSlicer's thin walls, Arachne's single beads), and the space it encloses
  // (the inside of a thin-walled box or frame) is a hole, not a gap between infill lines. Infill
  // lines never border the outside: perimeters lie between them. A bead is such a line when the
  // empty cell just beyond its edge, at its middle, is outside.
  auto outside_at = [&](double x, double y) {
    const int32_t cx = G.cell_x(x) - wx0, cy = G.cell_y(y) - wy0;
    if (cx < 0 || cy < 0 || cx >= W || cy >= H) return true;
    if (occ[static_cast<size_t>(cy) * W + cx] != 0) return false;
    const auto b = runs.begin() + row[cy], e = runs.begin() + row[cy + 1];
    const auto it = std::upper_bound(b, e, cx, [](int32_t v, const Span& sp) { return v < sp.x0; });
    return it != b && (it - 1)->x1 >= cx && parent[static_cast<uint32_t>(it - 1 - runs.begin())] == 0;
  };
  for (uint32_t m = 0; m < L.count; ++m) {
    const uint32_t si = G.order[L.first + m];
    if (G.is_loop[si]) continue;
    const Segment& sg = G.segs[si];
    const double l = seg_len(sg);
    if (!(l > 0)) continue;
    const double mx = 0.5 * (sg.x0 + sg.x1), my = 0.5 * (sg.y0 + sg.y1);
    const double nx = -(sg.y1 - sg.y0) / l, ny = (sg.x1 - sg.x0) / l;
    const double probe = 0.5 * G.bead_width(sg, h) + 1.5 * cs;
    if (!outside_at(mx + nx * probe, my + ny * probe) && !outside_at(mx - nx * probe, my - ny * probe)) continue;
    raster(sg, [](uint8_t* r, int32_t x0, int32_t x1) {
      for (int32_t x = x0; x <= x1; ++x) r[x] = r[x] == 2 ? 1 : r[x];
    });
  }

  // Enclosed components: the bead kinds along their rims, then, for those bordered by loops,
  // their depth (chamfer from the beads).
  S.loop_adj.assign(nr, 0);
  S.other_adj.assign(nr, 0);
  for (int32_t y = 1; y < H - 1; ++y)
    for (uint32_t r = row[y]; r < row[y + 1]; ++r) {
      const uint32_t c = parent[r];
      if (c == 0) continue;
      const int32_t x0 = runs[r].x0, x1 = runs[r].x1;
      const uint8_t* o = occ.data() + static_cast<size_t>(y) * W;
      // Cells hold 0 (empty), 1 (loop bead) or 2..3 (another bead): branch-free counts.
      uint32_t la = (o[x0 - 1] == 1) + (o[x1 + 1] == 1), oa = (o[x0 - 1] >= 2) + (o[x1 + 1] >= 2);
      for (int32_t x = x0; x <= x1; ++x) {
        const uint8_t a = o[x - W], b = o[x + W];
        la += (a == 1) + (b == 1);
        oa += (a >= 2) + (b >= 2);
      }
      S.loop_adj[c] += la;
      S.other_adj[c] += oa;
    }
  // A hole needs a cell deeper than half a bead; chamfer units are thirds of a cell, counted
  // to the first cell outside: a cell centre lies (d / 3 - 0.5) cells from the edge. Bead
  // widths (<= 3 mm) and cells (>= 0.06 mm) keep both thresholds far below the byte cap.
  const double hole_depth = 3.0 * (0.5 * G.w_typ / cs + 0.5);
  const uint32_t erode_units = static_cast<uint32_t>(std::ceil(3.0 * (0.75 * G.w_typ / cs + 0.5)));
  const uint32_t hole_cap = std::min<uint32_t>(255, static_cast<uint32_t>(std::ceil(hole_depth)));
  const uint32_t erode_cap = std::min<uint32_t>(255, erode_units);
  S.kind.assign(nr, 0);
  bool any_candidate = false;
  for (uint32_t r = 0; r < nr; ++r) {
    const uint32_t c = parent[r];
    if (c == 0) continue;
    const bool candidate = !G.spiral && S.loop_adj[c] >= 9 * S.other_adj[c] && S.loop_adj[c] > 0;
    S.kind[r] = candidate ? 3 : 2;
    any_candidate |= candidate;
  }
  std::vector<uint8_t>& dist = S.dist;
  dist.assign(N, 0);
  if (any_candidate) {
    chamfer_runs(dist.data(), W, H, runs, row, hole_cap, [&](uint32_t r) { return S.kind[r] == 3; });
    S.depth.assign(nr, 0);
    for (int32_t y = 1; y < H - 1; ++y)
      for (uint32_t r = row[y]; r < row[y + 1]; ++r) {
        if (S.kind[r] != 3) continue;
        const uint8_t* d = dist.data() + static_cast<size_t>(y) * W;
        uint8_t dep = S.depth[parent[r]];
        for (int32_t x = runs[r].x0; x <= runs[r].x1; ++x) dep = std::max(dep, d[x]);
        S.depth[parent[r]] = dep;
      }
    for (uint32_t r = 0; r < nr; ++r)
      if (S.kind[r] == 3) S.kind[r] = S.depth[parent[r]] >= hole_depth ? 1 : 2;
  }

  // Material runs: the spans between consecutive outside / hole runs of a row (gaps are filled).
  std::vector<Span>& mr = S.mruns;
  std::vector<uint32_t>& mrow = S.mrow;
  mr.clear();
  mrow.assign(static_cast<size_t>(H) + 1, 0);
  for (int32_t y = 0; y < H; ++y) {
    mrow[y] = static_cast<uint32_t>(mr.size());
    int32_t prev_end = -1;
    for (uint32_t r = row[y]; r < row[y + 1]; ++r) {
      if (S.kind[r] == 2) {
        uint8_t* o = occ.data() + static_cast<size_t>(y) * W;
        for (int32_t x = runs[r].x0; x <= runs[r].x1; ++x) o[x] = 4;
        continue;
      }
      if (runs[r].x0 > prev_end + 1) mr.push_back({prev_end + 1, runs[r].x0 - 1});
      prev_end = runs[r].x1;
    }
  }
  mrow[H] = static_cast<uint32_t>(mr.size());
  // Hole cells back to distance sources; gap cells are overwritten by the material sweep.
  for (uint32_t r = 0; r < nr; ++r)
    if (S.kind[r] == 1) {
      const int32_t y = static_cast<int32_t>(std::upper_bound(row.begin(), row.end(), r) - row.begin()) - 1;
      std::fill(dist.begin() + static_cast<size_t>(y) * W + runs[r].x0,
                dist.begin() + static_cast<size_t>(y) * W + runs[r].x1 + 1, uint8_t(0));
    }
  chamfer_runs(dist.data(), W, H, mr, mrow, erode_cap, [](uint32_t) { return true; });

  // Material regions: 8-connected components of the material runs, numbered in raster order of
  // their first cell.
  const uint32_t nm = static_cast<uint32_t>(mr.size());
  parent.resize(nm);
  std::iota(parent.begin(), parent.end(), 0u);
  for (int32_t y = 1; y < H; ++y) link_rows(mr, mrow[y - 1], mrow[y], mrow[y], mrow[y + 1], 1, parent);
  std::vector<uint32_t>& mid = S.mid;
  mid.assign(nm, UINT32_MAX);
  const uint32_t base = static_cast<uint32_t>(out.size());
  for (int32_t y = 0; y < H; ++y)
    for (uint32_t r = mrow[y]; r < mrow[y + 1]; ++r) {
      const uint32_t c = uf_find(parent, r);
      if (mid[c] == UINT32_MAX) {
        mid[c] = static_cast<uint32_t>(out.size());
        out.emplace_back();
        Region& R = out.back();
        R.layer = k;
        R.bx0 = R.by0 = INT32_MAX;
        R.bx1 = R.by1 = INT32_MIN;
      }
      mid[r] = mid[c];
      Region& R = out[mid[c]];
      const int32_t x0 = mr[r].x0, x1 = mr[r].x1;
      R.cells += static_cast<uint64_t>(x1 - x0 + 1);
      const uint8_t* d = dist.data() + static_cast<size_t>(y) * W;
      uint64_t er = 0;
      for (int32_t x = x0; x <= x1; ++x) er += d[x] >= erode_units;
      R.eroded += er;
      R.runs.push_back({y + wy0, x0 + wx0, x1 + wx0});
      R.bx0 = std::min(R.bx0, x0 + wx0);
      R.bx1 = std::max(R.bx1, x1 + wx0);
      R.by0 = std::min(R.by0, y + wy0);
      R.by1 = std::max(R.by1, y + wy0);
    }

  // Wall samples: along each bead, every `spacing` (phase carried along a chain), on each side
  // whose neighbourhood just beyond the bead is not material.
  auto material = [&](double x, double y) {
    const int32_t cx = G.cell_x(x) - wx0, cy = G.cell_y(y) - wy0;
    if (cx < 0 || cy < 0 || cx >= W || cy >= H) return false;
    return occ[static_cast<size_t>(cy) * W + cx] != 0;
  };
  auto region_at = [&](int32_t cx, int32_t cy) -> Region* {
    if (cx < 0 || cy < 0 || cx >= W || cy >= H || occ[static_cast<size_t>(cy) * W + cx] == 0) return nullptr;
    const auto b = mr.begin() + mrow[cy], e = mr.begin() + mrow[cy + 1];
    const auto it = std::upper_bound(b, e, cx, [](int32_t v, const Span& s) { return v < s.x0; });
    if (it == b || (it - 1)->x1 < cx) return nullptr;
    return &out[mid[static_cast<uint32_t>(it - 1 - mr.begin())]];
  };
  uint32_t prev_chain = UINT32_MAX;
  double phase = 0;
  for (uint32_t m = 0; m < L.count; ++m) {
    const Segment& s = G.segs[G.order[L.first + m]];
    if (s.chain != prev_chain) {
      phase = 0;
      prev_chain = s.chain;
    }
    const double l = seg_len(s);
    const double dx = (s.x1 - s.x0) / l, dy = (s.y1 - s.y0) / l;
    const double half = 0.5 * G.bead_width(s, h);
    const double probe = half + 1.5 * cs;
    double t = phase;
    for (; t < l; t += G.spacing) {
      const double px = s.x0 + dx * t, py = s.y0 + dy * t;
      const double pz = s.z0 + (s.z1 - s.z0) * (t / l);
      Region* R = region_at(G.cell_x(px) - wx0, G.cell_y(py) - wy0);
      if (!R) continue;
      for (int side = -1; side <= 1; side += 2) {
        const double nx = -dy * side, ny = dx * side;
        if (material(px + nx * probe, py + ny * probe)) continue;
        // Also just beyond the bead's edge, so a neighbouring bead does not count as empty.
        if (material(px + nx * (half + 0.5 * cs), py + ny * (half + 0.5 * cs)) &&
            material(px + nx * (half + 2.5 * cs), py + ny * (half + 2.5 * cs)))
          continue;
        const float v[5] = {static_cast<float>(px + nx * half), static_cast<float>(py + ny * half),
                            static_cast<float>(G.spiral ? pz : L.z), static_cast<float>(nx), static_cast<float>(ny)};
        R->walls.insert(R->walls.end(), v, v + 5);
      }
    }
    phase = t - l;
  }
  (void)base;
}

// Wall samples carry the bead's horizontal normal, but a sloped surface is printed as terraces:
// its outline drifts along the normal from layer to layer, by dn per dz of height, and the true
// normal is (n_xy, -dn/dz) normalised. Where that slope is steeper than 45 degrees from the
// vertical, the step between layers is narrower than a bead and no skin shows either, so
// without this the surface is there but faces the wrong way (a bevel, a chamfer, a cone: what
// coverage and the descriptors then miss). The drift is measured per wall sample against the
// same-facing wall samples of up to two layers below and two above (the one nearest along the
// tangent in each layer), as a least-squares slope per side. A terrace edge (one side vertical,
// the other stepping) keeps the smaller slope, and a ridge (sides disagreeing in sign) stays
// vertical, so only surfaces sloping on both sides, or at their last layer, are tilted.
void tilt_wall_normals(std::vector<float>& p, std::vector<float>& n, const std::vector<uint8_t>& wall, double h) {
  const size_t np = wall.size();
  constexpr double kMaxSlope = 3.5;  // dn / dz beyond this: a ledge, covered by skins
  constexpr int kLayers = 2;
  const double max_dn = kMaxSlope * (kLayers + 0.5) * h + 0.1, max_dt = 0.6;
  const double cell = std::max(std::hypot(max_dn, max_dt), 0.5);
  auto key_of = [&](double x, double y, int64_t iz) {
    const int64_t ix = std::clamp<int64_t>(static_cast<int64_t>(std::floor(x / cell)) + (1 << 20), 0, (1 << 21) - 1);
    const int64_t iy = std::clamp<int64_t>(static_cast<int64_t>(std::floor(y / cell)) + (1 << 20), 0, (1 << 21) - 1);
    return (static_cast<uint64_t>(std::clamp<int64_t>(iz, 0, (1 << 22) - 1)) << 42) | (static_cast<uint64_t>(iy) << 21) |
           static_cast<uint64_t>(ix);
  };
  auto layer_of = [&](double z) { return static_cast<int64_t>(std::floor(z / h)) + 8; };  // samples sit mid-layer
  // Wall samples sorted by (cell, layer) key, each with its position and normal inline, so the
  // candidates of one cell are a contiguous run read in order.
  struct Entry {
    uint64_t key;
    uint32_t i;
    float x, y, z, nx, ny;
  };
  std::vector<Entry> index;
  index.reserve(np);
  for (size_t i = 0; i < np; ++i)
    if (wall[i])
      index.push_back({key_of(p[3 * i], p[3 * i + 1], layer_of(p[3 * i + 2])), static_cast<uint32_t>(i), p[3 * i],
                       p[3 * i + 1], p[3 * i + 2], n[3 * i], n[3 * i + 1]});
  std::sort(index.begin(), index.end(), [](const Entry& a, const Entry& b) { return a.key != b.key ? a.key < b.key : a.i < b.i; });
  // Runs of equal keys: every sample of a run shares its 2 x kLayers x 9 neighbour cells, so
  // those are looked up once per run, not once per sample (the lookups were most of the pass).
  std::vector<uint32_t> run_start;
  for (uint32_t e = 0; e < index.size(); ++e)
    if (e == 0 || index[e].key != index[e - 1].key) run_start.push_back(e);
  run_start.push_back(static_cast<uint32_t>(index.size()));
  std::unordered_map<uint64_t, uint32_t> run_of;
  run_of.reserve(run_start.size() * 2);
  for (uint32_t r = 0; r + 1 < run_start.size(); ++r) run_of.emplace(index[run_start[r]].key, r);
  std::vector<float> tilted(n);
  tbb::parallel_for(tbb::blocked_range<size_t>(0, run_start.size() - 1, 16), [&](const tbb::blocked_range<size_t>& rg) {
    for (size_t r = rg.begin(); r != rg.end(); ++r) {
      const Entry& first = index[run_start[r]];
      const int64_t iz = layer_of(first.z);
      const int64_t cx = static_cast<int64_t>(std::floor(first.x / cell)), cy = static_cast<int64_t>(std::floor(first.y / cell));
      // Neighbour runs per (side, layer offset), in the order the per-sample search visited them.
      std::array<std::array<std::pair<uint32_t, uint32_t>, 9>, 2 * kLayers> near{};
      for (int side = 0; side < 2; ++side)
        for (int j = 1; j <= kLayers; ++j) {
          const int64_t lz = side ? iz + j : iz - j;
          int c = 0;
          for (int64_t oy = cy - 1; oy <= cy + 1; ++oy)
            for (int64_t ox = cx - 1; ox <= cx + 1; ++ox, ++c) {
              const auto it = run_of.find(key_of((ox + 0.5) * cell, (oy + 0.5) * cell, lz));
              near[side * kLayers + j - 1][c] =
                  it == run_of.end() ? std::make_pair(0u, 0u) : std::make_pair(run_start[it->second], run_start[it->second + 1]);
            }
        }
      for (uint32_t e = run_start[r]; e < run_start[r + 1]; ++e) {
        const Entry& q0 = index[e];
        const double px = q0.x, py = q0.y, pz = q0.z, nx = q0.nx, ny = q0.ny;
        double sdd[2] = {0, 0}, szz[2] = {0, 0};  // per side (below, above): sum dz * dn, sum dz^2
        for (int side = 0; side < 2; ++side)
          for (int j = 1; j <= kLayers; ++j) {
            double best_t = max_dt, best_dn = 0, best_dz = 0;
            for (const auto& [b, en] : near[side * kLayers + j - 1])
              for (uint32_t k = b; k < en; ++k) {
                const Entry& q = index[k];
                if (q.nx * nx + q.ny * ny < 0.5) continue;  // another wall facing elsewhere
                const double dx = q.x - px, dy = q.y - py, dz = q.z - pz;
                if (std::fabs(dz) < 0.5 * h || (dz > 0) != (side == 1)) continue;
                const double dt = std::fabs(-dx * ny + dy * nx), dn = dx * nx + dy * ny;
                if (dt < best_t && std::fabs(dn) <= kMaxSlope * std::fabs(dz) + 0.1) {
                  best_t = dt;
                  best_dn = dn;
                  best_dz = dz;
                }
              }
            if (best_dz != 0) {
              sdd[side] += best_dz * best_dn;
              szz[side] += best_dz * best_dz;
            }
          }
        double slope = 0;
        const bool lo = szz[0] > 0, hi = szz[1] > 0;
        if (lo && hi) {
          const double a = sdd[0] / szz[0], b = sdd[1] / szz[1];
          slope = (a > 0) == (b > 0) ? (std::fabs(a) < std::fabs(b) ? a : b) : 0.0;
        } else if (lo || hi) {
          slope = lo ? sdd[0] / szz[0] : sdd[1] / szz[1];
        }
        const double len = std::sqrt(1 + slope * slope);
        const size_t i = q0.i;
        tilted[3 * i] = static_cast<float>(nx / len);
        tilted[3 * i + 1] = static_cast<float>(ny / len);
        tilted[3 * i + 2] = static_cast<float>(-slope / len);
      }
    }
  });
  n.swap(tilted);
}

}  // namespace

std::vector<OrientedSurface> rebuild(const std::string& name, std::vector<Segment>&& segs, const GcodeOptions& opt,
                                     GcodeStats& stats) {
  const size_t nseg = segs.size();
  if (nseg == 0) throw Error(ErrorCode::empty, name, "no extruding moves: the G-code prints nothing");

  // --- Vase mode and layer height -------------------------------------------------------------
  double rising = 0, total = 0;
  std::vector<int64_t> flat_z;
  flat_z.reserve(1024);
  for (const Segment& s : segs) {
    const double l = seg_len(s);
    total += l;
    if (std::fabs(s.z1 - s.z0) > 1e-5f) rising += l;
    else flat_z.push_back(std::llround(s.z1 * 1000.0));
  }
  std::sort(flat_z.begin(), flat_z.end());
  flat_z.erase(std::unique(flat_z.begin(), flat_z.end()), flat_z.end());
  const bool spiral = rising > 0.3 * total;
  double h_est = 0.2;
  {
    std::unordered_map<int64_t, uint32_t> hist;  // dz in 5 um bins
    for (size_t i = 1; i < flat_z.size(); ++i) {
      const int64_t dz = flat_z[i] - flat_z[i - 1];
      if (dz >= 20 && dz <= 2000) ++hist[(dz + 2) / 5];
    }
    uint32_t best = 0;
    for (auto& kv : hist)
      if (kv.second > best || (kv.second == best && kv.first * 0.005 < h_est)) {
        best = kv.second;
        h_est = kv.first * 0.005;
      }
  }

  // --- Layers: bins of extrusion height ----------------------------------------------------
  std::vector<int64_t> key(nseg);
  for (size_t i = 0; i < nseg; ++i) {
    const Segment& s = segs[i];
    key[i] = spiral ? std::llround(0.5 * (s.z0 + s.z1) / h_est) : std::llround(s.z1 * 1000.0);
  }
  std::vector<int64_t> keys(key);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  const size_t nlayers = keys.size();
  std::vector<uint32_t> layer_of(nseg);
  std::vector<Layer> layers(nlayers);
  for (size_t i = 0; i < nseg; ++i) {
    layer_of[i] = static_cast<uint32_t>(std::lower_bound(keys.begin(), keys.end(), key[i]) - keys.begin());
    layers[layer_of[i]].count++;
  }
  std::vector<int64_t>().swap(key);
  {
    uint32_t acc = 0;
    for (Layer& L : layers) {
      L.first = acc;
      acc += L.count;
      L.count = 0;
    }
  }
  std::vector<uint32_t> order(nseg);
  for (size_t i = 0; i < nseg; ++i) {
    Layer& L = layers[layer_of[i]];
    order[L.first + L.count++] = static_cast<uint32_t>(i);
  }
  std::vector<uint32_t>().swap(layer_of);
  for (size_t k = 0; k < nlayers; ++k) {
    float z = -1e30f;
    for (uint32_t i = 0; i < layers[k].count; ++i) z = std::max(z, std::max(segs[order[layers[k].first + i]].z0, segs[order[layers[k].first + i]].z1));
    layers[k].z = spiral ? static_cast<float>(keys[k] * h_est + 0.5 * h_est) : z;
  }
  for (size_t k = 0; k < nlayers; ++k) {
    double h = k == 0 ? layers[k].z : layers[k].z - layers[k - 1].z;
    if (spiral) h = h_est;
    layers[k].h = static_cast<float>(std::min(std::max(h, 0.3 * h_est), 3.0 * h_est));
  }

  // Closed chains within a layer: perimeter loop candidates. Closing gap: PrusaSlicer clips
  // loops by ~15 % of the nozzle, Cura closes exactly; 1 mm tolerates either with a seam wipe.
  std::vector<uint8_t> is_loop(nseg, 0);
  for (size_t k = 0; k < nlayers; ++k) {
    const Layer& L = layers[k];
    uint32_t i = 0;
    while (i < L.count) {
      uint32_t j = i;
      double len = 0;
      while (j < L.count && segs[order[L.first + j]].chain == segs[order[L.first + i]].chain) {
        len += seg_len(segs[order[L.first + j]]);
        ++j;
      }
      const Segment& a = segs[order[L.first + i]];
      const Segment& b = segs[order[L.first + j - 1]];
      const double gap = std::hypot(double(b.x1) - a.x0, double(b.y1) - a.y0);
      if (gap < 1.0 && len > 4.0 * std::max(gap, 0.5))
        for (uint32_t m = i; m < j; ++m) is_loop[order[L.first + m]] = 1;
      i = j;
    }
  }

  // --- Bead width calibration from nested-perimeter spacing ---------------------------------
  double k_area = 0;  // bead cross-section mm^2 per (E mm / XY mm)
  {
    std::vector<double> spacing, epm;
    const size_t step = std::max<size_t>(1, nlayers / 24);
    for (size_t k = std::min<size_t>(1, nlayers - 1); k < nlayers && spacing.size() < 20000; k += step) {
      const Layer& L = layers[k];
      const double cell = 1.0;
      std::unordered_map<int64_t, std::vector<uint32_t>> grid;
      struct Sample { float x, y, dx, dy; uint32_t chain; float epm; };
      std::vector<Sample> samples;
      for (uint32_t m = 0; m < L.count; ++m) {
        const uint32_t si = order[L.first + m];
        if (!is_loop[si]) continue;
        const Segment& s = segs[si];
        const double l = seg_len(s);
        if (l < 0.3) continue;
        const double dx = (s.x1 - s.x0) / l, dy = (s.y1 - s.y0) / l;
        for (double t = 0.15; t < l - 0.15 && samples.size() < 50000; t += 0.5) {
          Sample q{static_cast<float>(s.x0 + dx * t), static_cast<float>(s.y0 + dy * t), static_cast<float>(dx),
                   static_cast<float>(dy), s.chain, s.e_per_mm};
          const int64_t gx = static_cast<int64_t>(std::floor(q.x / cell)), gy = static_cast<int64_t>(std::floor(q.y / cell));
          grid[gx * 1000003 + gy].push_back(static_cast<uint32_t>(samples.size()));
          samples.push_back(q);
        }
      }
      for (const Sample& q : samples) {
        const int64_t gx = static_cast<int64_t>(std::floor(q.x / cell)), gy = static_cast<int64_t>(std::floor(q.y / cell));
        double best = 1e9;
        for (int64_t ox = -1; ox <= 1; ++ox)
          for (int64_t oy = -1; oy <= 1; ++oy) {
            auto it = grid.find((gx + ox) * 1000003 + gy + oy);
            if (it == grid.end()) continue;
            // A few dozen samples share a 1 mm cell in real perimeters; stacked copies stop here.
            for (size_t oi = 0; oi < std::min<size_t>(it->second.size(), 64); ++oi) {
              const Sample& r = samples[it->second[oi]];
              if (r.chain == q.chain) continue;
              if (std::fabs(q.dx * r.dx + q.dy * r.dy) < 0.97f) continue;
              const double px = r.x - q.x, py = r.y - q.y;
              const double along = std::fabs(px * q.dx + py * q.dy);
              if (along > 0.5) continue;
              best = std::min(best, std::fabs(px * q.dy - py * q.dx));
            }
          }
        if (best > 0.1 && best < 1.5) {
          spacing.push_back(best);
          epm.push_back(q.epm / L.h);
        }
      }
    }
    if (spacing.size() >= 20) {
      std::nth_element(spacing.begin(), spacing.begin() + spacing.size() / 2, spacing.end());
      std::nth_element(epm.begin(), epm.begin() + epm.size() / 2, epm.end());
      const double s = spacing[spacing.size() / 2], e_h = epm[epm.size() / 2];
      if (e_h > 0) k_area = s / e_h;  // area = s * h = k * e_per_mm  ->  k = s / (e_per_mm / h)
      const double d = std::sqrt(4 * k_area / kPi);
      if (!(d > 1.0 && d < 3.5)) k_area = 0;
    }
    if (k_area == 0) {
      // No nested loops (vase, single walls): assume the common filament that gives a plausible
      // bead width for this layer height.
      std::vector<float> e;
      for (size_t i = 0; i < nseg; i += std::max<size_t>(1, nseg / 4096)) e.push_back(segs[i].e_per_mm);
      std::nth_element(e.begin(), e.begin() + e.size() / 2, e.end());
      const double med = e[e.size() / 2];
      const double k175 = kPi * 1.75 * 1.75 / 4, k285 = kPi * 2.85 * 2.85 / 4;
      // Nozzles are mostly 0.4 mm: take the filament whose bead width is nearer 0.45 mm.
      const double rim = h_est * (1 - kPi / 4);
      const double w175 = med * k175 / h_est + rim, w285 = med * k285 / h_est + rim;
      k_area = std::fabs(std::log(w175 / 0.45)) <= std::fabs(std::log(w285 / 0.45)) ? k175 : k285;
    }
  }
  auto bead_width = [&](const Segment& s, double h) {
    const double w = s.e_per_mm * k_area / h + h * (1 - kPi / 4);
    return std::min(std::max(w, 0.1), 3.0);
  };
  double w_typ = 0.45;
  {
    std::vector<float> e;
    for (size_t i = 0; i < nseg; i += std::max<size_t>(1, nseg / 4096)) e.push_back(segs[i].e_per_mm);
    std::nth_element(e.begin(), e.begin() + e.size() / 2, e.end());
    Segment t{};
    t.e_per_mm = e[e.size() / 2];
    w_typ = bead_width(t, h_est);
  }

  // --- Global grid ---------------------------------------------------------------------------
  double total_len = 0;
  float gx0 = 1e30f, gy0 = 1e30f, gx1 = -1e30f, gy1 = -1e30f;
  for (const Segment& s : segs) {
    gx0 = std::min({gx0, s.x0, s.x1});
    gy0 = std::min({gy0, s.y0, s.y1});
    gx1 = std::max({gx1, s.x0, s.x1});
    gy1 = std::max({gy1, s.y0, s.y1});
  }
  // Cells a third of a bead wide; coarser only when the plate is absurdly large, so a window
  // never exceeds about 2048 x 2048 cells (bounded memory whatever the coordinates).
  double cs = std::min(std::max(w_typ / 2.5, 0.06), 0.3);
  cs = std::max(cs, (std::max(gx1 - gx0, gy1 - gy0) + 20.0) / 2000.0);
  {
    // Bounded work whatever the file: all layers' windows together stay under the cell budget,
    // and so do the bead cells the rasteriser visits (rows times span per bead).
    const double budget = static_cast<double>(std::max<uint64_t>(opt.max_raster_cells, 1'000'000));
    double area = 0;
    for (const Layer& L : layers) {
      float lx0 = 1e30f, ly0 = 1e30f, lx1 = -1e30f, ly1 = -1e30f;
      for (uint32_t m = 0; m < L.count; ++m) {
        const Segment& s = segs[order[L.first + m]];
        lx0 = std::min({lx0, s.x0, s.x1});
        ly0 = std::min({ly0, s.y0, s.y1});
        lx1 = std::max({lx1, s.x0, s.x1});
        ly1 = std::max({ly1, s.y0, s.y1});
      }
      area += (double(lx1) - lx0 + 10.0) * (double(ly1) - ly0 + 10.0);
    }
    cs = std::max(cs, std::sqrt(area / budget));
    // Bead cells at cell size c: sum over beads of (len / c + 2 r / c + 2) (2 r / c + 2).
    double s_lr = 0, s_l = 0, s_r = 0, s_rr = 0;
    for (const Layer& L : layers)
      for (uint32_t m = 0; m < L.count; ++m) {
        const Segment& s = segs[order[L.first + m]];
        const double l = seg_len(s), r = 0.5 * bead_width(s, L.h);
        s_lr += l * r;
        s_l += l;
        s_r += r;
        s_rr += r * r;
      }
    auto bead_cells = [&](double c) {
      return (2 * s_lr + 4 * s_rr) / (c * c) + (2 * s_l + 8 * s_r) / c + 4.0 * static_cast<double>(nseg);
    };
    for (int i = 0; i < 200 && bead_cells(cs) > budget; ++i) cs *= 1.1;
    total_len = s_l;
  }
  const double ox = gx0 - 8.0, oy = gy0 - 8.0;
  auto cell_x = [&](double x) { return static_cast<int32_t>(std::floor((x - ox) / cs)); };
  auto cell_y = [&](double y) { return static_cast<int32_t>(std::floor((y - oy) / cs)); };

  // Small prints are sampled finer: the engine samples a part of any size with at least ~10^4
  // points, and a 16 mm part's walls at the full spacing give a few thousand, too sparse for
  // its descriptors (small and flat parts then scored under the flag line). The outline is
  // about half of the closed loops' length (outer and inner perimeters); below ~12000 samples
  // of it the spacing shrinks, to 0.6 of point_spacing_mm at most, so big jobs cost the same.
  double spacing = std::max(0.05, opt.point_spacing_mm);
  {
    double loop_len = 0;
    for (size_t i = 0; i < nseg; ++i)
      if (is_loop[i]) loop_len += seg_len(segs[i]);
    spacing *= std::clamp(0.5 * loop_len / (12000.0 * spacing), 0.6, 1.0);
  }
  LayerGrid grid;
  grid.ox = ox;
  grid.oy = oy;
  grid.cs = cs;
  grid.w_typ = w_typ;
  // Wall samples every `spacing`, thinned so that at most a sixteenth of the cell budget are taken.
  const double wall_step =
      std::max(spacing, total_len / (static_cast<double>(std::max<uint64_t>(opt.max_raster_cells, 1'000'000)) / 16));
  grid.spacing = wall_step;
  grid.spiral = spiral;
  grid.segs = segs.data();
  grid.order = order.data();
  grid.is_loop = is_loop.data();
  grid.k_area = k_area;
  // Layers are independent until they are linked: one task each, scratch buffers per thread.
  std::vector<std::vector<Region>> per_layer(nlayers);
  tbb::enumerable_thread_specific<LayerScratch> scratch;
  tbb::parallel_for(tbb::blocked_range<size_t>(0, nlayers, 1), [&](const tbb::blocked_range<size_t>& rg) {
    LayerScratch& S = scratch.local();
    for (size_t k = rg.begin(); k != rg.end(); ++k)
      process_layer(grid, layers[k], static_cast<uint32_t>(k), S, per_layer[k]);
  });
  scratch.clear();
  std::vector<Region> regions;
  {
    size_t total_regions = 0;
    for (const auto& v : per_layer) total_regions += v.size();
    regions.reserve(total_regions);
    for (size_t k = 0; k < nlayers; ++k) {
      for (Region& R : per_layer[k]) {
        layers[k].regions.push_back(static_cast<uint32_t>(regions.size()));
        regions.push_back(std::move(R));
      }
      std::vector<Region>().swap(per_layer[k]);
    }
  }

  // --- Link regions across layers --------------------------------------------------------
  const double link_dz = 1.6 * h_est + 1e-4;
  std::vector<TileIndex> layer_index(nlayers);
  tbb::parallel_for(size_t(0), nlayers, [&](size_t j) {
    const auto& ids = layers[j].regions;
    layer_index[j].build(ids.size(), [&](size_t i) {
      const Region& q = regions[ids[i]];
      return std::array<int32_t, 4>{q.bx0, q.by0, q.bx1, q.by1};
    });
  });
  std::vector<uint32_t> cand;
  for (size_t k = 1; k < nlayers; ++k) {
    for (uint32_t r : layers[k].regions) {
      for (size_t j = k; j-- > 0;) {
        if (layers[k].z - layers[j].z > link_dz) break;
        bool found = false;
        layer_index[j].query(regions[r].bx0, regions[r].by0, regions[r].bx1, regions[r].by1, cand);
        for (uint32_t ci : cand) {
          const uint32_t q = layers[j].regions[ci];
          if (runs_overlap(regions[r], regions[q])) {
            regions[r].below.push_back(q);
            regions[q].above.push_back(r);
            found = true;
          }
        }
        if (found) break;
      }
    }
  }
  std::vector<TileIndex>().swap(layer_index);
  // Union-find over all layers but the first: brims join neighbouring objects there.
  UnionFind uf(regions.size());
  for (uint32_t r = 0; r < regions.size(); ++r)
    if (regions[r].layer > 0)
      for (uint32_t q : regions[r].below)
        if (regions[q].layer > 0) uf.unite(r, q);
  for (uint32_t r = 0; r < regions.size(); ++r) {
    if (regions[r].layer == 0 && regions[r].above.size() == 1) uf.unite(r, regions[r].above[0]);
  }

  // --- Objects ---------------------------------------------------------------------------
  std::unordered_map<uint32_t, uint32_t> obj_of_root;
  struct Obj {
    uint64_t cells = 0, eroded = 0;
    uint32_t lo = UINT32_MAX, hi = 0;
    int32_t bx0 = INT32_MAX, by0 = INT32_MAX, bx1 = INT32_MIN, by1 = INT32_MIN;
    bool keep = true;
  };
  std::vector<Obj> objs;
  for (uint32_t r = 0; r < regions.size(); ++r) {
    Region& R = regions[r];
    if (R.layer == 0 && R.above.size() > 1) continue;  // split per point below
    const uint32_t root = uf.find(r);
    auto it = obj_of_root.find(root);
    if (it == obj_of_root.end()) {
      it = obj_of_root.emplace(root, static_cast<uint32_t>(objs.size())).first;
      objs.emplace_back();
    }
    R.object = it->second;
    Obj& O = objs[it->second];
    if (!(R.layer == 0 && !R.above.empty())) {
      O.cells += R.cells;
      O.eroded += R.eroded;
    }
    O.lo = std::min(O.lo, R.layer);
    O.hi = std::max(O.hi, R.layer);
    O.bx0 = std::min(O.bx0, R.bx0);
    O.by0 = std::min(O.by0, R.by0);
    O.bx1 = std::max(O.bx1, R.bx1);
    O.by1 = std::max(O.by1, R.by1);
  }
  uint32_t dropped = 0;
  for (Obj& O : objs) {
    if (O.cells == 0) {  // only a first layer that is all brim
      O.keep = false;
      continue;
    }
    if (O.eroded < 0.05 * O.cells) O.keep = false;  // thin: skirt, purge line, sparse support
  }
  {
    // Object centres bucketed, so each short object checks only the centres inside its box.
    TileIndex centres;
    centres.build(objs.size(), [&](size_t b) {
      const int32_t cx = static_cast<int32_t>((int64_t(objs[b].bx0) + objs[b].bx1) / 2),
                    cy = static_cast<int32_t>((int64_t(objs[b].by0) + objs[b].by1) / 2);
      return std::array<int32_t, 4>{cx, cy, cx, cy};
    });
    std::vector<uint32_t> inside;
    for (size_t a = 0; a < objs.size(); ++a) {
      if (!objs[a].keep || objs[a].hi - objs[a].lo > 3) continue;
      centres.query(objs[a].bx0, objs[a].by0, objs[a].bx1, objs[a].by1, inside);
      for (uint32_t b : inside) {
        if (a == b || !objs[b].keep) continue;
        const int32_t cx = (objs[b].bx0 + objs[b].bx1) / 2, cy = (objs[b].by0 + objs[b].by1) / 2;
        if (objs[a].bx0 < cx && cx < objs[a].bx1 && objs[a].by0 < cy && cy < objs[a].by1 &&
            objs[b].hi - objs[b].lo > objs[a].hi - objs[a].lo) {
          objs[a].keep = false;  // a short ring around a taller object: skirt / draft shield
          break;
        }
      }
    }
  }
  for (const Obj& O : objs) dropped += O.keep ? 0 : 1;
  uint32_t kept = 0;
  for (const Obj& O : objs) kept += O.keep ? 1 : 0;
  if (kept > opt.max_objects)
    throw Error(ErrorCode::limit_exceeded, name,
                std::to_string(kept) + " separate printed objects (max_objects " + std::to_string(opt.max_objects) + ")");

  // --- Points ----------------------------------------------------------------------------
  struct Pts {
    std::vector<float> p, n;
    std::vector<uint8_t> wall;
    double area = 0;
  };
  std::vector<Pts> pts(objs.size());
  auto region_h = [&](const Region& R) {
    const Layer& L = layers[R.layer];
    if (!R.below.empty()) return std::max(0.3 * h_est, double(L.z) - layers[regions[R.below[0]].layer].z);
    return R.layer == 0 ? double(L.h) : std::min(double(L.z), h_est);
  };
  const int32_t brim_rad = static_cast<int32_t>(std::ceil(std::max(1.0, 2.0 * w_typ) / cs));
  const int32_t skin_rad = static_cast<int32_t>(std::ceil(0.6 * w_typ / cs));
  const int32_t stride = std::max<int32_t>(1, static_cast<int32_t>(std::lround(spacing / cs)));
  const double skin_area = (stride * cs) * (stride * cs);
  // Regions in parallel, each into its own list; appended per object in region order after,
  // so points and area sums come out as a sequential pass would make them.
  struct Emitted {
    uint32_t object;
    float p[3], n[3];
    bool skin;
  };
  std::vector<std::vector<Emitted>> emitted(regions.size());
  struct PointScratch {
    RunSet above_set, below_set;
    std::vector<RunSet> single;
    TileIndex single_index;
    std::vector<uint32_t> cand;
  };
  tbb::enumerable_thread_specific<PointScratch> point_scratch;
  tbb::parallel_for(tbb::blocked_range<size_t>(0, regions.size(), 16), [&](const tbb::blocked_range<size_t>& rg) {
    PointScratch& PS = point_scratch.local();
    for (size_t r = rg.begin(); r != rg.end(); ++r) {
      Region& R = regions[r];
      std::vector<Emitted>& E = emitted[r];
      const double h = region_h(R);
      const Layer& L = layers[R.layer];
      const bool split = R.layer == 0 && !R.above.empty();
      auto emit = [&](uint32_t o, double x, double y, double z, double nx, double ny, double nz, bool skin) {
        if (o == UINT32_MAX || !objs[o].keep) return;
        E.push_back({o,
                     {static_cast<float>(x), static_cast<float>(y), static_cast<float>(z)},
                     {static_cast<float>(nx), static_cast<float>(ny), static_cast<float>(nz)},
                     skin});
      };
      // Owner of a first-layer point: the object of an above region within brim distance.
      std::vector<const Region*> ab, be;
      for (uint32_t q : R.above) ab.push_back(&regions[q]);
      for (uint32_t q : R.below) be.push_back(&regions[q]);
      const bool indexed = split && ab.size() > 8;
      if (split) {
        if (PS.single.size() < ab.size()) PS.single.resize(ab.size());
        for (size_t i = 0; i < ab.size(); ++i) PS.single[i].build({ab[i]});
        if (indexed)
          PS.single_index.build(ab.size(), [&](size_t i) {
            return std::array<int32_t, 4>{ab[i]->bx0, ab[i]->by0, ab[i]->bx1, ab[i]->by1};
          });
      }
      auto owner = [&](double x, double y, int32_t rad) -> uint32_t {
        if (!split) return R.object;
        const int32_t cx = cell_x(x), cy = cell_y(y);
        if (indexed) {
          PS.single_index.query(int64_t(cx) - rad, int64_t(cy) - rad, int64_t(cx) + rad, int64_t(cy) + rad, PS.cand);
          for (uint32_t i : PS.cand)
            if (PS.single[i].near(cx, cy, rad)) return ab[i]->object;
          return UINT32_MAX;
        }
        for (size_t i = 0; i < ab.size(); ++i)
          if (PS.single[i].near(cx, cy, rad)) return ab[i]->object;
        return UINT32_MAX;
      };
      for (size_t i = 0; i + 5 <= R.walls.size(); i += 5) {
        const float* v = &R.walls[i];
        emit(owner(v[0], v[1], brim_rad), v[0], v[1], v[2] - 0.5 * h, v[3], v[4], 0.0, false);
      }
      std::vector<float>().swap(R.walls);
      if (!opt.skins) continue;
      PS.above_set.build(ab);
      PS.below_set.build(be);
      const bool top_possible = !split;
      for (size_t i = 0; i < R.runs.size();) {
        const int32_t y = R.runs[i].y;
        size_t e = i;
        while (e < R.runs.size() && R.runs[e].y == y) ++e;
        if (y % stride != 0) {
          i = e;
          continue;
        }
        PS.above_set.prepare_row(y, skin_rad);
        PS.below_set.prepare_row(y, skin_rad);
        BandCursor above{PS.above_set.band}, below{PS.below_set.band};
        for (; i < e; ++i) {
          const Run& run = R.runs[i];
          int32_t x = run.x0 + ((stride - (run.x0 % stride)) % stride);
          for (; x <= run.x1; x += stride) {
            const double px = ox + (x + 0.5) * cs, py = oy + (run.y + 0.5) * cs;
            const bool covered_above = above.covers(x), covered_below = below.covers(x);
            if (top_possible && (R.above.empty() || !covered_above)) emit(R.object, px, py, L.z, 0, 0, 1, true);
            if (R.below.empty() || !covered_below) emit(owner(px, py, skin_rad), px, py, L.z - h, 0, 0, -1, true);
          }
        }
      }
    }
  });
  point_scratch.clear();
  for (size_t r = 0; r < regions.size(); ++r) {
    const double wall_area = wall_step * region_h(regions[r]);
    for (const Emitted& e : emitted[r]) {
      Pts& P = pts[e.object];
      P.p.insert(P.p.end(), e.p, e.p + 3);
      P.n.insert(P.n.end(), e.n, e.n + 3);
      P.wall.push_back(e.skin ? 0 : 1);
      P.area += e.skin ? skin_area : wall_area;
    }
    std::vector<Emitted>().swap(emitted[r]);
  }
  if (!spiral)
    for (size_t o = 0; o < objs.size(); ++o)
      if (objs[o].keep) tilt_wall_normals(pts[o].p, pts[o].n, pts[o].wall, h_est);

  // --- Surfaces --------------------------------------------------------------------------
  std::vector<OrientedSurface> out;
  for (size_t o = 0; o < objs.size(); ++o) {
    if (!objs[o].keep || pts[o].p.empty()) continue;
    OrientedSurface S;
    const size_t n = pts[o].p.size() / 3;
    const size_t cap = std::max<size_t>(1, opt.max_points_per_object);
    if (n > cap) {
      S.positions.reserve(cap * 3);
      S.normals.reserve(cap * 3);
      for (size_t j = 0; j < cap; ++j) {
        const size_t i = static_cast<size_t>((static_cast<double>(j) + 0.5) * n / cap);
        S.positions.insert(S.positions.end(), &pts[o].p[3 * i], &pts[o].p[3 * i] + 3);
        S.normals.insert(S.normals.end(), &pts[o].n[3 * i], &pts[o].n[3 * i] + 3);
      }
    } else {
      S.positions = std::move(pts[o].p);
      S.normals = std::move(pts[o].n);
    }
    S.area_mm2 = pts[o].area;
    S.walls_only = !opt.skins;
    Box b;
    b.min = {1e30f, 1e30f, 1e30f};
    b.max = {-1e30f, -1e30f, -1e30f};
    for (size_t i = 0; i < S.positions.size(); i += 3)
      for (int a = 0; a < 3; ++a) {
        b.min[a] = std::min(b.min[a], S.positions[i + a]);
        b.max[a] = std::max(b.max[a], S.positions[i + a]);
      }
    S.bounds = b;
    out.push_back(std::move(S));
  }
  std::sort(out.begin(), out.end(), [](const OrientedSurface& a, const OrientedSurface& b) {
    if (std::fabs(a.bounds.min[1] - b.bounds.min[1]) > 1.0f) return a.bounds.min[1] < b.bounds.min[1];
    return a.bounds.min[0] < b.bounds.min[0];
  });
  for (size_t i = 0; i < out.size(); ++i) out[i].name = "object " + std::to_string(i + 1);

  stats.extruding_segments = nseg;
  stats.layers = static_cast<uint32_t>(nlayers);
  stats.objects = static_cast<uint32_t>(out.size());
  stats.dropped_objects = dropped;
  stats.layer_height_mm = h_est;
  stats.extrusion_width_mm = w_typ;
  stats.spiral = spiral;
  return out;
}

}  // namespace gcode
}  // namespace partscreen

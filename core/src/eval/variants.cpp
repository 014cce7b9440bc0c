// SPDX-License-Identifier: GPL-3.0-or-later
// The transformation suite (see partscreen/variants.h). The edits that need exact geometry
// (plane cuts, booleans, decimation, remeshing) are in mesh_ops.h, done by CGAL where it accepts
// the part; the older approximate methods here are their fallbacks for parts CGAL refuses.
#include "partscreen/variants.h"

#include <Eigen/Geometry>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <unordered_map>

#include "partscreen/error.h"
#include "partscreen/geometry.h"
#include "eval/mesh_ops.h"

namespace partscreen {
namespace {

using V3 = Eigen::Vector3d;

V3 vert(const Mesh& m, uint32_t i) { return V3(m.positions[3 * i], m.positions[3 * i + 1], m.positions[3 * i + 2]); }
void set_vert(Mesh& m, uint32_t i, const V3& p) {
  for (int d = 0; d < 3; ++d) m.positions[3 * i + d] = float(p[d]);
}

void bounds(const Mesh& m, V3& lo, V3& hi) {
  lo = V3::Constant(1e300);
  hi = V3::Constant(-1e300);
  for (size_t i = 0; i < m.vertex_count(); ++i) {
    lo = lo.cwiseMin(vert(m, uint32_t(i)));
    hi = hi.cwiseMax(vert(m, uint32_t(i)));
  }
}

Eigen::Matrix3d random_rotation(std::mt19937_64& rng) {
  std::normal_distribution<double> g(0.0, 1.0);
  Eigen::Quaterniond q(g(rng), g(rng), g(rng), g(rng));
  q.normalize();
  return q.toRotationMatrix();
}

void transform(Mesh& m, const Eigen::Matrix3d& A, const V3& t) {
  for (size_t i = 0; i < m.vertex_count(); ++i) set_vert(m, uint32_t(i), A * vert(m, uint32_t(i)) + t);
  if (A.determinant() < 0)  // keep outward winding, as a slicer's mirror does
    for (size_t f = 0; f + 2 < m.indices.size(); f += 3) std::swap(m.indices[f + 1], m.indices[f + 2]);
}

void append(Mesh& dst, const Mesh& src) {
  uint32_t base = uint32_t(dst.vertex_count());
  dst.positions.insert(dst.positions.end(), src.positions.begin(), src.positions.end());
  for (uint32_t i : src.indices) dst.indices.push_back(base + i);
}

double diagonal(const Mesh& m) {
  V3 lo, hi;
  bounds(m, lo, hi);
  return (hi - lo).norm();
}

void add_noise(Mesh& m, double sigma, std::mt19937_64& rng) {
  std::normal_distribution<double> g(0.0, sigma);
  for (float& c : m.positions) c = float(c + g(rng));
}

Mesh subdivide(const Mesh& m) {
  Mesh out;
  out.positions = m.positions;
  std::unordered_map<uint64_t, uint32_t> mid;
  auto midpoint = [&](uint32_t a, uint32_t b) {
    uint64_t key = (uint64_t(std::min(a, b)) << 32) | std::max(a, b);
    auto it = mid.find(key);
    if (it != mid.end()) return it->second;
    uint32_t id = uint32_t(out.positions.size() / 3);
    V3 p = 0.5 * (vert(m, a) + vert(m, b));
    for (int d = 0; d < 3; ++d) out.positions.push_back(float(p[d]));
    mid.emplace(key, id);
    return id;
  };
  for (size_t f = 0; f + 2 < m.indices.size(); f += 3) {
    uint32_t a = m.indices[f], b = m.indices[f + 1], c = m.indices[f + 2];
    uint32_t ab = midpoint(a, b), bc = midpoint(b, c), ca = midpoint(c, a);
    for (uint32_t t : {a, ab, ca, ab, b, bc, ca, bc, c, ab, bc, ca}) out.indices.push_back(t);
  }
  return out;
}

// Fallback decimation: vertex clustering (Rossignac & Borrel 1993) with the cell grown until about `keep` of the
// triangles survive: crude, but it moves the surface by up to a cell like real decimators can.
Mesh decimate(const Mesh& m, double keep) {
  const double diag = diagonal(m);
  Mesh best = m;
  for (double cell = diag / 400.0; cell < diag / 4.0; cell *= 1.25) {
    Mesh out;
    std::map<std::array<int64_t, 3>, uint32_t> cells;
    std::vector<V3> sum;
    std::vector<int> count;
    std::vector<uint32_t> remap(m.vertex_count());
    for (size_t i = 0; i < m.vertex_count(); ++i) {
      V3 p = vert(m, uint32_t(i));
      std::array<int64_t, 3> k{int64_t(std::floor(p.x() / cell)), int64_t(std::floor(p.y() / cell)), int64_t(std::floor(p.z() / cell))};
      auto [it, inserted] = cells.emplace(k, uint32_t(sum.size()));
      if (inserted) { sum.push_back(V3::Zero()); count.push_back(0); }
      sum[it->second] += p;
      count[it->second]++;
      remap[i] = it->second;
    }
    for (size_t c = 0; c < sum.size(); ++c) {
      V3 p = sum[c] / count[c];
      for (int d = 0; d < 3; ++d) out.positions.push_back(float(p[d]));
    }
    for (size_t f = 0; f + 2 < m.indices.size(); f += 3) {
      uint32_t a = remap[m.indices[f]], b = remap[m.indices[f + 1]], c = remap[m.indices[f + 2]];
      if (a == b || b == c || a == c) continue;
      out.indices.insert(out.indices.end(), {a, b, c});
    }
    best = std::move(out);
    if (best.triangle_count() <= keep * m.triangle_count()) break;
  }
  return best;
}

Mesh box(const V3& lo, const V3& hi) {
  Mesh b;
  for (int i = 0; i < 8; ++i) {
    V3 p((i & 1) ? hi.x() : lo.x(), (i & 2) ? hi.y() : lo.y(), (i & 4) ? hi.z() : lo.z());
    for (int d = 0; d < 3; ++d) b.positions.push_back(float(p[d]));
  }
  const uint32_t f[36] = {0, 2, 1, 1, 2, 3, 4, 5, 6, 5, 7, 6, 0, 1, 4, 1, 5, 4, 2, 6, 3, 3, 6, 7, 0, 4, 2, 2, 4, 6, 1, 3, 5, 3, 7, 5};
  b.indices.assign(f, f + 36);
  return b;
}


// Closed cylinder (outward winding) around `axis` through `centre`.
Mesh cylinder(const V3& centre, const V3& axis, double radius, double half_length, int segments = 32) {
  Mesh c;
  V3 a = axis.normalized(), u = a.unitOrthogonal(), w = a.cross(u);
  for (int end = 0; end < 2; ++end)
    for (int i = 0; i < segments; ++i) {
      double t = 6.283185307179586 * i / segments;
      V3 p = centre + (end ? half_length : -half_length) * a + radius * (std::cos(t) * u + std::sin(t) * w);
      for (int d = 0; d < 3; ++d) c.positions.push_back(float(p[d]));
    }
  for (int end = 0; end < 2; ++end) {
    V3 p = centre + (end ? half_length : -half_length) * a;
    for (int d = 0; d < 3; ++d) c.positions.push_back(float(p[d]));
  }
  const uint32_t n = uint32_t(segments), bottom = 2 * n, top = 2 * n + 1;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t j = (i + 1) % n;
    c.indices.insert(c.indices.end(), {i, j, n + j, i, n + j, n + i});  // side, faces outward
    c.indices.insert(c.indices.end(), {bottom, j, i, top, n + i, n + j});
  }
  return c;
}

// The height of the surface above each point along n (the line through it along n meets a face
// of m facing the same way within 25 degrees; the meeting nearest the point counts), each within
// max_height; false when a point has no such face under or over it (off an edge, over a hole).
bool surface_heights(const Mesh& m, const std::vector<V3>& points, const V3& n, double max_height,
                     std::vector<double>& heights) {
  std::vector<std::array<V3, 3>> faces;
  for (size_t f = 0; f + 2 < m.indices.size(); f += 3) {
    const V3 a = vert(m, m.indices[f]), b = vert(m, m.indices[f + 1]), c = vert(m, m.indices[f + 2]);
    const V3 fn = (b - a).cross(c - a);
    const double len = fn.norm();
    if (len > 0.0 && fn.dot(n) >= 0.9 * len) faces.push_back({a, b, c});
  }
  heights.assign(points.size(), 0.0);
  for (size_t i = 0; i < points.size(); ++i) {
    bool hit = false;
    for (const auto& [a, b, c] : faces) {
      // Moller-Trumbore, the line in both directions.
      const V3 e1 = b - a, e2 = c - a, pv = n.cross(e2);
      const double det = e1.dot(pv);
      if (std::fabs(det) < 1e-30) continue;
      const V3 tv = points[i] - a;
      const double bu = tv.dot(pv) / det;
      if (bu < 0.0 || bu > 1.0) continue;
      const V3 qv = tv.cross(e1);
      const double bv = n.dot(qv) / det;
      if (bv < 0.0 || bu + bv > 1.0) continue;
      const double t = e2.dot(qv) / det;
      if (std::fabs(t) <= max_height && (!hit || std::fabs(t) < std::fabs(heights[i]))) heights[i] = t, hit = true;
    }
    if (!hit) return false;
  }
  return true;
}

// A point on the surface, area-weighted, with its face normal.
void sample_surface(const Mesh& m, std::mt19937_64& rng, V3& point, V3& normal) {
  std::vector<double> cumulative;
  double total = 0;
  for (size_t f = 0; f + 2 < m.indices.size(); f += 3) {
    V3 a = vert(m, m.indices[f]), b = vert(m, m.indices[f + 1]), c = vert(m, m.indices[f + 2]);
    total += 0.5 * (b - a).cross(c - a).norm();
    cumulative.push_back(total);
  }
  std::uniform_real_distribution<double> u(0.0, 1.0);
  size_t f = size_t(std::lower_bound(cumulative.begin(), cumulative.end(), u(rng) * total) - cumulative.begin());
  f = std::min(f, cumulative.size() - 1);
  V3 a = vert(m, m.indices[3 * f]), b = vert(m, m.indices[3 * f + 1]), c = vert(m, m.indices[3 * f + 2]);
  double r1 = std::sqrt(u(rng)), r2 = u(rng);
  point = (1 - r1) * a + r1 * (1 - r2) * b + r1 * r2 * c;
  normal = (b - a).cross(c - a).normalized();
}

// Joins `extra` to `m` without a boolean: part triangles inside `cut_lo..cut_hi` removed, the two
// meshes appended, and one thin triangle sharing a part vertex so the job is one component.
Mesh join_without_boolean(const Mesh& m, const Mesh& extra, const V3& cut_lo, const V3& cut_hi, const V3& near) {
  Mesh kept;
  kept.positions = m.positions;
  for (size_t f = 0; f + 2 < m.indices.size(); f += 3) {
    V3 c = (vert(m, m.indices[f]) + vert(m, m.indices[f + 1]) + vert(m, m.indices[f + 2])) / 3.0;
    bool inside = (c.array() > cut_lo.array()).all() && (c.array() < cut_hi.array()).all();
    if (!inside) kept.indices.insert(kept.indices.end(), {m.indices[f], m.indices[f + 1], m.indices[f + 2]});
  }
  if (kept.indices.empty()) throw Error(ErrorCode::invalid_argument, "", "the added material swallowed the part");
  // The kept part vertex and the extra vertices nearest to `near`.
  auto nearest = [&](const Mesh& x, const std::vector<uint32_t>& ids, uint32_t skip) {
    uint32_t best = UINT32_MAX;
    double bd = 1e300;
    for (uint32_t i : ids)
      if (i != skip && (vert(x, i) - near).squaredNorm() < bd) { bd = (vert(x, i) - near).squaredNorm(); best = i; }
    return best;
  };
  uint32_t pv = nearest(kept, kept.indices, UINT32_MAX);
  uint32_t base = uint32_t(kept.vertex_count());
  std::vector<uint32_t> extra_ids(extra.vertex_count());
  std::iota(extra_ids.begin(), extra_ids.end(), 0u);
  uint32_t e1 = nearest(extra, extra_ids, UINT32_MAX), e2 = nearest(extra, extra_ids, e1);
  append(kept, extra);
  if (e1 != UINT32_MAX && e2 != UINT32_MAX) kept.indices.insert(kept.indices.end(), {pv, base + e1, base + e2});
  return kept;
}


// A straight run of sharp edges: where two flat faces of the part meet along a line.
struct EdgeRun {
  V3 start, end;  // the ends of the run
  V3 n1, n2;      // the two faces' outward normals
  V3 in1, in2;    // unit directions in each face, across the run, away from it
  double wedge = 0.0;  // the angle between the faces, through the material or the air between them
  bool outer = false;  // the other face falls away: material inside the edge (rounded, not filled)
};

// The straight runs of edges whose faces meet at 60-120 degrees (box-like edges and inner
// corners, the ones CAD users round or fill): edges shared by exactly two consistently wound
// faces, chained through shared vertices while they stay on one line between the same two faces.
std::vector<EdgeRun> sharp_edge_runs(const Mesh& m) {
  // Weld equal points: a format that repeats vertices per triangle (STL) still shares edges.
  std::map<std::array<float, 3>, uint32_t> ids;
  std::vector<uint32_t> id(m.vertex_count());
  for (size_t i = 0; i < m.vertex_count(); ++i)
    id[i] = ids.emplace(std::array<float, 3>{m.positions[3 * i], m.positions[3 * i + 1], m.positions[3 * i + 2]},
                        uint32_t(ids.size()))
                .first->second;
  const size_t faces = m.indices.size() / 3;
  std::vector<V3> normal(faces), centre(faces);
  struct Side {
    uint32_t a, b;  // as the face walks the edge
    size_t face;
  };
  std::unordered_map<uint64_t, std::vector<Side>> edges;
  for (size_t f = 0; f < faces; ++f) {
    const uint32_t v[3] = {m.indices[3 * f], m.indices[3 * f + 1], m.indices[3 * f + 2]};
    const V3 a = vert(m, v[0]), b = vert(m, v[1]), c = vert(m, v[2]);
    const V3 n = (b - a).cross(c - a);
    if (!(n.norm() > 0.0)) continue;
    normal[f] = n.normalized();
    centre[f] = (a + b + c) / 3.0;
    for (int k = 0; k < 3; ++k) {
      const uint32_t p = id[v[k]], q = id[v[(k + 1) % 3]];
      if (p == q) continue;
      edges[uint64_t(std::min(p, q)) << 32 | std::max(p, q)].push_back(Side{v[k], v[(k + 1) % 3], f});
    }
  }
  struct Candidate {
    V3 a, b, d;
    size_t f1, f2;
    uint32_t pa, pb;  // welded ids
  };
  std::vector<Candidate> cand;
  for (const auto& [key, sides] : edges) {
    if (sides.size() != 2 || id[sides[0].a] != id[sides[1].b]) continue;  // open, non-manifold or misoriented
    const double c = normal[sides[0].face].dot(normal[sides[1].face]);
    if (c < -0.5 || c > 0.5) continue;
    const V3 a = vert(m, sides[0].a), b = vert(m, sides[0].b);
    cand.push_back(Candidate{a, b, (b - a).normalized(), sides[0].face, sides[1].face, id[sides[0].a], id[sides[0].b]});
  }
  // Chain: union edges at a shared vertex that are parallel and lie between the same two normals.
  std::vector<size_t> parent(cand.size());
  std::iota(parent.begin(), parent.end(), size_t(0));
  auto root = [&](size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  auto same_faces = [&](const Candidate& x, const Candidate& y) {
    const V3 &x1 = normal[x.f1], &x2 = normal[x.f2], &y1 = normal[y.f1], &y2 = normal[y.f2];
    constexpr double kSame = 0.9994;  // 2 degrees
    return (x1.dot(y1) > kSame && x2.dot(y2) > kSame) || (x1.dot(y2) > kSame && x2.dot(y1) > kSame);
  };
  std::unordered_map<uint32_t, std::vector<size_t>> at;
  for (size_t i = 0; i < cand.size(); ++i) {
    at[cand[i].pa].push_back(i);
    at[cand[i].pb].push_back(i);
  }
  for (const auto& [v, list] : at)
    for (size_t i = 0; i < list.size(); ++i)
      for (size_t j = i + 1; j < list.size(); ++j) {
        const Candidate &x = cand[list[i]], &y = cand[list[j]];
        if (std::fabs(x.d.dot(y.d)) > 0.99985 && same_faces(x, y)) parent[root(list[i])] = root(list[j]);  // 1 degree
      }
  std::map<size_t, std::vector<size_t>> groups;
  for (size_t i = 0; i < cand.size(); ++i) groups[root(i)].push_back(i);
  std::vector<EdgeRun> runs;
  for (const auto& [r, members] : groups) {
    const Candidate& e = cand[members[0]];
    double lo = 1e300, hi = -1e300, sum = 0.0;
    for (size_t i : members) {
      const double ta = (cand[i].a - e.a).dot(e.d), tb = (cand[i].b - e.a).dot(e.d);
      lo = std::min({lo, ta, tb});
      hi = std::max({hi, ta, tb});
      sum += (cand[i].b - cand[i].a).norm();
    }
    if (sum > 1.01 * (hi - lo)) continue;  // edges that overlap: not one clean line
    EdgeRun run;
    run.start = e.a + lo * e.d;
    run.end = e.a + hi * e.d;
    run.n1 = normal[e.f1];
    run.n2 = normal[e.f2];
    run.in1 = e.d.cross(run.n1).normalized();
    if (run.in1.dot(centre[e.f1] - e.a) < 0.0) run.in1 = -run.in1;
    run.in2 = e.d.cross(run.n2).normalized();
    if (run.in2.dot(centre[e.f2] - e.a) < 0.0) run.in2 = -run.in2;
    run.wedge = std::acos(std::clamp(run.in1.dot(run.in2), -1.0, 1.0));
    run.outer = run.n1.dot(run.in2) < 0.0;
    runs.push_back(run);
  }
  return runs;
}

// The solid between a run's edge and a fillet of `radius` tangent to both faces, overlapping the
// part by `overlap` on the side away from the fillet (so the boolean never meets a face flush),
// from `reach` beyond one end of the run to `reach` beyond the other (negative: short of them).
Mesh fillet_tool(const EdgeRun& run, double radius, double overlap, double reach) {
  const V3 d = (run.end - run.start).normalized();
  const double theta = run.wedge;
  const V3 bis = (run.in1 + run.in2).normalized();
  const double tangent = radius / std::tan(0.5 * theta);
  const V3 c = bis * (radius / std::sin(0.5 * theta));  // the arc's centre, from the edge
  const V3 t1 = run.in1 * tangent, t2 = run.in2 * tangent;
  // Away from the wedge: the face normal on the side that does not hold the other face.
  const V3 m1 = run.n1.dot(run.in2) < 0.0 ? run.n1 : -run.n1, m2 = run.n2.dot(run.in1) < 0.0 ? run.n2 : -run.n2;
  std::vector<V3> ring{-bis * overlap, t1 + m1 * overlap};
  const V3 e1 = (t1 - c) / radius, e2 = (t2 - c) / radius;
  const double w = std::acos(std::clamp(e1.dot(e2), -1.0, 1.0));
  constexpr int kSegments = 16;
  for (int k = 0; k <= kSegments; ++k) {
    const double s = double(k) / kSegments;
    ring.push_back(c + radius * (std::sin((1 - s) * w) * e1 + std::sin(s * w) * e2) / std::sin(w));
  }
  ring.push_back(t2 + m2 * overlap);
  Mesh tool;
  const uint32_t n = uint32_t(ring.size());
  for (const V3& end : {V3(run.start - reach * d), V3(run.end + reach * d)})
    for (const V3& q : ring)
      for (int k = 0; k < 3; ++k) tool.positions.push_back(float(end[k] + q[k]));
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t j = (i + 1) % n;
    tool.indices.insert(tool.indices.end(), {i, j, n + j, i, n + j, n + i});
  }
  for (uint32_t i = 1; i + 1 < n; ++i)  // caps: a fan from the point past the edge sees the whole ring
    tool.indices.insert(tool.indices.end(), {0, i + 1, i, n, n + i, n + i + 1});
  if (measure_component(tool, 0, uint32_t(tool.triangle_count())).volume_mm3 < 0.0)
    for (size_t f = 0; f + 2 < tool.indices.size(); f += 3) std::swap(tool.indices[f + 1], tool.indices[f + 2]);
  return tool;
}
}  // namespace

const char* variant_name(VariantKind k) {
  switch (k) {
    case VariantKind::identity: return "identity";
    case VariantKind::rigid: return "rigid";
    case VariantKind::scale: return "scale";
    case VariantKind::unit_up: return "unit_x25.4";
    case VariantKind::unit_down: return "unit_/25.4";
    case VariantKind::mirror: return "mirror";
    case VariantKind::noise: return "noise";
    case VariantKind::subdivide: return "subdivide+noise";
    case VariantKind::decimate: return "decimate25";
    case VariantKind::pieces: return "pieces";
    case VariantKind::plate: return "plate";
    case VariantKind::fused: return "fused";
    case VariantKind::combined: return "combined";
    case VariantKind::buried: return "buried";
    case VariantKind::holes: return "holes";
    case VariantKind::remesh: return "remesh";
    case VariantKind::lettering: return "lettering";
    case VariantKind::fillets: return "fillets";
  }
  return "?";
}

std::vector<VariantKind> all_variant_kinds() {
  return {VariantKind::identity, VariantKind::rigid,     VariantKind::scale,    VariantKind::unit_up,
          VariantKind::unit_down, VariantKind::mirror,   VariantKind::noise,    VariantKind::subdivide,
          VariantKind::decimate,  VariantKind::pieces,   VariantKind::plate,    VariantKind::fused,
          VariantKind::combined,  VariantKind::buried,   VariantKind::holes,    VariantKind::remesh,
          VariantKind::lettering, VariantKind::fillets};
}

Variant make_variant(const Mesh& part, VariantKind kind, uint64_t seed, const std::vector<Mesh>& others) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + uint64_t(kind));
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Variant v;
  v.kind = kind;
  v.name = variant_name(kind);
  if (part.triangle_count() == 0) throw Error(ErrorCode::invalid_argument, "", "empty part");
  Mesh m = part;
  const double diag = diagonal(m);
  auto rigid = [&](Mesh& x) { transform(x, random_rotation(rng), V3(u(rng), u(rng), u(rng)) * diag * 2.0); };
  switch (kind) {
    case VariantKind::identity: break;
    case VariantKind::rigid: rigid(m); break;
    case VariantKind::scale: {
      double s = std::exp(std::log(0.5) + u(rng) * (std::log(2.0) - std::log(0.5)));
      transform(m, Eigen::Matrix3d::Identity() * s, V3::Zero());
      rigid(m);
      v.expected_scale = s;
      v.name += "(" + std::to_string(s).substr(0, 4) + ")";
      break;
    }
    case VariantKind::unit_up:
    case VariantKind::unit_down: {
      double s = kind == VariantKind::unit_up ? 25.4 : 1.0 / 25.4;
      transform(m, Eigen::Matrix3d::Identity() * s, V3::Zero());
      v.expected_scale = s;
      break;
    }
    case VariantKind::mirror: {
      Eigen::Matrix3d M = Eigen::Matrix3d::Identity();
      M(0, 0) = -1;
      transform(m, random_rotation(rng) * M, V3::Zero());
      v.expected_mirrored = true;
      break;
    }
    case VariantKind::noise: add_noise(m, 0.001 * diag, rng); rigid(m); break;
    case VariantKind::subdivide: m = subdivide(m); add_noise(m, 0.001 * diag, rng); rigid(m); break;
    case VariantKind::decimate: {
      Mesh out;
      if (eval::simplify_edges(m, 0.25, out)) {
        m = std::move(out);
        v.name += "(quadric)";
      } else {
        m = decimate(m, 0.25);
        v.name += "(clustering)";
      }
      // A low-polygon part (a few hundred triangles) has no 75% of its triangles to spare: what is
      // left is another shape (one 706-triangle cover lost 37% of its volume), and an uploader
      // would not print it in place of the part. Such a case tests nothing, like a hole drilled
      // into a part that is not a solid.
      const ComponentInfo before = measure_component(part, 0, uint32_t(part.triangle_count()));
      const ComponentInfo after = measure_component(m, 0, uint32_t(m.triangle_count()));
      const double a0 = before.area_mm2, v0 = before.volume_mm3, a1 = after.area_mm2, v1 = after.volume_mm3;
      const double change = std::max(std::fabs(a1 - a0) / std::max(a0, 1e-12), std::fabs(v1 - v0) / std::max(v0, 1e-12));
      if (change > 0.10) {
        char why[160];
        std::snprintf(why, sizeof why, "decimate25: %zu triangles are too few to lose 75%% of them (area or volume changes by %.0f%%)",
                      part.indices.size() / 3, 100.0 * change);
        throw Error(ErrorCode::invalid_argument, "", why);
      }
      rigid(m);
      break;
    }
    case VariantKind::remesh: {
      Mesh out;
      if (!eval::remesh_isotropic(m, 0.01 * diag, out))
        throw Error(ErrorCode::invalid_argument, "", "remesh: CGAL cannot remesh this part");
      m = std::move(out);
      rigid(m);
      break;
    }
    case VariantKind::holes: {
      // Through holes drilled from random surface points along the nearest coordinate axis, as
      // a user adds mounting holes in CAD; diameter 3-8% of the bounding-box diagonal.
      V3 lo, hi;
      bounds(m, lo, hi);
      int count = 1 + int(u(rng) * 3) % 3;
      std::vector<eval::BooleanStep> steps;
      for (int h = 0; h < count; ++h) {
        V3 p, n;
        sample_surface(m, rng, p, n);
        int axis = 0;
        n.cwiseAbs().maxCoeff(&axis);
        double radius = 0.5 * (0.03 + 0.05 * u(rng)) * diag;
        V3 centre = p;
        centre[axis] = 0.5 * (lo[axis] + hi[axis]);
        steps.push_back({eval::BooleanOp::subtract, cylinder(centre, V3::Unit(axis), radius, 0.5 * (hi[axis] - lo[axis]) + 0.1 * diag)});
      }
      Mesh out;
      if (!eval::apply_booleans(m, steps, out))
        throw Error(ErrorCode::invalid_argument, "", "holes: the part is not a closed, self-intersection-free solid");
      m = std::move(out);
      v.name += "(" + std::to_string(count) + ")";
      rigid(m);
      break;
    }
    case VariantKind::lettering: {
      // A label (a name, a version) as a user adds one in CAD before printing: 3-5 digits in a
      // segmented face, each digit up to seven separate strokes, 5% of the diagonal high, strokes
      // 1% wide, embossed 1% proud of the surface or engraved 1% deep, centred on a random surface
      // point and turned at random about its normal. Each stroke follows the surface under it
      // (a curved face too): it reaches from a stroke depth under the lowest surface point below
      // its corners to a stroke depth over the highest. A spot where a corner has no surface
      // facing the label's way within three stroke depths (off an edge, over a hole), or where
      // the result is not one piece per piece of the part, is drawn again; after every eight
      // spots the label shrinks (to 0.75x, then 0.5x: a long, narrow part has no face that takes
      // the full size).
      static const uint8_t kDigits[10] = {0x3F, 0x06, 0x5B, 0x4F, 0x66, 0x6D, 0x7D, 0x07, 0x7F, 0x6F};  // segments a-g
      const bool emboss = u(rng) < 0.5;
      const int digits = 3 + int(u(rng) * 3) % 3;
      const size_t pieces_before = eval::connected_pieces(m).size();
      const double volume_before = measure_component(m, 0, uint32_t(m.triangle_count())).volume_mm3;
      Mesh out;
      bool made = false;
      double size = 1.0;
      for (int attempt = 0; attempt < 24 && !made; ++attempt) {
        size = attempt < 8 ? 1.0 : attempt < 16 ? 0.75 : 0.5;
        const double h = 0.05 * size * diag, w = 0.6 * h, s = 0.01 * size * diag, gap = 0.25 * s, pitch = w + 2.5 * s;
        V3 p, n;
        sample_surface(m, rng, p, n);
        const V3 t0 = n.unitOrthogonal();
        const double turn = 6.283185307179586 * u(rng);
        const V3 t1 = std::cos(turn) * t0 + std::sin(turn) * n.cross(t0), t2 = n.cross(t1);
        Eigen::Matrix3d R;
        R << t1, t2, n;
        const double x0 = -0.5 * (digits * pitch - 2.5 * s), y0 = -0.5 * h;
        Mesh label;
        std::vector<std::array<double, 4>> strokes;  // x range, y range in the label's plane
        for (int d = 0; d < digits; ++d) {
          const uint8_t on = kDigits[int(u(rng) * 10) % 10];
          const double x = x0 + d * pitch;
          // (x range, y range) of segments a..g: horizontals between the verticals, gaps at corners.
          const double seg[7][4] = {{x + s + gap, x + w - s - gap, y0 + h - s, y0 + h},
                                    {x + w - s, x + w, y0 + 0.5 * h + gap, y0 + h - gap},
                                    {x + w - s, x + w, y0 + gap, y0 + 0.5 * h - gap},
                                    {x + s + gap, x + w - s - gap, y0, y0 + s},
                                    {x, x + s, y0 + gap, y0 + 0.5 * h - gap},
                                    {x, x + s, y0 + 0.5 * h + gap, y0 + h - gap},
                                    {x + s + gap, x + w - s - gap, y0 + 0.5 * (h - s), y0 + 0.5 * (h + s)}};
          for (int k = 0; k < 7; ++k)
            if (on >> k & 1) strokes.push_back({seg[k][0], seg[k][1], seg[k][2], seg[k][3]});
        }
        std::vector<V3> corners;
        for (const auto& st : strokes)
          for (int c = 0; c < 4; ++c) corners.push_back(p + R * V3(st[c & 1], st[2 + (c >> 1)], 0.0));
        std::vector<double> z;
        if (!surface_heights(m, corners, n, 3.0 * s, z)) continue;
        for (size_t k = 0; k < strokes.size(); ++k) {
          const auto& st = strokes[k];
          const auto [lo, hi] = std::minmax({z[4 * k], z[4 * k + 1], z[4 * k + 2], z[4 * k + 3]});
          Mesh stroke = box(V3(st[0], st[2], lo - s), V3(st[1], st[3], hi + s));
          transform(stroke, R, p);
          append(label, stroke);
        }
        if (!eval::apply_booleans(m, {{emboss ? eval::BooleanOp::unite : eval::BooleanOp::subtract, label}}, out)) continue;
        const double change = measure_component(out, 0, uint32_t(out.triangle_count())).volume_mm3 - volume_before;
        made = eval::connected_pieces(out).size() == pieces_before && (emboss ? change > 0.0 : change < 0.0);
      }
      if (!made)
        throw Error(ErrorCode::invalid_argument, "", "lettering: no spot on the part takes the label (or the part is not a closed solid)");
      m = std::move(out);
      v.name += std::string(emboss ? "(emboss," : "(engrave,") + std::to_string(digits) + (size < 1.0 ? size < 0.75 ? ",0.5x)" : ",0.75x)" : ")");
      rigid(m);
      break;
    }
    case VariantKind::fillets: {
      // Fillets, as a user rounds a part's outer edges or fills its inner corners in CAD before
      // printing: 1-3 straight runs of sharp edges (faces meeting at 60-120 degrees, at least 5%
      // of the diagonal and four radii long), each given a fillet tangent to both faces along
      // the whole run, of radius 1-2.5% of the diagonal, or half that where a face is too narrow
      // for it. An outer edge loses the material outside the arc; an inner corner gains the
      // material inside it. A run takes a radius where both faces are flat (within 2% of it)
      // from the edge to a quarter radius past the fillet's tangent lines: a thin wall, a
      // short or a curved face would be cut through or left with a step. A run whose boolean
      // fails, or that would split the part or change its volume the wrong way, is passed over.
      const double radius = (0.01 + 0.015 * u(rng)) * diag;
      const int wanted = 1 + int(u(rng) * 3) % 3;
      std::vector<EdgeRun> runs = sharp_edge_runs(m);
      std::shuffle(runs.begin(), runs.end(), rng);
      const size_t pieces_before = eval::connected_pieces(m).size();
      // Every try applies all the fillets taken so far to the part as given: CGAL's result rounded
      // to float can intersect itself, and its autorefinement has crashed on such a mesh.
      std::vector<eval::BooleanStep> steps;
      Mesh current = m;
      double volume = measure_component(current, 0, uint32_t(current.triangle_count())).volume_mm3;
      int rounded = 0, filled = 0, tried = 0, halved = 0, examined = 0;
      for (const EdgeRun& run : runs) {
        // (Each flatness probe reads every face: a bound on the runs examined bounds the time.)
        if (rounded + filled == wanted || tried == 12 || examined == 64) break;
        const double length = (run.end - run.start).norm();
        if (length < std::max(2.0 * radius, 0.05 * diag)) continue;  // too short at either radius
        ++examined;
        const double theta = run.wedge;
        auto takes = [&](double r) {
          if (length < std::max(4.0 * r, 0.05 * diag)) return false;
          const double tangent = r / std::tan(0.5 * theta);
          for (const auto& [in, n] : {std::pair{run.in1, run.n1}, std::pair{run.in2, run.n2}}) {
            std::vector<V3> probes;
            for (double s : {0.1, 0.3, 0.5, 0.7, 0.9})
              for (double past : {0.0, 0.25 * r}) probes.push_back(run.start + s * (run.end - run.start) + in * (tangent + past));
            std::vector<double> z;
            if (!surface_heights(m, probes, n, 0.02 * r, z)) return false;
          }
          return true;
        };
        const double r = takes(radius) ? radius : takes(0.5 * radius) ? 0.5 * radius : 0.0;
        if (r == 0.0) continue;
        ++tried;
        const bool outer = run.outer;
        Mesh out;
        steps.push_back({outer ? eval::BooleanOp::subtract : eval::BooleanOp::unite, fillet_tool(run, r, 0.5 * r, outer ? 0.05 * r : -0.05 * r)});
        const bool made = eval::apply_booleans(m, steps, out);
        const double after = made ? measure_component(out, 0, uint32_t(out.triangle_count())).volume_mm3 : volume;
        if (!made || eval::connected_pieces(out).size() != pieces_before || (outer ? after >= volume : after <= volume)) {
          steps.pop_back();
          continue;
        }
        current = std::move(out);
        volume = after;
        ++(outer ? rounded : filled);
        halved += r < radius;
      }
      if (rounded + filled == 0)
        throw Error(ErrorCode::invalid_argument, "",
                    "fillets: no straight sharp edge of the part takes a fillet (its edges are short, rounded or chamfered "
                    "already, or its faces too narrow or curved), or the part is not a closed solid");
      m = std::move(current);
      char label[80];
      std::snprintf(label, sizeof label, "(round %d,fill %d,r %.2f%%%s)", rounded, filled, 100.0 * radius / diag,
                    halved ? ", some halved" : "");
      v.name += label;
      rigid(m);
      break;
    }
    case VariantKind::combined: {
      double s = 0.6 + u(rng) * 1.2;
      Eigen::Matrix3d M = Eigen::Matrix3d::Identity();
      M(0, 0) = -1;
      transform(m, random_rotation(rng) * M * s, V3::Zero());
      add_noise(m, 0.0005 * diag * s, rng);
      v.expected_scale = s;
      v.expected_mirrored = true;
      break;
    }
    case VariantKind::pieces: {
      // 1 or 2 plane cuts through the middle third of the part, exact and capped: 2 to 4 pieces
      // (more where a cut crosses an arm of the part twice).
      V3 lo, hi;
      bounds(m, lo, hi);
      std::vector<Mesh> pieces{m};
      int cuts = 1 + int(u(rng) * 2);
      bool all_exact = true;
      for (int c = 0; c < cuts; ++c) {
        V3 p = lo + (hi - lo).cwiseProduct(V3(0.33 + 0.33 * u(rng), 0.33 + 0.33 * u(rng), 0.33 + 0.33 * u(rng)));
        V3 n = random_rotation(rng).col(0);
        std::vector<Mesh> next;
        for (const Mesh& piece : pieces) {
          eval::CutInfo info;
          for (Mesh& side : eval::cut_by_plane(piece, p, n, eval::CutMethod::automatic, &info))
            if (side.triangle_count() > 0) next.push_back(std::move(side));
          all_exact = all_exact && info.exact_clip;
        }
        pieces.swap(next);
      }
      if (pieces.empty()) throw Error(ErrorCode::invalid_argument, "", "pieces: nothing left after cutting");
      // Pieces go to up to two files, each moved and turned on its own.
      v.files.resize(pieces.size() > 1 ? 2 : 1);
      for (size_t i = 0; i < pieces.size(); ++i) {
        transform(pieces[i], random_rotation(rng), V3(double(i) * diag * 1.5, 0, 0));
        append(v.files[i % v.files.size()], pieces[i]);
      }
      v.name += "(" + std::to_string(pieces.size()) + (all_exact ? ",clip)" : ",split)");
      return v;
    }
    case VariantKind::plate: {
      // The part and up to three other parts side by side, each turned about Z.
      Mesh plate;
      std::vector<Mesh> items{m};
      for (size_t i = 0; i < others.size() && i < 3; ++i) items.push_back(others[i]);
      double x = 0.0;
      for (Mesh& item : items) {
        V3 lo, hi;
        bounds(item, lo, hi);
        Eigen::Matrix3d R = Eigen::AngleAxisd(u(rng) * 6.2831853, V3::UnitZ()).toRotationMatrix();
        transform(item, R, V3(x, 0, 0) - R * lo);
        bounds(item, lo, hi);
        transform(item, Eigen::Matrix3d::Identity(), V3(x - lo.x(), -lo.y(), -lo.z()));
        x += (hi.x() - lo.x()) + 5.0;
        append(plate, item);
      }
      m = std::move(plate);
      break;
    }
    case VariantKind::fused: {
      // A block 0.6 of the part's extent straddling one face of its bounding box, united with
      // the part (one component, part faces inside the block gone).
      V3 lo, hi;
      bounds(m, lo, hi);
      V3 ext = hi - lo;
      int axis = int(u(rng) * 3) % 3;
      V3 size = ext * 0.6;
      V3 centre = (lo + hi) / 2;
      centre[axis] = (u(rng) < 0.5 ? lo[axis] : hi[axis]);
      V3 blo = centre - size / 2, bhi = centre + size / 2;
      Mesh block = box(blo, bhi), out;
      if (eval::apply_booleans(m, {{eval::BooleanOp::unite, block}}, out)) {
        m = std::move(out);
        v.name += "(union)";
      } else {
        m = join_without_boolean(m, block, blo, bhi, centre);
        v.name += "(joined)";
      }
      rigid(m);
      break;
    }
    case VariantKind::buried: {
      // The part printed inside a closed box shell (a gap all round) and held by 2-4 thin sprues
      // from its extreme points to the shell wall: the job is one component whose outside is a
      // box; the shell is broken away after printing.
      V3 lo, hi;
      bounds(m, lo, hi);
      const double gap = 0.05 * diag, wall = 0.03 * diag, sprue = 0.02 * diag;
      V3 ilo = lo - V3::Constant(gap), ihi = hi + V3::Constant(gap);
      Mesh shell = box(ilo - V3::Constant(wall), ihi + V3::Constant(wall));
      Mesh cavity = box(ilo, ihi);
      for (size_t f = 0; f + 2 < cavity.indices.size(); f += 3) std::swap(cavity.indices[f + 1], cavity.indices[f + 2]);
      append(shell, cavity);
      // Directions in a fixed shuffle (std::shuffle's algorithm is the library's choice).
      std::vector<int> dirs{0, 1, 2, 3, 4, 5};
      for (int i = 5; i > 0; --i) std::swap(dirs[i], dirs[int(u(rng) * (i + 1)) % (i + 1)]);
      int count = 2 + int(u(rng) * 3) % 3;
      std::vector<eval::BooleanStep> steps;
      std::vector<V3> anchors;
      for (int i = 0; i < count; ++i) {
        int axis = dirs[i] % 3;
        double sign = dirs[i] < 3 ? 1.0 : -1.0;
        uint32_t best = 0;
        for (uint32_t k = 0; k < m.vertex_count(); ++k)
          if (sign * vert(m, k)[axis] > sign * vert(m, best)[axis]) best = k;
        V3 a = vert(m, best);
        // From `sprue` inside the part's extreme point to the middle of the shell wall.
        V3 slo = a - V3::Constant(sprue / 2), shi = a + V3::Constant(sprue / 2);
        double inner = a[axis] - sign * sprue, outer = (sign > 0 ? ihi[axis] + wall / 2 : ilo[axis] - wall / 2);
        slo[axis] = std::min(inner, outer);
        shi[axis] = std::max(inner, outer);
        steps.push_back({eval::BooleanOp::unite, box(slo, shi)});
        anchors.push_back(a);
      }
      {
        // An escape hole through a wall without a sprue (dirs[count]) connects the shell's
        // inside to its outside, as the support-removal holes of such shells do; it also makes
        // the job one surface, not a box around a separate cavity surface.
        int axis = dirs[count] % 3;
        double sign = dirs[count] < 3 ? 1.0 : -1.0;
        V3 c = 0.5 * (ilo + ihi);
        c[axis] = sign > 0 ? ihi[axis] + wall / 2 : ilo[axis] - wall / 2;
        V3 half = V3::Constant(sprue);
        half[axis] = wall / 2 + gap / 2;
        steps.push_back({eval::BooleanOp::subtract, box(c - half, c + half)});
      }
      Mesh frame, out;
      // Shell and sprues are clean boxes; CGAL unites them unless the part is degenerate.
      if (!eval::apply_booleans(shell, steps, frame))
        throw Error(ErrorCode::invalid_argument, "", "buried: cannot build the shell");
      if (eval::apply_booleans(m, {{eval::BooleanOp::unite, frame}}, out) && eval::connected_pieces(out).size() == 1) {
        m = std::move(out);
        v.name += "(union)";
      } else {
        // The part is not a solid: sprues overlap it, joined by thin triangles at each anchor.
        Mesh joined = m;
        uint32_t base = uint32_t(joined.vertex_count());
        append(joined, frame);
        for (const V3& a : anchors) {
          uint32_t pv = 0, f1 = 0, f2 = 0;
          double bp = 1e300, b1 = 1e300, b2 = 1e300;
          for (uint32_t k = 0; k < m.vertex_count(); ++k)
            if ((vert(m, k) - a).squaredNorm() < bp) { bp = (vert(m, k) - a).squaredNorm(); pv = k; }
          for (uint32_t k = 0; k < frame.vertex_count(); ++k) {
            double dk = (vert(frame, k) - a).squaredNorm();
            if (dk < b1) { b2 = b1; f2 = f1; b1 = dk; f1 = k; }
            else if (dk < b2) { b2 = dk; f2 = k; }
          }
          joined.indices.insert(joined.indices.end(), {pv, base + f1, base + f2});
        }
        m = std::move(joined);
        v.name += "(joined)";
      }
      v.name += "(" + std::to_string(count) + " sprues)";
      rigid(m);
      break;
    }
  }
  v.files.push_back(std::move(m));
  return v;
}

Mesh subdivided(const Mesh& mesh) { return subdivide(mesh); }

LoadedFile loaded_from_mesh(Mesh mesh, const std::string& name) {
  LoadedFile f;
  f.path = name;
  f.format = FileFormat::stl_binary;
  f.clean = clean_mesh(mesh);
  f.components = split_components(mesh);
  f.mesh = std::move(mesh);
  f.file_bytes = 84 + 50 * f.mesh.triangle_count();
  return f;
}

void write_binary_stl(const Mesh& m, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error(ErrorCode::io, path, "cannot write");
  char header[80] = "partscreen variant";
  out.write(header, 80);
  uint32_t n = uint32_t(m.triangle_count());
  out.write(reinterpret_cast<const char*>(&n), 4);
  for (uint32_t t = 0; t < n; ++t) {
    float rec[12] = {0, 0, 0};
    for (int k = 0; k < 3; ++k)
      for (int d = 0; d < 3; ++d) rec[3 + 3 * k + d] = m.positions[3 * m.indices[3 * t + k] + d];
    out.write(reinterpret_cast<const char*>(rec), 48);
    uint16_t attr = 0;
    out.write(reinterpret_cast<const char*>(&attr), 2);
  }
  if (!out) throw Error(ErrorCode::io, path, "write failed");
}

}  // namespace partscreen

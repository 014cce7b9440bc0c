// SPDX-License-Identifier: GPL-3.0-or-later
// Cut pieces put back together at their caps (see reassemble.h).
//
// A cap is found as a flat face: the piece's triangles whose corners lie on one plane, bounded by
// a sharp edge, with the piece behind it. Two caps of one cut have the same area and the same
// second moments in their plane, so their principal axes give the gluing up to the axes' signs
// (and, for a round cap, a turn about the normal); a 2D rigid ICP on points sampled over both
// caps, then along their outlines, settles it, and the gluing is kept when each cap's samples lie
// on the other and the two pieces lie on opposite sides of the plane. Gluings are made best first,
// one at a time: the two pieces (or glued clusters) become one, whose coplanar caps are also tried
// joined (a piece cut off across two others).
#include "geometry/reassemble.h"

#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <Eigen/Geometry>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <numeric>
#include <set>
#include <random>
#include <tuple>
#include <unordered_map>

namespace partscreen::detail {
namespace {

using V3 = Eigen::Vector3d;
using V2 = Eigen::Vector2d;

constexpr size_t kMaxPlanesPerPiece = 512;  // flat faces a piece may have (the largest first)
constexpr double kMinSeedShare = 1e-4;     // a triangle this small does not start a plane of its own
constexpr double kPlaneTolerance = 1e-3;   // of the piece's size L: a corner this close is on the plane
constexpr size_t kCapSamples = 256;
constexpr double kSharpCos = 0.94;         // an edge bends more than 20 degrees: sharp
constexpr double kMinSharpShare = 0.6;     // of a cap's outline, at least
constexpr int kIcpRounds = 8;
constexpr size_t kTriesPerPair = 6;        // gluings tried between two pieces (or glued clusters)
constexpr int kRoundCapTurns = 24;         // a cap with nearly equal second moments: turns tried

struct Rigid {
  Eigen::Matrix3d R = Eigen::Matrix3d::Identity();
  V3 t = V3::Zero();
  V3 apply(const V3& p) const { return R * p + t; }
  Rigid then(const Rigid& next) const { return Rigid{next.R * R, next.R * t + next.t}; }  // next after this
};

struct Cap {
  V3 normal, centroid, e1, e2;  // outward normal; in-plane principal axes, [e1 e2 normal] right-handed
  double area = 0.0, lambda1 = 0.0, lambda2 = 0.0;
  Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();  // second moments about the centroid, per area
  std::vector<V3> samples;  // inside, by area
  std::vector<V3> outline;  // along the outline, by length
  double outline_step = 0.0;
  std::vector<std::pair<uint32_t, uint32_t>> sources;  // (piece, its cap): a glued cluster's cap may join several
};

// The in-plane principal moments and axes from the covariance.
void settle(Cap& cap) {
  const Eigen::Matrix3d P = Eigen::Matrix3d::Identity() - cap.normal * cap.normal.transpose();
  const Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> eig(P * cap.cov * P);
  cap.lambda1 = eig.eigenvalues()(2);
  cap.lambda2 = eig.eigenvalues()(1);
  cap.e1 = (P * eig.eigenvectors().col(2)).normalized();
  cap.e2 = cap.normal.cross(cap.e1);
}

struct PieceCaps {
  std::vector<Cap> caps;
  std::vector<std::vector<uint32_t>> cap_triangles;  // per cap: mesh triangle indices
  std::vector<V3> corners;  // every vertex the piece's triangles use, once
  double area = 0.0, size = 0.0;
};

V3 vertex(const Mesh& m, uint32_t v) { return V3(m.positions[3 * size_t(v)], m.positions[3 * size_t(v) + 1], m.positions[3 * size_t(v) + 2]); }

PieceCaps find_caps(const PieceInput& in, const ReassembleOptions& options) {
  const Mesh& m = *in.mesh;
  PieceCaps out;
  const uint32_t first = in.component.first_triangle, count = in.component.triangle_count;
  std::vector<double> area(count);
  std::vector<V3> normal(count);
  for (uint32_t k = 0; k < count; ++k) {
    const uint32_t t = first + k;
    const V3 a = vertex(m, m.indices[3 * size_t(t)]), b = vertex(m, m.indices[3 * size_t(t) + 1]), c = vertex(m, m.indices[3 * size_t(t) + 2]);
    normal[k] = (b - a).cross(c - a);
    area[k] = 0.5 * normal[k].norm();
    out.area += area[k];
  }
  if (!(out.area > 0.0)) return out;
  out.size = std::sqrt(out.area);
  {
    std::vector<uint32_t> used(m.indices.begin() + 3 * size_t(first), m.indices.begin() + 3 * (size_t(first) + count));
    std::sort(used.begin(), used.end());
    used.erase(std::unique(used.begin(), used.end()), used.end());
    for (uint32_t v : used) out.corners.push_back(vertex(m, v));
  }
  // Triangle k's corners (k counted from the component's first triangle).
  auto corners_of = [&](uint32_t k, V3 v[3]) {
    for (int c = 0; c < 3; ++c) v[c] = vertex(m, m.indices[3 * (size_t(first) + k) + c]);
  };
  const double eps = kPlaneTolerance * out.size;
  std::vector<uint32_t> order(count);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) { return area[x] > area[y]; });
  struct Plane { V3 n; double d; std::vector<uint32_t> tris; };
  std::vector<Plane> planes;
  // Planes bucketed by normal direction (cells of 0.05 per coordinate; a triangle looks in its
  // cell and the 26 around it): a curved part has hundreds of planes and tens of thousands of
  // triangles. A sliver whose computed normal is off by more than a cell joins no plane, which
  // costs its cap a negligible area.
  constexpr double kNormalCell = 0.05;
  auto cell_of = [](const V3& n) {
    return Eigen::Vector3i(int(std::lround(n.x() / kNormalCell)), int(std::lround(n.y() / kNormalCell)), int(std::lround(n.z() / kNormalCell)));
  };
  auto key_of = [](const Eigen::Vector3i& c) { return (int64_t(c.x()) * 73856093) ^ (int64_t(c.y()) * 19349663) ^ (int64_t(c.z()) * 83492791); };
  std::unordered_map<int64_t, std::vector<uint32_t>> by_direction;
  for (uint32_t k : order) {
    V3 v[3];
    corners_of(k, v);
    if (!(area[k] > 0.0)) continue;
    const V3 n = normal[k] / (2.0 * area[k]);
    const Eigen::Vector3i c = cell_of(n);
    bool placed = false;
    for (int dx = -1; dx <= 1 && !placed; ++dx)
      for (int dy = -1; dy <= 1 && !placed; ++dy)
        for (int dz = -1; dz <= 1 && !placed; ++dz) {
          auto it = by_direction.find(key_of(c + Eigen::Vector3i(dx, dy, dz)));
          if (it == by_direction.end()) continue;
          for (uint32_t pi : it->second) {
            Plane& p = planes[pi];
            if (n.dot(p.n) > 0.0 && std::fabs(p.n.dot(v[0]) - p.d) < eps && std::fabs(p.n.dot(v[1]) - p.d) < eps &&
                std::fabs(p.n.dot(v[2]) - p.d) < eps) {
              p.tris.push_back(k);
              placed = true;
              break;
            }
          }
        }
    if (!placed && planes.size() < kMaxPlanesPerPiece && area[k] >= kMinSeedShare * out.area) {
      by_direction[key_of(c)].push_back(uint32_t(planes.size()));
      planes.push_back(Plane{n, n.dot(v[0]), {k}});
    }
  }
  std::mt19937_64 rng(0x5eedcafeull);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  // Which plane each triangle joined, and each edge's two triangles (the mesh is welded).
  std::vector<int32_t> plane_of(count, -1);
  for (size_t pi = 0; pi < planes.size(); ++pi)
    for (uint32_t k : planes[pi].tris) plane_of[k] = int32_t(pi);
  // (Built when a face first passes on area: most pieces of a plate have none.)
  std::unordered_map<uint64_t, std::array<int32_t, 2>> edge_tris;
  auto edge_key = [](uint32_t a, uint32_t b) { return a < b ? (uint64_t(a) << 32) | b : (uint64_t(b) << 32) | a; };
  auto build_edges = [&] {
    edge_tris.reserve(size_t(count) * 2);
    for (uint32_t k = 0; k < count; ++k)
      for (int e = 0; e < 3; ++e) {
        const uint32_t a = m.indices[3 * size_t(first + k) + e], b = m.indices[3 * size_t(first + k) + (e + 1) % 3];
        auto [it, fresh] = edge_tris.try_emplace(edge_key(a, b), std::array<int32_t, 2>{int32_t(k), -1});
        if (!fresh) it->second[1] = int32_t(k);
      }
  };
  // A cut leaves a sharp edge all around its cap (the surface it crossed meets the cap at an
  // angle); a facet of a finely tessellated curved surface meets its neighbours almost flat, and
  // on a tessellated part there are hundreds of congruent facets to try against each other.
  // The face's outline edges, and the share of their length that is sharp.
  auto outline_of = [&](size_t pi, std::vector<std::pair<V3, V3>>& edges) {
    double sharp = 0.0, all = 0.0;
    for (uint32_t k : planes[pi].tris)
      for (int e = 0; e < 3; ++e) {
        const uint32_t a = m.indices[3 * size_t(first + k) + e], b = m.indices[3 * size_t(first + k) + (e + 1) % 3];
        const auto& t = edge_tris[edge_key(a, b)];
        const int32_t other = t[0] == int32_t(k) ? t[1] : t[0];
        if (other >= 0 && plane_of[size_t(other)] == int32_t(pi)) continue;  // inside the face
        const double len = (vertex(m, a) - vertex(m, b)).norm();
        all += len;
        edges.push_back({vertex(m, a), vertex(m, b)});
        if (other < 0 || !(area[size_t(other)] > 0.0) || normal[size_t(other)].normalized().dot(planes[pi].n) < kSharpCos) sharp += len;
      }
    return all > 0.0 ? sharp / all : 0.0;
  };
  for (size_t pi = 0; pi < planes.size(); ++pi) {
    const Plane& p = planes[pi];
    Cap cap;
    Eigen::Matrix3d second = Eigen::Matrix3d::Zero();
    V3 moment = V3::Zero();
    for (uint32_t k : p.tris) {
      V3 v[3];
      corners_of(k, v);
      const V3 s = v[0] + v[1] + v[2];
      cap.area += area[k];
      moment += area[k] * s / 3.0;
      // The integral of x x^T over a triangle: A/12 (sum of v v^T + s s^T).
      second += area[k] / 12.0 * (v[0] * v[0].transpose() + v[1] * v[1].transpose() + v[2] * v[2].transpose() + s * s.transpose());
    }
    if (cap.area < options.min_cap_share * out.area) continue;
    if (edge_tris.empty()) build_edges();
    std::vector<std::pair<V3, V3>> edges;
    if (outline_of(pi, edges) < kMinSharpShare) continue;
    // The outline sampled evenly: it fixes a cap's turn and place far better than its inside.
    double perimeter = 0.0;
    for (const auto& [a, b] : edges) perimeter += (b - a).norm();
    const double step = perimeter / double(kCapSamples);
    cap.outline_step = step;
    for (const auto& [a, b] : edges) {
      const double len = (b - a).norm();
      const int n = std::max(1, int(std::lround(len / step)));
      for (int k = 0; k < n; ++k) cap.outline.push_back(a + (b - a) * ((k + 0.5) / n));
    }
    cap.normal = p.n;
    cap.centroid = moment / cap.area;
    cap.cov = second / cap.area - cap.centroid * cap.centroid.transpose();
    settle(cap);
    std::vector<uint32_t> triangles;
    for (uint32_t k : p.tris) triangles.push_back(first + k);
    // Samples by area, deterministic.
    for (uint32_t k : p.tris) {
      V3 v[3];
      corners_of(k, v);
      const double want = double(kCapSamples) * area[k] / cap.area;
      size_t n = size_t(want);
      if (unit(rng) < want - double(n)) ++n;
      for (size_t s = 0; s < n; ++s) {
        double r1 = unit(rng), r2 = unit(rng);
        if (r1 + r2 > 1.0) r1 = 1.0 - r1, r2 = 1.0 - r2;
        cap.samples.push_back(v[0] + r1 * (v[1] - v[0]) + r2 * (v[2] - v[0]));
      }
    }
    if (cap.samples.size() < 16) continue;
    out.caps.push_back(std::move(cap));
    out.cap_triangles.push_back(std::move(triangles));
  }
  std::vector<size_t> by_area(out.caps.size());
  std::iota(by_area.begin(), by_area.end(), size_t(0));
  std::stable_sort(by_area.begin(), by_area.end(), [&](size_t a, size_t b) { return out.caps[a].area > out.caps[b].area; });
  if (by_area.size() > options.max_caps_per_piece) by_area.resize(options.max_caps_per_piece);
  PieceCaps kept;
  kept.corners = std::move(out.corners);
  kept.area = out.area;
  kept.size = out.size;
  for (size_t c : by_area) {
    kept.caps.push_back(std::move(out.caps[c]));
    kept.cap_triangles.push_back(std::move(out.cap_triangles[c]));
  }
  return kept;
}

// Points of a cap in its plane, bucketed for "anything within r?" queries (cells of r: a query
// looks at 3x3 cells).
class Grid2 {
public:
  Grid2(const std::vector<V2>& points, double cell) : points_(points), cell_(cell) {
    for (size_t i = 0; i < points.size(); ++i) cells_[key(cell_of(points[i].x()), cell_of(points[i].y()))].push_back(uint32_t(i));
  }
  // The nearest point within r (r <= cell), or nullptr.
  const V2* nearest(const V2& q, double r) const {
    const int64_t cx = cell_of(q.x()), cy = cell_of(q.y());
    const V2* best = nullptr;
    double bd = r * r;
    for (int64_t dx = -1; dx <= 1; ++dx)
      for (int64_t dy = -1; dy <= 1; ++dy) {
        auto it = cells_.find(key(cx + dx, cy + dy));
        if (it == cells_.end()) continue;
        for (uint32_t i : it->second) {
          const double d = (points_[i] - q).squaredNorm();
          if (d <= bd) bd = d, best = &points_[i];
        }
      }
    return best;
  }

private:
  int64_t cell_of(double v) const { return int64_t(std::floor(v / cell_)); }
  static int64_t key(int64_t x, int64_t y) { return (x * 73856093) ^ (y * 19349663); }
  const std::vector<V2>& points_;
  double cell_;
  std::unordered_map<int64_t, std::vector<uint32_t>> cells_;
};

// Share of `from` within r of some point of `to`.
double share_near(const std::vector<V2>& from, const Grid2& to, double r) {
  size_t hit = 0;
  for (const V2& p : from) hit += to.nearest(p, r) != nullptr;
  return from.empty() ? 0.0 : double(hit) / double(from.size());
}

// The gluing of cap q (piece j) onto cap p (piece i): j's frame into i's, q's outward normal
// against p's. Returns the overlap (the smaller of the two shares) and the transform.
double glue(const Cap& p, const Cap& q, double spacing, Rigid& best) {
  // p's plane frame: u, w in-plane, the normal out of piece i. Once q's normal is laid against
  // p's, everything happens in that plane.
  auto to2d = [&](const V3& x) { return V2((x - p.centroid).dot(p.e1), (x - p.centroid).dot(p.e2)); };
  std::vector<V2> target(p.samples.size());
  for (size_t k = 0; k < p.samples.size(); ++k) target[k] = to2d(p.samples[k]);
  const double r = 2.0 * spacing, wide = 8.0 * spacing;
  const Grid2 near_target(target, r), far_target(target, wide);
  // q's frame onto p's with the normal reversed: [e1 e2 n]_q -> [a, b, -n]_p, a x b = -n.
  auto frame_of = [](const V3& a, const V3& b, const V3& c) {
    Eigen::Matrix3d F;
    F.col(0) = a, F.col(1) = b, F.col(2) = c;
    return F;
  };
  const Eigen::Matrix3d Fq = frame_of(q.e1, q.e2, q.normal);
  auto start = [&](double turn) {
    const V3 a = std::cos(turn) * p.e1 + std::sin(turn) * p.e2;
    const V3 b = -(-std::sin(turn) * p.e1 + std::cos(turn) * p.e2);
    Rigid T;
    T.R = frame_of(a, b, -p.normal) * Fq.transpose();
    T.t = p.centroid - T.R * q.centroid;
    return T;
  };
  auto placed_2d = [&](const Rigid& T) {
    std::vector<V2> out(q.samples.size());
    for (size_t k = 0; k < q.samples.size(); ++k) out[k] = to2d(T.apply(q.samples[k]));
    return out;
  };
  std::vector<double> turns;
  const bool round = p.lambda1 - p.lambda2 < 0.05 * p.lambda1;
  if (round) {  // a round cap: the two turns that put most of q on p go on to ICP
    std::vector<std::pair<double, double>> scored;
    for (int k = 0; k < kRoundCapTurns; ++k) {
      const double turn = 2.0 * M_PI * k / kRoundCapTurns;
      scored.push_back({share_near(placed_2d(start(turn)), near_target, r), turn});
    }
    std::stable_sort(scored.begin(), scored.end(), [](auto& x, auto& y) { return x.first > y.first; });
    turns = {scored[0].second, scored[1].second};
  } else {
    turns = {0.0, M_PI};
  }
  // One step of 2D rigid ICP in p's plane, from q's points (`from`, in q's frame) to p's (`grid`),
  // pairs within `gate`; false when too few pairs are left.
  auto icp_step = [&](Rigid& T, const std::vector<V3>& from, const Grid2& grid, double gate, double& moved_by) {
    V2 ms = V2::Zero(), mt = V2::Zero();
    std::vector<std::pair<V2, V2>> pairs;
    for (const V3& f : from) {
      const V2 x = to2d(T.apply(f));
      if (const V2* y = grid.nearest(x, gate)) pairs.push_back({x, *y}), ms += x, mt += *y;
    }
    if (pairs.size() < 8) return false;
    ms /= double(pairs.size());
    mt /= double(pairs.size());
    double sxx = 0.0, sxy = 0.0;
    for (const auto& [x, y] : pairs) {
      const V2 a2 = x - ms, b2 = y - mt;
      sxx += a2.dot(b2);
      sxy += a2.x() * b2.y() - a2.y() * b2.x();
    }
    const double angle = std::atan2(sxy, sxx);
    const V2 shift = mt - Eigen::Rotation2Dd(angle) * ms;
    // The 2D step in 3D: a turn about p's normal through p's centroid, then a shift in p's plane.
    Rigid step;
    step.R = Eigen::AngleAxisd(angle, p.normal).toRotationMatrix();
    step.t = p.centroid - step.R * p.centroid + shift.x() * p.e1 + shift.y() * p.e2;
    T = T.then(step);
    moved_by = std::fabs(angle) * std::sqrt(p.lambda1) + shift.norm();
    return true;
  };
  // The outlines, for the last rounds: the inside's samples are random and settle the turn only
  // to a degree or so, the outline's edges to a small fraction of that.
  std::vector<V2> target_outline(p.outline.size());
  for (size_t k = 0; k < p.outline.size(); ++k) target_outline[k] = to2d(p.outline[k]);
  const double outline_gate = 2.0 * std::max(p.outline_step, q.outline_step);
  const Grid2 outline_grid(target_outline, outline_gate);
  double best_overlap = 0.0;
  for (double turn : turns) {
    Rigid T = start(turn);
    double moved_by = 0.0;
    // Wide pairs first, then close ones, then the outlines.
    for (int round_ = 0; round_ < kIcpRounds; ++round_)
      if (!icp_step(T, q.samples, round_ < 3 ? far_target : near_target, round_ < 3 ? wide : r, moved_by) || moved_by < 1e-4 * spacing) break;
    if (!target_outline.empty())
      for (int round_ = 0; round_ < kIcpRounds; ++round_)
        if (!icp_step(T, q.outline, outline_grid, outline_gate, moved_by) || moved_by < 1e-5 * spacing) break;
    const std::vector<V2> placed = placed_2d(T);
    const Grid2 near_placed(placed, r);
    const double overlap = std::min(share_near(placed, near_target, r), share_near(target, near_placed, r));
    if (overlap > best_overlap) best_overlap = overlap, best = T;
  }
  return best_overlap;
}

// Pieces glued so far: one frame (its largest piece's), every piece placed in it, and the caps
// still free, coplanar ones of different pieces joined (a cut across two glued pieces leaves one
// cap on them together, congruent with the cap of the piece across).
struct Item {
  uint64_t id = 0;
  std::vector<uint32_t> members;  // pieces (positions in the looked-at list), the largest first
  std::vector<Rigid> placement;   // per member: its frame -> the item's
  std::vector<Cap> caps;
  std::vector<V3> corners;        // every member's corners, in the item's frame
  double size = 0.0;
};

Cap moved(const Cap& c, const Rigid& T) {
  Cap out = c;
  out.normal = T.R * c.normal;
  out.centroid = T.apply(c.centroid);
  out.e1 = T.R * c.e1;
  out.e2 = T.R * c.e2;
  out.cov = T.R * c.cov * T.R.transpose();
  for (V3& p : out.samples) p = T.apply(p);
  for (V3& p : out.outline) p = T.apply(p);
  return out;
}

// Caps on one plane, facing the same way, are also tried as one (added beside them): a cut
// across two glued pieces leaves one cap on them together, congruent with the cap of the piece
// across. (Beside, not instead: a plane may hold two caps of different cuts.)
void add_joined(std::vector<Cap>& caps, double eps) {
  const size_t n = caps.size();
  std::vector<uint8_t> taken(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (taken[i]) continue;
    Cap joined = caps[i];
    size_t parts = 1;
    for (size_t j = i + 1; j < n; ++j) {
      const Cap& b = caps[j];
      if (taken[j] || caps[i].normal.dot(b.normal) < 0.9999 || std::fabs(caps[i].normal.dot(b.centroid - caps[i].centroid)) > eps) continue;
      taken[j] = 1;
      ++parts;
      const double area = joined.area + b.area;
      const V3 c = (joined.area * joined.centroid + b.area * b.centroid) / area;
      joined.cov = (joined.area * (joined.cov + (joined.centroid - c) * (joined.centroid - c).transpose()) +
                    b.area * (b.cov + (b.centroid - c) * (b.centroid - c).transpose())) / area;
      joined.centroid = c;
      joined.area = area;
      joined.samples.insert(joined.samples.end(), b.samples.begin(), b.samples.end());
      joined.outline.insert(joined.outline.end(), b.outline.begin(), b.outline.end());
      joined.outline_step = std::max(joined.outline_step, b.outline_step);
      joined.sources.insert(joined.sources.end(), b.sources.begin(), b.sources.end());
    }
    if (parts < 2) continue;
    settle(joined);
    // As many samples as one cap has: every k-th.
    const size_t k = (joined.samples.size() + kCapSamples - 1) / kCapSamples;
    std::vector<V3> thinned;
    for (size_t s = 0; s < joined.samples.size(); s += k) thinned.push_back(joined.samples[s]);
    joined.samples.swap(thinned);
    caps.push_back(std::move(joined));
  }
}

struct Gluing {
  size_t p = 0, q = 0;  // a cap of the first item, a cap of the second
  Rigid b_to_a;
  double overlap = 0.0;
};

// The best gluing of item b onto item a, if any.
// Whether the whole item lies behind the cap's plane (a cut cap is a face the piece lies behind;
// a pocket's floor or a step is not).
bool supporting(const Cap& cap, const std::vector<V3>& corners, double eps) {
  return std::all_of(corners.begin(), corners.end(), [&](const V3& v) { return cap.normal.dot(v - cap.centroid) <= eps; });
}

// The best gluing of item b onto item a, if any. `budget` counts the gluings tried in the whole
// job (a plate of identical blocks has six congruent faces a block, 36 pairs for two blocks).
Gluing best_gluing(const Item& a, const Item& b, const ReassembleOptions& options, size_t& budget, bool dbg) {
  Gluing best;
  // Pairs of caps that agree, closest moments first, at most kTriesPerPair of them.
  std::vector<std::tuple<double, size_t, size_t>> candidates;
  const double tol = options.area_tolerance;
  const double eps = 2.0 * kPlaneTolerance * std::max(a.size, b.size);
  std::vector<int8_t> b_supporting(b.caps.size(), -1);  // (worked out when first needed)
  for (size_t p = 0; p < a.caps.size(); ++p) {
    const Cap& x = a.caps[p];
    if (!supporting(x, a.corners, eps)) continue;
    for (size_t q = 0; q < b.caps.size(); ++q) {
      const Cap& y = b.caps[q];
      const double d_area = std::fabs(x.area - y.area) / std::max(x.area, y.area);
      const double d1 = std::fabs(x.lambda1 - y.lambda1) / std::max(x.lambda1, y.lambda1);
      const double d2 = std::fabs(x.lambda2 - y.lambda2) / std::max(x.lambda1, y.lambda1);
      if (d_area > tol || d1 > tol || d2 > tol) continue;
      if (b_supporting[q] < 0) b_supporting[q] = supporting(y, b.corners, eps);
      if (!b_supporting[q]) continue;
      candidates.emplace_back(d_area + d1 + d2, p, q);
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const auto& u, const auto& v) { return std::get<0>(u) < std::get<0>(v); });
  if (candidates.size() > kTriesPerPair) candidates.resize(kTriesPerPair);
  for (const auto& [d, p, q] : candidates) {
    if (budget == 0) break;
    --budget;
    const Cap& x = a.caps[p];
    const Cap& y = b.caps[q];
    Rigid T;
    const double spacing = std::sqrt(x.area / double(kCapSamples));
    const double overlap = glue(x, y, spacing, T);
    if (dbg) std::fprintf(stderr, "  items %llu %llu caps %zu %zu (area %.1f %.1f): overlap %.3f\n", (unsigned long long)a.id,
                          (unsigned long long)b.id, p, q, x.area, y.area, overlap);
    if (overlap < options.min_overlap || overlap <= best.overlap) continue;
    // Cut pieces lie on opposite sides of their cut: b, placed, in front of a's cap.
    bool apart = true;
    for (const V3& v : b.corners) apart = apart && x.normal.dot(T.apply(v) - x.centroid) >= -eps;
    if (!apart) continue;
    best = Gluing{p, q, T, overlap};
  }
  return best;
}

}  // namespace

std::vector<Reassembly> reassemble_pieces(const std::vector<PieceInput>& pieces, const ReassembleOptions& options) {
  // The largest pieces.
  std::vector<uint32_t> looked(pieces.size());
  std::iota(looked.begin(), looked.end(), 0u);
  std::stable_sort(looked.begin(), looked.end(), [&](uint32_t a, uint32_t b) { return pieces[a].component.area_mm2 > pieces[b].component.area_mm2; });
  {
    std::vector<uint32_t> within;
    size_t triangles = 0;
    for (uint32_t k : looked) {
      if (within.size() >= options.max_pieces) break;
      if (triangles + pieces[k].component.triangle_count > options.max_triangles) continue;
      triangles += pieces[k].component.triangle_count;
      within.push_back(k);
    }
    looked.swap(within);
  }
  if (looked.size() < 2) return {};
  std::vector<PieceCaps> caps(looked.size());
  for (size_t k = 0; k < looked.size(); ++k) caps[k] = find_caps(pieces[looked[k]], options);
  const bool dbg = std::getenv("PARTSCREEN_DEBUG_REASSEMBLY") != nullptr;

  std::vector<Item> items;
  uint64_t next_id = 0;
  for (uint32_t k = 0; k < looked.size(); ++k) {
    Item it;
    it.id = next_id++;
    it.members = {k};
    it.placement = {Rigid{}};
    it.caps = caps[k].caps;
    for (size_t c = 0; c < it.caps.size(); ++c) it.caps[c].sources = {{k, uint32_t(c)}};
    it.corners = caps[k].corners;
    it.size = caps[k].size;
    if (dbg) {
      std::fprintf(stderr, "piece %u: area %.1f caps", k, caps[k].area);
      for (const Cap& c : it.caps) std::fprintf(stderr, " [%.1f %.2f %.2f]", c.area, c.lambda1, c.lambda2);
      std::fprintf(stderr, "\n");
    }
    items.push_back(std::move(it));
  }
  // Best first, one gluing at a time: the two items of the best gluing become one, whose joined
  // caps may then glue to what none of its pieces could glue to alone.
  std::map<std::pair<uint64_t, uint64_t>, Gluing> known;
  size_t budget = options.max_gluings;
  std::set<std::pair<uint32_t, uint32_t>> glued_caps;  // (piece, its cap)
  // Copies of one part (same triangles, area and volume: a print farm's plate of sixteen
  // brackets) are not glued to each other: each has the flat faces of the others, and glued back
  // to back they make shapes nobody uploaded. (An evader who cuts a part exactly at a symmetry
  // plane gets two such pieces too; they are still screened as pieces.)
  auto copies = [&](const Item& a, const Item& b) {
    if (a.members.size() != 1 || b.members.size() != 1) return false;
    const ComponentInfo& x = pieces[looked[a.members[0]]].component;
    const ComponentInfo& y = pieces[looked[b.members[0]]].component;
    return x.triangle_count == y.triangle_count && std::fabs(x.area_mm2 - y.area_mm2) <= 1e-4 * x.area_mm2 &&
           std::fabs(x.volume_mm3 - y.volume_mm3) <= 1e-4 * std::max(std::fabs(x.volume_mm3), 1e-12);
  };
  while (items.size() >= 2) {
    size_t best_a = 0, best_b = 0;
    Gluing best;
    for (size_t a = 0; a < items.size(); ++a)
      for (size_t b = a + 1; b < items.size(); ++b) {
        if (copies(items[a], items[b])) continue;
        // The item holding the larger piece keeps its frame.
        const size_t x = items[a].members.front() < items[b].members.front() ? a : b, y = x == a ? b : a;
        const auto key = std::make_pair(items[x].id, items[y].id);
        auto it = known.find(key);
        if (it == known.end()) it = known.emplace(key, best_gluing(items[x], items[y], options, budget, dbg)).first;
        if (it->second.overlap > best.overlap) best = it->second, best_a = x, best_b = y;
      }
    if (!(best.overlap > 0.0)) break;
    Item& a = items[best_a];
    const Item& b = items[best_b];
    for (const auto& s : a.caps[best.p].sources) glued_caps.insert(s);
    for (const auto& s : b.caps[best.q].sources) glued_caps.insert(s);
    Item merged;
    merged.id = next_id++;
    merged.members = a.members;
    merged.placement = a.placement;
    merged.corners = a.corners;
    merged.size = std::max(a.size, b.size);
    for (size_t m = 0; m < b.members.size(); ++m) {
      merged.members.push_back(b.members[m]);
      merged.placement.push_back(b.placement[m].then(best.b_to_a));
    }
    for (const V3& v : b.corners) merged.corners.push_back(best.b_to_a.apply(v));
    // The caps still free (none of their pieces' caps glued), then those joined across pieces.
    auto free = [&](const Cap& c) {
      return std::none_of(c.sources.begin(), c.sources.end(), [&](const auto& src) { return glued_caps.count(src) > 0; });
    };
    for (const Cap& c : a.caps)
      if (free(c) && c.sources.size() == 1) merged.caps.push_back(c);
    for (const Cap& c : b.caps)
      if (free(c) && c.sources.size() == 1) merged.caps.push_back(moved(c, best.b_to_a));
    add_joined(merged.caps, kPlaneTolerance * merged.size);
    if (dbg) std::fprintf(stderr, "glued items %llu and %llu (overlap %.3f) into %llu\n", (unsigned long long)a.id,
                          (unsigned long long)b.id, best.overlap, (unsigned long long)merged.id);
    items.erase(items.begin() + std::ptrdiff_t(std::max(best_a, best_b)));
    items.erase(items.begin() + std::ptrdiff_t(std::min(best_a, best_b)));
    items.push_back(std::move(merged));
  }
  // Caps left face to face inside a whole (a ring of pieces is glued along a tree: the last
  // seam of the ring is closed without a gluing of its own) are inside it too.
  for (const Item& it : items) {
    if (it.members.size() < 2) continue;
    const double eps = kPlaneTolerance * it.size;
    for (size_t i = 0; i < it.caps.size(); ++i)
      for (size_t j = i + 1; j < it.caps.size(); ++j) {
        const Cap& x = it.caps[i];
        const Cap& y = it.caps[j];
        if (x.normal.dot(y.normal) > -0.9999 || std::fabs(x.normal.dot(y.centroid - x.centroid)) > eps) continue;
        auto flat = [&](const std::vector<V3>& pts) {
          std::vector<V2> out2;
          for (const V3& p : pts) out2.push_back(V2((p - x.centroid).dot(x.e1), (p - x.centroid).dot(x.e2)));
          return out2;
        };
        const double r = 2.0 * std::sqrt(std::max(x.area, y.area) / double(kCapSamples));
        const std::vector<V2> xs = flat(x.samples), ys = flat(y.samples);
        const Grid2 gx(xs, r), gy(ys, r);
        if (std::min(share_near(xs, gy, r), share_near(ys, gx, r)) < options.min_overlap) continue;
        bool unused = true;
        for (const auto& src : x.sources) unused = unused && !glued_caps.count(src);
        for (const auto& src : y.sources) unused = unused && !glued_caps.count(src);
        if (!unused) continue;
        for (const auto& src : x.sources) glued_caps.insert(src);
        for (const auto& src : y.sources) glued_caps.insert(src);
      }
  }
  std::vector<Reassembly> out;
  for (const Item& it : items) {
    if (it.members.size() < 2) continue;
    Reassembly a;
    for (size_t m = 0; m < it.members.size(); ++m) {
      const uint32_t k = it.members[m];
      const Rigid& to_base = it.placement[m];
      a.pieces.push_back(looked[k]);
      a.placements.push_back(Placement{to_base.R, to_base.t});
      const PieceInput& in = pieces[looked[k]];
      std::vector<uint8_t> glued_face(in.component.triangle_count, 0);  // triangles of its glued caps
      for (size_t c = 0; c < caps[k].caps.size(); ++c)
        if (glued_caps.count({k, uint32_t(c)}))
          for (uint32_t t : caps[k].cap_triangles[c]) glued_face[t - in.component.first_triangle] = 1;
      for (uint32_t t = 0; t < in.component.triangle_count; ++t) {
        if (glued_face[t]) continue;
        V3 v[3];
        for (int c = 0; c < 3; ++c) v[c] = vertex(*in.mesh, in.mesh->indices[3 * (size_t(in.component.first_triangle) + t) + c]);
        for (int c = 0; c < 3; ++c) {
          const V3 p = to_base.apply(v[c]);
          a.mesh.indices.push_back(uint32_t(a.mesh.positions.size() / 3));
          a.mesh.positions.push_back(float(p.x()));
          a.mesh.positions.push_back(float(p.y()));
          a.mesh.positions.push_back(float(p.z()));
        }
        a.area_mm2 += 0.5 * (v[1] - v[0]).cross(v[2] - v[0]).norm();
      }
    }
    out.push_back(std::move(a));
  }
  // Largest first (the order callers see does not depend on the merge order).
  std::stable_sort(out.begin(), out.end(), [](const Reassembly& x, const Reassembly& y) { return x.area_mm2 > y.area_mm2; });
  return out;
}

}  // namespace partscreen::detail

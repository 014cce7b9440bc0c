// SPDX-License-Identifier: GPL-3.0-or-later
// The transformation suite (see partscreen/variants.h). Kept dependency-light so it runs inside
// tests, the benchmark and `partscreen eval` alike.
#include "partscreen/variants.h"

#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <unordered_map>

#include "partscreen/error.h"
#include "partscreen/geometry.h"

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

// Vertex clustering (Rossignac & Borrel 1993) with the cell grown until about `keep` of the
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

// Splits a mesh by a plane into the triangles on either side (by centroid), each side with its
// own vertices, and closes each cut with a fan of triangles per boundary loop (a cap).
std::vector<Mesh> cut(const Mesh& m, const V3& point, const V3& normal) {
  std::vector<Mesh> sides(2);
  for (int s = 0; s < 2; ++s) {
    std::vector<uint32_t> remap(m.vertex_count(), UINT32_MAX);
    Mesh& out = sides[s];
    for (size_t f = 0; f + 2 < m.indices.size(); f += 3) {
      V3 c = (vert(m, m.indices[f]) + vert(m, m.indices[f + 1]) + vert(m, m.indices[f + 2])) / 3.0;
      if (((c - point).dot(normal) >= 0) != (s == 0)) continue;
      for (int k = 0; k < 3; ++k) {
        uint32_t v = m.indices[f + k];
        if (remap[v] == UINT32_MAX) {
          remap[v] = uint32_t(out.vertex_count());
          for (int d = 0; d < 3; ++d) out.positions.push_back(m.positions[3 * v + d]);
        }
        out.indices.push_back(remap[v]);
      }
    }
    // Boundary edges: directed edges without their reverse. Walk them into loops and fan-cap.
    std::map<std::pair<uint32_t, uint32_t>, int> directed;
    for (size_t f = 0; f + 2 < out.indices.size(); f += 3)
      for (int k = 0; k < 3; ++k) directed[{out.indices[f + k], out.indices[f + (k + 1) % 3]}]++;
    std::unordered_map<uint32_t, uint32_t> next;
    for (auto& [e, n] : directed)
      if (!directed.count({e.second, e.first})) next[e.second] = e.first;  // reversed: caps face outward
    while (!next.empty()) {
      std::vector<uint32_t> loop;
      uint32_t start = next.begin()->first, v = start;
      while (next.count(v) && loop.size() < 1000000) {
        loop.push_back(v);
        uint32_t w = next[v];
        next.erase(v);
        v = w;
      }
      if (loop.size() < 3) continue;
      V3 c = V3::Zero();
      for (uint32_t u : loop) c += vert(out, u);
      c /= double(loop.size());
      uint32_t ci = uint32_t(out.vertex_count());
      for (int d = 0; d < 3; ++d) out.positions.push_back(float(c[d]));
      for (size_t i = 0; i < loop.size(); ++i) out.indices.insert(out.indices.end(), {loop[i], loop[(i + 1) % loop.size()], ci});
    }
  }
  return sides;
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
  }
  return "?";
}

std::vector<VariantKind> all_variant_kinds() {
  return {VariantKind::identity, VariantKind::rigid,     VariantKind::scale,    VariantKind::unit_up,
          VariantKind::unit_down, VariantKind::mirror,   VariantKind::noise,    VariantKind::subdivide,
          VariantKind::decimate,  VariantKind::pieces,   VariantKind::plate,    VariantKind::fused,
          VariantKind::combined};
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
    case VariantKind::decimate: m = decimate(m, 0.25); rigid(m); break;
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
      // 1 or 2 cuts through the middle third of the part: 2 to 4 pieces.
      V3 lo, hi;
      bounds(m, lo, hi);
      std::vector<Mesh> pieces{m};
      int cuts = 1 + int(u(rng) * 2);
      for (int c = 0; c < cuts; ++c) {
        V3 p = lo + (hi - lo).cwiseProduct(V3(0.33 + 0.33 * u(rng), 0.33 + 0.33 * u(rng), 0.33 + 0.33 * u(rng)));
        V3 n = random_rotation(rng).col(0);
        std::vector<Mesh> next;
        for (const Mesh& piece : pieces)
          for (Mesh& side : cut(piece, p, n))
            if (side.triangle_count() > 0) next.push_back(std::move(side));
        pieces.swap(next);
      }
      // Pieces go to up to two files, each moved and turned on its own.
      v.files.resize(pieces.size() > 1 ? 2 : 1);
      for (size_t i = 0; i < pieces.size(); ++i) {
        transform(pieces[i], random_rotation(rng), V3(double(i) * diag * 1.5, 0, 0));
        append(v.files[i % v.files.size()], pieces[i]);
      }
      v.name += "(" + std::to_string(pieces.size()) + ")";
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
      // A block half the part's size straddling one face of its bounding box, joined to the part
      // by a shared vertex so the job holds one connected component; part triangles inside the
      // block are removed as a boolean union would.
      V3 lo, hi;
      bounds(m, lo, hi);
      V3 ext = hi - lo;
      int axis = int(u(rng) * 3) % 3;
      V3 size = ext * 0.6;
      V3 centre = (lo + hi) / 2;
      centre[axis] = (u(rng) < 0.5 ? lo[axis] : hi[axis]);
      V3 blo = centre - size / 2, bhi = centre + size / 2;
      Mesh kept;
      kept.positions = m.positions;
      for (size_t f = 0; f + 2 < m.indices.size(); f += 3) {
        V3 c = (vert(m, m.indices[f]) + vert(m, m.indices[f + 1]) + vert(m, m.indices[f + 2])) / 3.0;
        bool inside = (c.array() > blo.array()).all() && (c.array() < bhi.array()).all();
        if (!inside) kept.indices.insert(kept.indices.end(), {m.indices[f], m.indices[f + 1], m.indices[f + 2]});
      }
      if (kept.indices.empty()) throw Error(ErrorCode::invalid_argument, "", "block swallowed the part");
      Mesh b = box(blo, bhi);
      uint32_t base = uint32_t(kept.vertex_count());
      append(kept, b);
      // Join: one thin triangle from a kept part vertex to two block corners.
      uint32_t pv = kept.indices[0];
      kept.indices.insert(kept.indices.end(), {pv, base, base + 1});
      m = std::move(kept);
      rigid(m);
      break;
    }
  }
  v.files.push_back(std::move(m));
  return v;
}

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

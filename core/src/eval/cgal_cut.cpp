// SPDX-License-Identifier: GPL-3.0-or-later
// Plane cuts as a CAD user makes them (the `pieces` variant): an exact clip with planar caps.
// Solids go through CGAL::Polygon_mesh_processing::clip with clip_volume (CGAL 5.5 manual,
// "Polygon Mesh Processing: Clipping"). Real printed-part STLs are often open or
// self-intersecting, which clip refuses; for those the crossing triangles are split at the plane
// (one shared vertex per crossed edge) and each side's planar boundary is capped by the even-odd
// region of its loops, triangulated with a constrained Delaunay triangulation and marked in or
// out by nesting level as in CGAL's Triangulation_2 example polygon_triangulation.cpp.
#include <CGAL/Constrained_Delaunay_triangulation_2.h>
#include <CGAL/Polygon_mesh_processing/clip.h>
#include <CGAL/Polygon_mesh_processing/orient_polygon_soup.h>
#include <CGAL/Polygon_mesh_processing/orientation.h>
#include <CGAL/Polygon_mesh_processing/polygon_soup_to_polygon_mesh.h>
#include <CGAL/Polygon_mesh_processing/repair_polygon_soup.h>
#include <CGAL/Polygon_mesh_processing/self_intersections.h>
#include <CGAL/Triangulation_face_base_with_info_2.h>
#include <CGAL/Triangulation_vertex_base_with_info_2.h>
#include <CGAL/boost/graph/helpers.h>

#include <Eigen/Geometry>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <deque>
#include <map>
#include <numeric>
#include <unordered_map>

#include "eval/cgal_mesh.h"
#include "eval/mesh_ops.h"

namespace partscreen::eval {

namespace PMP = CGAL::Polygon_mesh_processing;
using V3 = Eigen::Vector3d;

bool to_surface_mesh(const Mesh& mesh, SurfaceMesh& sm, bool require_manifold) {
  try {
    const size_t nv = mesh.vertex_count();
    std::vector<Kernel::Point_3> points;
    points.reserve(nv);
    for (size_t i = 0; i < nv; ++i)
      points.emplace_back(mesh.positions[3 * i], mesh.positions[3 * i + 1], mesh.positions[3 * i + 2]);
    std::vector<std::vector<std::size_t>> polygons;
    polygons.reserve(mesh.triangle_count());
    for (size_t f = 0; f + 2 < mesh.indices.size(); f += 3) {
      uint32_t a = mesh.indices[f], b = mesh.indices[f + 1], c = mesh.indices[f + 2];
      if (a >= nv || b >= nv || c >= nv) continue;
      polygons.push_back({a, b, c});
    }
    PMP::repair_polygon_soup(points, polygons);
    if (polygons.empty()) return false;
    bool manifold = PMP::orient_polygon_soup(points, polygons);
    if (!manifold && require_manifold) return false;
    if (!PMP::is_polygon_soup_a_polygon_mesh(polygons)) return false;
    sm.clear();
    PMP::polygon_soup_to_polygon_mesh(points, polygons, sm);
    return CGAL::is_triangle_mesh(sm) && sm.number_of_faces() > 0;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (...) {
    return false;
  }
}

Mesh from_surface_mesh(const SurfaceMesh& sm) {
  // CGAL's corefinement numbers new vertices and faces in an order that can change from run to
  // run (it walks containers keyed by addresses), so the output is put in a canonical order:
  // vertices sorted by position, each triangle rotated to start at its lowest vertex, triangles
  // sorted. Same geometry in, same bytes out.
  std::vector<std::array<float, 3>> points;
  std::vector<uint32_t> id(sm.number_of_vertices() + sm.number_of_removed_vertices(), UINT32_MAX);
  points.reserve(sm.number_of_vertices());
  for (auto v : sm.vertices()) {
    id[v.idx()] = uint32_t(points.size());
    const auto& p = sm.point(v);
    points.push_back({float(p.x()), float(p.y()), float(p.z())});
  }
  std::vector<uint32_t> order(points.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return points[a] < points[b]; });
  std::vector<uint32_t> rank(points.size());
  Mesh out;
  out.positions.reserve(3 * points.size());
  for (uint32_t r = 0; r < order.size(); ++r) {
    rank[order[r]] = r;
    out.positions.insert(out.positions.end(), points[order[r]].begin(), points[order[r]].end());
  }
  std::vector<std::array<uint32_t, 3>> tris;
  tris.reserve(sm.number_of_faces());
  for (auto f : sm.faces()) {
    std::array<uint32_t, 3> t{};
    int k = 0;
    for (auto v : CGAL::vertices_around_face(sm.halfedge(f), sm)) {
      if (k < 3) t[k] = rank[id[v.idx()]];
      ++k;
    }
    if (k != 3) continue;
    std::rotate(t.begin(), std::min_element(t.begin(), t.end()), t.end());
    tris.push_back(t);
  }
  std::sort(tris.begin(), tris.end());
  out.indices.reserve(3 * tris.size());
  for (auto& t : tris) out.indices.insert(out.indices.end(), t.begin(), t.end());
  return out;
}

bool make_solid(SurfaceMesh& sm) {
  try {
    if (!CGAL::is_closed(sm) || PMP::does_self_intersect(sm)) return false;
    PMP::orient_to_bound_a_volume(sm);
    return PMP::does_bound_a_volume(sm);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (...) {
    return false;
  }
}

bool is_solid(const Mesh& mesh) {
  SurfaceMesh sm;
  return to_surface_mesh(mesh, sm, true) && make_solid(sm);
}

std::vector<Mesh> connected_pieces(const Mesh& mesh) {
  const size_t nv = mesh.vertex_count();
  std::vector<uint32_t> parent(nv);
  std::iota(parent.begin(), parent.end(), 0u);
  auto find = [&](uint32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  for (size_t f = 0; f + 2 < mesh.indices.size(); f += 3) {
    uint32_t a = find(mesh.indices[f]);
    for (int k = 1; k < 3; ++k) {
      uint32_t b = find(mesh.indices[f + k]);
      if (a != b) parent[std::max(a, b)] = std::min(a, b);
      a = find(a);
    }
  }
  std::unordered_map<uint32_t, size_t> piece_of_root;
  std::vector<Mesh> pieces;
  std::vector<std::vector<uint32_t>> remap;
  for (size_t f = 0; f + 2 < mesh.indices.size(); f += 3) {
    uint32_t root = find(mesh.indices[f]);
    auto [it, inserted] = piece_of_root.emplace(root, pieces.size());
    if (inserted) {
      pieces.emplace_back();
      remap.emplace_back();
    }
    Mesh& p = pieces[it->second];
    std::vector<uint32_t>& r = remap[it->second];
    if (r.empty()) r.assign(nv, UINT32_MAX);
    for (int k = 0; k < 3; ++k) {
      uint32_t v = mesh.indices[f + k];
      if (r[v] == UINT32_MAX) {
        r[v] = uint32_t(p.vertex_count());
        p.positions.insert(p.positions.end(), mesh.positions.begin() + 3 * v, mesh.positions.begin() + 3 * v + 3);
      }
      p.indices.push_back(r[v]);
    }
  }
  return pieces;
}

namespace {

// CDT for the caps. Vertex info: the cut vertex a CDT vertex came from (UINT32_MAX for points
// CGAL made where two constraints cross); face info: nesting level, odd = inside.
struct VertexInfo {
  uint32_t id = UINT32_MAX;
};
struct FaceInfo {
  int nesting_level = -1;
};
using Vb = CGAL::Triangulation_vertex_base_with_info_2<VertexInfo, Kernel>;
using Fbb = CGAL::Triangulation_face_base_with_info_2<FaceInfo, Kernel>;
using Fb = CGAL::Constrained_triangulation_face_base_2<Kernel, Fbb>;
using Tds = CGAL::Triangulation_data_structure_2<Vb, Fb>;
using Cdt = CGAL::Constrained_Delaunay_triangulation_2<Kernel, Tds, CGAL::Exact_predicates_tag>;

// Flood fill by nesting level (CGAL example polygon_triangulation.cpp, mark_domains).
void mark_domains(Cdt& cdt) {
  for (auto f : cdt.all_face_handles()) f->info().nesting_level = -1;
  std::deque<std::pair<Cdt::Face_handle, int>> starts{{cdt.infinite_face(), 0}};
  while (!starts.empty()) {
    auto [start, level] = starts.front();
    starts.pop_front();
    if (start->info().nesting_level != -1) continue;
    std::deque<Cdt::Face_handle> queue{start};
    while (!queue.empty()) {
      Cdt::Face_handle fh = queue.front();
      queue.pop_front();
      if (fh->info().nesting_level != -1) continue;
      fh->info().nesting_level = level;
      for (int i = 0; i < 3; ++i) {
        Cdt::Face_handle n = fh->neighbor(i);
        if (n->info().nesting_level != -1) continue;
        if (cdt.is_constrained(Cdt::Edge(fh, i))) starts.push_back({n, level + 1});
        else queue.push_back(n);
      }
    }
  }
}

double tri_area(const V3& a, const V3& b, const V3& c) { return 0.5 * (b - a).cross(c - a).norm(); }

// Fallback cut: exact split of crossing triangles, even-odd caps per side.
std::vector<Mesh> split_and_cap(const Mesh& m, const V3& point, const V3& normal, CutInfo& info) {
  const V3 n = normal.normalized();
  const size_t nv0 = m.vertex_count();
  std::vector<V3> pos(nv0);
  std::vector<double> d(nv0);
  V3 lo = V3::Constant(1e300), hi = V3::Constant(-1e300);
  for (size_t i = 0; i < nv0; ++i) {
    pos[i] = V3(m.positions[3 * i], m.positions[3 * i + 1], m.positions[3 * i + 2]);
    lo = lo.cwiseMin(pos[i]);
    hi = hi.cwiseMax(pos[i]);
  }
  // Vertices within a hair of the plane count as on it, so no sliver triangles appear there.
  const double eps = 1e-9 * std::max(1.0, (hi - lo).norm());
  for (size_t i = 0; i < nv0; ++i) {
    d[i] = (pos[i] - point).dot(n);
    if (std::abs(d[i]) < eps) d[i] = 0.0;
  }
  std::unordered_map<uint64_t, uint32_t> crossing;
  auto cut_vertex = [&](uint32_t a, uint32_t b) {
    uint64_t key = (uint64_t(std::min(a, b)) << 32) | std::max(a, b);
    auto it = crossing.find(key);
    if (it != crossing.end()) return it->second;
    // Interpolate from the lower index so both triangles sharing the edge get the same point.
    uint32_t p = std::min(a, b), q = std::max(a, b);
    double t = d[p] / (d[p] - d[q]);
    uint32_t id = uint32_t(pos.size());
    pos.push_back(pos[p] + t * (pos[q] - pos[p]));
    d.push_back(0.0);
    crossing.emplace(key, id);
    return id;
  };
  // Side 0 keeps d >= 0, side 1 keeps d <= 0.
  std::vector<uint32_t> tris[2];
  for (size_t f = 0; f + 2 < m.indices.size(); f += 3) {
    uint32_t t[3] = {m.indices[f], m.indices[f + 1], m.indices[f + 2]};
    if (t[0] >= nv0 || t[1] >= nv0 || t[2] >= nv0) continue;
    if (d[t[0]] == 0 && d[t[1]] == 0 && d[t[2]] == 0) {
      // A face lying in the plane belongs to the side its material is on (behind its normal).
      V3 fn = (pos[t[1]] - pos[t[0]]).cross(pos[t[2]] - pos[t[0]]);
      tris[fn.dot(n) > 0 ? 1 : 0].insert(tris[fn.dot(n) > 0 ? 1 : 0].end(), t, t + 3);
      continue;
    }
    for (int s = 0; s < 2; ++s) {
      const double sigma = s == 0 ? 1.0 : -1.0;
      uint32_t poly[4];
      int np = 0;
      for (int k = 0; k < 3; ++k) {
        uint32_t a = t[k], b = t[(k + 1) % 3];
        if (sigma * d[a] >= 0) poly[np++] = a;
        if (d[a] * d[b] < 0) poly[np++] = cut_vertex(a, b);
      }
      if (np < 3) continue;
      // Only sides with material beyond the plane count: a triangle touching it from one side
      // contributes nothing to the other.
      bool all_on_plane = true;
      for (int k = 0; k < np; ++k) all_on_plane = all_on_plane && d[poly[k]] == 0;
      if (all_on_plane) continue;
      for (int k = 1; k + 1 < np; ++k) tris[s].insert(tris[s].end(), {poly[0], poly[k], poly[k + 1]});
    }
  }
  // Caps.
  V3 u = n.unitOrthogonal(), v = n.cross(u);
  const double offset = point.dot(n);
  for (int s = 0; s < 2; ++s) {
    std::map<std::pair<uint32_t, uint32_t>, int> edge_count;
    for (size_t f = 0; f < tris[s].size(); f += 3)
      for (int k = 0; k < 3; ++k) {
        uint32_t a = tris[s][f + k], b = tris[s][f + (k + 1) % 3];
        edge_count[{std::min(a, b), std::max(a, b)}]++;
      }
    std::vector<std::pair<uint32_t, uint32_t>> edges;
    for (auto& [e, c] : edge_count)
      if (c == 1 && d[e.first] == 0 && d[e.second] == 0) edges.push_back(e);
    // Drop chains that do not close (an open mesh crossing the plane): prune degree-1 vertices.
    std::unordered_map<uint32_t, int> degree;
    for (auto& e : edges) { degree[e.first]++; degree[e.second]++; }
    for (bool pruned = true; pruned;) {
      pruned = false;
      std::vector<std::pair<uint32_t, uint32_t>> kept;
      for (auto& e : edges) {
        if (degree[e.first] < 2 || degree[e.second] < 2) {
          degree[e.first]--;
          degree[e.second]--;
          info.dangling_edges++;
          pruned = true;
        } else {
          kept.push_back(e);
        }
      }
      edges.swap(kept);
    }
    if (edges.empty()) continue;
    try {
      Cdt cdt;
      std::unordered_map<uint32_t, Cdt::Vertex_handle> handle;
      for (auto& e : edges)
        for (uint32_t id : {e.first, e.second}) {
          if (handle.count(id)) continue;
          Cdt::Vertex_handle vh = cdt.insert(Kernel::Point_2(pos[id].dot(u), pos[id].dot(v)));
          if (vh->info().id == UINT32_MAX) vh->info().id = id;
          handle.emplace(id, vh);
        }
      for (auto& e : edges)
        if (handle[e.first] != handle[e.second]) cdt.insert_constraint(handle[e.first], handle[e.second]);
      mark_domains(cdt);
      for (auto f : cdt.finite_face_handles()) {
        if (f->info().nesting_level % 2 != 1) continue;
        uint32_t ids[3];
        for (int k = 0; k < 3; ++k) {
          Cdt::Vertex_handle vh = f->vertex(k);
          if (vh->info().id == UINT32_MAX) {  // where two loops cross (self-intersecting input)
            vh->info().id = uint32_t(pos.size());
            pos.push_back(vh->point().x() * u + vh->point().y() * v + offset * n);
            d.push_back(0.0);
          }
          ids[k] = vh->info().id;
        }
        // CCW in (u, v) faces +n; side 0's cap must face -n (towards the removed half).
        if (s == 0) std::swap(ids[1], ids[2]);
        tris[s].insert(tris[s].end(), {ids[0], ids[1], ids[2]});
        info.cap_area += tri_area(pos[ids[0]], pos[ids[1]], pos[ids[2]]);
      }
    } catch (const std::bad_alloc&) {
      throw;
    } catch (...) {
      info.cap_failed = true;  // left uncapped
    }
  }
  std::vector<Mesh> out;
  for (int s = 0; s < 2; ++s) {
    if (tris[s].empty()) continue;
    Mesh side;
    std::vector<uint32_t> remap(pos.size(), UINT32_MAX);
    for (uint32_t id : tris[s]) {
      if (remap[id] == UINT32_MAX) {
        remap[id] = uint32_t(side.vertex_count());
        for (int k = 0; k < 3; ++k) side.positions.push_back(float(pos[id][k]));
      }
      side.indices.push_back(remap[id]);
    }
    for (Mesh& p : connected_pieces(side)) out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

std::vector<Mesh> cut_by_plane(const Mesh& mesh, const V3& point, const V3& normal, CutMethod method, CutInfo* info) {
  CutInfo local;
  CutInfo& ci = info ? *info : local;
  ci = CutInfo{};
  if (method == CutMethod::automatic) {
    SurfaceMesh sm;
    if (to_surface_mesh(mesh, sm, true) && make_solid(sm)) {
      try {
        std::vector<Mesh> out;
        bool ok = true;
        for (int s = 0; s < 2 && ok; ++s) {
          SurfaceMesh side = sm;
          V3 nn = s == 0 ? normal : V3(-normal);
          // clip keeps the negative side of the plane.
          Kernel::Plane_3 plane(Kernel::Point_3(point.x(), point.y(), point.z()), Kernel::Vector_3(nn.x(), nn.y(), nn.z()));
          ok = PMP::clip(side, plane, CGAL::parameters::clip_volume(true)) && CGAL::is_closed(side);
          if (!ok) break;
          if (side.number_of_faces() == 0) continue;
          for (Mesh& p : connected_pieces(from_surface_mesh(side))) out.push_back(std::move(p));
        }
        if (ok) {
          ci.exact_clip = true;
          return out;
        }
      } catch (const std::bad_alloc&) {
        throw;
      } catch (...) {
      }
    }
  }
  return split_and_cap(mesh, point, normal, ci);
}

}  // namespace partscreen::eval

// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal: surface sampling and local shape descriptors.
//
// Every shape (an enrolled reference or an upload component) is first sampled into a dense
// cloud of oriented points, independent of its triangulation, so remeshing, decimation and
// subdivision change the samples only statistically. Keypoints and descriptor neighbourhoods are
// then taken from voxel averages of that cloud at spacings proportional to the descriptor radius,
// which makes every descriptor independent of the absolute size of the shape: the scale of an
// upload is found by comparing descriptors computed over a ladder of radii ("rungs") with the
// references' descriptors computed at one radius proportional to their own size.
//
// Descriptor: for a keypoint p with normal n and neighbours q (normal m) within radius r,
// with d = |q-p|/r, h = (q-p).n/r, a = sqrt(d^2-h^2), c = m.n, e = m.(q-p)/|q-p|:
//   block 1: spin image over (a, h)          (Johnson & Hebert, PAMI 1999)
//   block 2: normal deviation over (d, c)
//   block 3: convexity over (d, e)
// Every quantity is a dot product or a norm, so the descriptor is invariant to rotations AND
// reflections: mirrored uploads match without a second pass. Blocks are area-weighted, soft
// binned, normalised to unit mass and square-rooted (Hellinger), then quantised to bytes.
#include <Eigen/Core>
#include <Eigen/Geometry>
#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "partscreen/mesh.h"
#include "partscreen/surface.h"
#include "features/params.h"

namespace partscreen::detail {

using Vec3 = Eigen::Vector3f;

struct Cloud {
  std::vector<Vec3> points;
  std::vector<Vec3> normals;  // unit, outward
  std::vector<float> weights; // area each point stands for, mm^2
  // Optional: for each point, a real surface sample near it and that sample's face normal.
  // Averaged points sit off the surface at edges and their normals are bent; coverage is
  // measured with anchors so an exact copy of a part with sharp edges is explained exactly.
  std::vector<Vec3> anchor_points;
  std::vector<Vec3> anchor_normals;
  size_t size() const { return points.size(); }
  const Vec3& anchor_point(size_t i) const { return anchor_points.empty() ? points[i] : anchor_points[i]; }
  const Vec3& anchor_normal(size_t i) const { return anchor_normals.empty() ? normals[i] : anchor_normals[i]; }
};

constexpr int kDescriptorBytes = 64;  // 60 used, padded for aligned loads

struct Features {
  Cloud keypoints;                   // anchors as points; normals smoothed (descriptor frame);
                                     // anchor_normals: the surface's own normal there
  std::vector<uint8_t> descriptors;  // kDescriptorBytes per keypoint
  std::vector<float> salience;       // per keypoint, 0 (flat) .. 1 (edges, corners, holes)
  float radius = 0.f;                // descriptor radius, mm
  size_t size() const { return keypoints.size(); }
  const uint8_t* descriptor(size_t i) const { return descriptors.data() + i * kDescriptorBytes; }
};

// Area-uniform random samples of triangles [first, first+count) at about one point per
// spacing^2 of area (stratified per triangle, deterministic for a seed). Normals are face
// normals, flipped when the component is closed and inside-out (negative signed volume), so a
// mirrored file whose winding was not fixed still has outward normals. `orientation` (+1 or -1)
// overrides that choice: for a range that is only part of a closed surface (an enclosed run) its
// own signed volume says nothing, and the whole component's (outward_sign) is what counts.
Cloud sample_mesh(const Mesh& mesh, uint32_t first_triangle, uint32_t triangle_count, float spacing_mm,
                  uint64_t seed, float orientation = 0.f);

// +1 when triangles [first, first+count) enclose positive signed volume (taken about their vertex
// centroid, so a shell that is not quite closed gives the same answer wherever it sits), else -1:
// the orientation sample_mesh picks for them.
float outward_sign(const Mesh& mesh, uint32_t first_triangle, uint32_t triangle_count);

// A point cloud from an OrientedSurface (G-code walls): copies, unit weights scaled to area.
Cloud cloud_from_surface(const OrientedSurface& surface);

// Averages points (area-weighted position, summed then normalised normal, summed weight) in
// cubic voxels of edge `cell`. Points whose normals cancel out keep the heaviest contributor's.
// Anchors: the input point (or its anchor) nearest each voxel's centroid.
Cloud voxel_average(const Cloud& cloud, float cell);

// Descriptors at keypoints spaced radius/2, over neighbours within `radius` taken from the cloud
// averaged at radius/5, for each radius (ascending). Coarser neighbour clouds are averaged from
// finer ones, so a ladder costs little more than its finest rung. Keypoints with too few
// neighbours to be meaningful are dropped. Rungs with more than max_keypoints keypoints describe an
// evenly strided subset (uploads: the fine rungs of a large part need only a sample to vote).
std::vector<Features> compute_features(const Cloud& dense, const std::vector<float>& radii,
                                       size_t max_keypoints = SIZE_MAX);

// Squared Euclidean distance of two quantised descriptors.
uint32_t descriptor_distance2(const uint8_t* a, const uint8_t* b);

// Surface size measure used for every relative length: sqrt(area).
inline float size_of_area(double area_mm2) { return float(std::sqrt(area_mm2 > 0 ? area_mm2 : 0.0)); }

// Uniform hash grid for fixed-radius neighbour queries over a point set.
class PointGrid {
public:
  PointGrid() = default;
  PointGrid(const std::vector<Vec3>& points, float cell);
  // Calls f(index) for every point within `radius` of q (radius <= cell * 2 is efficient).
  template <class F>
  void for_each_within(const Vec3& q, float radius, F&& f) const;
  // Whether pred(index) holds for some point within `radius` of q; stops at the first that does.
  template <class F>
  bool any_within(const Vec3& q, float radius, F&& pred) const;
  // Points in the grid's own order (by cell): slot s holds point index_at(s). A caller that keeps
  // per-point data in slot order (in_slot_order) reads it in sequence, as the grid reads positions,
  // instead of jumping through the index.
  template <class F>
  void for_each_slot_within(const Vec3& q, float radius, F&& f) const;
  template <class F>
  bool any_slot_within(const Vec3& q, float radius, F&& pred) const;
  int32_t index_at(uint32_t slot) const { return sorted_[slot]; }
  template <class T>
  std::vector<T> in_slot_order(const std::vector<T>& per_point) const {
    std::vector<T> out(sorted_.size());
    for (size_t s = 0; s < sorted_.size(); ++s) out[s] = per_point[size_t(sorted_[s])];
    return out;
  }
  // Index of the nearest point within max_radius, or -1.
  int nearest(const Vec3& q, float max_radius) const;
  bool empty() const { return points_ == nullptr || points_->empty(); }

private:
  int64_t cell_key(int x, int y, int z) const {
    return (int64_t(x) * 73856093) ^ (int64_t(y) * 19349663) ^ (int64_t(z) * 83492791);
  }
  size_t slot_of(int x, int y, int z) const;
  // Cell coordinates of a point, relative to the grid's origin and clamped so that no query, however
  // far or large, can overflow an int.
  int cell_coord(float v, int axis) const {
    double c = std::floor((double(v) - origin_[axis]) * inv_cell_);
    return int(std::clamp(c, -double(kCellLimit), double(kCellLimit)));
  }
  // Calls visit(slot) for the points within radius of q until it returns true; whether it did.
  template <class F>
  bool visit_slots(const Vec3& q, float radius, F& visit) const;
  template <class F>
  bool visit_range(uint32_t begin, uint32_t end, const Vec3& q, float r2, F& visit) const {
    for (uint32_t i = begin; i < end; ++i)
      if ((sorted_points_[i] - q).squaredNorm() <= r2 && visit(i)) return true;
    return false;
  }
  static constexpr int kCellLimit = 1 << 22;
  const std::vector<Vec3>* points_ = nullptr;
  float cell_ = 1.f;
  double inv_cell_ = 1.0;
  double origin_[3] = {0.0, 0.0, 0.0};
  std::vector<int32_t> sorted_;          // point indices grouped by cell
  std::vector<Vec3> sorted_points_;      // the points in that order: distance tests read memory
                                         // in sequence instead of jumping through the index
  // Dense layout (the usual case: the box holds at most a few cells per point): cells are numbered
  // (x * dims_[1] + y) * dims_[2] + z, so a query's cells along z are one run of sorted points,
  // found with two reads of first_ instead of one hash probe per cell.
  int dims_[3] = {0, 0, 0};
  std::vector<uint32_t> first_;          // first sorted point of each cell; one past the last cell too
  // Sparse layout (points spread thinly over a large box): open addressing; end == 0 marks empty.
  struct Slot { int32_t x, y, z; uint32_t begin, end; };
  std::vector<Slot> table_;
  size_t mask_ = 0;
};

template <class F>
bool PointGrid::visit_slots(const Vec3& q, float radius, F& visit) const {
  if (empty()) return false;
  const float r2 = radius * radius;
  const int x0 = cell_coord(q.x() - radius, 0), x1 = cell_coord(q.x() + radius, 0);
  const int y0 = cell_coord(q.y() - radius, 1), y1 = cell_coord(q.y() + radius, 1);
  const int z0 = cell_coord(q.z() - radius, 2), z1 = cell_coord(q.z() + radius, 2);
  // A radius much larger than the cell would visit (radius/cell)^3 mostly empty cells: past the
  // number of points, testing every point is cheaper and keeps each query O(n) at worst.
  const double cells = (double(x1) - x0 + 1) * (double(y1) - y0 + 1) * (double(z1) - z0 + 1);
  if (cells > double(sorted_.size())) return visit_range(0, uint32_t(sorted_.size()), q, r2, visit);
  if (!first_.empty()) {
    const int cx0 = std::max(x0, 0), cx1 = std::min(x1, dims_[0] - 1);
    const int cy0 = std::max(y0, 0), cy1 = std::min(y1, dims_[1] - 1);
    const int cz0 = std::max(z0, 0), cz1 = std::min(z1, dims_[2] - 1);
    if (cz0 > cz1) return false;
    for (int x = cx0; x <= cx1; ++x)
      for (int y = cy0; y <= cy1; ++y) {
        const size_t column = (size_t(x) * size_t(dims_[1]) + size_t(y)) * size_t(dims_[2]);
        if (visit_range(first_[column + size_t(cz0)], first_[column + size_t(cz1) + 1], q, r2, visit)) return true;
      }
    return false;
  }
  for (int x = x0; x <= x1; ++x)
    for (int y = y0; y <= y1; ++y)
      for (int z = z0; z <= z1; ++z) {
        size_t s = slot_of(x, y, z);
        if (s == SIZE_MAX) continue;
        const Slot& slot = table_[s];
        if (visit_range(slot.begin, slot.end, q, r2, visit)) return true;
      }
  return false;
}

template <class F>
void PointGrid::for_each_within(const Vec3& q, float radius, F&& f) const {
  auto visit = [&](uint32_t slot) {
    f(sorted_[slot]);
    return false;
  };
  visit_slots(q, radius, visit);
}

template <class F>
bool PointGrid::any_within(const Vec3& q, float radius, F&& pred) const {
  auto visit = [&](uint32_t slot) { return bool(pred(sorted_[slot])); };
  return visit_slots(q, radius, visit);
}

template <class F>
bool PointGrid::any_slot_within(const Vec3& q, float radius, F&& pred) const {
  auto visit = [&](uint32_t slot) { return bool(pred(slot)); };
  return visit_slots(q, radius, visit);
}

template <class F>
void PointGrid::for_each_slot_within(const Vec3& q, float radius, F&& f) const {
  auto visit = [&](uint32_t slot) {
    f(slot);
    return false;
  };
  visit_slots(q, radius, visit);
}

}  // namespace partscreen::detail

namespace partscreen::detail {

// What smoothing the normals found: the cloud's area projected onto the smoothed normals, and the
// median cosine between a sample's facet normal and its smoothed one.
struct FacetTilt {
  double projected_area = 0.0;
  float median_cosine = 1.f;
};

// Dense cloud of the given components of a mesh, at kDenseFraction of the size L of their
// combined area (coarser when that would exceed kMaxDensePoints). Deterministic.
// `orientation`: as sample_mesh's, for every component (0: each its own).
Cloud dense_cloud(const Mesh& mesh, const std::vector<ComponentInfo>& components, double area_mm2,
                  size_t max_points = kMaxDensePoints, float orientation = 0.f, FacetTilt* tilt = nullptr);

// The dense cloud a part or reference is described with, and the area it is described at:
// `area_mm2` (the mesh's) is lowered to the area projected onto the smoothed normals when vertex
// noise tilts most facets (see features.cpp), and the cloud is sampled at that area.
Cloud surface_cloud(const Mesh& mesh, const std::vector<ComponentInfo>& components, double& area_mm2,
                    size_t max_points = kMaxDensePoints, float orientation = 0.f);

// Area-weighted normal smoothing over `radius` (see features.cpp); dense_cloud applies it.
FacetTilt smooth_normals(Cloud& cloud, float radius);

// Dense cloud spacing used for a shape of this area (coarser when max_points would be exceeded).
float dense_spacing(double area_mm2, size_t max_points = kMaxDensePoints);

}  // namespace partscreen::detail

// SPDX-License-Identifier: GPL-3.0-or-later
// Wavefront OBJ, read here rather than through Assimp. Assimp holds about 13x an OBJ's size while
// it reads (614 MB for a 48 MB file), up to 6.5 GB for a file within the byte limit; this reader
// holds the bytes once plus the mesh (12 bytes a vertex, 12 a triangle), and runs in one pass.
// Only geometry is read: "v" positions and "f" faces. Everything else (normals, texture
// coordinates, groups, materials, lines, points, free-form curves) says nothing about the
// printed shape and is skipped. Where OBJ writers and readers disagree, this reader takes what a
// slicer would print: indented lines are read (Assimp skipped an indented "f" line, which
// PrusaSlicer prints: geometry hidden from the screen), and faces may use vertices defined after
// them.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <Eigen/Geometry>

#include "io/readers.h"
#include "partscreen/error.h"

namespace partscreen::detail {
namespace {

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Ear clipping costs up to n^3 point tests for a polygon of n corners (n^2 for most): the whole
// file gets this many, and what is left of a concave polygon when they run out is fanned. A file
// of nothing but huge concave faces must still load in a second, not hours; no CAD or mesh tool
// writes one.
constexpr uint64_t kEarClipBudget = 50'000'000;

class Reader {
public:
  Reader(const std::string& name, const LoadOptions& options)
      : name_(name), options_(options),
        deadline_(std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                          std::chrono::duration<double>(options.max_seconds))) {}

  Mesh read(const unsigned char* data, size_t size) {
    const char* p = reinterpret_cast<const char*>(data);
    const char* const end = p + size;
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', size_t(end - p)));
      const char* line_end = nl ? nl : end;
      ++line_;
      read_line(p, line_end);
      p = nl ? nl + 1 : end;
      if ((line_ & 0xffff) == 0 && std::chrono::steady_clock::now() > deadline_)
        fail(ErrorCode::limit_exceeded, "reading took longer than " + std::to_string(int(options_.max_seconds)) + " s");
    }
    // Faces may name vertices defined after them: checked once all are known, by the highest.
    const uint64_t nv = mesh_.vertex_count();
    if (has_faces_ && highest_ >= nv)
      fail_at(highest_line_, "face uses vertex " + std::to_string(highest_ + 1) + ", but the file has " + std::to_string(nv) + " vertices");
    // Only vertices a face uses are part of the shape: a stray point far away (a construction
    // point, a pivot) is no reason to refuse the file, and slicers print such files.
    // (Numbered in file order, so each vertex moves only down and the compaction is in place.)
    std::vector<uint32_t> remap(nv, 0);
    for (uint32_t v : mesh_.indices) remap[v] = 1;
    uint32_t used = 0;
    for (size_t v = 0; v < nv; ++v) {
      if (!remap[v]) continue;
      for (int k = 0; k < 3; ++k) mesh_.positions[3 * size_t(used) + k] = mesh_.positions[3 * v + k];
      remap[v] = used++;
    }
    for (uint32_t& v : mesh_.indices) v = remap[v];
    mesh_.positions.resize(3 * size_t(used));
    mesh_.positions.shrink_to_fit();
    return std::move(mesh_);
  }

private:
  [[noreturn]] void fail(ErrorCode code, const std::string& reason) const { throw Error(code, name_, "obj: " + reason); }
  [[noreturn]] void fail_at(uint64_t line, const std::string& reason) const {
    fail(ErrorCode::malformed, "line " + std::to_string(line) + ": " + reason);
  }

  void read_line(const char* p, const char* end) {
    while (p < end && is_space((unsigned char)*p)) ++p;
    if (end - p < 2 || !is_space((unsigned char)p[1])) return;  // blank, comment, or a keyword other than "v"/"f"
    if (p[0] == 'v') read_vertex(p + 2, end);
    else if (p[0] == 'f') read_face(p + 2, end);
  }

  // "v x y z [w]" or "v x y z r g b" (vertex colours): the first three numbers. The w of rational
  // curves does not apply to polygon faces.
  void read_vertex(const char* p, const char* end) {
    float xyz[3];
    for (float& c : xyz) {
      while (p < end && is_space((unsigned char)*p)) ++p;
      if (p < end && *p == '+') ++p;  // from_chars takes no '+'
      auto r = std::from_chars(p, end, c);
      if (r.ec == std::errc::result_out_of_range) fail(ErrorCode::invalid_coordinates, "line " + std::to_string(line_) + ": coordinate out of range");
      if (r.ec != std::errc()) fail_at(line_, "a vertex needs three numbers");
      p = r.ptr;
      while (p < end && !is_space((unsigned char)*p)) ++p;  // "3.1+e2": the number is what parses
    }
    if (mesh_.vertex_count() >= max_vertices_)
      fail(ErrorCode::limit_exceeded, "more than " + std::to_string(max_vertices_) + " vertices for a limit of " +
                                          std::to_string(options_.max_triangles) + " triangles");
    mesh_.positions.insert(mesh_.positions.end(), xyz, xyz + 3);
  }

  // "f a b c ...", each corner "v", "v/vt", "v//vn" or "v/vt/vn"; negative v counts back from the
  // last vertex defined so far.
  void read_face(const char* p, const char* end) {
    corners_.clear();
    while (true) {
      while (p < end && is_space((unsigned char)*p)) ++p;
      if (p >= end) break;
      if (*p == '#') break;
      const bool negative = *p == '-';
      if (negative || *p == '+') ++p;
      uint64_t v = 0;
      auto r = std::from_chars(p, end, v);
      if (r.ec != std::errc() || v == 0) fail_at(line_, "face corner is not a vertex number (1 is the first vertex)");
      p = r.ptr;
      while (p < end && !is_space((unsigned char)*p)) ++p;  // "/vt/vn"
      const uint64_t defined = mesh_.vertex_count();
      if (negative) {
        if (v > defined) fail_at(line_, "face corner -" + std::to_string(v) + " reaches before the first vertex");
        v = defined - v;
      } else {
        if (v > max_vertices_) fail_at(line_, "face uses vertex " + std::to_string(v) + ", beyond any this file may have");
        v -= 1;
      }
      corners_.push_back(uint32_t(v));
      // n corners make n - 2 triangles: a face longer than the limit allows stops here, before
      // its corners take more memory.
      if (corners_.size() > options_.max_triangles - mesh_.triangle_count() + 2) too_many_triangles();
    }
    if (corners_.size() < 3) return;  // a face of fewer than three corners encloses nothing
    for (uint32_t v : corners_)
      if (!has_faces_ || v > highest_) highest_ = v, highest_line_ = line_, has_faces_ = true;
    if (corners_.size() == 3) emit(corners_[0], corners_[1], corners_[2]);
    else triangulate();
    if (mesh_.triangle_count() > options_.max_triangles) too_many_triangles();
  }

  [[noreturn]] void too_many_triangles() const {
    fail(ErrorCode::limit_exceeded, "more than " + std::to_string(options_.max_triangles) + " triangles (line " + std::to_string(line_) + ")");
  }

  void emit(uint32_t a, uint32_t b, uint32_t c) {
    mesh_.indices.push_back(a);
    mesh_.indices.push_back(b);
    mesh_.indices.push_back(c);
  }

  void fan(const std::vector<uint32_t>& poly) {
    for (size_t k = 1; k + 1 < poly.size(); ++k) emit(poly[0], poly[k], poly[k + 1]);
  }

  // A polygon of four or more corners: a fan when it is convex (what nearly every exporter
  // writes), else ear clipping in its plane, so a notched face does not sprout triangles outside
  // its outline. Corners not defined yet (forward references) cannot be looked at: fanned.
  void triangulate() {
    const size_t n = corners_.size();
    const uint64_t nv = mesh_.vertex_count();
    for (uint32_t v : corners_)
      if (v >= nv) return fan(corners_);
    auto pos = [&](uint32_t v) { return Eigen::Vector3d(mesh_.positions[3 * size_t(v)], mesh_.positions[3 * size_t(v) + 1], mesh_.positions[3 * size_t(v) + 2]); };
    // Newell's normal, then the two axes of its plane.
    Eigen::Vector3d normal = Eigen::Vector3d::Zero();
    for (size_t i = 0; i < n; ++i) normal += pos(corners_[i]).cross(pos(corners_[(i + 1) % n]));
    if (!(normal.norm() > 0.0)) return fan(corners_);
    normal.normalize();
    const Eigen::Vector3d u = (std::fabs(normal.x()) < 0.9 ? Eigen::Vector3d::UnitX() : Eigen::Vector3d::UnitY()).cross(normal).normalized();
    const Eigen::Vector3d w = normal.cross(u);
    pts_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const Eigen::Vector3d q = pos(corners_[i]);
      pts_[i] = Eigen::Vector2d(q.dot(u), q.dot(w));  // counter-clockwise: the normal is Newell's
    }
    auto cross = [&](size_t a, size_t b, size_t c) {
      return (pts_[b] - pts_[a]).x() * (pts_[c] - pts_[a]).y() - (pts_[b] - pts_[a]).y() * (pts_[c] - pts_[a]).x();
    };
    bool convex = true;
    for (size_t i = 0; i < n && convex; ++i) convex = cross(i, (i + 1) % n, (i + 2) % n) >= 0.0;
    if (convex) return fan(corners_);
    // Ear clipping (Meisters 1975): cut off a convex corner whose triangle holds no other corner.
    std::vector<size_t> ring(n);
    for (size_t i = 0; i < n; ++i) ring[i] = i;
    auto inside = [&](size_t p, size_t a, size_t b, size_t c) {
      return cross(a, b, p) >= 0.0 && cross(b, c, p) >= 0.0 && cross(c, a, p) >= 0.0;
    };
    size_t i = 0, misses = 0;
    while (ring.size() > 3) {
      const size_t m = ring.size();
      const size_t a = ring[(i + m - 1) % m], b = ring[i % m], c = ring[(i + 1) % m];
      // What is left, fanned from the corner at i (the budget is spent, or no ear is left).
      auto fan_rest = [&] {
        std::vector<uint32_t> rest;
        for (size_t k = 0; k < m; ++k) rest.push_back(corners_[ring[(i + k) % m]]);
        fan(rest);
      };
      if (ear_budget_ < m) return fan_rest();
      ear_budget_ -= m;
      bool ear = cross(a, b, c) > 0.0;
      for (size_t k = 0; ear && k < m; ++k) {
        const size_t q = ring[k];
        if (q != a && q != b && q != c && pts_[q] != pts_[a] && pts_[q] != pts_[b] && pts_[q] != pts_[c]) ear = !inside(q, a, b, c);
      }
      if (ear) {
        emit(corners_[a], corners_[b], corners_[c]);
        ring.erase(ring.begin() + std::ptrdiff_t(i % m));
        misses = 0;
      } else if (++misses > m) {
        return fan_rest();  // self-intersecting or degenerate: no ear left
      } else {
        ++i;
      }
      i %= ring.size();
    }
    emit(corners_[ring[0]], corners_[ring[1]], corners_[ring[2]]);
  }

  const std::string& name_;
  const LoadOptions& options_;
  std::chrono::steady_clock::time_point deadline_;
  // Three corners a triangle at most, and indices are 32-bit (max_triangles may be set above 1.4 billion).
  const uint64_t max_vertices_ = std::min<uint64_t>(options_.max_triangles, (UINT32_MAX - 3) / 3) * 3 + 3;
  uint64_t line_ = 0;
  uint64_t ear_budget_ = kEarClipBudget;
  Mesh mesh_;
  bool has_faces_ = false;
  uint64_t highest_ = 0, highest_line_ = 0;  // the highest vertex a face uses, and where
  std::vector<uint32_t> corners_;
  std::vector<Eigen::Vector2d> pts_;
};

}  // namespace

RawMesh read_obj(const std::string& name, const unsigned char* data, size_t size, const LoadOptions& options) {
  if (size > options.max_file_bytes) throw Error(ErrorCode::limit_exceeded, name, "file over the byte limit");
  RawMesh raw;
  raw.mesh = Reader(name, options).read(data, size);
  return raw;
}

}  // namespace partscreen::detail

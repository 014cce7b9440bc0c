// SPDX-License-Identifier: GPL-3.0-or-later
// Booleans, decimation and remeshing for the transformation suite, done the way CAD and mesh
// tools do them, with CGAL 5.5:
//  - booleans: Polygon_mesh_processing corefine_and_compute_union / _difference (manual,
//    "Corefinement and Boolean Operations"), which need closed, self-intersection-free input; a
//    closed base that intersects itself is first repaired by autorefinement;
//  - decimation: Surface_mesh_simplification edge collapse with Garland-Heckbert plane quadrics
//    (Garland & Heckbert 1997), the cost behind MeshLab's and Blender's quadric decimators,
//    placement bounded against normal flips as in CGAL's edge_collapse_garland_heckbert example;
//  - remeshing: Polygon_mesh_processing isotropic_remeshing (Botsch & Kobbelt 2004) with sharp
//    edges from detect_sharp_edges kept as constraints.
// Eigen is linked into the core already; CGAL's quadric policies need to be told.
#ifndef CGAL_EIGEN3_ENABLED
#define CGAL_EIGEN3_ENABLED 1
#endif
// GCC 12 sees an uninitialised Eigen 4x4 copy inside CGAL's Garland-Heckbert quadric storage
// (-Wmaybe-uninitialized, a false positive of the inlined property-map default): not ours to fix.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <CGAL/Polygon_mesh_processing/corefinement.h>
#include <CGAL/Polygon_mesh_processing/detect_features.h>
#include <CGAL/Polygon_mesh_processing/measure.h>
#include <CGAL/Polygon_mesh_processing/remesh.h>
#include <CGAL/Surface_mesh_simplification/Policies/Edge_collapse/Bounded_normal_change_placement.h>
#include <CGAL/Surface_mesh_simplification/Policies/Edge_collapse/Count_ratio_stop_predicate.h>
#include <CGAL/Surface_mesh_simplification/Policies/Edge_collapse/GarlandHeckbert_plane_policies.h>
#include <CGAL/Surface_mesh_simplification/edge_collapse.h>
#pragma GCC diagnostic pop

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "eval/cgal_mesh.h"
#include "eval/mesh_ops.h"
#include "partscreen/geometry.h"

namespace partscreen::eval {

namespace PMP = CGAL::Polygon_mesh_processing;
namespace SMS = CGAL::Surface_mesh_simplification;

namespace {

bool booleans_here(const Mesh& base, const std::vector<BooleanStep>& steps, Mesh& out) {
  try {
    SurfaceMesh result;
    if (!to_surface_mesh(base, result, true)) return false;
    if (!make_solid(result)) {
      // Closed but self-intersecting, as exported printed parts often are: repair it the way a
      // user's mesh fixer would (CGAL's experimental autorefinement keeps the outer hull of the
      // overlaps), then try again.
      if (!CGAL::is_closed(result) || !PMP::experimental::autorefine_and_remove_self_intersections(result) ||
          !make_solid(result))
        return false;
    }
    // Every result must make sense by volume: on some printed parts a boolean that reports
    // success returns a sliver of the part or the tool alone (a drilled part came back as a
    // 0.02 mm tetrahedron, a fused one as the bare block), and such a case tests nothing.
    double volume = std::fabs(CGAL::to_double(PMP::volume(result)));
    // Of the triangles as given: the repair must not change it much.
    const double input_volume = measure_component(base, 0, uint32_t(base.triangle_count())).volume_mm3;
    if (!(volume > 0.0) || std::fabs(volume - input_volume) > 0.1 * input_volume) return false;
    for (const BooleanStep& step : steps) {
      SurfaceMesh tool;
      if (!to_surface_mesh(step.tool, tool, true) || !make_solid(tool)) return false;
      const double tool_volume = std::fabs(CGAL::to_double(PMP::volume(tool)));
      // The output may be one of the inputs (CGAL documents it); both inputs get corefined.
      bool ok = step.op == BooleanOp::unite ? PMP::corefine_and_compute_union(result, tool, result)
                                            : PMP::corefine_and_compute_difference(result, tool, result);
      if (!ok || !CGAL::is_closed(result) || result.number_of_faces() == 0) return false;
      const double after = std::fabs(CGAL::to_double(PMP::volume(result)));
      const bool plausible = step.op == BooleanOp::unite
                                 ? after >= 0.99 * std::max(volume, tool_volume) && after <= 1.01 * (volume + tool_volume)
                                 : after <= 1.01 * volume && after >= volume - 1.01 * tool_volume && after > 0.0;
      if (!plausible) return false;
      volume = after;
    }
    out = from_surface_mesh(result);
    return true;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (...) {
    return false;
  }
}

// All `bytes` through `io` (::read or ::write), across partial transfers and signals.
template <typename Io, typename Byte>
bool transfer_all(Io io, int fd, Byte* p, size_t bytes) {
  while (bytes > 0) {
    const ssize_t n = io(fd, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    bytes -= size_t(n);
  }
  return true;
}

bool write_all(int fd, const void* data, size_t bytes) { return transfer_all(::write, fd, static_cast<const char*>(data), bytes); }
bool read_all(int fd, void* data, size_t bytes) { return transfer_all(::read, fd, static_cast<char*>(data), bytes); }

}  // namespace

// CGAL's corefinement has crashed (SIGSEGV) on some inputs: coplanar faces of a part and a
// fillet tool, self-intersections in its own float-rounded output. Such a case must count as a
// refusal, not end the process that makes the variant (the CLI, eval, the benchmark): the
// booleans run in a child process, which hands the result back through a pipe.
bool apply_booleans(const Mesh& base, const std::vector<BooleanStep>& steps, Mesh& out) {
  int fds[2];
  if (::pipe(fds) != 0) return booleans_here(base, steps, out);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return booleans_here(base, steps, out);
  }
  if (pid == 0) {
    ::close(fds[0]);
    Mesh result;
    const uint8_t made = booleans_here(base, steps, result) ? 1 : 0;
    const uint64_t sizes[2] = {result.positions.size(), result.indices.size()};
    const bool sent = write_all(fds[1], &made, 1) && write_all(fds[1], sizes, sizeof sizes) &&
                      write_all(fds[1], result.positions.data(), sizes[0] * sizeof(float)) &&
                      write_all(fds[1], result.indices.data(), sizes[1] * sizeof(uint32_t));
    ::_exit(sent ? 0 : 1);
  }
  ::close(fds[1]);
  uint8_t made = 0;
  uint64_t sizes[2] = {0, 0};
  Mesh result;
  bool ok = read_all(fds[0], &made, 1) && read_all(fds[0], sizes, sizeof sizes) && sizes[0] % 3 == 0 && sizes[1] % 3 == 0;
  if (ok && made) {
    result.positions.resize(sizes[0]);
    result.indices.resize(sizes[1]);
    ok = read_all(fds[0], result.positions.data(), sizes[0] * sizeof(float)) &&
         read_all(fds[0], result.indices.data(), sizes[1] * sizeof(uint32_t));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!ok || !made || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return false;
  out = std::move(result);
  return true;
}

bool simplify_edges(const Mesh& mesh, double edge_ratio, Mesh& out) {
  try {
    SurfaceMesh sm;
    if (!to_surface_mesh(mesh, sm, false)) return false;
    using Policies = SMS::GarlandHeckbert_plane_policies<SurfaceMesh, Kernel>;
    Policies policies(sm);
    SMS::Bounded_normal_change_placement<Policies::Get_placement> placement(policies.get_placement());
    SMS::Count_ratio_stop_predicate<SurfaceMesh> stop(edge_ratio);
    SMS::edge_collapse(sm, stop, CGAL::parameters::get_cost(policies.get_cost()).get_placement(placement));
    if (sm.number_of_faces() == 0) return false;
    out = from_surface_mesh(sm);
    return true;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (...) {
    return false;
  }
}

bool remesh_isotropic(const Mesh& mesh, double target_edge, Mesh& out) {
  try {
    if (!(target_edge > 0)) return false;
    SurfaceMesh sm;
    if (!to_surface_mesh(mesh, sm, false)) return false;
    auto sharp = sm.add_property_map<SurfaceMesh::Edge_index, bool>("e:sharp", false).first;
    PMP::detect_sharp_edges(sm, 60.0, sharp);
    PMP::isotropic_remeshing(faces(sm), target_edge, sm,
                             CGAL::parameters::number_of_iterations(3).edge_is_constrained_map(sharp).protect_constraints(false));
    sm.collect_garbage();
    if (sm.number_of_faces() == 0) return false;
    out = from_surface_mesh(sm);
    return true;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (...) {
    return false;
  }
}

}  // namespace partscreen::eval

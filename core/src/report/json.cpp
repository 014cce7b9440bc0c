// SPDX-License-Identifier: GPL-3.0-or-later
// JSON for loaded files and errors (the contract the CLI's `info --json` and every integration
// read). nlohmann-json stays in this .cpp so the public headers do not depend on it.
// Field names carry their unit (_mm, _mm2, _mm3, _ms) so a reader never has to guess.
#include <cmath>

#include <nlohmann/json.hpp>

#include "partscreen/report.h"

namespace partscreen {
namespace {

// ordered_json keeps members in the order written (path first), which people reading output expect.
using json = nlohmann::ordered_json;

// nlohmann writes NaN/Inf as null anyway; rounding keeps documents short and diff-friendly
// without losing anything a person or a threshold could use.
// Dividing the rounded integer by a power of ten (not multiplying by 1e-4) gives the double
// nearest the decimal, which nlohmann prints in its shortest form (0.3, not 0.30000000000000004).
double round_to(double v, double scale) {
  return std::isfinite(v) && std::fabs(v) < 1e12 ? std::round(v * scale) / scale : v;
}
constexpr double k4 = 1e4;

json vec3(const std::array<float, 3>& v) {
  return json::array({round_to(v[0], k4), round_to(v[1], k4), round_to(v[2], k4)});
}

json box_json(const Box& b) {
  return json{{"min_mm", vec3(b.min)},
              {"max_mm", vec3(b.max)},
              {"size_mm", json::array({round_to(double(b.max[0]) - b.min[0], k4), round_to(double(b.max[1]) - b.min[1], k4),
                                       round_to(double(b.max[2]) - b.min[2], k4)})}};
}

}  // namespace

std::string loaded_file_json(const LoadedFile& file) {
  json components = json::array();
  for (size_t i = 0; i < file.components.size(); ++i) {
    const ComponentInfo& c = file.components[i];
    components.push_back(json{{"index", i},
                              {"triangles", c.triangle_count},
                              {"area_mm2", round_to(c.area_mm2, k4)},
                              {"volume_mm3", round_to(c.volume_mm3, k4)},
                              {"closed", c.closed},
                              {"manifold", c.manifold},
                              {"bbox", box_json(c.bounds)}});
  }
  json surfaces = json::array();
  for (const OrientedSurface& s : file.surfaces) {
    surfaces.push_back(json{{"name", s.name},
                            {"points", s.positions.size() / 3},
                            {"area_mm2", round_to(s.area_mm2, k4)},
                            {"walls_only", s.walls_only},
                            {"bbox", box_json(s.bounds)}});
  }
  json out{{"path", file.path},
           {"format", format_name(file.format)},
           {"bytes", file.file_bytes},
           {"triangles", file.mesh.triangle_count()},
           {"vertices", file.mesh.vertex_count()},
           {"clean",
            {{"input_vertices", file.clean.input_vertices},
             {"welded_vertices", file.clean.welded_vertices},
             {"degenerate_triangles_removed", file.clean.degenerate_triangles}}},
           {"unit_scale_to_mm", file.unit_scale_to_mm},
           {"load_ms", round_to(file.load_ms, 1e3)},
           {"component_count", file.components.size()},
           {"components", std::move(components)},
           {"surfaces", std::move(surfaces)}};
  // Replace, not throw, on invalid UTF-8 in a path: file names come from strangers too.
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string error_json(const Error& error) {
  json out{{"error", {{"code", error_code_name(error.code())}, {"file", error.file()}, {"reason", error.reason()}}}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace partscreen

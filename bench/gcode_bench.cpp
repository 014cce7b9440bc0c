// SPDX-License-Identifier: GPL-3.0-or-later
// G-code parse + rebuild throughput: reads each file N times and prints medians.
// Usage: gcode_bench [--repeat N] [--dump out.xyz] [--slice-ms MS] file.gcode...
// With --slice-ms (the slicer's median time for the same job) the load time is also printed as
// a share of it: the screening budget is a small fraction of slicing.
// The dump holds "x y z nx ny nz object" per point (for inspection in a point viewer).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "partscreen/error.h"
#include "partscreen/gcode.h"

int main(int argc, char** argv) {
  int repeat = 5;
  const char* dump = nullptr;
  double slice_ms = 0;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--dump") && i + 1 < argc) dump = argv[++i];
    else if (!std::strcmp(argv[i], "--slice-ms") && i + 1 < argc) slice_ms = std::atof(argv[++i]);
    else files.push_back(argv[i]);
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: gcode_bench [--repeat N] [--dump out.xyz] [--slice-ms MS] file.gcode...\n");
    return 2;
  }
  for (const std::string& f : files) {
    std::vector<double> parse, rebuild, totals;
    partscreen::GcodeStats st;
    std::vector<partscreen::OrientedSurface> out;
    try {
      for (int r = 0; r < repeat; ++r) {
        out = partscreen::read_gcode_file(f, {}, &st);
        parse.push_back(st.parse_ms);
        rebuild.push_back(st.rebuild_ms);
        totals.push_back(st.parse_ms + st.rebuild_ms);
      }
    } catch (const partscreen::Error& e) {
      std::printf("%s: error %s: %s\n", f.c_str(), partscreen::error_code_name(e.code()), e.what());
      continue;
    }
    auto med = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    const double mb = st.bytes / 1e6;
    std::printf("%s: %.1f MB, %llu lines, %llu moves, %llu segments (%llu merged), %u layers (h %.3f, w %.3f%s), "
                "%u objects (%u dropped)\n",
                f.c_str(), mb, (unsigned long long)st.lines, (unsigned long long)st.moves,
                (unsigned long long)st.extruding_segments, (unsigned long long)st.merged_segments, st.layers,
                st.layer_height_mm, st.extrusion_width_mm, st.spiral ? ", vase" : "", st.objects, st.dropped_objects);
    std::printf("  median of %d: parse %.1f ms (%.0f MB/s), rebuild %.1f ms (%.0f MB/s), total %.1f ms (%.0f MB/s)\n",
                repeat, med(parse), mb / (med(parse) / 1e3), med(rebuild), mb / (med(rebuild) / 1e3), med(totals),
                mb / (med(totals) / 1e3));
    if (slice_ms > 0)
      std::printf("  load / slicing: %.1f ms / %.0f ms = %.1f %%\n", med(totals), slice_ms, 100.0 * med(totals) / slice_ms);
    for (const auto& s : out)
      std::printf("  %s: %zu points, %.0f mm2, box (%.2f %.2f %.2f)-(%.2f %.2f %.2f)\n", s.name.c_str(),
                  s.positions.size() / 3, s.area_mm2, s.bounds.min[0], s.bounds.min[1], s.bounds.min[2],
                  s.bounds.max[0], s.bounds.max[1], s.bounds.max[2]);
    if (dump) {
      std::FILE* o = std::fopen(dump, "w");
      if (!o) return 1;
      for (size_t k = 0; k < out.size(); ++k)
        for (size_t i = 0; i < out[k].positions.size(); i += 3)
          std::fprintf(o, "%.3f %.3f %.3f %.3f %.3f %.3f %zu\n", out[k].positions[i], out[k].positions[i + 1],
                       out[k].positions[i + 2], out[k].normals[i], out[k].normals[i + 1], out[k].normals[i + 2], k);
      std::fclose(o);
    }
  }
  return 0;
}

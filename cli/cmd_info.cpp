// SPDX-License-Identifier: GPL-3.0-or-later
// `partscreen info FILE...`: what partscreen reads from each file, before any screening. The
// first thing to run on a file that scans unexpectedly (wrong units, split parts, open shells).
#include <cstdio>
#include <string>

#include "cli.h"
#include "partscreen/io.h"
#include "partscreen/report.h"

namespace partscreen::cli {
namespace {

constexpr size_t kMaxComponentRows = 20;  // beyond this the table stops helping; --json has all

// 1234567 -> "1,234,567": triangle counts are read by people comparing files.
std::string grouped(uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(size_t(i), ",");
  return s;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string human_bytes(uint64_t n) {
  if (n < 1024) return grouped(n) + " bytes";
  const char* units[] = {"KiB", "MiB", "GiB"};
  double v = double(n);
  int u = -1;
  while (v >= 1024 && u < 2) {
    v /= 1024;
    ++u;
  }
  return fixed(v, 1) + " " + units[u] + " (" + grouped(n) + " bytes)";
}

void print_table(const LoadedFile& f) {
  std::printf("%s\n", f.path.c_str());
  std::printf("  format      %s, %s, loaded in %s ms\n", format_name(f.format), human_bytes(f.file_bytes).c_str(),
              fixed(f.load_ms, 1).c_str());
  if (f.unit_scale_to_mm != 1.0) std::printf("  units       scaled by %g to millimetres\n", f.unit_scale_to_mm);
  std::printf("  triangles   %s (%s degenerate removed)\n", grouped(f.mesh.triangle_count()).c_str(),
              grouped(f.clean.degenerate_triangles).c_str());
  std::printf("  vertices    %s read, %s after welding identical positions\n",
              grouped(f.clean.input_vertices).c_str(), grouped(f.clean.welded_vertices).c_str());
  std::printf("  components  %s\n", grouped(f.components.size()).c_str());
  if (!f.components.empty()) {
    std::printf("  %5s %11s %14s %14s  %-32s %-6s %s\n", "#", "triangles", "area_mm2", "volume_mm3",
                "bbox size_mm (x x y x z)", "closed", "manifold");
    for (size_t i = 0; i < f.components.size() && i < kMaxComponentRows; ++i) {
      const ComponentInfo& c = f.components[i];
      const std::string size = fixed(double(c.bounds.max[0]) - c.bounds.min[0], 2) + " x " +
                               fixed(double(c.bounds.max[1]) - c.bounds.min[1], 2) + " x " +
                               fixed(double(c.bounds.max[2]) - c.bounds.min[2], 2);
      // A volume is only meaningful for a closed shell: show "-" rather than a misleading number.
      std::printf("  %5zu %11s %14s %14s  %-32s %-6s %s\n", i, grouped(c.triangle_count).c_str(),
                  fixed(c.area_mm2, 2).c_str(), c.closed ? fixed(c.volume_mm3, 2).c_str() : "-", size.c_str(),
                  c.closed ? "yes" : "no", c.manifold ? "yes" : "no");
    }
    if (f.components.size() > kMaxComponentRows)
      std::printf("  ... and %s more components (all are listed with --json)\n",
                  grouped(f.components.size() - kMaxComponentRows).c_str());
  }
  for (const OrientedSurface& s : f.surfaces)
    std::printf("  surface     %s: %s points, %s mm2%s\n", s.name.c_str(), grouped(s.positions.size() / 3).c_str(),
                fixed(s.area_mm2, 2).c_str(), s.walls_only ? ", walls only" : "");
  std::fflush(stdout);
}

int run_info(const Args& args) {
  const bool json = args.flag("--json");
  const LoadOptions options = load_options_from(args);
  const auto& files = args.positionals();
  Progress progress(files.size(), !json);
  std::string doc = "[";
  bool failed = false;
  for (size_t i = 0; i < files.size(); ++i) {
    progress.step(files[i]);
    try {
      const LoadedFile f = load_file(files[i], options);
      progress.clear();
      if (json) {
        doc += (i ? "," : "") + loaded_file_json(f);
      } else {
        if (i) std::printf("\n");
        print_table(f);
      }
    } catch (const Error& e) {
      progress.clear();
      failed = true;
      print_error_line(e, "info");
      if (json) doc += (i ? "," : "") + error_object(e, "info");
    }
  }
  progress.finish();
  if (json) print_json(doc + "]");
  return failed ? kExitError : kExitOk;
}

}  // namespace

const CommandSpec& info_command() {
  static const CommandSpec spec = [] {
    CommandSpec c;
    c.name = "info";
    c.summary = "show what partscreen reads from mesh and CAD files";
    c.usage = "partscreen info [OPTIONS] FILE...";
    c.description =
        "Loads each FILE the way 'scan' does and reports what came out: the detected format, its\n"
        "size, the triangles kept after clean-up (identical vertices welded, degenerate triangles\n"
        "removed), and each connected component with its surface area, volume, bounding box and\n"
        "whether it is a closed, manifold shell. All lengths are millimetres. Nothing is screened\n"
        "and nothing is written. A file that cannot be read is reported and the others are still\n"
        "processed.\n";
    c.options = {opt_json("one JSON document, an array with one object per file,")};
    for (OptionSpec& o : opt_load_limits()) c.options.push_back(o);
    c.examples =
        "  $ partscreen info bracket.stl\n"
        "      a readable summary of one file\n"
        "  $ partscreen info --json parts/*.stl > parts.json\n"
        "      one JSON array for scripts (jq '.[].triangles' parts.json)\n"
        "  $ partscreen info --max-bytes 2G --max-triangles 50000000 big_assembly.3mf\n"
        "      raise the limits for a large file you trust\n";
    c.exit_codes =
        "  0  every file was read\n"
        "  2  a bad option, or at least one file could not be read (one line per problem on\n"
        "     stderr; the other files are still reported)\n";
    c.min_positionals = 1;
    c.run = run_info;
    return c;
  }();
  return spec;
}

}  // namespace partscreen::cli

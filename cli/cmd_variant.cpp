// SPDX-License-Identifier: GPL-3.0-or-later
// `partscreen variant --kind K --out PREFIX FILE`: write what an uploader might do to a part
// (rotate, rescale, mirror, remesh, cut into pieces, lay on a plate, fuse with a block), so an
// operator can check that a pack catches it. The same code drives the benchmark and tests.
#include <cstdio>
#include <string>

#include "cli.h"
#include "partscreen/io.h"
#include "partscreen/variants.h"

namespace partscreen::cli {
namespace {

std::string kind_list() {
  std::string out;
  for (VariantKind k : all_variant_kinds()) out += (out.empty() ? "" : ", ") + std::string(variant_name(k));
  return out;
}

int run_variant(const Args& args) {
  const std::string kind_text = args.required("--kind");
  const std::string prefix = args.required("--out");
  VariantKind kind = VariantKind::identity;
  bool found = false;
  for (VariantKind k : all_variant_kinds())
    if (kind_text == variant_name(k)) { kind = k; found = true; }
  if (!found) throw Error(ErrorCode::invalid_argument, "--kind", "unknown kind '" + kind_text + "'; one of: " + kind_list());
  const auto& files = args.positionals();
  const LoadOptions load = load_options_from(args);
  LoadedFile part = load_file(files[0], load);
  std::vector<Mesh> others;
  for (size_t i = 1; i < files.size(); ++i) others.push_back(load_file(files[i], load).mesh);
  Variant v = make_variant(part.mesh, kind, args.count("--seed", 1), others);
  for (size_t f = 0; f < v.files.size(); ++f) {
    const std::string path = v.files.size() == 1 ? prefix + ".stl" : prefix + "." + std::to_string(f + 1) + ".stl";
    write_binary_stl(v.files[f], path);
    std::printf("%s\n", path.c_str());
  }
  std::fprintf(stderr, "%s of %s: scale %.4g, %s, %zu file%s\n", v.name.c_str(), files[0].c_str(), v.expected_scale,
               v.expected_mirrored ? "mirrored" : "not mirrored", v.files.size(), v.files.size() == 1 ? "" : "s");
  return kExitOk;
}

}  // namespace

const CommandSpec& variant_command() {
  static const CommandSpec spec = [] {
    CommandSpec c;
    c.name = "variant";
    c.summary = "write a transformed copy of a part, as an evader would make it";
    c.usage = "partscreen variant --kind KIND --out PREFIX [--seed N] FILE [OTHER...]";
    c.description =
        "Writes what an uploader might do to FILE to get it past a check, as binary STL: PREFIX.stl,\n"
        "or PREFIX.1.stl, PREFIX.2.stl... when the result spans several files (pieces). OTHER files\n"
        "are laid beside the part for the 'plate' kind. Use it to check that a pack catches a\n"
        "reference however it is disguised: enroll the part, make variants, scan them. The same\n"
        "code makes the accuracy benchmark's cases. Deterministic for a seed.\n"
        "Kinds: identity, rigid, scale (0.5-2x), unit_x25.4, unit_/25.4, mirror, noise (0.1% of the\n"
        "diagonal), subdivide+noise, decimate25 (quadric edge collapse to ~25% of the edges; refused for\n"
        "parts with too few triangles to spare: area or volume off by >10%), pieces\n"
        "(1-2 exact plane cuts with flat caps, pieces moved apart over 2 files), plate (among OTHER\n"
        "parts), fused (boolean union with a block), combined (rotation, scale, mirror and noise),\n"
        "buried (inside a hollow shell held by thin sprues), holes (1-3 drilled holes), remesh\n"
        "(isotropic remeshing to 1% of the diagonal), lettering (a 3-5 digit label embossed on or\n"
        "engraved into the surface), fillets (1-3 straight outer edges rounded or inner corners filled,\n"
        "radius 1-2.5% of the diagonal).\n";
    c.options = {OptionSpec{"--kind", "KIND", "", "the transformation (see the list above)"},
                 opt_out("the path prefix of the STL file(s) to write"),
                 OptionSpec{"--seed", "N", "1", "random seed (rotation, scale, cut planes...)"}};
    for (OptionSpec& o : opt_load_limits()) c.options.push_back(o);
    c.examples =
        "  $ partscreen variant --kind combined --out /tmp/disguised bracket.stl\n"
        "      rotated, rescaled, mirrored and noisy copy in /tmp/disguised.stl\n"
        "  $ partscreen variant --kind pieces --out /tmp/cut bracket.stl\n"
        "  $ partscreen scan --pack refs.pack /tmp/cut.1.stl /tmp/cut.2.stl\n"
        "      cut into pieces over two files, then screened as one job\n";
    c.exit_codes =
        "  0  the variant was written (its file names are printed, one per line)\n"
        "  2  a bad option or an unreadable file\n";
    c.min_positionals = 1;
    c.run = run_variant;
    return c;
  }();
  return spec;
}

}  // namespace partscreen::cli

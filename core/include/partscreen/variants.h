// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The transformation suite: what an uploader might do to a part to get it past a check.
// Shared by the accuracy benchmark, the tests and `partscreen eval`, so the figures we publish
// and the behaviour we test come from one piece of code.
#include <cstdint>
#include <string>
#include <vector>

#include "partscreen/io.h"
#include "partscreen/mesh.h"

namespace partscreen {

enum class VariantKind {
  identity,
  rigid,        // random rotation and translation
  scale,        // uniform scale in [0.5, 2]
  unit_up,      // x 25.4 (inch file read as mm)
  unit_down,    // / 25.4
  mirror,       // reflection (winding fixed, as slicers do)
  noise,        // vertex noise, sigma = 0.1% of the bounding-box diagonal
  subdivide,    // every triangle split in four, then noise
  decimate,     // to ~25% of the edges (quadric edge collapse; vertex clustering if that fails)
  pieces,       // cut by 1-2 planes (exact, capped) into pieces, each moved apart and rotated
  plate,        // laid on a build plate among distractor parts
  fused,        // joined with extra material (boolean union with a block overlapping the part)
  combined,     // rigid + scale + mirror + noise
  buried,       // inside a hollow box shell joined to it by thin sprues: one component
  holes,        // 1-3 through holes drilled (3-8% of the part size)
  remesh,       // isotropic remeshing to an edge length of 1% of the bounding-box diagonal
  lettering,    // a 3-5 character label embossed on or engraved into the surface
  fillets,      // 1-3 straight sharp edges rounded (outer edges) or filled (inner corners)
};

const char* variant_name(VariantKind kind);
std::vector<VariantKind> all_variant_kinds();

struct Variant {
  VariantKind kind = VariantKind::identity;
  std::string name;                 // e.g. "scale(1.37)"
  std::vector<Mesh> files;          // one mesh per file of the job (pieces may span files)
  double expected_scale = 1.0;
  bool expected_mirrored = false;
};

// Makes one variant of `part`. `others` supplies distractor geometry for `plate`. Deterministic
// for a seed. Throws Error(invalid_argument) when the variant cannot be made from this part.
Variant make_variant(const Mesh& part, VariantKind kind, uint64_t seed, const std::vector<Mesh>& others = {});

// Wraps an in-memory mesh as a LoadedFile (clean-up and components done) for scan_loaded().
LoadedFile loaded_from_mesh(Mesh mesh, const std::string& name);

// Midpoint subdivision: every triangle split in four, the surface unchanged (a finer export of the
// same part).
Mesh subdivided(const Mesh& mesh);

// Writes a binary STL (used to hand variants to slicers and the CLI).
void write_binary_stl(const Mesh& mesh, const std::string& path);

}  // namespace partscreen

// SPDX-License-Identifier: GPL-3.0-or-later
// The scan pipeline: job files -> parts -> rung features -> candidates from the pack's index ->
// geometric verification (RANSAC on descriptor pairs, then ICP) -> coverage of each reference,
// assembled across pieces -> verdict.
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sys/stat.h>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <Eigen/Cholesky>
#include <Eigen/SVD>

#include "features/features.h"
#include "features/params.h"
#include "geometry/copies.h"
#include "geometry/enclosed.h"
#include "geometry/reassemble.h"
#include "match/align.h"
#include "pack/pack_data.h"
#include "partscreen/error.h"
#include "partscreen/scan.h"
#include "partscreen/trust.h"

namespace partscreen {
namespace detail {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// PARTSCREEN_DEBUG=1 prints the candidate and verification stages to stderr (for tuning).
bool debug_enabled() {
  static const bool on = std::getenv("PARTSCREEN_DEBUG") != nullptr;
  return on;
}

// A cloud's anchors (surface samples and their face normals) in a grid's slot order.
struct SlotAnchors {
  std::vector<Vec3> points, normals;
};
SlotAnchors slot_anchors(const Cloud& c, const PointGrid& grid) {
  return {grid.in_slot_order(c.anchor_points.empty() ? c.points : c.anchor_points),
          grid.in_slot_order(c.anchor_normals.empty() ? c.normals : c.anchor_normals)};
}

// One connected piece of the job (a mesh component or a G-code object).
struct Part {
  uint32_t file = 0;
  uint32_t component = 0;
  double area = 0.0;
  bool walls_only = false;
  bool enclosed = false;            // only the component's enclosed surface (see geometry/enclosed.h)
  std::vector<ComponentInfo> runs;  // its triangles, when enclosed or whole_file
  // All mesh components of one file described together (see add_whole_file_parts); `component` is
  // the largest of them, `members` all of them.
  bool whole_file = false;
  std::vector<uint32_t> members;
  // Cut pieces glued back at their caps (geometry/reassemble.h), screened like a whole file: its
  // own mesh (the pieces placed together) and every piece's own part.
  bool reassembled = false;
  std::shared_ptr<const Mesh> own_mesh;
  std::vector<uint32_t> piece_parts;       // the pieces' own parts
  std::vector<Similarity> piece_placement;  // each piece's own frame -> this part's
  Cloud dense;
  float dense_spacing = 0.f;
  PointGrid dense_grid;
  Cloud coarse;          // dense averaged at kIcpFraction * L: what ICP aligns to (cheap, smooth)
  PointGrid coarse_grid;
  // Both clouds' anchors in their grid's slot order: fitting reads them in sequence.
  SlotAnchors dense_slots, coarse_slots;
  std::vector<Features> rungs;  // index j - kRungMin
  // An exact rigid copy of another part of the job (geometry/copies.h): described by moving that
  // part's clouds and features, and given its fits moved, instead of verified again.
  int32_t copy_of = -1;      // that part's index
  Similarity copy_placement;  // its frame -> this part's
  // The body that is (nearly) all of its file, or its enclosed surface: it may be a whole
  // reference however little of one a fit finds, where a body of a plate or of a multi-body
  // upload is more often one piece of it (see where verify_piece refits from the affine map).
  bool sole_body = false;
  uint32_t leading_reference = UINT32_MAX;  // the reference its own votes rank first
};

// A part's clouds and features moved rigidly (a copy's, from its source's): descriptors and
// salience do not change under a rigid motion.
Cloud moved_cloud(const Cloud& c, const Similarity& P) {
  Cloud out = c;
  for (Vec3& p : out.points) p = P.apply(p);
  for (Vec3& n : out.normals) n = P.rotation * n;
  for (Vec3& p : out.anchor_points) p = P.apply(p);
  for (Vec3& n : out.anchor_normals) n = P.rotation * n;
  return out;
}

// The neighbour grids over a part's dense and coarse clouds (dense_spacing set).
void build_part_grids(Part& part) {
  part.dense_grid = PointGrid(part.dense.points, std::max(part.dense_spacing * 4.f, 1e-6f));
  part.coarse_grid = PointGrid(part.coarse.points, std::max(0.03f * size_of_area(part.area), 1e-6f));
  part.dense_slots = slot_anchors(part.dense, part.dense_grid);
  part.coarse_slots = slot_anchors(part.coarse, part.coarse_grid);
}

void describe_copy(Part& part, const Part& source) {
  part.dense = moved_cloud(source.dense, part.copy_placement);
  part.dense_spacing = source.dense_spacing;
  part.coarse = moved_cloud(source.coarse, part.copy_placement);
  build_part_grids(part);
  part.rungs = source.rungs;
  for (Features& f : part.rungs) f.keypoints = moved_cloud(f.keypoints, part.copy_placement);
}

// A descriptor pair: upload keypoint (rung, index) <-> pack keypoint.
struct Pair {
  int16_t rung;
  uint32_t upload_kp;
  uint32_t pack_kp;
  uint8_t nearest;  // 2: the upload keypoint's best match in the pack; 1: a twin reference's
                    // match nearly as close (see kTwinVoteRatio); 0: a correspondence only
};

struct PieceMatch {
  uint32_t part = 0;
  Similarity transform;
  double coverage = 0.0;  // fraction of the reference's area explained
  double score = 0.0;     // the same, weighted by keypoint salience
  double explained = 0.0; // fraction of the part's own surface the placed reference accounts for
                          // (-1: not measured yet; assembly measures it for the pieces it uses)
  bool placed_by_anchor = false;  // measured under another piece's transform, not fitted itself
  bool stretched = false;  // not a similarity copy by the affine check (stretched_fit): only one piece of several
  std::vector<uint8_t> covered;  // per reference keypoint
};

// Allowed upload/reference scales: 0.5x..2x around 1 (with a margin for the fit), and the
// inch/mm unit mistakes (x25.4, /25.4) within 25%. The unit bands were 0.45-2.2x around 25.4 as
// well (a unit mistake and a rescale on top of it); at 1/12-1/15 a flat cover's plate is any thin
// plain slab, and on a benchmark draw 17 benign uploads were flagged or sent to review that way
// (support ribs of printed parts matched to the pack's two flat covers), none near 1/25.4.
bool scale_allowed(float s) {
  constexpr float lo = 0.45f, hi = 2.2f, inch = 25.4f, unit_slack = 1.25f;
  return (s >= lo && s <= hi) || (s >= inch / unit_slack && s <= inch * unit_slack) ||
         (s >= 1.f / (inch * unit_slack) && s <= unit_slack / inch);
}

// The scales uploads most often carry: as drawn, and the inch/mm mistakes. A fit that lands near
// one of them is refitted at it (see prior_scale).
constexpr float kPriorScales[] = {1.f, 25.4f, 1.f / 25.4f};

// The prior scale within `within` of s (but not within 1%: then the fit is already there), or 0.
float prior_scale(float s, float within) {
  for (float q : kPriorScales)
    if (std::fabs(std::log(s / q)) < std::log(within) && std::fabs(std::log(s / q)) > std::log(1.01f)) return q;
  return 0.f;
}

constexpr uint32_t kMatchDistance2 = 70u * 70u;  // descriptor pair threshold (quantised units)
constexpr uint32_t kBeam = 2;
constexpr float kMinReferenceShare = 0.35f;    // placed reference size / part size, at least
constexpr size_t kHypothesesKept = 6;          // distinct RANSAC poses kept per handedness (verify_piece)
constexpr double kSettledFit = 0.85;           // a fit scoring this much is not second-guessed
constexpr double kDoubtFloor = 0.4;            // below this a fit is another part, not a misplaced copy
constexpr double kRoughMargin = 0.05;          // a runner-up must beat the leader's rough coverage by this much
constexpr double kAxisPoseRough = 0.5;         // a principal-axis pose must put this much surface in place
constexpr double kPriorRefitFloor = 0.15;      // fits below this are other parts: no refit at a prior scale
constexpr double kExplainedEnough = 0.6;       // a part this much explained by the reference is it (or a piece)
constexpr double kLookalikePenalty = 4.0;      // see penalised_score
// Score lost per share of reference surface absent in open space: the largest weight that kept
// every variant kind's detection on two benchmark draws (bench/accuracy.sh, --seed 1 and 2; 1.0
// and 2.0 cost fused and subdivided copies whose fit leaves some surface just off the part).
constexpr double kAbsentWeight = 0.5;
// Absent reference surface in connected regions (keypoints linked within twice their sampled
// spacing; regions of kMinAbsentRegion or more) beyond this share is whole regions of the
// reference the part does not have (the panel across a sibling's other opening, an arm a holder
// does not have), which no copy lacks. Siblings lack one such region: 0.09-0.12 of the reference
// in the three benchmark draws (rear skirt panels with another connector cut-out, side skirts of
// another length), the whole of their absent share. Copies lack scattered surface where a loose
// fit runs just off the part, or a drilled hole's cross-section: at most 0.064 in regions (0.078
// in all) over the second draw's variants. Each share beyond it costs kAbsentRegionWeight more,
// so a region of a sixth of the reference costs 0.22 on top (for matches whose coverage reaches
// the flag score: see where it is applied). It used to be the total absent share beyond 0.1,
// which left a panel lacking one 12% region flagged at 0.74.
constexpr double kAbsentRegionShare = 0.08;
constexpr double kMinAbsentRegion = 0.02;
constexpr double kAbsentRegionWeight = 2.5;
// A match whose anchor and the parts its transform placed find this share of its coverage is
// checked for absent surface as one object (pieces fitted on their own add next to nothing).
// Before, any second part exempted a match: an inner shell that added 0.4% to a bracket lacking
// 13% of a reference in open space kept it flagged (0.73).
constexpr double kCarriedAlone = 0.95;
constexpr size_t kMaxAssemblyParts = 64;       // pieces one reference may be assembled from
constexpr size_t kMaxReverifiedParts = 24;     // RANSAC re-verifications per reference and handedness
constexpr double kLargePieceShare = 0.08;      // of the placed reference's area: re-verified without votes
constexpr double kOverlapRefit = 0.6;          // a piece adding less than this share of its fit is fitted again elsewhere
// A piece joins an assembly only when at least this share of the surface it explains is new. Cut
// pieces of one part explain disjoint regions (they overlap at the seams); two parts that each
// explain most of the same surface are two look-alikes of it, not two halves. Measured on three
// benchmark draws: thin slabs fitted as a flat cover's faces add at most 33% of what they explain
// to one another; the least a piece added to a flagged cut part was 50% (a 2-piece block whose
// smaller piece fits a little off).
constexpr double kMinNewShare = 0.4;
constexpr double kFilledInOutside = 0.02;      // less of a part outside the reference's box: filled in place
constexpr double kFilledInWeight = 3.0;        // score lost per share of reference surface deep in filled-in material
// Thin walls (see wall_thickness): a wall is another thickness when it differs from the
// reference's at the fitted scale by more than kWallOff either way; a match whose measured walls
// are kWallMismatch or more of them so (at least kWallsMeasured walls) is not a similarity copy and
// goes no higher than the middle of the review band. True copies on two benchmark draws (1,010
// cases of every kind but pieces): at most 0.15 (a fused copy), 0.10 otherwise.
// Below kWallMismatch the walls still count, in proportion: each share of them another thickness
// beyond kWallSlack (what remeshing, noise and a fused block's seams account for in true copies:
// 0.10 or less on those draws, bar the one fused copy at 0.15, which loses 0.05) costs the score
// as much. Look-alikes with 13-22% of their walls off lose 0.03-0.12 (on three benchmark draws,
// three leave the review band and none of the flagged ones changes verdict).
constexpr double kWallOff = 1.2;
constexpr double kWallMismatch = 0.3;
constexpr size_t kWallsMeasured = 10;
constexpr double kWallSlack = 0.1;
constexpr double kWallWeight = 1.0;
constexpr float kVolumeScaleSlack = 1.04f;     // the job scale from volumes, give or take this
constexpr float kCapAreaScale = 1.08f;         // see the job-scale anchor in run_matching
constexpr size_t kAnchorsPerHandedness = 4;    // assemblies tried per reference and handedness
constexpr size_t kPartsWithOwnCandidates = 8;  // largest parts whose own best references are always verified
constexpr size_t kOwnExtraCandidates = 2;      // and their best multi-body references no list holds, on that part alone

// Fine rungs of a large component hold thousands of keypoints; a spread-out subset of them is
// enough to vote and to seed RANSAC (coverage uses the dense cloud, not keypoints), so only that subset is described.
constexpr size_t kMaxQueriesPerRung = 900;
constexpr float kIcpFraction = 0.012f;

// A whole-file part (add_whole_file_parts) is described like an enrolled reference, at its own
// size: rung 0 only (the other rungs stay empty). Its bodies keep their own ladders for everything
// else (pieces, fused, other scales), so the whole-file view costs one coarse rung of queries.
constexpr int kWholeFileRungMin = 0;
constexpr int kWholeFileRungMax = 0;

void build_part_features(Part& part, size_t points_per_part) {
  part.dense_spacing = dense_spacing(part.area, points_per_part);
  const float L = size_of_area(part.area);
  part.coarse = voxel_average(part.dense, std::max(kIcpFraction * L, part.dense_spacing));
  build_part_grids(part);
  const int lo = part.whole_file ? kWholeFileRungMin : kRungMin, hi = part.whole_file ? kWholeFileRungMax : kRungMax;
  std::vector<float> radii;
  for (int j = lo; j <= hi; ++j) radii.push_back(kRadiusFraction * L * rung_factor(j));
  std::vector<Features> described = compute_features(part.dense, radii, kMaxQueriesPerRung);
  part.rungs.assign(kRungMax - kRungMin + 1, Features{});
  for (int j = lo; j <= hi; ++j) part.rungs[j - kRungMin] = std::move(described[j - lo]);
}

// A reference made of several bodies (a part printed with separate pins or slabs, a set of copies)
// is enrolled as one: its size L is that of all bodies together and its descriptors see every body
// within their radius. A scan describes each body at its own size, off the nearest rung by up to
// kRungRatio^0.5 (12%), and without its neighbours; in a pack of a few hundred references such
// descriptors no longer draw nearest-neighbour votes. Measured on a corpus part whose body (76% of
// the file's area) holds ten thin separate slabs, against 200 other corpus parts: the body drew
// 0.036 of its reference's keypoints (rank 44, under the 0.04 vote floor); 0.095 for the same
// file enrolled with the slabs moved away (scale off 13% and slab keypoints in the count); 0.99
// for the body enrolled alone. So every file whose largest body is less than
// kWholeFileLargestShare of its area is also screened as one part described the way enrolment
// describes a file: all its bodies, at their combined size (the same part drew 0.34-0.44 there).
constexpr double kWholeFileLargestShare = 0.9;

// At most one per file, so the work stays bounded as max_parts bounds it.
void add_whole_file_parts(std::vector<Part>& parts, const std::vector<const LoadedFile*>& files) {
  const size_t screened = parts.size();
  for (uint32_t f = 0; f < files.size(); ++f) {
    Part whole;
    whole.file = f;
    whole.whole_file = true;
    double largest = 0.0;
    for (size_t i = 0; i < screened; ++i) {
      const Part& p = parts[i];
      if (p.file != f || p.enclosed || p.component >= files[f]->components.size()) continue;
      whole.runs.push_back(files[f]->components[p.component]);
      whole.members.push_back(p.component);
      whole.area += p.area;
      if (p.area > largest) {
        largest = p.area;
        whole.component = p.component;
      }
    }
    const bool dominant = largest >= kWholeFileLargestShare * whole.area;  // the largest body is the file
    if (dominant && largest > 0.0)
      for (size_t i = 0; i < screened; ++i)
        if (parts[i].file == f && parts[i].component == whole.component) parts[i].sole_body = true;
    if (whole.members.size() < 2 || dominant) continue;
    parts.push_back(std::move(whole));
  }
}

// Pieces of the job glued back together at congruent flat caps (at most one part per cluster),
// screened as whole parts: a part cut into many pieces has pieces too small to fit on their own.
void add_reassembled_parts(std::vector<Part>& parts, const std::vector<const LoadedFile*>& files) {
  std::vector<PieceInput> inputs;
  std::vector<uint32_t> part_of;
  for (uint32_t i = 0; i < parts.size(); ++i) {
    const Part& p = parts[i];
    if (p.whole_file || p.enclosed || p.component >= files[p.file]->components.size()) continue;
    inputs.push_back(PieceInput{&files[p.file]->mesh, files[p.file]->components[p.component]});
    part_of.push_back(i);
  }
  if (inputs.size() < 2) return;
  const auto t0 = Clock::now();
  std::vector<Reassembly> found = reassemble_pieces(inputs);
  for (Reassembly& a : found) {
    Part r;
    r.whole_file = true;
    r.reassembled = true;
    const Part& first = parts[part_of[a.pieces.front()]];
    r.file = first.file;
    r.component = first.component;
    r.area = a.area_mm2;
    ComponentInfo all;
    all.triangle_count = uint32_t(a.mesh.triangle_count());
    all.area_mm2 = a.area_mm2;
    r.runs = {all};
    for (size_t k = 0; k < a.pieces.size(); ++k) {
      const uint32_t i = part_of[a.pieces[k]];
      r.piece_parts.push_back(i);
      Similarity placed;
      placed.rotation = a.placements[k].rotation.cast<float>();
      placed.translation = a.placements[k].translation.cast<float>();
      r.piece_placement.push_back(placed);
    }
    r.own_mesh = std::make_shared<const Mesh>(std::move(a.mesh));
    if (debug_enabled()) {
      std::fprintf(stderr, "reassembled %zu pieces:", r.piece_parts.size());
      for (uint32_t i : r.piece_parts) std::fprintf(stderr, " file %u comp %u", parts[i].file, parts[i].component);
      std::fprintf(stderr, " (area %.1f)\n", r.area);
    }
    parts.push_back(std::move(r));
  }
  if (debug_enabled()) std::fprintf(stderr, "reassembly: %.1f ms, %zu found\n", ms_since(t0), found.size());
}

// The rung whose radius matches a reference seen at `scale` in this part.
int rung_for_scale(const Part& part, const ReferenceRecord& rec, float scale) {
  const float L = size_of_area(part.area);
  float j = std::log(scale * rec.radius_mm / (kRadiusFraction * L)) / std::log(kRungRatio);
  return std::clamp(int(std::lround(j)), kRungMin, kRungMax);
}

// Descriptor pairs of one part against the pack. Every upload keypoint keeps its kPairsPerQuery
// nearest pack keypoints within the match distance (the correspondences RANSAC samples from);
// its single nearest one is also its vote (`nearest` set on that pair): nearest-neighbour voting
// concentrates on the right reference where counting every pair would reward generic ones
// (near-twin references excepted, see pair_query).
constexpr size_t kPairsPerQuery = 4;
constexpr float kTwinVoteRatio = 1.1f;
constexpr double kMirrorTwinTie = 0.01;  // scores this close are a tie between mirror twins

template <class Entries>
void pair_query(const uint8_t* q, int16_t rung, uint32_t upload_kp, const PackData& pack, Entries&& for_each_entry,
                std::vector<Pair>& pairs) {
  struct Hit { uint32_t d2; uint32_t kp; };
  Hit best[kPairsPerQuery];
  size_t n = 0;
  for_each_entry([&](uint32_t kp) {
    uint32_t d2 = descriptor_distance2(q, pack.descriptors + size_t(kp) * kDescriptorBytes);
    if (d2 > kMatchDistance2) return;
    if (n < kPairsPerQuery) {
      best[n++] = Hit{d2, kp};
    } else if (d2 < best[n - 1].d2) {
      best[n - 1] = Hit{d2, kp};
    } else {
      return;
    }
    for (size_t i = n - 1; i > 0 && best[i].d2 < best[i - 1].d2; --i) std::swap(best[i], best[i - 1]);
  });
  // Near-twins in one pack (a part and its revision, left and right hands) have keypoints at
  // almost the same descriptor distance; a single nearest vote splits between them at random and
  // can leave both below the candidate cut. So every other reference whose match is within
  // kTwinVoteRatio of the nearest distance gets a vote from this query too (one per reference).
  const double ratio2 = double(kTwinVoteRatio) * kTwinVoteRatio;
  uint32_t voted[kPairsPerQuery];
  size_t nv = 0;
  for (size_t i = 0; i < n; ++i) {
    uint8_t vote = 0;
    const uint32_t ref = pack.keypoints[best[i].kp].reference;
    if (i == 0) vote = 2;
    else if (double(best[i].d2) <= ratio2 * double(best[0].d2) && std::find(voted, voted + nv, ref) == voted + nv) vote = 1;
    if (vote) voted[nv++] = ref;
    pairs.push_back(Pair{rung, upload_kp, best[i].kp, vote});
  }
}

// (kMaxQueriesPerRung: see build_part_features)

template <class F>
void for_each_query(const Features& f, F&& fn) {
  const size_t n = f.size();
  const size_t stride = (n + kMaxQueriesPerRung - 1) / kMaxQueriesPerRung;
  for (size_t i = 0; i < n; i += std::max<size_t>(1, stride)) fn(i);
}

std::vector<Pair> query_index(const Part& part, const PackData& pack) {
  std::vector<Pair> pairs;
  std::vector<uint32_t> words;
  for (int j = kRungMin; j <= kRungMax; ++j) {
    const Features& f = part.rungs[j - kRungMin];
    for_each_query(f, [&](size_t i) {
      words.clear();
      lookup_words(pack.vocabulary, f.descriptor(i), kBeam, words);
      pair_query(f.descriptor(i), int16_t(j), uint32_t(i), pack, [&](auto&& visit) {
        for (uint32_t w : words)
          for (uint32_t e = pack.vocabulary.word_offsets[w]; e < pack.vocabulary.word_offsets[w + 1]; ++e)
            visit(pack.vocabulary.word_entries[e]);
      }, pairs);
    });
  }
  return pairs;
}

// Naive baseline: every upload keypoint against every pack keypoint (no index).
std::vector<Pair> query_exhaustive(const Part& part, const PackData& pack) {
  std::vector<Pair> pairs;
  for (int j = kRungMin; j <= kRungMax; ++j) {
    const Features& f = part.rungs[j - kRungMin];
    for_each_query(f, [&](size_t i) {
      pair_query(f.descriptor(i), int16_t(j), uint32_t(i), pack, [&](auto&& visit) {
        for (uint32_t kp = 0; kp < pack.keypoint_count; ++kp) visit(kp);
      }, pairs);
    });
  }
  return pairs;
}

// Pairs of one part against one reference's keypoints only, at rungs rung-1..rung+1: for a part
// re-verified as a piece of a reference already placed. The index keeps each upload keypoint's few
// nearest keypoints over the whole pack, and a piece (its descriptors near the cut changed) often
// keeps too few of them on its own reference to be fitted.
std::vector<Pair> query_reference(const Part& part, const PackData& pack, uint32_t ref, int rung) {
  const ReferenceRecord& rec = pack.reference_records[ref];
  std::vector<Pair> pairs;
  for (int j = std::max(kRungMin, rung - 1); j <= std::min(kRungMax, rung + 1); ++j) {
    const Features& f = part.rungs[j - kRungMin];
    for_each_query(f, [&](size_t i) {
      pair_query(f.descriptor(i), int16_t(j), uint32_t(i), pack, [&](auto&& visit) {
        for (uint32_t k = 0; k < rec.keypoint_count; ++k) visit(rec.keypoint_begin + k);
      }, pairs);
    });
  }
  return pairs;
}

// Evidence that a part holds a reference at one rung: the fraction of the reference's keypoints
// that are the nearest neighbour of some upload keypoint.
constexpr double kSecondRungShare = 0.6;
// Enclosed surface is screened on its own when it is at least this share of its component's area
// (below that: slivers in narrow slots), in components big enough to hide anything.
constexpr double kMinEnclosedShare = 0.05;
constexpr uint32_t kMinEnclosedTriangles = 64;
constexpr size_t kSecondRungReferences = 3;
struct Vote {
  uint32_t reference;
  int rung;
  double strength;
};

std::vector<Vote> tally(const std::vector<Pair>& pairs, const PackData& pack) {
  std::unordered_map<uint64_t, std::vector<uint32_t>> hits;  // (reference, rung) -> reference keypoints
  size_t queries[kRungMax - kRungMin + 1] = {};               // per rung: upload keypoints that matched
  for (const Pair& p : pairs) {
    if (!p.nearest) continue;
    uint32_t ref = pack.keypoints[p.pack_kp].reference;
    if (pack.references[ref].revoked) continue;  // withdrawn by the publisher (pack metadata)
    hits[(uint64_t(ref) << 8) | uint8_t(p.rung - kRungMin)].push_back(p.pack_kp);
    if (p.nearest == 2) ++queries[p.rung - kRungMin];
  }
  struct RungVote { int rung; double strength; double fit; };
  std::unordered_map<uint32_t, std::vector<RungVote>> by_ref;
  for (auto& [key, kps] : hits) {
    std::sort(kps.begin(), kps.end());
    const double distinct = double(std::unique(kps.begin(), kps.end()) - kps.begin());
    const uint32_t ref = uint32_t(key >> 8);
    const int rung = int(key & 0xff) + kRungMin;
    // strength: the share of the reference's keypoints hit (ranks references). fit: the same
    // times the share of this rung's queries that land on distinct keypoints. Finer rungs ask
    // many more queries (keypoint spacing follows the radius), and at a wrong radius they pile
    // up on a few generic keypoints; at the right one they hit one keypoint each. Ranking rungs
    // by strength alone sent pieces (their right rung is coarse) to a fine, wrong scale.
    by_ref[ref].push_back(RungVote{rung, distinct / pack.reference_records[ref].keypoint_count,
                                   distinct * distinct / double(std::max<size_t>(1, queries[rung - kRungMin]))});
  }
  // Per reference: the strongest rung, and a second one two or more rungs away: the best-fitting
  // one if it is elsewhere, else the next best fit when it comes close. Verification looks at
  // pairs within one rung of each.
  std::vector<Vote> out;
  for (auto& [ref, list] : by_ref) {
    const auto by_fit = [](const RungVote& a, const RungVote& b) { return a.fit < b.fit || (a.fit == b.fit && a.rung > b.rung); };
    const auto by_strength = [](const RungVote& a, const RungVote& b) {
      return a.strength < b.strength || (a.strength == b.strength && a.rung > b.rung);
    };
    const RungVote best = *std::max_element(list.begin(), list.end(), by_fit);
    const RungVote strongest = *std::max_element(list.begin(), list.end(), by_strength);
    out.push_back(Vote{ref, strongest.rung, strongest.strength});
    if (std::abs(strongest.rung - best.rung) >= 2) {
      out.push_back(Vote{ref, best.rung, best.strength});
      continue;
    }
    const RungVote* second = nullptr;
    for (const RungVote& v : list)
      if (std::abs(v.rung - strongest.rung) >= 2 && (!second || by_fit(*second, v))) second = &v;
    if (second && second->fit >= kSecondRungShare * best.fit) out.push_back(Vote{ref, second->rung, second->strength});
  }
  // A second rung costs a verification: only the part's few strongest references get one.
  std::vector<std::pair<double, uint32_t>> firsts;
  for (const Vote& v : out) firsts.push_back({v.strength, v.reference});
  std::sort(firsts.begin(), firsts.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  firsts.erase(std::unique(firsts.begin(), firsts.end()), firsts.end());
  std::unordered_set<uint32_t> keep_second;
  for (size_t k = 0; k < firsts.size() && keep_second.size() < kSecondRungReferences; ++k) keep_second.insert(firsts[k].second);
  {
    std::unordered_set<uint32_t> seen;
    std::vector<Vote> kept;
    for (const Vote& v : out)
      if (seen.insert(v.reference).second || keep_second.count(v.reference)) kept.push_back(v);
    out.swap(kept);
  }
  std::sort(out.begin(), out.end(), [](const Vote& a, const Vote& b) {
    return a.reference < b.reference || (a.reference == b.reference && (a.strength > b.strength || (a.strength == b.strength && a.rung < b.rung)));
  });
  return out;
}

// Walls rebuilt from G-code have no top or bottom surface: reference surface facing up or down
// (its normal placed on the part) can be neither found nor lacked there.
bool outside_walls(const Part& part, const Vec3& placed_normal) {
  return part.walls_only && std::fabs(placed_normal.z()) > 0.7f;
}

// Coverage of reference keypoints by the part's dense surface under transform T.
struct Coverage { double area = 0.0, salient = 0.0; };

// The fit criterion (ScanOptions::coverage_tolerance, normal_agreement).
struct FitCriterion {
  float tolerance = 0.015f;
  float normal = 0.7f;
  // How near a reference point placed at `scale` must lie to the upload to count as on it: the
  // tolerance share of the placed reference's size, or 1.5 upload sampling spacings if coarser.
  float distance(float size_mm, float scale, float dense_spacing) const {
    return std::max(tolerance * size_mm * scale, 1.5f * dense_spacing);
  }
};

// The coarsest sampling among an object's parts (what a distance test on all of them can resolve).
float coarsest_spacing(const std::vector<const Part*>& object) {
  float spacing = 0.f;
  for (const Part* part : object) spacing = std::max(spacing, part->dense_spacing);
  return spacing;
}

Coverage measure_coverage(const Part& part, const PackData& pack, uint32_t ref, const Similarity& T,
                          const FitCriterion& fit, std::vector<uint8_t>* covered) {
  const ReferenceRecord& rec = pack.reference_records[ref];
  if (covered) covered->assign(rec.keypoint_count, 0);
  // Too small for this part's sampling to tell (see kMinReferenceShare): explains nothing.
  if (T.scale * rec.size_mm < kMinReferenceShare * size_of_area(part.area)) return Coverage{};
  const float tol = fit.distance(rec.size_mm, T.scale, part.dense_spacing);
  double hit = 0.0, total = 0.0, shit = 0.0, stotal = 0.0;
  for (uint32_t k = 0; k < rec.keypoint_count; ++k) {
    const KeypointRecord& kp = pack.keypoints[rec.keypoint_begin + k];
    Vec3 p = T.apply(Eigen::Map<const Vec3>(kp.position));
    Vec3 n = (T.rotation * Eigen::Map<const Vec3>(kp.surface_normal)).normalized();
    if (outside_walls(part, n)) continue;
    total += kp.weight;
    stotal += kp.weight * kp.salience;
    const bool ok = part.dense_grid.any_within(p, tol, [&](int i) { return part.dense.normals[i].dot(n) > fit.normal; });
    if (ok) {
      hit += kp.weight;
      shit += kp.weight * kp.salience;
      if (covered) (*covered)[k] = 1;
    }
  }
  Coverage c;
  c.area = total > 0 ? hit / total : 0.0;
  c.salient = stotal > 0 ? shit / stotal : 0.0;
  return c;
}

// Where a match lacks reference surface, and what its parts have there: the parts that share one
// placement of the reference (the anchor and the parts its transform placed: inner shells, the
// bodies of a multi-body file), as one object.
// absent: the share (by area) of the reference's surface they lack where they have open space.
// hidden: the share they lack inside their material (fused, buried or filled in).
// Missing surface within the fit tolerance on the open side is a near miss (noise, a rounded
// edge) and counts as neither.
// deep: the part of hidden that lies inside the material by more than the fit tolerance (near
// misses of an imprecise fit fall just inside as often as just outside).
// in_regions: the part of absent in connected regions of kMinAbsentRegion or more.
struct MissingSurface { double absent = 0.0, hidden = 0.0, deep = 0.0, in_regions = 0.0; };

MissingSurface classify_missing(const std::vector<const Part*>& object, const PackData& pack, uint32_t ref, const Similarity& T,
                                const std::vector<uint8_t>& covered, const FitCriterion& fit) {
  MissingSurface out;
  const ReferenceRecord& rec = pack.reference_records[ref];
  if (object.empty() || covered.size() != rec.keypoint_count) return out;
  for (const Part* part : object)
    if (part->coarse.size() == 0 || part->dense.size() == 0) return out;
  const Part& first = *object[0];
  double total = 0.0, missing_weight = 0.0;
  std::vector<uint32_t> missing;
  for (uint32_t k = 0; k < rec.keypoint_count; ++k) {
    const KeypointRecord& kp = pack.keypoints[rec.keypoint_begin + k];
    if (outside_walls(first, (T.rotation * Eigen::Map<const Vec3>(kp.surface_normal)).normalized())) continue;
    total += kp.weight;
    if (!covered[k]) missing.push_back(k), missing_weight += kp.weight;
  }
  if (missing.empty() || total <= 0) return out;
  // Near the surface the side of the nearest surface point tells material from open space (thin
  // walls included); farther away, the winding number of the parts' coarse clouds does (Barill
  // et al. 2018, "Fast winding numbers for soups and clouds": no closed mesh needed).
  const float tol = fit.distance(rec.size_mm, T.scale, coarsest_spacing(object));
  const float near = std::max(4.f * tol, 0.05f * rec.size_mm * T.scale);
  // A spread subset of the missing keypoints stands for all of them (each by its weight).
  const size_t stride = (missing.size() + 599) / 600;
  double absent = 0.0, hidden = 0.0, deep = 0.0, sampled = 0.0;
  std::vector<uint32_t> absent_kps;  // sampled missing keypoints in open space
  constexpr double kInvFourPi = 0.25 / 3.14159265358979323846;
  for (size_t i = 0; i < missing.size(); i += stride) {
    const KeypointRecord& kp = pack.keypoints[rec.keypoint_begin + missing[i]];
    sampled += kp.weight;
    const Vec3 p = T.apply(Eigen::Map<const Vec3>(kp.position));
    const Part* nearest_part = nullptr;
    int q = -1;
    float q_d2 = 0.f;
    for (const Part* part : object) {
      const int c = part->dense_grid.nearest(p, near);
      if (c < 0) continue;
      const float d2 = (p - part->dense.anchor_point(size_t(c))).squaredNorm();
      if (q < 0 || d2 < q_d2) q = c, q_d2 = d2, nearest_part = part;
    }
    if (q >= 0) {
      const Vec3 d = p - nearest_part->dense.anchor_point(size_t(q));
      const float side = d.dot(nearest_part->dense.anchor_normal(size_t(q)));
      if (side < -tol) deep += kp.weight;
      if (side < 0.f) hidden += kp.weight;
      else if (d.norm() > tol) absent += kp.weight, absent_kps.push_back(missing[i]);
      continue;
    }
    double w = 0.0;
    for (const Part* part : object) {
      const Cloud& cloud = part->coarse;
      for (size_t j = 0; j < cloud.size(); ++j) {
        const Vec3 d = cloud.points[j] - p;
        const float r2 = d.squaredNorm();
        w += double(cloud.weights[j]) * double(d.dot(cloud.normals[j])) / (double(r2) * std::sqrt(double(r2)));
      }
    }
    // |w|: parts whose normals all point inwards count their inside as -1.
    w = std::fabs(w * kInvFourPi);
    if (w < 0.3) absent += kp.weight, absent_kps.push_back(missing[i]);
    else if (w > 0.7) hidden += kp.weight, deep += kp.weight;
  }
  if (sampled > 0) {
    out.absent = absent / sampled * missing_weight / total;
    out.hidden = hidden / sampled * missing_weight / total;
    out.deep = deep / sampled * missing_weight / total;
  }
  if (!absent_kps.empty()) {
    // Connected regions of absent keypoints (reference coordinates): linked within twice the
    // spacing of the sampled keypoints.
    const double spacing = std::sqrt(double(stride) * missing_weight / double(missing.size()));
    const float link2 = float(2.0 * spacing) * float(2.0 * spacing);
    std::vector<uint32_t> parent(absent_kps.size());
    for (uint32_t i = 0; i < parent.size(); ++i) parent[i] = i;
    auto root = [&](uint32_t i) {
      while (parent[i] != i) i = parent[i] = parent[parent[i]];
      return i;
    };
    for (size_t i = 0; i < absent_kps.size(); ++i)
      for (size_t j = i + 1; j < absent_kps.size(); ++j) {
        const Vec3 a = Eigen::Map<const Vec3>(pack.keypoints[rec.keypoint_begin + absent_kps[i]].position);
        const Vec3 b = Eigen::Map<const Vec3>(pack.keypoints[rec.keypoint_begin + absent_kps[j]].position);
        if ((a - b).squaredNorm() <= link2) parent[root(uint32_t(i))] = root(uint32_t(j));
      }
    std::vector<double> region(absent_kps.size(), 0.0);
    for (size_t i = 0; i < absent_kps.size(); ++i) region[root(uint32_t(i))] += pack.keypoints[rec.keypoint_begin + absent_kps[i]].weight;
    double in_regions = 0.0;
    for (double r : region)
      if (r / sampled * missing_weight / total >= kMinAbsentRegion) in_regions += r;
    out.in_regions = in_regions / sampled * missing_weight / total;
  }
  return out;
}

// The share of the object's surface (by area) outside the placed reference's bounding box (its
// keypoints' box in reference coordinates), each side widened by 15% of the box's extent along
// that axis, at most 3% of the reference's size: fit error, noise and remeshing stay inside, and a
// block fused onto a 4 mm plate still sticks out.
double share_outside_box(const std::vector<const Part*>& object, const PackData& pack, uint32_t ref, const Similarity& T) {
  const ReferenceRecord& rec = pack.reference_records[ref];
  Vec3 lo = Vec3::Constant(std::numeric_limits<float>::max()), hi = -lo;
  for (uint32_t k = 0; k < rec.keypoint_count; ++k) {
    const Vec3 p = Eigen::Map<const Vec3>(pack.keypoints[rec.keypoint_begin + k].position);
    lo = lo.cwiseMin(p);
    hi = hi.cwiseMax(p);
  }
  const Vec3 margin = (0.15f * (hi - lo)).cwiseMin(Vec3::Constant(0.03f * rec.size_mm));
  lo -= margin;
  hi += margin;
  double out = 0.0, all = 0.0;
  for (const Part* part : object)
    for (size_t i = 0; i < part->dense.size(); i += 1 + part->dense.size() / 4000) {
      const Vec3 q = T.rotation.transpose() * (part->dense.points[i] - T.translation) / T.scale;
      all += part->dense.weights[i];
      if (((q - lo).array() < 0.f).any() || ((q - hi).array() > 0.f).any()) out += part->dense.weights[i];
    }
  return all > 0.0 ? out / all : 0.0;
}

// Wall thickness of the object against the placed reference's. The coverage tolerance (1.2% of
// the reference's size) is wider than many a printed wall (a 2.4 mm plate of a 150 mm cover): a
// plate half again as thick, or a copy stretched across its thickness, puts both faces of every
// wall within it. A thin wall of the reference is a found keypoint and the nearest found keypoint
// facing the other way behind it, at most kThinWall of the reference's size apart; the object's
// wall there is measured between its faces nearest to the two, facing the same ways. Walls whose
// faces the object does not show (fused to or buried in other material: not found) are skipped,
// and so are walls under two dense spacings (not resolved). mismatch: the share of the measured
// walls, by keypoint weight, off by more than kWallOff either way.
struct WallCheck { double mismatch = 0.0; size_t walls = 0; };
constexpr float kThinWall = 0.10f;

WallCheck wall_thickness(const std::vector<const Part*>& object, const PackData& pack, uint32_t ref, const Similarity& T,
                         const std::vector<uint8_t>& covered, const FitCriterion& fit) {
  WallCheck out;
  const ReferenceRecord& rec = pack.reference_records[ref];
  if (object.empty() || rec.keypoint_count < 8 || covered.size() != rec.keypoint_count) return out;
  const float dense_spacing = coarsest_spacing(object);
  std::vector<Vec3> pos(rec.keypoint_count), nrm(rec.keypoint_count);
  for (uint32_t k = 0; k < rec.keypoint_count; ++k) {
    const KeypointRecord& kp = pack.keypoints[rec.keypoint_begin + k];
    pos[k] = Eigen::Map<const Vec3>(kp.position);
    nrm[k] = Eigen::Map<const Vec3>(kp.surface_normal).normalized();
  }
  const float spacing = kKeypointFraction * rec.size_mm;
  const float max_wall = kThinWall * rec.size_mm;
  const PointGrid grid(pos, max_wall);
  const float tol = fit.distance(rec.size_mm, T.scale, dense_spacing);
  // The object's face nearest to p (upload coordinates) facing n: its offset along n, or NaN.
  auto face_offset = [&](const Vec3& p, const Vec3& n, float reach) {
    float best = std::numeric_limits<float>::max(), off = std::numeric_limits<float>::quiet_NaN();
    for (const Part* part : object)
      part->dense_grid.for_each_within(p, reach, [&](int i) {
        if (part->dense.anchor_normal(size_t(i)).dot(n) < 0.9f) return;
        const Vec3 d = part->dense.anchor_point(size_t(i)) - p;
        const float d2 = d.squaredNorm();
        if (d2 < best) best = d2, off = d.dot(n);
      });
    return off;
  };
  std::vector<std::pair<double, double>> ratios;  // (ratio, weight)
  const size_t stride = (rec.keypoint_count + 599) / 600;  // a spread subset stands for all
  double measured = 0.0;
  for (uint32_t k = 0; k < rec.keypoint_count; k += uint32_t(stride)) {
    if (!covered[k]) continue;
    const double w = pack.keypoints[rec.keypoint_begin + k].weight;
    // The wall behind keypoint k: the nearest keypoint facing the other way, its plane behind k
    // and its position not off to the side by more than the keypoint spacing.
    float wall = max_wall;
    int back = -1;
    grid.for_each_within(pos[k], max_wall + spacing, [&](int j) {
      if (nrm[j].dot(nrm[k]) > -0.95f) return;
      const Vec3 d = pos[k] - pos[j];
      const float t = d.dot(nrm[k]);
      if (!covered[size_t(j)] || t <= 0.f || t >= wall || (d - t * nrm[k]).norm() > spacing) return;
      wall = t, back = j;
    });
    if (back < 0) continue;
    const float expected = wall * T.scale;
    if (expected < 2.f * dense_spacing) continue;
    const Vec3 n = (T.rotation * nrm[k]).normalized();
    const float reach = std::max(tol, 0.6f * expected);
    const float front = face_offset(T.apply(pos[k]), n, reach);
    const float rear = face_offset(T.apply(pos[size_t(back)]), -n, reach);
    if (!std::isfinite(front) || !std::isfinite(rear)) continue;
    ratios.emplace_back(double(expected + front + rear) / double(expected), w);
    measured += w;
  }
  if (ratios.empty()) return out;
  double off = 0.0;
  for (const auto& [r, w] : ratios)
    if (!(r > 0.0) || std::fabs(std::log(r)) > std::log(kWallOff)) off += w;
  out.mismatch = off / measured;
  out.walls = ratios.size();
  return out;
}

// The other direction: how much of the part's own surface the placed reference accounts for. A
// part that IS the reference (or a piece of it) is almost fully explained; a different part that
// merely contains a look-alike region is not. Reference surface is known only at its keypoints,
// so a part point counts when it lies on the tangent plane (surface normal) of a nearby keypoint.
double explained_fraction(const Part& part, const PackData& pack, uint32_t ref, const Similarity& T,
                          const FitCriterion& fit) {
  const ReferenceRecord& rec = pack.reference_records[ref];
  std::vector<Vec3> pos(rec.keypoint_count), nrm(rec.keypoint_count);
  for (uint32_t k = 0; k < rec.keypoint_count; ++k) {
    const KeypointRecord& kp = pack.keypoints[rec.keypoint_begin + k];
    pos[k] = T.apply(Eigen::Map<const Vec3>(kp.position));
    nrm[k] = (T.rotation * Eigen::Map<const Vec3>(kp.surface_normal)).normalized();
  }
  const float spacing = kKeypointFraction * rec.size_mm * T.scale;
  const float reach = 1.2f * spacing;
  const float plane = std::max(2.f * fit.tolerance * rec.size_mm * T.scale, 1.5f * part.dense_spacing);
  PointGrid grid(pos, reach);
  const size_t n = part.dense.size();
  const size_t stride = std::max<size_t>(1, n / 4000);
  double hit = 0.0, total = 0.0;
  for (size_t i = 0; i < n; i += stride) {
    const Vec3& q = part.dense.points[i];
    const Vec3& m = part.dense.normals[i];
    const float w = part.dense.weights[i];
    total += w;
    if (grid.any_within(q, reach, [&](int k) { return std::fabs((q - pos[k]).dot(nrm[k])) <= plane && nrm[k].dot(m) > fit.normal; }))
      hit += w;
  }
  return total > 0 ? hit / total : 0.0;
}

// Poses from principal axes (the moments of the surface): when a part is the whole reference
// (its area is the reference's at the scale the moments give), the part's axes are the
// reference's, up to the sign of each axis: four proper poses and four mirrored ones. A global
// start that needs no descriptor pairs, for parts where few pairs are right (flat or thin parts,
// where one patch describes like any other). When two moments are within 15% of each other (a
// square grill, a square frame), only the third axis is defined: the poses then turn about it in
// kAxisSweepStep steps, both ways up and both hands. Empty when the part is not the whole
// reference or no axis is defined.
constexpr int kAxisSweepStep = 15;      // degrees: ICP converges from half of it
constexpr uint32_t kSweepSamples = 32;  // keypoints of the sparser check that ranks the turns
constexpr size_t kSweepKept = 4;        // turns per hand ranked with the other poses
// The turns are tried only beside a RANSAC fit that finds this much (a copy turned a quarter finds
// its outline: 0.33-0.82 on a generated square grill and a benchmark fan grill). Without a fit
// near that, they cost 6% of verification (in 60 corpus uploads against a 30-reference pack, most
// with no candidate that fits) and found nothing.
constexpr double kTurnsFloor = 0.3;
struct AxisPoses {
  std::vector<Similarity> poses;
  bool turns = false;  // turns about a lone defined axis (many), not sign flips
};
AxisPoses principal_axis_poses(const Part& part, const PackData& pack, uint32_t ref) {
  const ReferenceRecord& rec = pack.reference_records[ref];
  auto moments = [](auto&& each, Eigen::Vector3d& mean, Eigen::Matrix3d& axes, Eigen::Vector3d& spread) {
    double w = 0.0;
    Eigen::Vector3d m = Eigen::Vector3d::Zero();
    each([&](const Vec3& p, float wt) { m += wt * p.cast<double>(); w += wt; });
    if (!(w > 0.0)) return false;
    mean = m / w;
    Eigen::Matrix3d C = Eigen::Matrix3d::Zero();
    each([&](const Vec3& p, float wt) { const Eigen::Vector3d d = p.cast<double>() - mean; C += wt * d * d.transpose(); });
    Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> es(C / w);
    spread = es.eigenvalues().reverse();           // largest first
    axes = es.eigenvectors().rowwise().reverse();  // columns to match
    return spread[2] > 0.0;
  };
  Eigen::Vector3d mr, mu, sr, su;
  Eigen::Matrix3d Ar, Au;
  const bool ok_ref = moments([&](auto&& f) {
    for (uint32_t k = 0; k < rec.keypoint_count; ++k) {
      const KeypointRecord& kp = pack.keypoints[rec.keypoint_begin + k];
      f(Vec3(Eigen::Map<const Vec3>(kp.position)), kp.weight);
    }
  }, mr, Ar, sr);
  const bool ok_part = ok_ref && moments([&](auto&& f) {
    for (size_t i = 0; i < part.coarse.size(); ++i) f(part.coarse.points[i], part.coarse.weights[i]);
  }, mu, Au, su);
  if (!ok_part) return {};
  // (Either side's pair of close moments makes the pair's axes arbitrary on both.)
  auto close = [](const Eigen::Vector3d& s, int i) { return s[i] <= 1.15 * 1.15 * s[i + 1]; };
  const bool close01 = close(sr, 0) || close(su, 0), close12 = close(sr, 1) || close(su, 1);
  if (close01 && close12) return {};
  const double scale = std::sqrt(su.sum() / sr.sum());
  if (!scale_allowed(float(scale)) || std::fabs(std::log(part.area / (rec.area_mm2 * scale * scale))) > std::log(1.25)) return {};
  // In the axes' frame: sign flips of the three axes, or, about a lone defined axis, turns.
  std::vector<Eigen::Matrix3d> frame;
  if (!close01 && !close12) {
    for (int signs = 0; signs < 8; ++signs)
      frame.push_back(Eigen::Vector3d(signs & 1 ? -1.0 : 1.0, signs & 2 ? -1.0 : 1.0, signs & 4 ? -1.0 : 1.0).asDiagonal());
  } else {
    const int lone = close01 ? 2 : 0, a = (lone + 1) % 3, b = (lone + 2) % 3;
    for (double up : {1.0, -1.0})
      for (double hand : {1.0, -1.0})
        for (int deg = 0; deg < 360; deg += kAxisSweepStep) {
          const double t = deg * 3.14159265358979323846 / 180.0;
          Eigen::Matrix3d G = Eigen::Matrix3d::Zero();
          G(lone, lone) = up;
          G(a, a) = std::cos(t), G(a, b) = -hand * std::sin(t);
          G(b, a) = std::sin(t), G(b, b) = hand * std::cos(t);
          frame.push_back(G);
        }
  }
  // The moments of a fused or buried copy are its extra material's too (measured: a grill with a
  // block fused on gives 1.18x): the poses are also tried at a prior scale within 1.3x (when it
  // differs by more than 2%: the same poses again otherwise).
  std::vector<double> scales{scale};
  if (const float q = prior_scale(float(scale), 1.3f); q > 0.f && std::fabs(std::log(q / scale)) > std::log(1.02)) scales.push_back(q);
  AxisPoses out;
  out.turns = close01 || close12;
  for (double sc : scales)
    for (const Eigen::Matrix3d& G : frame) {
      const Eigen::Matrix3d R = Au * G * Ar.transpose();
      Similarity T;
      T.rotation = R.cast<float>();
      T.scale = float(sc);
      T.translation = (mu - sc * R * mr).cast<float>();
      out.poses.push_back(T);
    }
  return out;
}

// A quick, loose coverage of an unrefined pose: a sparse subset of the reference keypoints (about
// 200), three times the coverage tolerance, normals within 60 degrees. Only for ranking poses.
double rough_coverage(const Part& part, const PackData& pack, uint32_t ref, const Similarity& T, const FitCriterion& fit,
                      uint32_t samples = 200) {
  const ReferenceRecord& rec = pack.reference_records[ref];
  const float tol = 3.f * fit.distance(rec.size_mm, T.scale, part.dense_spacing);
  const uint32_t step = std::max<uint32_t>(1, rec.keypoint_count / samples);
  double hit = 0.0, total = 0.0;
  for (uint32_t k = 0; k < rec.keypoint_count; k += step) {
    const KeypointRecord& kp = pack.keypoints[rec.keypoint_begin + k];
    const Vec3 p = T.apply(Eigen::Map<const Vec3>(kp.position));
    const Vec3 n = T.rotation * Eigen::Map<const Vec3>(kp.surface_normal);
    total += kp.weight;
    if (part.coarse_grid.any_slot_within(p, tol, [&](uint32_t s) { return part.coarse_slots.normals[s].dot(n) > 0.5f; })) hit += kp.weight;
  }
  return total > 0 ? hit / total : 0.0;
}

// The reference keypoints' centroid (reference coordinates).
Vec3 ref_centroid(const PackData& pack, uint32_t ref) {
  const ReferenceRecord& rec = pack.reference_records[ref];
  Eigen::Vector3d c = Eigen::Vector3d::Zero();
  for (uint32_t k = 0; k < rec.keypoint_count; ++k) c += Eigen::Map<const Vec3>(pack.keypoints[rec.keypoint_begin + k].position).cast<double>();
  return rec.keypoint_count ? Vec3((c / double(rec.keypoint_count)).cast<float>()) : Vec3::Zero();
}

// The reference's volume by the divergence theorem over its keypoints (each stands for `weight`
// mm^2 of surface with outward normal `surface_normal`): V = 1/3 sum (p . n) dA. 0 when the sum
// says the keypoints enclose nothing (an open reference, normals inward).
double ref_volume(const PackData& pack, uint32_t ref) {
  const ReferenceRecord& rec = pack.reference_records[ref];
  Eigen::Vector3d c = ref_centroid(pack, ref).cast<double>();
  double v = 0.0;
  for (uint32_t k = 0; k < rec.keypoint_count; ++k) {
    const KeypointRecord& kp = pack.keypoints[rec.keypoint_begin + k];
    v += double(kp.weight) * (Eigen::Map<const Vec3>(kp.position).cast<double>() - c).dot(Eigen::Map<const Vec3>(kp.surface_normal).cast<double>());
  }
  return std::max(0.0, v / 3.0);
}

// Iterative closest point (similarity, handedness fixed) from reference keypoints to the part's
// dense cloud, with normal-compatible, distance-gated pairs shrinking each round.
// known_scale > 0 (a piece placed at the scale of its reference's anchor piece): the scale stays
// within kKnownScaleSlack of it. A small piece pins its own scale poorly, and ICP on it drifts to
// whatever scale makes the piece fit somewhere else.
constexpr float kKnownScaleSlack = 1.05f;
Similarity refine_icp(const Part& part, const PackData& pack, uint32_t ref, Similarity T, float known_scale = 0.f,
                      float slack = kKnownScaleSlack) {
  const ReferenceRecord& rec = pack.reference_records[ref];
  const Handedness hand = T.mirrored() ? Handedness::mirrored : Handedness::proper;
  std::vector<Vec3> src, dst;
  for (int it = 0; it < 10; ++it) {
    const float gate = std::max(0.06f * rec.size_mm * T.scale * std::pow(0.8f, float(it)), 2.f * part.dense_spacing);
    src.clear();
    dst.clear();
    for (uint32_t k = 0; k < rec.keypoint_count; ++k) {
      const KeypointRecord& kp = pack.keypoints[rec.keypoint_begin + k];
      Vec3 a = Eigen::Map<const Vec3>(kp.position);
      Vec3 p = T.apply(a);
      Vec3 n = T.rotation * Eigen::Map<const Vec3>(kp.surface_normal);
      // Early rounds align to the coarse cloud (few candidates within the wide gate); the last
      // rounds, with a tight gate, to the dense one.
      const bool fine = it >= 7;
      const SlotAnchors& anchors = fine ? part.dense_slots : part.coarse_slots;
      const PointGrid& grid = fine ? part.dense_grid : part.coarse_grid;
      int64_t best = -1;
      float bd = gate * gate;
      grid.for_each_slot_within(p, gate, [&](uint32_t s) {
        if (anchors.normals[s].dot(n) < 0.5f) return;
        float d2 = (anchors.points[s] - p).squaredNorm();
        if (d2 < bd) { bd = d2; best = s; }
      });
      if (best >= 0) {
        src.push_back(a);
        dst.push_back(anchors.points[size_t(best)]);
      }
    }
    Similarity next;
    if (src.size() < 6 || !fit_similarity(src, dst, {}, hand, next)) break;
    if (known_scale > 0.f && std::fabs(std::log(next.scale / known_scale)) > std::log(slack) &&
        !fit_similarity(src, dst, {}, hand, next, std::clamp(next.scale, known_scale / slack, known_scale * slack)))
      break;
    if (!scale_allowed(next.scale)) break;
    T = next;
  }
  return T;
}

// How far a placed reference is from a similarity of the part: a look-alike stretched unevenly
// along some axis is fitted by ICP as well as a similarity can, and its coverage at the fit
// tolerance can still be high. After the similarity ICP, an affine ICP (point-to-plane, Chen &
// Medioni 1992, with the 3x3 map free; each step damped toward the previous map so that
// directions the matched surface does not constrain, e.g. in the plane of a flat panel, stay
// where the similarity put them) is run from it. A real copy under any uniform scale, mirroring,
// noise, remeshing or decimation has a nearly isotropic best affine map (singular values within a
// few percent of each other); a copy stretched 1.25x along one axis has a ratio near 1.25 and
// the affine fit removes most of the similarity's residual.
// Measured (bench/accuracy with PARTSCREEN_DEBUG=1, tests/engine_lookalike_test): fits of real
// copies under every suite kind give 1.00..1.01 (median), but up to 1.35 over the whole reference
// when only part of it is in the part (multi-body references, fused, buried; see stretched_fit);
// corpus parts stretched by one axis 1.25..1.4x give 1.28..1.43, CGAL parts stretched 1.3x 1.30.
constexpr double kMaxStretch = 1.12;
constexpr double kStretchGain = 0.3;  // and the affine map must explain the data clearly better
struct Stretch {
  double ratio = 1.0;  // largest / smallest singular value of the best affine map
  double gain = 0.0;   // 1 - (affine RMS residual / similarity RMS residual), on the same pairs
  size_t pairs = 0;
  Similarity nearest;  // the similarity nearest the affine map (its rotation, mean scale)
};
// With `only`, just the reference keypoints it marks take part (see stretched_fit).
Stretch measure_stretch(const Part& part, const PackData& pack, uint32_t ref, const Similarity& T,
                        const std::vector<uint8_t>* only) {
  const ReferenceRecord& rec = pack.reference_records[ref];
  Stretch out;
  size_t used = 0;
  for (uint32_t k = 0; k < rec.keypoint_count; ++k) used += !only || (*only)[k];
  if (used < 12) return out;
  // Reference coordinates centred on the keypoints' centroid and divided by the reference size:
  // the normal equations are then well scaled whatever the units.
  Eigen::Vector3d c = Eigen::Vector3d::Zero();
  for (uint32_t k = 0; k < rec.keypoint_count; ++k)
    if (!only || (*only)[k]) c += Eigen::Map<const Vec3>(pack.keypoints[rec.keypoint_begin + k].position).cast<double>();
  c /= double(used);
  const double unit = std::max(double(rec.size_mm), 1e-9);
  // x -> A (p - c) / unit + b, starting at the similarity.
  const Eigen::Matrix3d S = double(T.scale) * unit * T.rotation.cast<double>();
  Eigen::Matrix3d A = S;
  Eigen::Vector3d b = T.apply(c.cast<float>()).cast<double>();
  const double L = double(rec.size_mm) * T.scale;
  struct Pair3 { Eigen::Vector3d p, q, m; };
  std::vector<Pair3> pairs;
  // Wide gates first (a 1.3x stretch moves the ends of a part by several percent of its size
  // away from the best similarity), then the dense cloud with tight ones.
  constexpr int kIterations = 12;
  for (int it = 0; it < kIterations; ++it) {
    const bool fine = it >= kIterations - 3;
    const SlotAnchors& anchors = fine ? part.dense_slots : part.coarse_slots;
    const PointGrid& grid = fine ? part.dense_grid : part.coarse_grid;
    const float gate = std::max(float(0.08 * L * std::pow(0.85, it)), 2.f * part.dense_spacing);
    const Eigen::Matrix3d normal_map = A.inverse().transpose();
    pairs.clear();
    // About 800 keypoints spread over the reference steer the map in the wide-gate rounds as well
    // as all of them do, and 2,000 pin its 12 unknowns in the fine ones, at a fraction of the
    // neighbour searches (references hold 3,000-15,000).
    const uint32_t step = std::max<uint32_t>(1, uint32_t(used / (fine ? 2000 : 800)));
    for (uint32_t k = 0; k < rec.keypoint_count; k += step) {
      if (only && !(*only)[k]) continue;
      const KeypointRecord& kp = pack.keypoints[rec.keypoint_begin + k];
      const Eigen::Vector3d p = (Eigen::Map<const Vec3>(kp.position).cast<double>() - c) / unit;
      const Eigen::Vector3d x = A * p + b;
      const Vec3 n = (normal_map * Eigen::Map<const Vec3>(kp.surface_normal).cast<double>()).normalized().cast<float>();
      const Vec3 xf = x.cast<float>();
      int64_t best = -1;
      float bd = gate * gate;
      grid.for_each_slot_within(xf, gate, [&](uint32_t s) {
        if (anchors.normals[s].dot(n) < 0.7f) return;
        const float d2 = (anchors.points[s] - xf).squaredNorm();
        if (d2 < bd) { bd = d2; best = s; }
      });
      if (best >= 0) pairs.push_back(Pair3{p, anchors.points[size_t(best)].cast<double>(), anchors.normals[size_t(best)].cast<double>()});
    }
    if (pairs.size() < 12) return out;
    // Unknowns: A row-major (9), b (3). Residual m . (A p + b - q).
    Eigen::Matrix<double, 12, 12> H = Eigen::Matrix<double, 12, 12>::Zero();
    Eigen::Matrix<double, 12, 1> g = Eigen::Matrix<double, 12, 1>::Zero();
    for (const Pair3& e : pairs) {
      Eigen::Matrix<double, 12, 1> J;
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) J(3 * i + j) = e.m(i) * e.p(j);
      J.tail<3>() = e.m;
      H += J * J.transpose();
      g += J * e.m.dot(e.q);
    }
    // Damped toward the previous map (Levenberg-Marquardt style, 1% of the mean data weight):
    // directions the pairs do not constrain keep the similarity's values they started from, and
    // constrained ones converge to the data without a bias toward the similarity.
    const double lambda = 0.01 * H.trace() / 12.0;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        H(3 * i + j, 3 * i + j) += lambda;
        g(3 * i + j) += lambda * A(i, j);
      }
    const Eigen::Matrix<double, 12, 1> sol = H.ldlt().solve(g);
    if (!sol.allFinite()) return out;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) A(i, j) = sol(3 * i + j);
    b = sol.tail<3>();
    if (std::fabs(A.determinant()) < 1e-12 * std::pow(S.norm(), 3)) return out;
  }
  // Residuals on the last pairs: under the affine map, and under the similarity with its
  // translation re-solved (point-to-plane, least squares) so the comparison is fair.
  Eigen::Matrix3d Ht = Eigen::Matrix3d::Zero();
  Eigen::Vector3d gt = Eigen::Vector3d::Zero();
  for (const Pair3& e : pairs) {
    Ht += e.m * e.m.transpose();
    gt += e.m * e.m.dot(e.q - S * e.p);
  }
  const Eigen::Vector3d bs = (Ht + 1e-9 * Eigen::Matrix3d::Identity()).ldlt().solve(gt);
  double ra = 0.0, rs = 0.0;
  for (const Pair3& e : pairs) {
    ra += std::pow(e.m.dot(A * e.p + b - e.q), 2);
    rs += std::pow(e.m.dot(S * e.p + bs - e.q), 2);
  }
  const Eigen::JacobiSVD<Eigen::Matrix3d> svd(A, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Eigen::Vector3d sv = svd.singularValues();
  out.ratio = sv(0) / std::max(sv(2), 1e-12);
  out.gain = rs > 0.0 ? 1.0 - std::sqrt(ra / rs) : 0.0;
  out.pairs = pairs.size();
  // x = A (p - c) / unit + b: the rotation of its polar decomposition, with the similarity's
  // handedness, the mean singular value as the scale, and the keypoints' centroid kept in place.
  Eigen::Matrix3d U = svd.matrixU();
  const Eigen::Matrix3d V = svd.matrixV();
  if ((U * V.transpose()).determinant() * double(T.rotation.determinant()) < 0.0) U.col(2) *= -1.0;
  out.nearest.rotation = (U * V.transpose()).cast<float>();
  out.nearest.scale = float(sv.mean() / unit);
  out.nearest.translation = (b - double(out.nearest.scale) * (out.nearest.rotation.cast<double>() * c)).cast<float>();
  return out;
}

// A fit is not a similarity copy when the best affine map is clearly anisotropic both over the
// whole reference and over just the surface the fit explains. The whole reference alone misreads
// a multi-body reference (a part holding one body of it pulls the map toward the neighbouring
// bodies' keypoints) and the explained surface alone underestimates a stretch (the keypoints that
// fit a similarity within tolerance are those the stretch moved least). Over the explained
// surface, real copies with a whole-reference ratio above kMaxStretch measured 1.00..1.04 (one
// buried case 1.08, missed either way); stretched copies 1.09..1.42.
constexpr double kMaxStretchExplained = 1.06;
constexpr double kStretchGainExplained = 0.1;
constexpr double kStretchCheckedCoverage = 0.55;
// A similarity that already explains this much of the reference within the fit tolerance (1.2-1.5%
// of its size) leaves no room for a stretch the check would act on (12% and more moves the ends of
// a part by several times the tolerance): such fits, most true matches, skip the affine ICP.
constexpr double kStretchRoomless = 0.95;
// An affine map that stays nearly isotropic but removes most of the similarity's residual means
// the similarity ICP stopped short of the pose (a thin cover fused with a block settled at 0.84x,
// where the affine map said 1.0x: gain 0.96, ratio 1.02). Its nearest similarity is then worth a
// refit (`unstuck`).
constexpr double kUnstuckGain = 0.5;
// `judged` false measures the map for the refit alone (the explained part's map is then not needed).
bool stretched_fit(const Part& part, const PackData& pack, uint32_t ref, const PieceMatch& m,
                   std::optional<Similarity>* unstuck = nullptr, bool judged = true) {
  const Stretch all = measure_stretch(part, pack, ref, m.transform, nullptr);
  if (unstuck && all.pairs > 0 && all.ratio <= kMaxStretch && all.gain >= kUnstuckGain) *unstuck = all.nearest;
  const bool suspect = judged && all.ratio > kMaxStretch && all.gain >= kStretchGain;
  Stretch own;
  if (suspect) own = measure_stretch(part, pack, ref, m.transform, &m.covered);
  const bool stretched = suspect && own.ratio > kMaxStretchExplained && own.gain >= kStretchGainExplained;
  if (debug_enabled())
    std::fprintf(stderr, "  stretch ref %s: coverage %.3f ratio %.3f gain %.3f pairs %zu; explained part: ratio %.3f gain %.3f%s\n",
                 pack.references[ref].id.c_str(), m.coverage, all.ratio, all.gain, all.pairs, own.ratio, own.gain,
                 stretched ? ": not a similarity copy (kept only as one piece of several)" : "");
  return stretched;
}

// RANSAC over descriptor pairs (Fischler & Bolles 1981): three pairs with consistent distances
// give a similarity (with normals as extra constraints that also decide mirroring); the
// hypothesis explaining most pairs wins, then ICP refines it against the dense surface.
// A part that is (nearly) mirror-symmetric fits both ways: the best hypothesis of each handedness
// is refined when both are plausible, and both are returned, so assembly can pick the one its
// other pieces agree with. fixed_scale > 0 (with `hand`) constrains hypotheses to a scale and
// handedness already known from another piece of the same reference. `avoid` (per reference
// keypoint) leaves out pairs on reference surface other pieces already explain: a piece of a
// symmetric part fits every symmetric copy of its region equally well, and only the copy nobody
// else explains is where it came from.
void verify_piece(const Part& part, const PackData& pack, uint32_t ref, int rung, const std::vector<Pair>& all_pairs,
                  uint64_t seed, const FitCriterion& fit, std::vector<PieceMatch>& out, float fixed_scale = 0.f,
                  Handedness hand = Handedness::best, const std::vector<uint8_t>* avoid = nullptr, bool with_explained = true,
                  float scale_slack = kKnownScaleSlack) {
  const ReferenceRecord& rec = pack.reference_records[ref];
  std::vector<const Pair*> pairs;
  for (const Pair& p : all_pairs)
    if (pack.keypoints[p.pack_kp].reference == ref && std::abs(p.rung - rung) <= 1 &&
        !(avoid && (*avoid)[p.pack_kp - rec.keypoint_begin]))
      pairs.push_back(&p);
  if (pairs.size() < 3) return;
  auto up_pos = [&](const Pair* p) -> const Vec3& { return part.rungs[p->rung - kRungMin].keypoints.points[p->upload_kp]; };
  auto up_nrm = [&](const Pair* p) -> const Vec3& { return part.rungs[p->rung - kRungMin].keypoints.normals[p->upload_kp]; };
  auto ref_pos = [&](const Pair* p) { return Vec3(Eigen::Map<const Vec3>(pack.keypoints[p->pack_kp].position)); };
  auto ref_nrm = [&](const Pair* p) { return Vec3(Eigen::Map<const Vec3>(pack.keypoints[p->pack_kp].normal)); };
  const float R = rec.radius_mm;
  std::mt19937_64 rng(seed);
  // Samples favour salient reference keypoints (edges, holes, bosses): pairs on flat faces are
  // ambiguous, and on a thin or flat piece they are nearly all of them.
  std::vector<double> sample_weight(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) sample_weight[i] = 0.1 + pack.keypoints[pairs[i]->pack_kp].salience;
  std::discrete_distribution<size_t> pick(sample_weight.begin(), sample_weight.end());
  // The best few distinct hypotheses of each handedness ([0] proper, [1] mirrored). A flat or
  // nearly symmetric part has several poses that explain almost as many pairs as the true one
  // (the plate turned over or end for end), and which of them has the most inliers is a coin
  // toss; where the leader leaves doubt, the surface tells them apart (see the end).
  struct Hypothesis { Similarity T; size_t inliers = 0; };
  std::vector<Hypothesis> best[2];
  size_t best_inliers[2] = {0, 0};
  const auto distinct = [&](const Similarity& a, const Similarity& b) {
    const float cos_angle = std::clamp(((a.rotation.transpose() * b.rotation).trace() - 1.f) * 0.5f, -1.f, 1.f);
    return cos_angle < 0.97f || (a.translation - b.translation).norm() > 0.25f * R * a.scale;  // ~14 degrees
  };
  const auto keep = [&](std::vector<Hypothesis>& list, const Similarity& T, size_t inliers) {
    for (Hypothesis& h : list)
      if (!distinct(h.T, T)) {
        if (inliers > h.inliers) h = {T, inliers};
        std::sort(list.begin(), list.end(), [](const Hypothesis& x, const Hypothesis& y) { return x.inliers > y.inliers; });
        return;
      }
    list.push_back({T, inliers});
    std::sort(list.begin(), list.end(), [](const Hypothesis& x, const Hypothesis& y) { return x.inliers > y.inliers; });
    if (list.size() > kHypothesesKept) list.pop_back();
  };
  std::vector<Vec3> src(6), dst(6);
  std::vector<uint8_t> seen(rec.keypoint_count);
  // Hypotheses are scored on a fixed random subset of the pairs (preemptive scoring); the loop
  // stops early once the best hypothesis makes further sampling pointless (standard adaptive
  // RANSAC bound for 99% confidence with 3-point samples).
  std::vector<const Pair*> probe = pairs;
  std::shuffle(probe.begin(), probe.end(), rng);
  if (probe.size() > 384) probe.resize(384);
  int iterations = int(std::min<size_t>(2000, 200 + pairs.size() * 4));
  // Scores one hypothesis on the probe pairs and keeps it when it is among the best.
  const auto consider = [&](const Similarity& T, float hint, int it) {
    if (!scale_allowed(T.scale)) return;
    if (fixed_scale > 0.f ? (T.scale < hint * 0.87f || T.scale > hint * 1.15f) : (T.scale < hint * 0.7f || T.scale > hint * 1.4f))
      return;
    const float eps = 0.5f * R * T.scale;
    std::fill(seen.begin(), seen.end(), 0);
    size_t inliers = 0;
    for (const Pair* p : probe) {
      uint32_t k = p->pack_kp - rec.keypoint_begin;
      if (seen[k]) continue;
      Vec3 q = T.apply(ref_pos(p));
      if ((q - up_pos(p)).squaredNorm() > eps * eps) continue;
      if ((T.rotation * ref_nrm(p)).dot(up_nrm(p)) < 0.6f) continue;
      seen[k] = 1;
      ++inliers;
    }
    const int h = T.mirrored() ? 1 : 0;
    if (inliers * 10 >= best_inliers[h] * 6) keep(best[h], T, inliers);
    if (inliers > best_inliers[h]) {
      best_inliers[h] = inliers;
      const double w = double(std::max(best_inliers[0], best_inliers[1])) / double(probe.size());
      const double needed = std::log(0.01) / std::log(std::max(1e-9, 1.0 - w * w * w));
      // Both handednesses are wanted for symmetric parts: keep sampling at least a little.
      iterations = std::min(iterations, std::max(it + 1, int(needed * 2.0) + 100));
    }
  };
  for (int it = 0; it < iterations; ++it) {
    const Pair* s[3] = {pairs[pick(rng)], pairs[pick(rng)], pairs[pick(rng)]};
    if (s[0] == s[1] || s[1] == s[2] || s[0] == s[2]) continue;
    const float hint = fixed_scale > 0.f ? fixed_scale : part.rungs[s[0]->rung - kRungMin].radius / R;
    bool consistent = true;
    for (int a = 0; a < 3 && consistent; ++a)
      for (int b = a + 1; b < 3 && consistent; ++b) {
        float dr = (ref_pos(s[a]) - ref_pos(s[b])).norm();
        float du = (up_pos(s[a]) - up_pos(s[b])).norm();
        if (dr < 0.5f * R) consistent = false;  // too close to fix a rotation
        else if (du < dr * hint * 0.6f || du > dr * hint * 1.6f) consistent = false;
      }
    if (!consistent) continue;
    for (int a = 0; a < 3; ++a) {
      src[a] = ref_pos(s[a]);
      dst[a] = up_pos(s[a]);
      src[3 + a] = src[a] + 0.5f * R * ref_nrm(s[a]);
      dst[3 + a] = dst[a] + 0.5f * R * hint * up_nrm(s[a]);
    }
    Similarity T;
    if (fit_similarity(src, dst, {}, hand, T, fixed_scale)) consider(T, hint, it);
  }
  const size_t top = std::max(best_inliers[0], best_inliers[1]);
  // A reference placed much smaller than the part cannot be checked at this part's sampling
  // resolution (the coverage tolerance would be set by the sampling, not by the reference): the
  // rung ladder stops at kRungRatio^kRungMin for the same reason.
  const float min_size = kMinReferenceShare * size_of_area(part.area);
  // Whole-part poses from the principal axes join the runners-up (verify_piece's own fits only:
  // a piece re-verified at a known scale, or away from other pieces, is not the whole reference).
  AxisPoses axis;
  if (fixed_scale <= 0.f && !avoid) axis = principal_axis_poses(part, pack, ref);
  const std::vector<Similarity>& axis_poses = axis.poses;
  // The hand with more inliers first: once one hand has a clear fit, the other gets its leader
  // refined (symmetric parts fit both ways, and assembly picks) but no second guesses.
  const int first = best_inliers[1] > best_inliers[0] ? 1 : 0;
  bool settled = false;
  for (int h : {first, 1 - first}) {
    std::vector<Hypothesis>& list = best[h];
    for (const Similarity& T : axis_poses)
      if (int(T.mirrored()) == h && (hand == Handedness::best || (hand == Handedness::mirrored) == bool(h))) list.push_back({T, 0});
    const bool ransac_leader = best_inliers[h] >= 4 && best_inliers[h] * 10 >= top * 6;
    if (!ransac_leader && (axis_poses.empty() || settled)) continue;
    auto refine = [&](const Similarity& start, size_t inliers) {
      PieceMatch m;
      m.transform = refine_icp(part, pack, ref, start, fixed_scale, scale_slack);
      if (m.transform.scale * rec.size_mm < min_size) return m;
      Coverage c = measure_coverage(part, pack, ref, m.transform, fit, &m.covered);
      m.coverage = c.area;
      m.score = c.salient;
      // Point-to-point ICP on a piece, or on a part with material the reference lacks, drifts in
      // scale (the reference surface the part lacks pulls toward whatever part surface is near):
      // measured 0.87-0.95 on pieces of cut parts whose true scale is 1, with 10-25% of the
      // reference left unfound. A fit that lands within 15% of a prior scale is refitted at that
      // scale (1% slack), and the better of the two kept.
      const float prior = fixed_scale <= 0.f && m.score >= kPriorRefitFloor && m.score < kSettledFit ? prior_scale(m.transform.scale, 1.15f) : 0.f;
      if (prior > 0.f) {
        // Rescaled about the reference's centroid, which stays where the free fit put it.
        Similarity S = m.transform;
        S.scale = prior;
        S.translation += (m.transform.scale - prior) * (m.transform.rotation * ref_centroid(pack, ref));
        PieceMatch alt;
        alt.transform = refine_icp(part, pack, ref, S, prior, 1.01f);
        const Coverage ac = measure_coverage(part, pack, ref, alt.transform, fit, &alt.covered);
        if (debug_enabled())
          std::fprintf(stderr, "  scale prior %.3f for ref %s: coverage %.3f score %.3f (free scale %.3f: %.3f)\n", prior,
                       pack.references[ref].id.c_str(), ac.area, ac.salient, m.transform.scale, m.score);
        if (ac.salient > m.score) {
          alt.coverage = ac.area;
          alt.score = ac.salient;
          m = std::move(alt);
        }
      }
      if (debug_enabled())
        std::fprintf(stderr, "  hypothesis ref %s hand %d inliers %zu: coverage %.3f score %.3f scale %.3f\n",
                     pack.references[ref].id.c_str(), h, inliers, m.coverage, m.score, m.transform.scale);
      return m;
    };
    // The RANSAC leader (most descriptor inliers) is refined first. While it leaves doubt, the
    // other pose that puts the most reference surface on the part before any refinement (a loose,
    // sparse check: descriptor inliers are few and noisy on such parts, the surface is not) is
    // refined too. A clear fit costs one ICP as before, and so does a leader too poor to be a
    // misplaced copy of the reference (then only a whole-part axis pose may compete).
    PieceMatch chosen, displaced;
    bool have = false, have_displaced = false;
    if (ransac_leader) chosen = refine(list[0].T, list[0].inliers), have = true;
    if (!settled && (!have || chosen.score < kSettledFit)) {
      const bool runners_up = have && chosen.score >= kDoubtFloor;
      double best_rough = have ? rough_coverage(part, pack, ref, list[0].T, fit) + kRoughMargin : kAxisPoseRough;
      // Turns about a lone axis are many (48 per hand and scale): only the few that put the most
      // surface in place on a sparser check go on to be ranked with the other poses, and only
      // beside a fit that may be a misplaced copy (kTurnsFloor).
      std::vector<uint8_t> swept_out(list.size(), 0);
      std::vector<std::pair<double, size_t>> turns;
      for (size_t i = have ? 1 : 0; i < list.size(); ++i)
        if (list[i].inliers == 0) turns.push_back({0.0, i});
      if (axis.turns && !turns.empty()) {
        const bool worth = have && chosen.score >= kTurnsFloor;
        if (worth) {
          for (auto& [r, i] : turns) r = -rough_coverage(part, pack, ref, list[i].T, fit, kSweepSamples);
          std::sort(turns.begin(), turns.end());
        }
        for (size_t k = worth ? kSweepKept : 0; k < turns.size(); ++k) swept_out[turns[k].second] = 1;
      }
      size_t pick = list.size();
      for (size_t i = have ? 1 : 0; i < list.size(); ++i) {
        const bool from_axes = list[i].inliers == 0;
        if (swept_out[i]) continue;
        if (!from_axes && (!runners_up || list[i].inliers < 4 || list[i].inliers * 10 < best_inliers[h] * 6)) continue;
        const double r = rough_coverage(part, pack, ref, list[i].T, fit);
        if (debug_enabled() && from_axes)
          std::fprintf(stderr, "  axis pose ref %s hand %d: rough %.3f (to beat %.3f)\n", pack.references[ref].id.c_str(), h, r, best_rough);
        if (r > best_rough && (!from_axes || r >= kAxisPoseRough)) best_rough = r, pick = i;
      }
      if (pick < list.size()) {
        PieceMatch m = refine(list[pick].T, list[pick].inliers);
        if (have && m.score > chosen.score && chosen.score >= kDoubtFloor) displaced = std::move(chosen), have_displaced = true;
        if (!have || m.score > chosen.score) chosen = std::move(m), have = true;
      }
    }
    if (!have || chosen.transform.scale * rec.size_mm < min_size) continue;
    // Only a fit that could carry a verdict by itself is checked for stretch: a piece of a cut part
    // fits too little of the reference for the affine map to be told from a similarity (measured
    // on pieces of 10-50% of a reference: ratios up to 1.2 on the surface they explain). Bigger
    // pieces of flat parts are checked and still misread (55-76% of a generated panel: 1.07-1.44),
    // so a stretched fit is kept, marked: it carries no match alone, but assembly may place it
    // among other pieces (see where assemblies are scored in run_matching).
    // (A fit short of that may still be a copy the similarity ICP left short of its pose: a 3MF
    // round trip of a marking template fitted at 1.25x on its row of holes, 55% found. Its affine
    // map is measured for the refit alone, down to kDoubtFloor, where the part may be the whole
    // reference: the sole body of its file, and the reference its votes rank first. Bodies of
    // multi-body uploads are left out (each body of a two-body reference's copy finds about half
    // of it: the affine ICP on each cost such copies 1.25-1.55x), and so are a part's other
    // candidates (look-alikes at 40-55% took a 4-clip part from 247 to 271 ms against 1,000
    // references).)
    auto check_stretch = [&](PieceMatch& m, std::optional<Similarity>* unstuck = nullptr) {
      const double c = std::max(m.coverage, m.score);
      const bool checked = c >= kStretchCheckedCoverage && c < kStretchRoomless;
      const bool refit = unstuck && part.sole_body && part.leading_reference == ref && c >= kDoubtFloor && c < kStretchRoomless;
      m.stretched = (checked || refit) && stretched_fit(part, pack, ref, m, unstuck, checked) && checked;
    };
    std::optional<Similarity> unstuck;
    check_stretch(chosen, fixed_scale <= 0.f ? &unstuck : nullptr);
    if (unstuck && scale_allowed(unstuck->scale)) {
      PieceMatch alt;
      alt.transform = refine_icp(part, pack, ref, *unstuck, 0.f, scale_slack);
      const Coverage ac = measure_coverage(part, pack, ref, alt.transform, fit, &alt.covered);
      alt.coverage = ac.area;
      alt.score = ac.salient;
      if (debug_enabled())
        std::fprintf(stderr, "  unstuck ref %s: from scale %.3f (score %.3f) to %.3f: score %.3f\n", pack.references[ref].id.c_str(),
                     chosen.transform.scale, chosen.score, alt.transform.scale, alt.score);
      if (alt.score > chosen.score && alt.transform.scale * rec.size_mm >= min_size) {
        chosen = std::move(alt);
        check_stretch(chosen);
      }
    }
    settled = settled || (!chosen.stretched && chosen.score >= kSettledFit);
    // A runner-up that beat the RANSAC leader but is stretched carries no match by itself: the
    // whole reference shrunk onto a piece that is half of it (a half of a symmetric part, whose
    // axis pose covers a little more than its true pose). The leader is kept beside it then, so
    // assembly can anchor at its scale too.
    if (chosen.stretched && have_displaced && displaced.transform.scale * rec.size_mm >= min_size) {
      check_stretch(displaced);
      if (!displaced.stretched) {
        displaced.explained = with_explained ? explained_fraction(part, pack, ref, displaced.transform, fit) : -1.0;
        out.push_back(std::move(displaced));
      }
    }
    chosen.explained = with_explained ? explained_fraction(part, pack, ref, chosen.transform, fit) : -1.0;
    out.push_back(std::move(chosen));
  }
}

}  // namespace
}  // namespace detail

ScanResult scan_loaded_or_empty(const std::vector<LoadedFile>& files, const Pack& pack, const ScanOptions& options);

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::clear: return "clear";
    case Verdict::review: return "review";
    case Verdict::flagged: return "flagged";
    case Verdict::error: return "error";
  }
  return "error";
}

namespace {


void run_matching(const std::vector<const LoadedFile*>& files, const Pack& pack, const ScanOptions& options,
                  ScanResult& result) {
  using namespace detail;
  const PackData& pd = pack.data();
  auto t_features = Clock::now();
  std::vector<Part> parts;
  for (uint32_t f = 0; f < files.size(); ++f) {
    const LoadedFile& file = *files[f];
    for (uint32_t c = 0; c < file.components.size(); ++c) {
      Part p;
      p.file = f;
      p.component = c;
      p.area = file.components[c].area_mm2;
      if (!(p.area > 0.0)) continue;
      parts.push_back(std::move(p));
    }
    for (uint32_t s = 0; s < file.surfaces.size(); ++s) {
      Part p;
      p.file = f;
      p.component = uint32_t(file.components.size() + s);
      p.area = file.surfaces[s].area_mm2;
      p.walls_only = file.surfaces[s].walls_only;
      parts.push_back(std::move(p));
    }
  }
  // Exact rigid copies among the components (a plate of instances): each shape is described and
  // verified once. Keyed by (file, component) until the part list is final.
  std::map<std::pair<uint32_t, uint32_t>, std::pair<std::pair<uint32_t, uint32_t>, Similarity>> copy_source;
  {
    std::vector<ComponentRef> items;
    std::vector<std::pair<uint32_t, uint32_t>> keys;
    for (const Part& p : parts)
      if (p.component < files[p.file]->components.size()) {
        items.push_back(ComponentRef{&files[p.file]->mesh, files[p.file]->components[p.component]});
        keys.push_back({p.file, p.component});
      }
    const std::vector<RigidCopy> copies = find_rigid_copies(items);
    for (size_t i = 0; i < copies.size(); ++i) {
      if (copies[i].source < 0) continue;
      Similarity P;
      for (int r = 0; r < 3; ++r) {
        for (int c = 0; c < 3; ++c) P.rotation(r, c) = copies[i].rotation[3 * r + c];
        P.translation[r] = copies[i].translation[r];
      }
      copy_source[keys[i]] = {keys[size_t(copies[i].source)], P};
    }
  }
  // Enclosed surface (a part buried in a hollow shell held by sprues is one component with the
  // shell): screened as a part of its own when it is a real share of its component.
  {
    std::vector<uint32_t> mesh_parts;
    for (uint32_t i = 0; i < parts.size(); ++i)
      if (parts[i].component < files[parts[i].file]->components.size() &&
          files[parts[i].file]->components[parts[i].component].triangle_count >= kMinEnclosedTriangles)
        mesh_parts.push_back(i);
    const auto t_enclosed = Clock::now();
    std::vector<EnclosedSurface> enclosed(mesh_parts.size());
    std::map<std::pair<uint32_t, uint32_t>, size_t> slot;  // (file, component) -> k
    for (size_t k = 0; k < mesh_parts.size(); ++k) slot[{parts[mesh_parts[k]].file, parts[mesh_parts[k]].component}] = k;
    auto source_slot = [&](size_t k) -> size_t {  // a copy's source's k, or SIZE_MAX
      auto c = copy_source.find({parts[mesh_parts[k]].file, parts[mesh_parts[k]].component});
      if (c == copy_source.end()) return SIZE_MAX;
      auto s = slot.find(c->second.first);
      return s == slot.end() ? SIZE_MAX : s->second;
    };
    tbb::parallel_for(size_t(0), mesh_parts.size(), [&](size_t k) {
      if (source_slot(k) != SIZE_MAX) return;
      const Part& p = parts[mesh_parts[k]];
      const LoadedFile& file = *files[p.file];
      enclosed[k] = enclosed_surface(file.mesh, file.components[p.component]);
    });
    // A copy's enclosed surface is its source's, triangle for triangle.
    for (size_t k = 0; k < mesh_parts.size(); ++k) {
      const size_t s = source_slot(k);
      if (s == SIZE_MAX) continue;
      const Part& p = parts[mesh_parts[k]];
      const Part& q = parts[mesh_parts[s]];
      const ComponentInfo& mine = files[p.file]->components[p.component];
      const ComponentInfo& theirs = files[q.file]->components[q.component];
      enclosed[k] = enclosed[s];
      for (ComponentInfo& r : enclosed[k].runs) r.first_triangle = r.first_triangle - theirs.first_triangle + mine.first_triangle;
    }
    if (debug_enabled()) std::fprintf(stderr, "enclosed surfaces: %.1f ms\n", ms_since(t_enclosed));
    for (size_t k = 0; k < mesh_parts.size(); ++k) {
      if (debug_enabled())
        std::fprintf(stderr, "component %u of file %u: enclosed surface %.1f of %.1f mm2 in %zu runs\n",
                     parts[mesh_parts[k]].component, parts[mesh_parts[k]].file, enclosed[k].area_mm2,
                     parts[mesh_parts[k]].area, enclosed[k].runs.size());
      if (enclosed[k].area_mm2 < kMinEnclosedShare * parts[mesh_parts[k]].area) continue;
      Part p;
      p.file = parts[mesh_parts[k]].file;
      p.component = parts[mesh_parts[k]].component;
      p.area = enclosed[k].area_mm2;
      p.enclosed = true;
      p.runs = std::move(enclosed[k].runs);
      parts.push_back(std::move(p));
    }
  }
  // Bounded work whatever the job: drop specks, keep the largest max_parts, share the point budget.
  {
    double largest = 0.0;
    for (const Part& p : parts) largest = std::max(largest, p.area);
    const size_t before = parts.size();
    parts.erase(std::remove_if(parts.begin(), parts.end(),
                               [&](const Part& p) { return p.area < options.min_part_area_share * largest; }),
                parts.end());
    if (parts.size() > options.max_parts) {
      std::stable_sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) { return a.area > b.area; });
      parts.resize(options.max_parts);
    }
    result.parts_skipped = uint32_t(before - parts.size());
    result.parts_screened = uint32_t(parts.size());
  }
  add_whole_file_parts(parts, files);
  add_reassembled_parts(parts, files);
  {
    std::map<std::tuple<uint32_t, uint32_t, bool>, int32_t> index;  // (file, component, enclosed) -> part
    auto plain = [&](const Part& p) { return !p.whole_file && !p.reassembled && !p.own_mesh && p.component < files[p.file]->components.size(); };
    for (size_t i = 0; i < parts.size(); ++i)
      if (plain(parts[i])) index[{parts[i].file, parts[i].component, parts[i].enclosed}] = int32_t(i);
    for (Part& p : parts) {
      if (!plain(p)) continue;
      auto c = copy_source.find({p.file, p.component});
      if (c == copy_source.end()) continue;
      auto s = index.find({c->second.first.first, c->second.first.second, p.enclosed});
      if (s == index.end()) continue;  // its source was not screened
      p.copy_of = s->second;
      p.copy_placement = c->second.second;
    }
  }
  // Dense points per part follow its share of the job's surface (a 2% slab beside the main body
  // needs no main-body sampling), between a floor and the per-part cap, within the job budget.
  double job_area = 0.0;
  for (const Part& p : parts) job_area += p.whole_file ? 0.0 : p.area;
  const size_t budget = std::min<size_t>(options.max_job_points, 200000);
  // (Reassembled parts are extra views of the pieces' surface: they leave the pieces' budget alone.)
  const size_t budgeted_parts = size_t(std::count_if(parts.begin(), parts.end(), [](const Part& p) { return !p.reassembled; }));
  auto points_for = [&](const Part& p) {
    const double share = job_area > 0 ? p.area / job_area : 1.0;
    const size_t fair = std::max<size_t>(options.max_job_points / std::max<size_t>(budgeted_parts, 1), 1);
    return std::min({std::clamp<size_t>(size_t(share * double(budget)), 10000, kMaxDensePoints), std::max<size_t>(fair, 2000)});
  };
  tbb::parallel_for(size_t(0), parts.size(), [&](size_t i) {
    Part& p = parts[i];
    if (p.copy_of >= 0) return;  // moved from its source below
    const size_t points_per_part = points_for(p);
    const LoadedFile& file = *files[p.file];
    if (p.enclosed) {
      // Runs of an enclosed surface are open patches of a closed component: their own signed
      // volume is a coin toss (a buried part came out with a third of its normals flipped and
      // explained 0.6-0.7 of it), so every run takes its component's orientation.
      const ComponentInfo& c = file.components[p.component];
      p.dense = surface_cloud(file.mesh, p.runs, p.area, points_per_part, outward_sign(file.mesh, c.first_triangle, c.triangle_count));
    } else if (p.own_mesh) {
      p.dense = surface_cloud(*p.own_mesh, p.runs, p.area, points_per_part);
    } else if (p.whole_file) {
      p.dense = surface_cloud(file.mesh, p.runs, p.area, points_per_part);
    } else if (p.component < file.components.size()) {
      p.dense = surface_cloud(file.mesh, {file.components[p.component]}, p.area, points_per_part);
    } else {
      const OrientedSurface& s = file.surfaces[p.component - file.components.size()];
      Cloud raw = cloud_from_surface(s);
      if (!(p.area > 0.0)) {
        p.area = 0.0;
        for (float w : raw.weights) p.area += w;
      }
      p.dense = voxel_average(raw, dense_spacing(p.area, points_per_part));
      smooth_normals(p.dense, 3.f * dense_spacing(p.area, points_per_part));
    }
    build_part_features(p, points_per_part);
  });
  tbb::parallel_for(size_t(0), parts.size(), [&](size_t i) {
    if (parts[i].copy_of >= 0) describe_copy(parts[i], parts[size_t(parts[i].copy_of)]);
  });
  result.timings.features_ms = ms_since(t_features);

  auto t_candidates = Clock::now();
  std::vector<std::vector<Pair>> pairs(parts.size());
  std::vector<std::vector<Vote>> votes(parts.size());
  tbb::parallel_for(size_t(0), parts.size(), [&](size_t i) {
    if (parts[i].copy_of >= 0) return;
    pairs[i] = options.use_index ? query_index(parts[i], pd) : query_exhaustive(parts[i], pd);
    votes[i] = tally(pairs[i], pd);
  });
  for (size_t i = 0; i < parts.size(); ++i)  // (a copy's keypoints are its source's, in order)
    if (parts[i].copy_of >= 0) pairs[i] = pairs[size_t(parts[i].copy_of)], votes[i] = votes[size_t(parts[i].copy_of)];
  for (size_t i = 0; i < parts.size(); ++i) {
    double strongest = -1.0;
    for (const Vote& v : votes[i])
      if (v.strength > strongest || (v.strength == strongest && v.reference < parts[i].leading_reference))
        strongest = v.strength, parts[i].leading_reference = v.reference;
  }
  // Candidate references: strongest vote over all parts, best first.
  std::unordered_map<uint32_t, double> ref_strength;
  for (auto& vs : votes)
    for (const Vote& v : vs) ref_strength[v.reference] = std::max(ref_strength[v.reference], v.strength);
  std::vector<std::pair<double, uint32_t>> ranked;
  for (auto& [ref, s] : ref_strength)
    if (s >= options.min_vote || !options.use_index) ranked.push_back({s, ref});
  std::sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  // The kPartsWithOwnCandidates largest parts (not whole files), each with its votes, strongest first.
  std::vector<std::pair<uint32_t, std::vector<Vote>>> own_votes;
  if (options.use_index) {
    // The global top list, plus each large part's own two best: small flat parts (slabs, tabs)
    // vote strongly for simple references and must not crowd out the main body's candidate.
    // A part's own best need only half the vote floor: in a pack of thousands, votes spread over
    // more look-alike keypoints and even the right reference's share sinks (0.033 for a whole,
    // unmodified part against 10,000 references, bench/scaling).
    std::vector<std::pair<double, uint32_t>> keep(ranked.begin(), ranked.begin() + std::min<size_t>(ranked.size(), options.max_candidates));
    std::vector<uint32_t> by_area(parts.size());
    for (uint32_t i = 0; i < parts.size(); ++i) by_area[i] = i;
    std::sort(by_area.begin(), by_area.end(), [&](uint32_t a, uint32_t b) { return parts[a].area > parts[b].area; });
    // Whole-file parts (at most one per file) come on top of the kPartsWithOwnCandidates largest.
    for (size_t k = 0, own = 0; k < by_area.size(); ++k) {
      if (parts[by_area[k]].copy_of >= 0) continue;  // its source's votes
      if (!parts[by_area[k]].whole_file && own++ >= kPartsWithOwnCandidates) continue;
      std::vector<Vote> v = votes[by_area[k]];
      std::sort(v.begin(), v.end(), [](const Vote& a, const Vote& b) { return a.strength > b.strength || (a.strength == b.strength && a.reference < b.reference); });
      for (size_t j = 0; j < v.size() && j < 2; ++j) {
        if (v[j].strength < 0.5 * options.min_vote) break;
        if (std::none_of(keep.begin(), keep.end(), [&](auto& e) { return e.second == v[j].reference; }))
          keep.push_back({v[j].strength, v[j].reference});
      }
      if (!parts[by_area[k]].whole_file) own_votes.push_back({by_area[k], std::move(v)});
    }
    ranked.swap(keep);
  }
  struct Task { uint32_t ref; uint32_t part; int rung; };
  std::vector<Task> tasks;
  for (auto& [s, ref] : ranked)
    for (uint32_t i = 0; i < parts.size(); ++i)
      for (const Vote& v : votes[i])  // (a copy gets its source's fits, below)
        if (parts[i].copy_of < 0 && v.reference == ref && (v.strength >= options.min_vote * 0.5 || !options.use_index))
          tasks.push_back({ref, i, v.rung});
  // Each large part also gets its two best multi-body references that are on no list yet,
  // verified on that part alone. One body of a multi-body reference, laid on a plate apart from
  // its siblings, holds only its share of the reference's keypoints, so its vote is diluted: on
  // a plate, a hinge leaf ranked its reference 4th and an idler body 8th, behind references
  // that simple, generic parts vote for everywhere (and that the job's list already holds). The
  // assembly below adds the sibling bodies once this one is placed. Single-body references are
  // left out: a part that is one gets its full vote, and letting them in sent 5 more benign
  // uploads of the benchmark to review and one to flagged (simple references fit anything).
  for (const auto& [i, v] : own_votes) {
    std::vector<uint32_t> extra;
    for (const Vote& e : v) {
      if (e.strength < 0.5 * options.min_vote || extra.size() >= kOwnExtraCandidates) break;
      if (pd.reference_records[e.reference].component_count < 2) continue;
      const bool listed = std::any_of(ranked.begin(), ranked.end(), [&](auto& r) { return r.second == e.reference; });
      if (!listed && std::find(extra.begin(), extra.end(), e.reference) == extra.end()) extra.push_back(e.reference);
    }
    for (const Vote& e : v)
      if (std::find(extra.begin(), extra.end(), e.reference) != extra.end() && e.strength >= 0.5 * options.min_vote)
        tasks.push_back({e.reference, i, e.rung});
  }
  result.timings.candidates_ms = ms_since(t_candidates);

  auto t_verify = Clock::now();
  const FitCriterion fit{float(options.coverage_tolerance), float(options.normal_agreement)};
  std::vector<std::vector<PieceMatch>> verified(tasks.size());
  tbb::parallel_for(size_t(0), tasks.size(), [&](size_t t) {
    const Task& task = tasks[t];
    // Seeded by what is verified, not by its place in the task list: a reference's result must not
    // depend on which other candidates the job happened to have.
    const uint64_t seed = 0x1234567ull ^ (uint64_t(task.ref) << 32) ^ (uint64_t(task.part) << 8) ^ uint64_t(task.rung - kRungMin);
    verify_piece(parts[task.part], pd, task.ref, task.rung, pairs[task.part], seed, fit, verified[t]);
    for (PieceMatch& m : verified[t]) m.part = task.part;
  });
  // Exact copies (see find_rigid_copies) are one shape: a fit of one is a fit of the others,
  // moved by their placements.
  auto shape_of = [&](uint32_t part) { return parts[part].copy_of >= 0 ? uint32_t(parts[part].copy_of) : part; };
  auto moved_fit = [&](const PieceMatch& m, uint32_t to) {
    auto placement = [&](uint32_t p) { return parts[p].copy_of >= 0 ? parts[p].copy_placement : Similarity{}; };
    PieceMatch out = m;
    out.part = to;
    out.transform = compose(compose(placement(to), inverse(placement(m.part))), m.transform);
    return out;
  };
  std::vector<std::vector<uint32_t>> copies_of(parts.size());
  for (uint32_t i = 0; i < parts.size(); ++i)
    if (parts[i].copy_of >= 0) copies_of[size_t(parts[i].copy_of)].push_back(i);
  std::vector<PieceMatch> pieces;
  std::vector<uint32_t> piece_ref;
  for (size_t t = 0; t < tasks.size(); ++t)
    for (PieceMatch& m : verified[t]) {
      const size_t at = pieces.size();
      pieces.push_back(std::move(m));
      piece_ref.push_back(tasks[t].ref);
      for (uint32_t c : copies_of[pieces[at].part]) {  // the same fit, moved onto each copy
        PieceMatch moved = moved_fit(pieces[at], c);
        pieces.push_back(std::move(moved));
        piece_ref.push_back(tasks[t].ref);
      }
    }
  if (debug_enabled()) {
    for (size_t i = 0; i < parts.size(); ++i) {
      size_t nkp = 0;
      for (auto& f : parts[i].rungs) nkp += f.size();
      std::fprintf(stderr, "part %zu%s: area %.1f dense %zu kps %zu pairs %zu\n", i, parts[i].whole_file ? " (whole file)" : "", parts[i].area,
                   parts[i].dense.size(), nkp, pairs[i].size());
      std::vector<Vote> v = votes[i];
      std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.strength > b.strength; });
      // PARTSCREEN_DEBUG_REF=ID also prints where that reference ranks (why was it not verified?).
      const char* watch = std::getenv("PARTSCREEN_DEBUG_REF");
      for (size_t k = 0; k < v.size(); ++k)
        if (k < 4 || (watch && pd.references[v[k].reference].id == watch))
          std::fprintf(stderr, "  vote %s rung %d strength %.3f (rank %zu of %zu)\n", pd.references[v[k].reference].id.c_str(),
                       v[k].rung, v[k].strength, k + 1, v.size());
    }
    for (size_t t = 0; t < pieces.size(); ++t)
      std::fprintf(stderr, "piece ref %s part %u: coverage %.3f score %.3f scale %.3f mirrored %d\n",
                   pd.references[piece_ref[t]].id.c_str(), pieces[t].part, pieces[t].coverage, pieces[t].score,
                   pieces[t].transform.scale, int(pieces[t].transform.mirrored()));
  }
  // Assemble each reference from its pieces. The best piece (the anchor) fixes scale and
  // handedness; every other part of the job that shares descriptor pairs with the reference is
  // then verified again at that scale (pieces are small and ambiguous on their own), and parts of
  // the anchor's own file are also tried under the anchor's transform (multi-body references).
  std::unordered_map<uint32_t, std::vector<size_t>> by_ref;
  for (size_t t = 0; t < pieces.size(); ++t)
    if (pieces[t].coverage >= options.min_piece_coverage) by_ref[piece_ref[t]].push_back(t);
  std::vector<uint32_t> refs_found;
  for (auto& [ref, list] : by_ref) refs_found.push_back(ref);
  std::sort(refs_found.begin(), refs_found.end());
  const std::vector<std::vector<Vote>>& votes_of = votes;
  // A whole-file part and the bodies of its file are the same surface: never pieces of one another
  // (nor is a whole-file part a piece of another file's anchor: its own bodies are tried instead).
  auto overlaps_whole_file = [&](uint32_t anchor, uint32_t i) {
    const Part& a = parts[anchor];
    // (By file and component: a piece's enclosed surface is that piece too.)
    const bool piece_of_anchor = std::any_of(a.piece_parts.begin(), a.piece_parts.end(), [&](uint32_t k) {
      return parts[k].file == parts[i].file && parts[k].component == parts[i].component;
    });
    return parts[i].whole_file || piece_of_anchor || (a.whole_file && !a.reassembled && parts[i].file == a.file);
  };
  // Per reference and handedness: the anchor, then the best consistent piece of every other part.
  auto assemble = [&](uint32_t ref, const PieceMatch& anchor) {
    const ReferenceRecord& rec = pd.reference_records[ref];
    const auto& list = by_ref[ref];
    const float scale = anchor.transform.scale;
    const Handedness hand = anchor.transform.mirrored() ? Handedness::mirrored : Handedness::proper;
    auto consistent = [&](const PieceMatch& m) {
      return m.transform.mirrored() == anchor.transform.mirrored() &&
             std::fabs(std::log(m.transform.scale / scale)) <= std::log(1.15);
    };
    if (debug_enabled())
      std::fprintf(stderr, "  assemble ref %s: anchor part %u coverage %.3f scale %.3f mirrored %d\n", pd.references[ref].id.c_str(),
                   anchor.part, anchor.coverage, anchor.transform.scale, int(anchor.transform.mirrored()));
    // Which other parts could be pieces of this placed reference: not larger than it, and (for the
    // costly re-verification) with votes for it. Bounded per reference: a job of a thousand shells
    // must not cost a thousand RANSACs per candidate.
    const float placed_area = float(rec.area_mm2) * scale * scale;
    std::vector<std::pair<double, uint32_t>> order;  // (votes, part)
    for (uint32_t i = 0; i < parts.size(); ++i) {
      if (i == anchor.part || parts[i].area > 1.3 * placed_area || overlaps_whole_file(anchor.part, i)) continue;
      double votes = 0.0;
      for (const Vote& v : votes_of[i])
        if (v.reference == ref) votes = std::max(votes, v.strength);
      order.push_back({votes, i});
    }
    std::sort(order.begin(), order.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    // Every placement of every other part that agrees with the anchor: its own fits, the anchor's
    // transform, a fresh fit at the anchor's scale.
    // (refit_begin: where the fits of the re-verification start.)
    struct Candidates {
      uint32_t part;
      bool reverified = false;
      std::vector<PieceMatch> fits;
      std::vector<Pair> own_pairs;
      size_t refit_begin = 0;
    };
    std::vector<Candidates> cands;
    size_t reverified = 0;
    // Exact copies of one shape (a plate of instances) fit alike: the first to be re-verified is
    // fitted, and its fits are moved onto the others (the RANSACs would differ only by their seed).
    std::unordered_map<uint32_t, size_t> refitted_shape;  // shape -> its first re-verified candidate
    for (const auto& [votes, i] : order) {
      Candidates c;
      c.part = i;
      for (size_t t : list)
        if (pieces[t].part == i && consistent(pieces[t])) c.fits.push_back(pieces[t]);
      // Pieces saved without being moved (any file of the job) sit where the anchor says.
      {
        PieceMatch same;
        same.part = i;
        same.transform = anchor.transform;
        Coverage cov = measure_coverage(parts[i], pd, ref, anchor.transform, fit, &same.covered);
        same.coverage = cov.area;
        same.score = cov.salient;
        // Placed by the anchor's transform, a piece has no freedom of its own: any reference
        // surface it explains is evidence, however small the piece (multi-body references).
        if (same.coverage > 0.0) {
          same.explained = -1.0;  // measured when used (take)
          same.placed_by_anchor = true;
          c.fits.push_back(std::move(same));
        }
      }
      // A large piece is worth a fit without votes: cut pieces lose the descriptors that cross
      // the cut, and a piece's right rung may hold too few of the rest to vote.
      const bool worth_refit = votes >= 0.5 * options.min_vote || parts[i].area >= kLargePieceShare * placed_area;
      const auto same_shape = refitted_shape.find(shape_of(i));
      if (worth_refit && same_shape != refitted_shape.end()) {
        const Candidates& first = cands[same_shape->second];
        c.reverified = true;
        c.own_pairs = first.own_pairs;
        c.refit_begin = c.fits.size();
        for (size_t f = first.refit_begin; f < first.fits.size(); ++f) c.fits.push_back(moved_fit(first.fits[f], i));
      } else if (worth_refit && reverified < kMaxReverifiedParts) {
        ++reverified;
        c.reverified = true;
        c.refit_begin = c.fits.size();
        refitted_shape.emplace(shape_of(i), cands.size());
        std::vector<PieceMatch> again;
        const int rung = rung_for_scale(parts[i], rec, scale);
        c.own_pairs = query_reference(parts[i], pd, ref, rung);
        const std::vector<Pair>& own_pairs = c.own_pairs;
        verify_piece(parts[i], pd, ref, rung, own_pairs, 0x5151ull + i, fit, again, scale, hand, nullptr, false);
        if (debug_enabled())
          for (const PieceMatch& m : again)
            std::fprintf(stderr, "  re-verify ref %s part %u rung %d: coverage %.3f scale %.3f mirrored %d\n",
                         pd.references[ref].id.c_str(), i, rung_for_scale(parts[i], rec, scale), m.coverage, m.transform.scale,
                         int(m.transform.mirrored()));
        for (PieceMatch& m : again)
          if (consistent(m)) {
            m.part = i;
            c.fits.push_back(std::move(m));
          }
        // Fits well, but mostly where the anchor is: a piece of a symmetric part on the anchor's
        // copy of its region. Fitted again away from the anchor (verify_piece's `avoid`).
        const PieceMatch* own = nullptr;
        for (const PieceMatch& m : c.fits)
          if (!m.placed_by_anchor && (!own || m.coverage > own->coverage)) own = &m;
        if (own && own->coverage >= options.min_piece_coverage) {
          double added = 0.0, all = 0.0;
          for (uint32_t k = 0; k < rec.keypoint_count; ++k) {
            const float w = pd.keypoints[rec.keypoint_begin + k].weight;
            all += w * own->covered[k];
            if (own->covered[k] && !anchor.covered[k]) added += w;
          }
          if (added < kOverlapRefit * all) {
            std::vector<PieceMatch> away;
            verify_piece(parts[i], pd, ref, rung, own_pairs, 0xa5a5ull + i, fit, away, scale, hand, &anchor.covered, false);
            for (PieceMatch& m : away)
              if (consistent(m)) {
                if (debug_enabled())
                  std::fprintf(stderr, "  re-verify away from anchor ref %s part %u: coverage %.3f scale %.3f\n",
                               pd.references[ref].id.c_str(), i, m.coverage, m.transform.scale);
                m.part = i;
                c.fits.push_back(std::move(m));
              }
          }
        }
      }
      cands.push_back(std::move(c));
    }
    // Greedy maximum coverage (each step takes the placement that explains the most reference
    // surface not explained yet, one placement per part).
    std::vector<uint8_t> covered = anchor.covered;
    std::vector<PieceMatch> used{anchor};
    double total = 0.0;
    for (uint32_t k = 0; k < rec.keypoint_count; ++k) total += pd.keypoints[rec.keypoint_begin + k].weight;
    auto gain_of = [&](const PieceMatch& m) {
      double added = 0.0;
      for (uint32_t k = 0; k < rec.keypoint_count; ++k)
        if (m.covered[k] && !covered[k]) added += pd.keypoints[rec.keypoint_begin + k].weight;
      return total > 0 ? added / total : 0.0;
    };
    auto acceptable = [&](const PieceMatch& m, double gain) {
      return gain > 0.0 && (m.placed_by_anchor || (m.coverage >= options.min_piece_coverage && gain >= 0.05 &&
                                                    gain >= kMinNewShare * m.coverage));
    };
    auto take = [&](PieceMatch m, double gain, const char* how) {
      if (debug_enabled())
        std::fprintf(stderr, "  union ref %s part %u (%s): coverage %.3f adds %.3f%s\n", pd.references[ref].id.c_str(), m.part,
                     how, m.coverage, gain, m.placed_by_anchor ? " (anchor's transform)" : "");
      for (uint32_t k = 0; k < rec.keypoint_count; ++k) covered[k] |= m.covered[k];
      if (m.explained < 0.0) m.explained = explained_fraction(parts[m.part], pd, ref, m.transform, fit);
      used.push_back(std::move(m));
    };
    std::vector<uint8_t> taken(cands.size(), 0);
    while (used.size() < kMaxAssemblyParts) {
      double best_gain = 0.0;
      size_t best_c = 0, best_f = 0;
      for (size_t c = 0; c < cands.size(); ++c) {
        if (taken[c]) continue;
        for (size_t f = 0; f < cands[c].fits.size(); ++f) {
          const double g = gain_of(cands[c].fits[f]);
          if (acceptable(cands[c].fits[f], g) && g > best_gain) { best_gain = g; best_c = c; best_f = f; }
        }
      }
      if (!(best_gain > 0.0)) break;
      taken[best_c] = 1;
      take(cands[best_c].fits[best_f], best_gain, "own fit");
    }
    // A part that fits the reference well but only where other pieces already are: a piece of a
    // symmetric part landed on the wrong copy of its region. Fitted again away from what is
    // explained (verify_piece's `avoid`), best-fitting parts first.
    std::vector<std::pair<double, size_t>> overlapped;
    for (size_t c = 0; c < cands.size(); ++c) {
      if (taken[c] || !cands[c].reverified) continue;
      double best = 0.0;
      for (const PieceMatch& m : cands[c].fits)
        if (!m.placed_by_anchor) best = std::max(best, m.coverage);
      if (best >= options.min_piece_coverage || parts[cands[c].part].area >= kLargePieceShare * placed_area)
        overlapped.push_back({best, c});
    }
    std::sort(overlapped.begin(), overlapped.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    // (Copies of one shape share these fits too while the explained surface stays as it was.)
    std::unordered_map<uint32_t, std::pair<size_t, std::vector<PieceMatch>>> away_of_shape;  // shape -> (used.size(), fits)
    for (const auto& [best, c] : overlapped) {
      if (used.size() >= kMaxAssemblyParts) break;
      const uint32_t i = cands[c].part;
      std::vector<PieceMatch> again;
      const auto same_shape = away_of_shape.find(shape_of(i));
      if (same_shape != away_of_shape.end() && same_shape->second.first == used.size()) {
        for (const PieceMatch& m : same_shape->second.second) again.push_back(moved_fit(m, i));
      } else {
        verify_piece(parts[i], pd, ref, rung_for_scale(parts[i], rec, scale), cands[c].own_pairs, 0x5a5aull + i, fit, again, scale,
                     hand, &covered, false);
        for (PieceMatch& m : again) m.part = i;
        away_of_shape[shape_of(i)] = {used.size(), again};
      }
      double best_gain = 0.0;
      PieceMatch* pick = nullptr;
      for (PieceMatch& m : again) {
        if (!consistent(m)) continue;
        m.part = i;
        const double g = gain_of(m);
        if (debug_enabled())
          std::fprintf(stderr, "  re-verify away ref %s part %u: coverage %.3f adds %.3f scale %.3f\n", pd.references[ref].id.c_str(), i,
                       m.coverage, g, m.transform.scale);
        if (acceptable(m, g) && g > best_gain) { best_gain = g; pick = &m; }
      }
      if (pick) take(std::move(*pick), best_gain, "away");
    }
    return std::make_pair(covered, used);
  };
  // The parts' explained fraction, weighted by part area.
  auto explained_of = [&](const std::vector<PieceMatch>& used) {
    double num = 0.0, den = 0.0;
    for (const PieceMatch& u : used) {
      num += u.explained * parts[u.part].area;
      den += parts[u.part].area;
    }
    return den > 0 ? num / den : 0.0;
  };
  // Incomplete coverage inside parts that are mostly something else is weak evidence: the score
  // drops with both (a fused part keeps its score because its coverage is near complete; a piece
  // keeps it because it is mostly reference surface).
  auto penalised_score = [&](double s, double e) {
    return std::max(0.0, s - kLookalikePenalty * std::max(0.0, kExplainedEnough - e) * (1.0 - s));
  };
  // A part's volume when it is a closed body of its own (the only parts whose volume means
  // anything), else a negative number.
  auto body_volume = [&](const Part& p) {
    const auto& comps = files[p.file]->components;
    if (p.whole_file || p.enclosed || p.component >= comps.size() || !comps[p.component].closed) return -1.0;
    return comps[p.component].volume_mm3;
  };
  struct Assembly { std::vector<uint8_t> covered; std::vector<PieceMatch> used; double score = -1.0; };
  std::vector<Assembly> assembled(refs_found.size());
  tbb::parallel_for(size_t(0), refs_found.size(), [&](size_t r) {
    const uint32_t ref = refs_found[r];
    const ReferenceRecord& rec = pd.reference_records[ref];
    // Per handedness, the best piece, and the next best of other parts or at other scales: a small
    // piece often fits best as a whole reference shrunk to its size, and only a piece at the right
    // scale gathers the others around it.
    std::vector<const PieceMatch*> anchors, glued_anchors;
    for (int h = 0; h < 2; ++h) {
      std::vector<const PieceMatch*> mine;
      // A reassembled part's best fit anchors an assembly of its own, on top of the pieces' (it
      // is no better a guess than they are when the pieces were glued only in part).
      const PieceMatch* glued = nullptr;
      for (size_t t : by_ref[ref]) {
        if (int(pieces[t].transform.mirrored()) != h) continue;
        if (!parts[pieces[t].part].reassembled) mine.push_back(&pieces[t]);
        else if (!glued || pieces[t].score > glued->score) glued = &pieces[t];
      }
      if (glued) glued_anchors.push_back(glued);
      std::stable_sort(mine.begin(), mine.end(), [](const PieceMatch* a, const PieceMatch* b) { return a->score > b->score; });
      size_t taken = 0;
      for (size_t k = 0; k < mine.size() && taken < kAnchorsPerHandedness; ++k) {
        // (A stretched fit, which may not count, does not stand for the part's other fits. A copy's
        // fits are its source's moved: the same anchor elsewhere on the plate, stretched or not.)
        const bool seen = std::any_of(anchors.end() - taken, anchors.end(), [&](const PieceMatch* a) {
          const bool near_scale = std::fabs(std::log(a->transform.scale / mine[k]->transform.scale)) <= std::log(1.15);
          if (a->part == mine[k]->part) return !a->stretched && near_scale;
          return shape_of(a->part) == shape_of(mine[k]->part) && a->transform.scale == mine[k]->transform.scale;
        });
        if (seen) continue;
        // A further anchor is worth an assembly only with another part that could be a piece of it.
        const double placed = rec.area_mm2 * double(mine[k]->transform.scale) * double(mine[k]->transform.scale);
        if (taken > 0 && std::none_of(parts.begin(), parts.end(), [&](const Part& p) {
              return &p != &parts[mine[k]->part] && p.area <= 1.3 * placed;
            }))
          continue;
        anchors.push_back(mine[k]);
        ++taken;
      }
    }
    anchors.insert(anchors.end(), glued_anchors.begin(), glued_anchors.end());
    // The job's scale: a part cut into pieces is, all pieces together, as large as the reference.
    // When the pieces' own fits agree on no such scale (each piece alone fits best as the whole
    // reference shrunk to its size), the piece with the best fit is fitted again at the scale
    // that makes the reference as large as all the parts that fit it, and anchors an assembly too.
    std::vector<PieceMatch> job_anchors;
    job_anchors.reserve(2);
    {
      std::vector<uint8_t> fits(parts.size(), 0);
      // (Whole-file parts are no pieces: their bodies are.)
      for (size_t t : by_ref[ref])
        if (!parts[pieces[t].part].whole_file) fits[pieces[t].part] = 1;
      double area = 0.0, volume = 0.0;
      bool solid = true;  // every fitting part a closed body (its volume is meaningful)
      for (size_t i = 0; i < parts.size(); ++i) {
        if (!fits[i]) continue;
        area += parts[i].area;
        const double v = body_volume(parts[i]);
        solid = solid && v >= 0.0;
        volume += std::max(v, 0.0);
      }
      // Capped cuts keep the volume: all closed pieces together hold the reference's volume, and
      // the scale follows within the keypoint sum's error (kVolumeScaleSlack). Otherwise by area:
      // cut faces add area the reference does not have, so the scale is somewhat smaller, the
      // area's scale / kCapAreaScale give or take kCapAreaScale (ICP settles it). The area misjudges
      // a thick part cut often (a 5 mm clip in four pieces: caps 84% of its area, scale 1.36 for 1).
      const double ref_vol = solid ? ref_volume(pd, ref) : 0.0;
      const bool by_volume = ref_vol > 0.0 && volume > 0.0;
      const float area_scale = float(std::sqrt(area / std::max(double(rec.area_mm2), 1e-12)));
      const float job_scale = by_volume ? float(std::cbrt(volume / ref_vol)) : area_scale / kCapAreaScale;
      const float job_slack = by_volume ? kVolumeScaleSlack : kCapAreaScale;
      const float sized_scale = by_volume ? job_scale : area_scale;  // what the parts' size says, caps included
      size_t n_fitting = 0;
      for (uint8_t f : fits) n_fitting += f;
      for (int h = 0; h < 2 && n_fitting >= 2 && scale_allowed(sized_scale); ++h) {
        const PieceMatch* best = nullptr;
        bool agreed = false;
        for (size_t t : by_ref[ref]) {
          if (int(pieces[t].transform.mirrored()) != h || parts[pieces[t].part].whole_file) continue;
          // (A stretched fit, often a piece fitted as the whole reference shrunk to its size, agrees with no scale.)
          agreed |= !pieces[t].stretched && std::fabs(std::log(pieces[t].transform.scale / job_scale)) <= std::log(by_volume ? job_slack : 1.15f);
          if (!best || pieces[t].score > best->score) best = &pieces[t];
        }
        if (!best || agreed) continue;
        const Part& part = parts[best->part];
        const int rung = rung_for_scale(part, rec, sized_scale);
        std::vector<PieceMatch> fitted;
        verify_piece(part, pd, ref, rung, query_reference(part, pd, ref, rung), 0x7a7aull + best->part, fit, fitted,
                     job_scale, h ? Handedness::mirrored : Handedness::proper, nullptr, true, job_slack);
        const PieceMatch* top = nullptr;
        for (const PieceMatch& m : fitted)
          if (m.coverage >= options.min_piece_coverage && (!top || m.score > top->score)) top = &m;
        if (debug_enabled())
          std::fprintf(stderr, "  job-scale anchor ref %s part %u scale %.3f (by %s): %s %.3f\n", pd.references[ref].id.c_str(), best->part,
                       job_scale, by_volume ? "volume" : "area", top ? "coverage" : "no fit", top ? top->coverage : 0.0);
        if (!top) continue;
        job_anchors.push_back(*top);
        job_anchors.back().part = best->part;
        anchors.push_back(&job_anchors.back());
      }
    }
    auto weight_of = [&](const std::vector<uint8_t>& mask) {  // reference surface a keypoint mask holds
      double w = 0.0;
      for (uint32_t k = 0; k < rec.keypoint_count; ++k) w += mask[k] * pd.keypoints[rec.keypoint_begin + k].weight;
      return w;
    };
    // Views of several bodies together (a whole file, glued pieces) whose fit is stretched: see below.
    std::vector<uint32_t> stretched_views;
    for (size_t t : by_ref[ref])
      if (pieces[t].stretched && parts[pieces[t].part].whole_file) stretched_views.push_back(pieces[t].part);
    for (const PieceMatch* anchor : anchors) {
      auto [covered, used] = assemble(ref, *anchor);
      // A multi-body look-alike stretched unevenly (a chain link of another length, two of them
      // to a file) is told by its whole-file view, whose fit covers enough of the reference for the
      // stretch check; each body alone covers too little for it, and the bodies fitted one by one,
      // each at its own compromise scale, would add up to the reference. An assembly that is such
      // a view's bodies again, two or more of them carrying its coverage, is the same stretched
      // fit. (A cut part's pieces in place fit as a whole unstretched; moved apart, their view
      // fits too little to be checked.)
      if (!stretched_views.empty()) {
        bool same_fit = false;
        for (uint32_t v : stretched_views) {
          std::vector<uint8_t> mine(rec.keypoint_count, 0);
          size_t members = 0;
          for (const PieceMatch& u : used) {
            if (parts[u.part].whole_file || !overlaps_whole_file(v, u.part)) continue;
            ++members;
            for (uint32_t k = 0; k < rec.keypoint_count; ++k) mine[k] |= u.covered[k];
          }
          same_fit |= members >= 2 && weight_of(mine) >= kCarriedAlone * weight_of(covered);
        }
        if (same_fit) {
          if (debug_enabled())
            std::fprintf(stderr, "  assembly ref %s anchor part %u: the bodies of a stretched whole-file fit\n", pd.references[ref].id.c_str(),
                         anchor->part);
          continue;
        }
      }
      // A stretched fit counts only as one piece among pieces fitted on their own, none of which
      // carries the match alone (kCarriedAlone): a stretched look-alike on a plate is no piece
      // because a speck beside it fits a little of the reference too.
      if (std::any_of(used.begin(), used.end(), [](const PieceMatch& u) { return u.stretched; })) {
        double largest = 0.0;
        size_t fitted = 0;
        for (const PieceMatch& u : used)
          if (!u.placed_by_anchor) ++fitted, largest = std::max(largest, weight_of(u.covered));
        if (fitted < 2 || largest >= kCarriedAlone * weight_of(covered)) continue;
      }
      double shit = 0.0, stotal = 0.0;
      for (uint32_t k = 0; k < rec.keypoint_count; ++k) {
        const KeypointRecord& kp = pd.keypoints[rec.keypoint_begin + k];
        stotal += kp.weight * kp.salience;
        if (covered[k]) shit += kp.weight * kp.salience;
      }
      const double score = penalised_score(stotal > 0 ? shit / stotal : 0.0, explained_of(used));
      if (debug_enabled())
        std::fprintf(stderr, "  assembly ref %s anchor part %u: score %.3f, %zu parts\n", pd.references[ref].id.c_str(), anchor->part, score, used.size());
      if (score > assembled[r].score) assembled[r] = Assembly{std::move(covered), std::move(used), score};
    }
  });
  for (size_t r = 0; r < refs_found.size(); ++r) {
    const uint32_t ref = refs_found[r];
    const ReferenceRecord& rec = pd.reference_records[ref];
    const std::vector<uint8_t>& covered = assembled[r].covered;
    const std::vector<PieceMatch>& used = assembled[r].used;
    if (used.empty()) continue;  // only stretched fits, each alone
    const PieceMatch& first = used[0];
    double hit = 0.0, total = 0.0, shit = 0.0, stotal = 0.0;
    for (uint32_t k = 0; k < rec.keypoint_count; ++k) {
      const KeypointRecord& kp = pd.keypoints[rec.keypoint_begin + k];
      total += kp.weight;
      stotal += kp.weight * kp.salience;
      if (covered[k]) { hit += kp.weight; shit += kp.weight * kp.salience; }
    }
    Match match;
    const ReferenceInfo& info = pd.references[ref];
    match.reference = info.id;
    match.category = info.category;
    match.label = info.label;
    match.coverage = total > 0 ? hit / total : 0.0;
    match.explained = explained_of(used);
    match.score = penalised_score(stotal > 0 ? shit / stotal : 0.0, match.explained);
    // Reference surface a single part lacks in open space, beyond what the fit tolerance excuses,
    // is evidence against the match, not merely none for it: a fused, buried or filled-in copy
    // hides what it lacks inside material, a cut one has it in its other pieces, a drilled one
    // lacks only the holes' cross-sections. A different design sharing most of the reference
    // (the same panel with another cut-out, a holder with another arm) lacks whole regions.
    // Parts placed by the anchor's transform (inner shells, the bodies of a multi-body file) are
    // one object with it. Pieces fitted on their own that add next to nothing do not make the
    // match an assembly either (kCarriedAlone).
    // (Measured only where it can move the verdict: each costs up to 600 nearest-point queries and
    // winding numbers over the parts' coarse clouds.)
    std::vector<const Part*> object;
    double in_frame_hit = 0.0;
    if (match.score >= options.review_score) {
      std::vector<uint8_t> in_frame(rec.keypoint_count, 0);
      for (const PieceMatch& u : used)
        if (&u == &first || u.placed_by_anchor) {
          object.push_back(&parts[u.part]);
          for (uint32_t k = 0; k < rec.keypoint_count; ++k) in_frame[k] |= u.covered[k];
        }
      for (uint32_t k = 0; k < rec.keypoint_count; ++k)
        if (in_frame[k]) in_frame_hit += pd.keypoints[rec.keypoint_begin + k].weight;
    }
    const bool one_object = total > 0 && in_frame_hit / total >= kCarriedAlone * match.coverage;
    if (one_object && match.score >= options.review_score) {
      const MissingSurface miss = classify_missing(object, pd, ref, first.transform, covered, fit);
      match.absent = miss.absent;
      match.hidden = miss.hidden;
      if (debug_enabled())
        std::fprintf(stderr, "  missing ref %s: absent %.3f (in regions %.3f) hidden %.3f deep %.3f\n", info.id.c_str(), miss.absent,
                     miss.in_regions, miss.hidden, miss.deep);
      // Hidden surface is what fused or buried copies show, but a part that adds material only
      // within the reference's own box has it filled in where it stands: the same panel with its
      // opening closed and another cut elsewhere, a holder with a solid web. Such a part is
      // another design as much as a disguise, and the reference surface deep in its material
      // (beyond the fit tolerance: not a near miss) costs kFilledInWeight its share. Fused dummy
      // material sticks out: 9-23% of the part's surface outside the box in the second and third
      // draws' fused copies, 0% for four sibling panels and joints of the second (deep 4-18%),
      // whose scores fall from 0.72-0.83 to 0.18-0.68. Copies of a reference that fits loosely
      // (z_cover_right: mirrored, remeshed, re-saved) show up to 2.4% deep.
      match.filled_in = miss.deep > 0.0 && share_outside_box(object, pd, ref, first.transform) < kFilledInOutside;
      // The region weight is for matches coverage alone would flag (siblings); a piece of a cut
      // part uploaded alone also lacks the rest of the reference in open space, and its match
      // must stay listed (at a low score) for the service to add it to the job's later pieces.
      const double region = match.coverage >= options.flag_score ? std::max(0.0, miss.in_regions - kAbsentRegionShare) : 0.0;
      const double filled = match.filled_in ? kFilledInWeight * miss.deep : 0.0;
      match.score = std::max(0.0, match.score - kAbsentWeight * miss.absent - kAbsentRegionWeight * region - filled);
      // A copy whose walls are another thickness than the reference's at the fitted scale (a
      // plate half again as thick, a look-alike stretched across its thickness) is not the
      // reference resized: a person decides.
      const WallCheck walls = wall_thickness(object, pd, ref, first.transform, covered, fit);
      match.wall_mismatch = walls.walls >= kWallsMeasured ? walls.mismatch : 0.0;
      if (match.wall_mismatch >= kWallMismatch)
        match.score = std::min(match.score, 0.5 * (options.review_score + options.flag_score));
      else
        match.score = std::max(0.0, match.score - kWallWeight * std::max(0.0, match.wall_mismatch - kWallSlack));
      if (debug_enabled())
        std::fprintf(stderr, "  walls ref %s: %.3f of %zu thin walls another thickness\n", info.id.c_str(), walls.mismatch, walls.walls);
    }
    if (debug_enabled())
      std::fprintf(stderr, "match %s: score %.3f coverage %.3f explained %.3f absent %.3f hidden %.3f%s parts %zu\n",
                   info.id.c_str(), match.score, match.coverage, match.explained, match.absent, match.hidden,
                   match.filled_in ? " (filled in)" : "", used.size());

    match.scale = first.transform.scale;
    match.mirrored = first.transform.mirrored();
    const Similarity& T = first.transform;
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) match.transform[r * 4 + c] = double(T.scale) * T.rotation(r, c);
      match.transform[r * 4 + 3] = T.translation[r];
    }
    match.transform[15] = 1.0;
    for (const PieceMatch& u : used) {
      const Part& part = parts[u.part];
      if (part.reassembled) {
        // Each piece with what it explains in place: the reference moved back with the piece.
        for (size_t k = 0; k < part.piece_parts.size(); ++k) {
          const Part& piece = parts[part.piece_parts[k]];
          const Similarity& P = part.piece_placement[k];
          Similarity back;  // reference -> the piece's own frame
          back.rotation = P.rotation.transpose() * u.transform.rotation;
          back.scale = u.transform.scale;
          back.translation = P.rotation.transpose() * (u.transform.translation - P.translation);
          const double share = measure_coverage(piece, pd, ref, back, fit, nullptr).area;
          match.parts.push_back(MatchPart{files[piece.file]->path, piece.component, share, false, true});
        }
        continue;
      }
      if (part.whole_file) {
        for (uint32_t c : part.members) match.parts.push_back(MatchPart{files[part.file]->path, c, u.coverage, false});
        continue;
      }
      match.parts.push_back(MatchPart{files[part.file]->path, part.component, u.coverage, part.enclosed});
    }
    match.found = covered;
    std::vector<uint8_t> placed(rec.keypoint_count, 0);
    for (const PieceMatch& u : used)
      for (uint32_t k = 0; k < rec.keypoint_count; ++k) {
        if (placed[k] || !u.covered[k]) continue;
        placed[k] = 1;
        const Vec3 p = u.transform.apply(Eigen::Map<const Vec3>(pd.keypoints[rec.keypoint_begin + k].position));
        match.found_points.push_back({p.x(), p.y(), p.z()});
      }
    if (match.score >= options.report_score) result.matches.push_back(std::move(match));
  }
  std::sort(result.matches.begin(), result.matches.end(), [](const Match& a, const Match& b) {
    return a.score > b.score || (a.score == b.score && a.reference < b.reference);
  });
  // A part and its mirror twin (left and right hands, both enrolled) explain an upload equally
  // well, one of them mirrored. The one that needs no mirroring is what was uploaded: on a
  // near-tie it is named first.
  for (size_t i = 0; i + 1 < result.matches.size(); ++i) {
    Match& a = result.matches[i];
    Match& b = result.matches[i + 1];
    if (a.mirrored && !b.mirrored && a.score - b.score < kMirrorTwinTie) std::swap(a, b);
  }
  result.timings.verify_ms = ms_since(t_verify);
}

}  // namespace

ReferenceCoverage coverage_from_found(const Pack& pack, const std::string& reference,
                                      const std::vector<uint8_t>& found) {
  const PackData& pd = pack.data();
  for (size_t ref = 0; ref < pd.references.size(); ++ref) {
    if (pd.references[ref].id != reference) continue;
    if (pd.references[ref].revoked) return ReferenceCoverage{};  // withdrawn: found masks stop counting
    const detail::ReferenceRecord& rec = pd.reference_records[ref];
    if (found.size() != rec.keypoint_count)
      throw Error(ErrorCode::invalid_argument, reference,
                  "found mask has " + std::to_string(found.size()) + " entries, the reference has " +
                      std::to_string(rec.keypoint_count) + " keypoints (mask from another pack version?)");
    double hit = 0.0, total = 0.0, shit = 0.0, stotal = 0.0;
    for (uint32_t k = 0; k < rec.keypoint_count; ++k) {
      const detail::KeypointRecord& kp = pd.keypoints[rec.keypoint_begin + k];
      total += kp.weight;
      stotal += kp.weight * kp.salience;
      if (found[k]) { hit += kp.weight; shit += kp.weight * kp.salience; }
    }
    return ReferenceCoverage{total > 0 ? hit / total : 0.0, stotal > 0 ? shit / stotal : 0.0};
  }
  throw Error(ErrorCode::invalid_argument, reference, "no such reference in pack " + pack.name());
}

ScanResult scan_loaded(const std::vector<LoadedFile>& files, const Pack& pack, const ScanOptions& options) {
  if (files.empty()) throw Error(ErrorCode::invalid_argument, "", "a job needs at least one file");
  return scan_loaded_or_empty(files, pack, options);
}

ScanResult scan_loaded_or_empty(const std::vector<LoadedFile>& files, const Pack& pack, const ScanOptions& options) {
  auto t0 = detail::Clock::now();
  ScanResult result;
  result.pack_name = pack.name();
  result.pack_checksum = pack.checksum_hex();
  result.pack_publisher = pack.metadata().publisher;
  result.pack_sequence = pack.metadata().sequence;
  result.pack_signed_by = pack.signer_key_id();
  if (!result.pack_signed_by.empty() && result.pack_signed_by == demo_public_key().id())
    result.pack_note = "demo pack: not for production (signed with the public demo key)";
  result.flag_score = options.flag_score;
  result.review_score = options.review_score;
  std::vector<const LoadedFile*> ptrs;
  for (const LoadedFile& f : files) {
    ptrs.push_back(&f);
    FileReport r;
    r.path = f.path;
    r.format = format_name(f.format);
    r.bytes = f.file_bytes;
    r.triangles = f.mesh.triangle_count();
    r.components = uint32_t(f.components.size() + f.surfaces.size());
    r.load_ms = f.load_ms;
    result.timings.load_ms += f.load_ms;
    result.files.push_back(std::move(r));
  }
  tbb::task_arena arena(options.threads ? int(options.threads) : tbb::task_arena::automatic);
  arena.execute([&] { run_matching(ptrs, pack, options, result); });
  result.verdict = Verdict::clear;
  for (const Match& m : result.matches) {
    if (m.score >= options.flag_score) result.verdict = Verdict::flagged;
    else if (m.score >= options.review_score && result.verdict != Verdict::flagged) result.verdict = Verdict::review;
  }
  result.timings.total_ms = detail::ms_since(t0);
  return result;
}

ScanResult scan_files(const std::vector<std::string>& paths, const Pack& pack, const ScanOptions& options) {
  auto t0 = detail::Clock::now();
  if (paths.empty()) throw Error(ErrorCode::invalid_argument, "", "a job needs at least one file");
  std::vector<LoadedFile> loaded;
  std::vector<FileReport> failed;
  for (const std::string& path : paths) {
    try {
      loaded.push_back(load_file(path, options.load));
    } catch (const Error& e) {
      FileReport r;
      r.path = path;
      r.ok = false;
      r.error_code = error_code_name(e.code());
      r.error = e.reason();
      failed.push_back(std::move(r));
    }
  }
  // Every file may have failed: the job is then screened as empty and its verdict is "error".
  ScanResult result = scan_loaded_or_empty(loaded, pack, options);
  for (auto& r : failed) result.files.push_back(std::move(r));
  // A job with an unreadable file is not cleared: the unreadable part could be anything.
  if (!failed.empty() && result.verdict == Verdict::clear) result.verdict = Verdict::error;
  result.timings.total_ms = detail::ms_since(t0);
  return result;
}

}  // namespace partscreen

// SPDX-License-Identifier: GPL-3.0-or-later
// The scan pipeline: job files -> parts -> rung features -> candidates from the pack's index ->
// geometric verification (RANSAC on descriptor pairs, then ICP) -> coverage of each reference,
// assembled across pieces -> verdict.
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <random>
#include <sys/stat.h>
#include <unordered_map>

#include "features/features.h"
#include "features/params.h"
#include "match/align.h"
#include "pack/pack_data.h"
#include "partscreen/error.h"
#include "partscreen/scan.h"

namespace partscreen {
namespace detail {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// One connected piece of the job (a mesh component or a G-code object).
struct Part {
  uint32_t file = 0;
  uint32_t component = 0;
  double area = 0.0;
  bool walls_only = false;
  Cloud dense;
  float dense_spacing = 0.f;
  PointGrid dense_grid;
  std::vector<Features> rungs;  // index j - kRungMin
};

// A descriptor pair: upload keypoint (rung, index) <-> pack keypoint.
struct Pair {
  int16_t rung;
  uint32_t upload_kp;
  uint32_t pack_kp;
};

struct PieceMatch {
  uint32_t part = 0;
  Similarity transform;
  double coverage = 0.0;  // fraction of the reference's area explained
  double score = 0.0;     // the same, weighted by keypoint salience
  std::vector<uint8_t> covered;  // per reference keypoint
};

// Allowed upload/reference scales: 0.5x..2x around 1, and around the inch/mm unit mistakes.
bool scale_allowed(float s) {
  constexpr float lo = 0.45f, hi = 2.2f, inch = 25.4f;
  return (s >= lo && s <= hi) || (s >= lo * inch && s <= hi * inch) || (s >= lo / inch && s <= hi / inch);
}

constexpr uint32_t kMatchDistance2 = 70u * 70u;  // descriptor pair threshold (quantised units)
constexpr uint32_t kBeam = 2;
constexpr float kCoverageTolerance = 0.015f;  // of the reference size, scaled
constexpr float kNormalAgreement = 0.7f;       // cos 45 deg

void build_part_features(Part& part) {
  part.dense_spacing = dense_spacing(part.area);
  part.dense_grid = PointGrid(part.dense.points, std::max(part.dense_spacing * 4.f, 1e-6f));
  const float L = size_of_area(part.area);
  part.rungs.resize(kRungMax - kRungMin + 1);
  for (int j = kRungMin; j <= kRungMax; ++j) {
    float r = kRadiusFraction * L * rung_factor(j);
    part.rungs[j - kRungMin] = compute_features(part.dense, r, r * (kKeypointFraction / kRadiusFraction));
  }
}

// The rung whose radius matches a reference seen at `scale` in this part.
int rung_for_scale(const Part& part, const ReferenceRecord& rec, float scale) {
  const float L = size_of_area(part.area);
  float j = std::log(scale * rec.radius_mm / (kRadiusFraction * L)) / std::log(kRungRatio);
  return std::clamp(int(std::lround(j)), kRungMin, kRungMax);
}

// Descriptor pairs of one part against the whole pack, via the vocabulary tree.
std::vector<Pair> query_index(const Part& part, const PackData& pack) {
  std::vector<Pair> pairs;
  std::vector<uint32_t> words;
  for (int j = kRungMin; j <= kRungMax; ++j) {
    const Features& f = part.rungs[j - kRungMin];
    for (size_t i = 0; i < f.size(); ++i) {
      words.clear();
      lookup_words(pack.vocabulary, f.descriptor(i), kBeam, words);
      for (uint32_t w : words) {
        for (uint32_t e = pack.vocabulary.word_offsets[w]; e < pack.vocabulary.word_offsets[w + 1]; ++e) {
          uint32_t kp = pack.vocabulary.word_entries[e];
          if (descriptor_distance2(f.descriptor(i), pack.descriptors + size_t(kp) * kDescriptorBytes) <= kMatchDistance2)
            pairs.push_back(Pair{int16_t(j), uint32_t(i), kp});
        }
      }
    }
  }
  return pairs;
}

// Naive baseline: every reference keypoint against every upload keypoint (no index).
std::vector<Pair> query_exhaustive(const Part& part, const PackData& pack) {
  std::vector<Pair> pairs;
  for (int j = kRungMin; j <= kRungMax; ++j) {
    const Features& f = part.rungs[j - kRungMin];
    for (size_t i = 0; i < f.size(); ++i)
      for (uint32_t kp = 0; kp < pack.keypoint_count; ++kp)
        if (descriptor_distance2(f.descriptor(i), pack.descriptors + size_t(kp) * kDescriptorBytes) <= kMatchDistance2)
          pairs.push_back(Pair{int16_t(j), uint32_t(i), kp});
  }
  return pairs;
}

// Evidence that a part holds a reference at one rung: the fraction of the reference's keypoints
// hit by at least one pair.
struct Vote {
  uint32_t reference;
  int rung;
  double strength;
};

std::vector<Vote> tally(const std::vector<Pair>& pairs, const PackData& pack) {
  // (reference, rung) -> distinct reference keypoints
  std::unordered_map<uint64_t, std::vector<uint32_t>> hits;
  for (const Pair& p : pairs) {
    uint32_t ref = pack.keypoints[p.pack_kp].reference;
    hits[(uint64_t(ref) << 8) | uint8_t(p.rung - kRungMin)].push_back(p.pack_kp);
  }
  std::unordered_map<uint32_t, Vote> best;
  for (auto& [key, kps] : hits) {
    std::sort(kps.begin(), kps.end());
    size_t distinct = size_t(std::unique(kps.begin(), kps.end()) - kps.begin());
    uint32_t ref = uint32_t(key >> 8);
    int rung = int(key & 0xff) + kRungMin;
    double s = double(distinct) / pack.reference_records[ref].keypoint_count;
    auto it = best.find(ref);
    if (it == best.end() || s > it->second.strength) best[ref] = Vote{ref, rung, s};
  }
  std::vector<Vote> out;
  for (auto& [ref, v] : best) out.push_back(v);
  return out;
}

// Coverage of reference keypoints by the part's dense surface under transform T.
struct Coverage { double area = 0.0, salient = 0.0; };

Coverage measure_coverage(const Part& part, const PackData& pack, uint32_t ref, const Similarity& T,
                          std::vector<uint8_t>* covered) {
  const ReferenceRecord& rec = pack.reference_records[ref];
  const float tol = std::max(kCoverageTolerance * rec.size_mm * T.scale, 1.5f * part.dense_spacing);
  double hit = 0.0, total = 0.0, shit = 0.0, stotal = 0.0;
  if (covered) covered->assign(rec.keypoint_count, 0);
  for (uint32_t k = 0; k < rec.keypoint_count; ++k) {
    const KeypointRecord& kp = pack.keypoints[rec.keypoint_begin + k];
    Vec3 p = T.apply(Eigen::Map<const Vec3>(kp.position));
    Vec3 n = (T.rotation * Eigen::Map<const Vec3>(kp.normal)).normalized();
    if (part.walls_only && std::fabs(n.z()) > 0.7f) continue;
    total += kp.weight;
    stotal += kp.weight * kp.salience;
    bool ok = false;
    part.dense_grid.for_each_within(p, tol, [&](int i) {
      if (!ok && part.dense.normals[i].dot(n) > kNormalAgreement) ok = true;
    });
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

// Iterative closest point (similarity, handedness fixed) from reference keypoints to the part's
// dense cloud, with normal-compatible, distance-gated pairs shrinking each round.
Similarity refine_icp(const Part& part, const PackData& pack, uint32_t ref, Similarity T) {
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
      Vec3 n = T.rotation * Eigen::Map<const Vec3>(kp.normal);
      int best = -1;
      float bd = gate * gate;
      part.dense_grid.for_each_within(p, gate, [&](int i) {
        if (part.dense.normals[i].dot(n) < 0.5f) return;
        float d2 = (part.dense.points[i] - p).squaredNorm();
        if (d2 < bd) { bd = d2; best = i; }
      });
      if (best >= 0) {
        src.push_back(a);
        dst.push_back(part.dense.points[best]);
      }
    }
    Similarity next;
    if (src.size() < 6 || !fit_similarity(src, dst, {}, hand, next)) break;
    if (!scale_allowed(next.scale)) break;
    T = next;
  }
  return T;
}

// RANSAC over descriptor pairs (Fischler & Bolles 1981): three pairs with consistent distances
// give a similarity (with normals as extra constraints that also decide mirroring); the
// hypothesis explaining most pairs wins, then ICP refines it against the dense surface.
// fixed_scale > 0: the scale is already known (from another piece of the same reference), so
// hypotheses must agree with it within 15%.
bool verify_piece(const Part& part, const PackData& pack, uint32_t ref, int rung, const std::vector<Pair>& all_pairs,
                  uint64_t seed, PieceMatch& out, float fixed_scale = 0.f) {
  const ReferenceRecord& rec = pack.reference_records[ref];
  std::vector<const Pair*> pairs;
  for (const Pair& p : all_pairs)
    if (pack.keypoints[p.pack_kp].reference == ref && std::abs(p.rung - rung) <= 1) pairs.push_back(&p);
  if (pairs.size() < 3) return false;
  auto up_pos = [&](const Pair* p) -> const Vec3& { return part.rungs[p->rung - kRungMin].keypoints.points[p->upload_kp]; };
  auto up_nrm = [&](const Pair* p) -> const Vec3& { return part.rungs[p->rung - kRungMin].keypoints.normals[p->upload_kp]; };
  auto ref_pos = [&](const Pair* p) { return Vec3(Eigen::Map<const Vec3>(pack.keypoints[p->pack_kp].position)); };
  auto ref_nrm = [&](const Pair* p) { return Vec3(Eigen::Map<const Vec3>(pack.keypoints[p->pack_kp].normal)); };
  const float R = rec.radius_mm;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, pairs.size() - 1);
  Similarity best;
  size_t best_inliers = 0;
  std::vector<Vec3> src(6), dst(6);
  std::vector<uint8_t> seen(rec.keypoint_count);
  const int iterations = int(std::min<size_t>(2000, 200 + pairs.size() * 4));
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
    if (!fit_similarity(src, dst, {}, Handedness::best, T) || !scale_allowed(T.scale)) continue;
    if (fixed_scale > 0.f ? (T.scale < hint * 0.87f || T.scale > hint * 1.15f) : (T.scale < hint * 0.7f || T.scale > hint * 1.4f))
      continue;
    const float eps = 0.5f * R * T.scale;
    std::fill(seen.begin(), seen.end(), 0);
    size_t inliers = 0;
    for (const Pair* p : pairs) {
      uint32_t k = p->pack_kp - rec.keypoint_begin;
      if (seen[k]) continue;
      Vec3 q = T.apply(ref_pos(p));
      if ((q - up_pos(p)).squaredNorm() > eps * eps) continue;
      if ((T.rotation * ref_nrm(p)).dot(up_nrm(p)) < 0.6f) continue;
      seen[k] = 1;
      ++inliers;
    }
    if (inliers > best_inliers) {
      best_inliers = inliers;
      best = T;
    }
  }
  if (best_inliers < 4) return false;
  out.part = 0;
  out.transform = refine_icp(part, pack, ref, best);
  Coverage c = measure_coverage(part, pack, ref, out.transform, &out.covered);
  out.coverage = c.area;
  out.score = c.salient;
  return true;
}

}  // namespace
}  // namespace detail

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

// PARTSCREEN_DEBUG=1 prints the candidate and verification stages to stderr (for tuning).
bool debug_enabled() {
  static const bool on = std::getenv("PARTSCREEN_DEBUG") != nullptr;
  return on;
}

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
  tbb::parallel_for(size_t(0), parts.size(), [&](size_t i) {
    Part& p = parts[i];
    const LoadedFile& file = *files[p.file];
    if (p.component < file.components.size()) {
      p.dense = dense_cloud(file.mesh, {file.components[p.component]}, p.area);
    } else {
      const OrientedSurface& s = file.surfaces[p.component - file.components.size()];
      Cloud raw = cloud_from_surface(s);
      if (!(p.area > 0.0)) {
        p.area = 0.0;
        for (float w : raw.weights) p.area += w;
      }
      p.dense = voxel_average(raw, dense_spacing(p.area));
    }
    build_part_features(p);
  });
  result.timings.features_ms = ms_since(t_features);

  auto t_candidates = Clock::now();
  std::vector<std::vector<Pair>> pairs(parts.size());
  std::vector<std::vector<Vote>> votes(parts.size());
  tbb::parallel_for(size_t(0), parts.size(), [&](size_t i) {
    pairs[i] = options.use_index ? query_index(parts[i], pd) : query_exhaustive(parts[i], pd);
    votes[i] = tally(pairs[i], pd);
  });
  // Candidate references: strongest vote over all parts, best first.
  std::unordered_map<uint32_t, double> ref_strength;
  for (auto& vs : votes)
    for (const Vote& v : vs) ref_strength[v.reference] = std::max(ref_strength[v.reference], v.strength);
  std::vector<std::pair<double, uint32_t>> ranked;
  for (auto& [ref, s] : ref_strength)
    if (s >= options.min_vote || !options.use_index) ranked.push_back({s, ref});
  std::sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  if (options.use_index && ranked.size() > options.max_candidates) ranked.resize(options.max_candidates);
  struct Task { uint32_t ref; uint32_t part; int rung; };
  std::vector<Task> tasks;
  for (auto& [s, ref] : ranked)
    for (uint32_t i = 0; i < parts.size(); ++i)
      for (const Vote& v : votes[i])
        if (v.reference == ref && (v.strength >= options.min_vote * 0.5 || !options.use_index)) tasks.push_back({ref, i, v.rung});
  result.timings.candidates_ms = ms_since(t_candidates);

  auto t_verify = Clock::now();
  std::vector<PieceMatch> pieces(tasks.size());
  std::vector<uint8_t> ok(tasks.size(), 0);
  tbb::parallel_for(size_t(0), tasks.size(), [&](size_t t) {
    const Task& task = tasks[t];
    PieceMatch m;
    if (verify_piece(parts[task.part], pd, task.ref, task.rung, pairs[task.part], 0x1234567ull + t, m)) {
      m.part = task.part;
      pieces[t] = std::move(m);
      ok[t] = 1;
    }
  });
  if (debug_enabled()) {
    for (size_t i = 0; i < parts.size(); ++i) {
      size_t nkp = 0;
      for (auto& f : parts[i].rungs) nkp += f.size();
      std::fprintf(stderr, "part %zu: area %.1f dense %zu kps %zu pairs %zu\n", i, parts[i].area, parts[i].dense.size(), nkp, pairs[i].size());
      std::vector<Vote> v = votes[i];
      std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.strength > b.strength; });
      for (size_t k = 0; k < v.size() && k < 4; ++k)
        std::fprintf(stderr, "  vote %s rung %d strength %.3f\n", pd.references[v[k].reference].id.c_str(), v[k].rung, v[k].strength);
    }
    for (size_t t = 0; t < tasks.size(); ++t)
      std::fprintf(stderr, "task ref %s part %u rung %d: %s coverage %.3f score %.3f scale %.3f mirrored %d\n",
                   pd.references[tasks[t].ref].id.c_str(), tasks[t].part, tasks[t].rung, ok[t] ? "ok" : "no-fit",
                   pieces[t].coverage, pieces[t].score, pieces[t].transform.scale, int(pieces[t].transform.mirrored()));
  }
  // Assemble each reference from its pieces. The best piece (the anchor) fixes scale and
  // handedness; every other part of the job that shares descriptor pairs with the reference is
  // then verified again at that scale (pieces are small and ambiguous on their own), and parts of
  // the anchor's own file are also tried under the anchor's transform (multi-body references).
  std::unordered_map<uint32_t, std::vector<size_t>> by_ref;
  for (size_t t = 0; t < tasks.size(); ++t)
    if (ok[t] && pieces[t].coverage >= options.min_piece_coverage) by_ref[tasks[t].ref].push_back(t);
  std::vector<uint32_t> refs_found;
  for (auto& [ref, list] : by_ref) refs_found.push_back(ref);
  std::sort(refs_found.begin(), refs_found.end());
  std::vector<std::vector<PieceMatch>> assembled(refs_found.size());
  tbb::parallel_for(size_t(0), refs_found.size(), [&](size_t r) {
    const uint32_t ref = refs_found[r];
    auto& list = by_ref[ref];
    std::sort(list.begin(), list.end(), [&](size_t a, size_t b) {
      return pieces[a].score > pieces[b].score || (pieces[a].score == pieces[b].score && a < b);
    });
    const ReferenceRecord& rec = pd.reference_records[ref];
    const PieceMatch& anchor = pieces[list[0]];
    const float scale = anchor.transform.scale;
    auto consistent = [&](const PieceMatch& m) {
      return m.transform.mirrored() == anchor.transform.mirrored() &&
             std::fabs(std::log(m.transform.scale / scale)) <= std::log(1.15);
    };
    std::vector<PieceMatch> options_per_part;
    options_per_part.push_back(anchor);
    const size_t max_parts = 64;
    for (uint32_t i = 0; i < parts.size() && options_per_part.size() < max_parts; ++i) {
      if (i == anchor.part) continue;
      PieceMatch best;
      best.part = i;
      bool have = false;
      for (size_t t : list)
        if (pieces[t].part == i && consistent(pieces[t]) && (!have || pieces[t].score > best.score)) { best = pieces[t]; have = true; }
      if (parts[i].file == parts[anchor.part].file) {
        PieceMatch same;
        same.part = i;
        same.transform = anchor.transform;
        Coverage c = measure_coverage(parts[i], pd, ref, anchor.transform, &same.covered);
        same.coverage = c.area;
        same.score = c.salient;
        if (same.coverage >= options.min_piece_coverage && (!have || same.score > best.score)) { best = std::move(same); have = true; }
      }
      bool has_pairs = false;
      for (const Pair& p : pairs[i])
        if (pd.keypoints[p.pack_kp].reference == ref) { has_pairs = true; break; }
      if (has_pairs) {
        PieceMatch m;
        if (verify_piece(parts[i], pd, ref, rung_for_scale(parts[i], rec, scale), pairs[i], 0x5151ull + i, m, scale) &&
            consistent(m) && (!have || m.score > best.score)) {
          m.part = i;
          best = std::move(m);
          have = true;
        }
      }
      if (have && best.coverage >= options.min_piece_coverage) options_per_part.push_back(std::move(best));
    }
    std::sort(options_per_part.begin() + 1, options_per_part.end(),
              [](const PieceMatch& a, const PieceMatch& b) { return a.score > b.score; });
    assembled[r] = std::move(options_per_part);
  });
  for (size_t r = 0; r < refs_found.size(); ++r) {
    const uint32_t ref = refs_found[r];
    const ReferenceRecord& rec = pd.reference_records[ref];
    const auto& cands = assembled[r];
    const PieceMatch& first = cands[0];
    std::vector<uint8_t> covered = first.covered;
    std::vector<const PieceMatch*> used{&first};
    for (size_t i = 1; i < cands.size(); ++i) {
      const PieceMatch& m = cands[i];
      double added = 0.0, total = 0.0;
      for (uint32_t k = 0; k < rec.keypoint_count; ++k) {
        float w = pd.keypoints[rec.keypoint_begin + k].weight;
        total += w;
        if (m.covered[k] && !covered[k]) added += w;
      }
      if (total <= 0 || added / total < 0.05) continue;
      for (uint32_t k = 0; k < rec.keypoint_count; ++k) covered[k] |= m.covered[k];
      used.push_back(&m);
    }
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
    match.score = stotal > 0 ? shit / stotal : 0.0;
    match.scale = first.transform.scale;
    match.mirrored = first.transform.mirrored();
    const Similarity& T = first.transform;
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) match.transform[r * 4 + c] = double(T.scale) * T.rotation(r, c);
      match.transform[r * 4 + 3] = T.translation[r];
    }
    match.transform[15] = 1.0;
    for (const PieceMatch* u : used) {
      const Part& part = parts[u->part];
      match.parts.push_back(MatchPart{files[part.file]->path, part.component, u->coverage});
    }
    if (match.score >= options.report_score) result.matches.push_back(std::move(match));
  }
  std::sort(result.matches.begin(), result.matches.end(), [](const Match& a, const Match& b) {
    return a.score > b.score || (a.score == b.score && a.reference < b.reference);
  });
  result.timings.verify_ms = ms_since(t_verify);
}

}  // namespace

ScanResult scan_loaded(const std::vector<LoadedFile>& files, const Pack& pack, const ScanOptions& options) {
  auto t0 = detail::Clock::now();
  ScanResult result;
  result.pack_name = pack.name();
  result.pack_checksum = pack.checksum_hex();
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
  ScanResult result = scan_loaded(loaded, pack, options);
  for (auto& r : failed) result.files.push_back(std::move(r));
  // A job with an unreadable file is not cleared: the unreadable part could be anything.
  if (!failed.empty() && result.verdict == Verdict::clear) result.verdict = Verdict::error;
  result.timings.total_ms = detail::ms_since(t0);
  return result;
}

}  // namespace partscreen

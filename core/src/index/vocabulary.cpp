// SPDX-License-Identifier: GPL-3.0-or-later
#include "index/vocabulary.h"

#include <algorithm>
#include <cstring>
#include <random>

namespace partscreen::detail {
namespace {

constexpr int D = kDescriptorBytes;

inline float dist2(const float* c, const uint8_t* d) {
  float s = 0.f;
  for (int k = 0; k < D; ++k) {
    float x = c[k] - float(d[k]);
    s += x * x;
  }
  return s;
}

// k-means++ seeding then Lloyd iterations over the descriptors listed in `ids`.
// Returns k centroids and fills `assign` (parallel to ids).
std::vector<float> kmeans(const uint8_t* desc, const std::vector<uint32_t>& ids, uint32_t k, uint32_t iters,
                          std::mt19937_64& rng, std::vector<uint32_t>& assign) {
  const size_t n = ids.size();
  std::vector<float> cent(size_t(k) * D);
  std::vector<float> best(n, std::numeric_limits<float>::max());
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  size_t first = pick(rng);
  for (int j = 0; j < D; ++j) cent[j] = desc[size_t(ids[first]) * D + j];
  for (uint32_t c = 1; c < k; ++c) {
    double total = 0.0;
    for (size_t i = 0; i < n; ++i) {
      best[i] = std::min(best[i], dist2(&cent[size_t(c - 1) * D], desc + size_t(ids[i]) * D));
      total += best[i];
    }
    std::uniform_real_distribution<double> u(0.0, total);
    double r = u(rng), acc = 0.0;
    size_t chosen = n - 1;
    for (size_t i = 0; i < n; ++i) {
      acc += best[i];
      if (acc >= r) { chosen = i; break; }
    }
    for (int j = 0; j < D; ++j) cent[size_t(c) * D + j] = desc[size_t(ids[chosen]) * D + j];
  }
  assign.assign(n, 0);
  std::vector<double> sum(size_t(k) * D);
  std::vector<uint32_t> cnt(k);
  for (uint32_t it = 0; it <= iters; ++it) {
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* d = desc + size_t(ids[i]) * D;
      float bd = std::numeric_limits<float>::max();
      uint32_t bc = 0;
      for (uint32_t c = 0; c < k; ++c) {
        float dd = dist2(&cent[size_t(c) * D], d);
        if (dd < bd) { bd = dd; bc = c; }
      }
      assign[i] = bc;
    }
    if (it == iters) break;
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(cnt.begin(), cnt.end(), 0u);
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* d = desc + size_t(ids[i]) * D;
      for (int j = 0; j < D; ++j) sum[size_t(assign[i]) * D + j] += d[j];
      cnt[assign[i]]++;
    }
    for (uint32_t c = 0; c < k; ++c)
      if (cnt[c])
        for (int j = 0; j < D; ++j) cent[size_t(c) * D + j] = float(sum[size_t(c) * D + j] / cnt[c]);
  }
  return cent;
}

// Eight running sums instead of one: without -ffast-math the compiler may not reorder a float
// sum, so a single accumulator runs scalar; eight independent lanes vectorise (this distance is
// the candidate stage's inner loop). The order is fixed, so results stay deterministic.
inline float centroid_distance2(const float* c, const float* q) {
  static_assert(D % 8 == 0, "descriptor length must be a multiple of the lane count");
  float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  for (int k = 0; k < D; k += 8)
    for (int l = 0; l < 8; ++l) {
      const float x = c[k + l] - q[k + l];
      acc[l] += x * x;
    }
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

}  // namespace

VocabularyView VocabularyBuild::view() const {
  VocabularyView v;
  v.nodes = nodes.data();
  v.centroids = centroids.data();
  v.node_count = uint32_t(nodes.size());
  v.word_offsets = word_offsets.data();
  v.word_entries = word_entries.data();
  v.word_count = word_offsets.empty() ? 0 : uint32_t(word_offsets.size() - 1);
  return v;
}

VocabularyBuild build_vocabulary(const uint8_t* desc, size_t count, const VocabularyOptions& opt) {
  VocabularyBuild out;
  std::mt19937_64 rng(opt.seed);
  // Breadth-first: node i's descriptor ids are in members[i] until it is split or made a leaf.
  std::vector<std::vector<uint32_t>> members(1);
  members[0].resize(count);
  for (size_t i = 0; i < count; ++i) members[0][i] = uint32_t(i);
  std::vector<uint32_t> depth(1, 0);
  out.nodes.push_back(VocabNode{0, 0, UINT32_MAX, 0});
  out.centroids.assign(D, 0.f);
  std::vector<std::vector<uint32_t>> leaf_members;
  for (size_t node = 0; node < out.nodes.size(); ++node) {
    std::vector<uint32_t> ids = std::move(members[node]);
    uint32_t k = std::min<uint32_t>(opt.branching, uint32_t(ids.size()));
    bool split = ids.size() > opt.leaf_size && depth[node] < opt.max_depth && k >= 2;
    std::vector<uint32_t> assign;
    std::vector<float> cent;
    if (split) {
      cent = kmeans(desc, ids, k, opt.kmeans_iterations, rng, assign);
      // A split that leaves everything in one cluster (identical descriptors) would recurse forever.
      uint32_t used = 0;
      std::vector<uint32_t> cnt(k, 0);
      for (uint32_t a : assign) cnt[a]++;
      for (uint32_t c : cnt) used += c > 0;
      if (used < 2) split = false;
    }
    if (!split) {
      out.nodes[node].child_count = 0;
      out.nodes[node].word = uint32_t(leaf_members.size());
      leaf_members.push_back(std::move(ids));
      continue;
    }
    out.nodes[node].first_child = uint32_t(out.nodes.size());
    out.nodes[node].child_count = k;
    out.nodes[node].word = UINT32_MAX;
    for (uint32_t c = 0; c < k; ++c) {
      out.nodes.push_back(VocabNode{0, 0, UINT32_MAX, 0});
      out.centroids.insert(out.centroids.end(), cent.begin() + size_t(c) * D, cent.begin() + size_t(c + 1) * D);
      members.emplace_back();
      depth.push_back(depth[node] + 1);
    }
    for (size_t i = 0; i < ids.size(); ++i) members[out.nodes[node].first_child + assign[i]].push_back(ids[i]);
  }
  out.word_offsets.assign(1, 0);
  for (auto& m : leaf_members) {
    out.word_entries.insert(out.word_entries.end(), m.begin(), m.end());
    out.word_offsets.push_back(uint32_t(out.word_entries.size()));
  }
  return out;
}

void lookup_words(const VocabularyView& v, const uint8_t* d, uint32_t beam, std::vector<uint32_t>& words) {
  if (v.node_count == 0) return;
  // Fixed-size frontiers: lookups run millions of times per batch, no allocation in here.
  constexpr uint32_t kMaxBeam = 8, kMaxNext = kMaxBeam * 64;
  beam = std::clamp<uint32_t>(beam, 1, kMaxBeam);
  struct Cand { float dist; uint32_t node; };
  Cand frontier[kMaxBeam], next[kMaxNext];
  float q[D];
  for (int k = 0; k < D; ++k) q[k] = float(d[k]);
  uint32_t nf = 1, nn = 0;
  frontier[0] = {0.f, 0};
  // Bounded by the tree depth: children always have larger indices than their parent.
  for (int guard = 0; guard < 64 && nf > 0; ++guard) {
    nn = 0;
    for (uint32_t f = 0; f < nf; ++f) {
      const VocabNode& node = v.nodes[frontier[f].node];
      if (node.child_count == 0) {
        words.push_back(node.word);
        continue;
      }
      for (uint32_t i = 0; i < node.child_count && nn < kMaxNext; ++i) {
        const uint32_t child = node.first_child + i;
        next[nn++] = {centroid_distance2(v.centroids + size_t(child) * D, q), child};
      }
    }
    const uint32_t keep = std::min(nn, beam);
    std::partial_sort(next, next + keep, next + nn, [](const Cand& a, const Cand& b) { return a.dist < b.dist; });
    std::copy(next, next + keep, frontier);
    nf = keep;
  }
}

}  // namespace partscreen::detail

// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal: the candidate index of a pack, a vocabulary tree over keypoint descriptors with
// inverted lists (Nister & Stewenius, "Scalable recognition with a vocabulary tree", CVPR 2006).
// Looking a descriptor up costs O(beam * branching * depth), independent of the number of
// references; the inverted list it lands in holds ~leaf_size keypoints of the whole pack. This is
// what makes scan time grow far slower than the pack.
#include <cstdint>
#include <vector>

#include "features/features.h"

namespace partscreen::detail {

struct VocabNode {
  uint32_t first_child;  // index of the first child node; children are contiguous
  uint32_t child_count;  // 0 for a leaf
  uint32_t word;         // leaf: word id; inner node: UINT32_MAX
  uint32_t reserved;
};

// Read-only view (over a memory-mapped pack or over a VocabularyBuild's vectors).
struct VocabularyView {
  const VocabNode* nodes = nullptr;
  const float* centroids = nullptr;   // kDescriptorBytes floats per node (root's unused)
  uint32_t node_count = 0;
  const uint32_t* word_offsets = nullptr;  // word_count + 1
  const uint32_t* word_entries = nullptr;  // keypoint ids, grouped by word
  uint32_t word_count = 0;
};

struct VocabularyBuild {
  std::vector<VocabNode> nodes;
  std::vector<float> centroids;
  std::vector<uint32_t> word_offsets;
  std::vector<uint32_t> word_entries;
  VocabularyView view() const;
};

struct VocabularyOptions {
  uint32_t branching = 16;
  uint32_t leaf_size = 48;      // stop splitting below this many descriptors
  uint32_t max_depth = 6;
  uint32_t kmeans_iterations = 8;
  uint64_t seed = 0x5eed;
};

// Builds the tree by hierarchical k-means over `count` descriptors (kDescriptorBytes each) and
// files every descriptor i under its leaf. Deterministic for a seed.
VocabularyBuild build_vocabulary(const uint8_t* descriptors, size_t count, const VocabularyOptions& options = {});

// Words (leaves) nearest to a descriptor, by beam search keeping `beam` nodes per level.
// Appends to `words`.
void lookup_words(const VocabularyView& vocab, const uint8_t* descriptor, uint32_t beam, std::vector<uint32_t>& words);

}  // namespace partscreen::detail

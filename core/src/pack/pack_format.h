// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal: the on-disk layout of a signature pack (format version 1). Little-endian, every
// section 64-byte aligned so it can be used in place from a memory map.
//
//   Header (128 bytes) | section table | sections...
//
// The checksum (BLAKE2b-256, libsodium's crypto_generichash) covers every byte after the header.
// What is stored per reference: its id, category, label, surface area, and a few hundred sparse
// keypoints (position, normal, area weight) with a 64-byte local descriptor each. No triangles
// and no dense surface: see docs/packs.md.
#include <cstdint>

#include "features/features.h"
#include "index/vocabulary.h"

namespace partscreen::detail {

constexpr char kPackMagic[8] = {'P', 'S', 'C', 'N', 'P', 'A', 'C', 'K'};
constexpr uint32_t kPackFormatVersion = 1;
constexpr uint32_t kPackHeaderBytes = 128;

enum class Section : uint32_t {
  strings = 1,
  references = 2,
  keypoints = 3,
  descriptors = 4,
  vocab_nodes = 5,
  vocab_centroids = 6,
  word_offsets = 7,
  word_entries = 8,
};
constexpr uint32_t kSectionCount = 8;

struct PackHeader {
  char magic[8];
  uint32_t format_version;
  uint32_t header_bytes;
  uint64_t file_bytes;
  uint8_t checksum[32];
  uint32_t reference_count;
  uint32_t keypoint_count;
  uint32_t node_count;
  uint32_t word_count;
  uint32_t descriptor_bytes;
  uint32_t section_count;
  uint64_t created_unix;
  uint32_t name_offset;  // into the strings section
  uint32_t name_length;
  uint8_t reserved[32];
};
static_assert(sizeof(PackHeader) == kPackHeaderBytes, "header layout");

struct SectionEntry {
  uint32_t id;
  uint32_t reserved;
  uint64_t offset;
  uint64_t bytes;
};

struct ReferenceRecord {
  uint32_t keypoint_begin;
  uint32_t keypoint_count;
  uint32_t id_offset, id_length;
  uint32_t category_offset, category_length;
  uint32_t label_offset, label_length;
  float area_mm2;
  float size_mm;     // sqrt(area)
  float radius_mm;   // descriptor radius used at enrolment
  uint32_t component_count;
};
static_assert(sizeof(ReferenceRecord) == 48, "reference record layout");

struct KeypointRecord {
  float position[3];
  float normal[3];
  float weight;      // surface area the keypoint stands for, mm^2
  uint32_t reference;
  float salience;    // 0..1: how much the neighbourhood departs from a plane (flat says little)
  float surface_normal[3];  // the surface's own normal at the keypoint (normal is smoothed)
};
static_assert(sizeof(KeypointRecord) == 48, "keypoint record layout");

}  // namespace partscreen::detail

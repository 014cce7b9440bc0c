// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal: the on-disk layout of a signature pack (format version 2). Little-endian, every
// section 64-byte aligned so it can be used in place from a memory map.
//
//   Header (128 bytes) | section table | sections 1-8 (enrolled content) | section 9 (metadata)
//   | signature block (last 128 bytes)
//
// Three digests, each with one job (docs/packs.md):
// - checksum (header): BLAKE2b-256 of the whole file with the checksum field zeroed: corruption.
// - signature (signature block): Ed25519 over "partscreen pack signature v1\0" and the
//   BLAKE2b-256 of the header (checksum zeroed), every byte up to the signature block, and the
//   block's first 32 bytes (magic, algorithm, key id): tampering, by anyone without the
//   publisher's secret key. That digest is the checksum's state part way through the file, so one
//   pass over the file gives both. (Packs signed before 2026-11-30 carry algorithm 1, Ed25519ph
//   over the same bytes, a second pass with SHA-512; they still verify.)
// - content (not stored): BLAKE2b-256 of sections 1-8, each prefixed by its length: "the same
//   enrolled signatures", unchanged by re-signing, new metadata or new times.
// What is stored per reference: its id, category, label, surface area, and a few hundred sparse
// keypoints (position, normal, area weight) with a 64-byte local descriptor each. No triangles
// and no dense surface: see docs/packs.md.
#include <cstdint>

#include "features/features.h"
#include "index/vocabulary.h"

namespace partscreen::detail {

constexpr char kPackMagic[8] = {'P', 'S', 'C', 'N', 'P', 'A', 'C', 'K'};
constexpr uint32_t kPackFormatVersion = 2;
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
  metadata = 9,  // MetadataHead + string refs + string bytes, self-contained (not in the content)
};
constexpr uint32_t kSectionCount = 9;
constexpr uint32_t kContentSections = 8;  // sections 1..8: what enrolment produced

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

// Section 9. Strings are (offset, length) pairs into the bytes after the ref table, all
// inside the section. Bounded: the section is at most kMaxMetadataBytes.
constexpr uint64_t kMaxMetadataBytes = 1 << 20;
constexpr uint32_t kMaxMetadataString = 4096;
struct MetadataHead {
  uint64_t sequence;
  int64_t created_unix;
  int64_t expires_unix;      // 0: never
  uint32_t publisher_offset, publisher_length;
  uint32_t jurisdiction_offset, jurisdiction_length;
  uint32_t category_count;   // taxonomy entries, then revoked ids, as StringRef after the head
  uint32_t revoked_count;
  uint32_t strings_bytes;    // bytes of string data after the StringRef table
  uint32_t reserved[3];
};
static_assert(sizeof(MetadataHead) == 64, "metadata layout");
struct StringRef {
  uint32_t offset, length;
};

constexpr char kSignatureMagic[8] = {'P', 'S', 'C', 'N', 'S', 'I', 'G', '1'};
constexpr uint32_t kSignatureBytes = 128;
constexpr uint32_t kSignatureCovered = 32;  // magic, algorithm, flags, key id: signed too
enum class SignatureAlgorithm : uint32_t { none = 0, ed25519ph = 1, ed25519_blake2b = 2 };
constexpr char kSignatureDomain[] = "partscreen pack signature v1";  // with its NUL: 29 bytes
struct SignatureBlock {
  char magic[8];
  uint32_t algorithm;  // SignatureAlgorithm
  uint32_t flags;      // 0
  uint8_t key_id[16];  // BLAKE2b-128 of the Ed25519 public key
  uint8_t signature[64];
  uint8_t reserved[32];
};
static_assert(sizeof(SignatureBlock) == kSignatureBytes, "signature block layout");

}  // namespace partscreen::detail

// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal: a pack in memory, as views over a memory-mapped file (or over owned bytes).
#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pack/pack_format.h"
#include "partscreen/pack.h"

namespace partscreen {

struct PackData {
  std::string path;
  std::string name;
  uint32_t format_version = 0;
  uint64_t file_bytes = 0;
  std::array<uint8_t, 32> checksum{};  // whole file (checksum field zeroed)
  // Sections 1-8: same references, same content. Hashed on first use (pack_content): scans never
  // need it, and hashing a large pack costs as much as checking its signature.
  mutable std::once_flag content_once;
  mutable std::array<uint8_t, 32> content{};
  PackMetadata metadata;
  detail::SignatureBlock signature{};  // algorithm none: unsigned
  const uint8_t* file = nullptr;       // the whole file (kept alive by storage)
  const uint8_t* sections[detail::kSectionCount + 1] = {nullptr};  // by Section id
  uint64_t section_bytes[detail::kSectionCount + 1] = {0};
  std::vector<ReferenceInfo> references;
  const detail::ReferenceRecord* reference_records = nullptr;
  const detail::KeypointRecord* keypoints = nullptr;
  uint32_t keypoint_count = 0;
  const uint8_t* descriptors = nullptr;
  detail::VocabularyView vocabulary;
  std::shared_ptr<const void> storage;  // keeps the mapping (or owned buffer) alive
};

// A Pack over parsed data (merge, sign).
Pack pack_from_data(std::shared_ptr<const PackData> data);

namespace detail {
// Parses and validates pack bytes (already in memory or mapped). `storage` owns them.
// Throws Error(invalid_pack) naming `path` and what is wrong.
std::shared_ptr<const PackData> parse_pack(const std::string& path, const uint8_t* bytes, size_t size,
                                           std::shared_ptr<const void> storage, bool verify_checksum);

// The two digests one pass over a pack file gives (pack_format.h): the checksum, and what an
// ed25519_blake2b signature signs.
struct PackDigests {
  std::array<uint8_t, 32> checksum;
  std::array<uint8_t, 32> signed_digest;
};
PackDigests pack_digests(const uint8_t* bytes, size_t size);

// Pack::open, optionally leaving the whole-file checksum to the caller (verify_checksum below):
// load_trusted_pack checks it together with the signature, in one pass over the file (a second
// pass on another core for packs signed with Ed25519ph).
Pack open_pack(const std::string& path, bool verify_checksum);
// Throws Error(invalid_pack) as Pack::open does when the file does not match its checksum; else
// returns the digests.
PackDigests verify_checksum(const PackData& pack);
PackDigests verify_checksum_of(const std::string& path, const uint8_t* bytes, size_t size);

// The content hash (PackData::content), computed on first use.
const std::array<uint8_t, 32>& pack_content(const PackData& pack);

// Serialises a pack (layout in pack_format.h), signed when `key` is given.
std::vector<uint8_t> write_pack_bytes(const std::string& name, const std::vector<ReferenceInfo>& refs,
                                      const std::vector<ReferenceRecord>& records,
                                      const std::vector<KeypointRecord>& keypoints,
                                      const std::vector<uint8_t>& descriptors, const VocabularyBuild& vocab,
                                      const PackMetadata& metadata, const KeyPair* key);

// The same enrolled content (sections 1-8 byte for byte) with new metadata and signature.
std::vector<uint8_t> resign_pack_bytes(const PackData& pack, const PackMetadata& metadata, const KeyPair* key);

// The signature of a complete pack file, whichever algorithm made it (see pack_format.h). With
// `digests` (of these bytes), an ed25519_blake2b signature is checked without reading the file.
bool verify_pack_bytes(const uint8_t* bytes, size_t size, const uint8_t public_key[32], const PackDigests* digests = nullptr);

// Writes bytes to path through a temporary file beside it and a rename.
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes, const char* what);

std::string hex(const uint8_t* d, size_t n);
// BLAKE2b-128 of a public key: the key id stored in a pack's signature block.
std::array<uint8_t, 16> key_id_of(const std::array<uint8_t, 32>& public_key);
}  // namespace detail

}  // namespace partscreen

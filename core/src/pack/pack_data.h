// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal: a pack in memory, as views over a memory-mapped file (or over owned bytes).
#include <array>
#include <memory>
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
  std::array<uint8_t, 32> content{};   // everything after the header: same references, same content
  std::vector<ReferenceInfo> references;
  const detail::ReferenceRecord* reference_records = nullptr;
  const detail::KeypointRecord* keypoints = nullptr;
  uint32_t keypoint_count = 0;
  const uint8_t* descriptors = nullptr;
  detail::VocabularyView vocabulary;
  std::shared_ptr<const void> storage;  // keeps the mapping (or owned buffer) alive
};

namespace detail {
// Parses and validates pack bytes (already in memory or mapped). `storage` owns them.
// Throws Error(invalid_pack) naming `path` and what is wrong.
std::shared_ptr<const PackData> parse_pack(const std::string& path, const uint8_t* bytes, size_t size,
                                           std::shared_ptr<const void> storage, bool verify_checksum);
}  // namespace detail

}  // namespace partscreen

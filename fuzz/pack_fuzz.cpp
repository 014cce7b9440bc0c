// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: arbitrary bytes -> detail::parse_pack (the parser behind Pack::open), then
// every table the scan reads is walked so an index the validation let through shows up as a
// sanitizer report. The checksum is not verified: random bytes would never get past it, and the
// structural checks must hold on their own (a pack can be corrupted before it is checksummed,
// or crafted with a valid checksum). Any exception other than partscreen::Error is a bug.
// Format 2 adds the metadata section (parsed by parse_pack) and the signature block: every input
// is also put through signature verification with the demo publisher's key, which must simply
// say no (or yes for the committed demo pack) without reading out of bounds.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "pack/pack_data.h"
#include "partscreen/error.h"
#include "partscreen/trust.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size, suitably aligned copy (a mapping is page-aligned), so ASan sees any overread.
  std::unique_ptr<uint64_t[]> buffer(new uint64_t[size / 8 + 1]);
  std::memcpy(buffer.get(), data, size);
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(buffer.get());
  static const partscreen::PublicKey demo = partscreen::demo_public_key();
  (void)partscreen::detail::verify_pack_bytes(bytes, size, demo.key.data());
  try {
    auto pack = partscreen::detail::parse_pack("fuzz.pack", bytes, size, nullptr, false);
    volatile size_t meta = pack->metadata.publisher.size() + pack->metadata.jurisdiction.size();
    for (const auto& s : pack->metadata.categories) meta = meta + s.size();
    for (const auto& s : pack->metadata.revoked) meta = meta + s.size();
    (void)meta;
    volatile uint64_t sink = 0;
    for (const auto& r : pack->references) sink = sink + r.id.size() + r.keypoint_count;
    for (uint32_t k = 0; k < pack->keypoint_count; ++k) {
      const auto& kp = pack->keypoints[k];
      const auto& rec = pack->reference_records[kp.reference];
      if (k < rec.keypoint_begin || k >= rec.keypoint_begin + rec.keypoint_count) __builtin_trap();
      sink = sink + pack->descriptors[size_t(k) * partscreen::detail::kDescriptorBytes];
    }
    const auto& v = pack->vocabulary;
    for (uint32_t n = 0; n < v.node_count; ++n) {
      const auto& node = v.nodes[n];
      uint32_t bits;  // touch the centroid without converting an arbitrary float
      std::memcpy(&bits, &v.centroids[size_t(n) * partscreen::detail::kDescriptorBytes], 4);
      sink = sink + bits;
      if (node.child_count == 0) {
        if (node.word >= v.word_count) __builtin_trap();
      } else if (uint64_t(node.first_child) + node.child_count > v.node_count) {
        __builtin_trap();
      }
    }
    for (uint32_t w = 0; w < v.word_count; ++w)
      for (uint32_t e = v.word_offsets[w]; e < v.word_offsets[w + 1]; ++e) {
        const uint32_t kp = v.word_entries[e];
        if (kp >= pack->keypoint_count) __builtin_trap();
        sink = sink + pack->keypoints[kp].reference;
      }
    // Walk the tree as a scan does, with the first keypoint's descriptor as the query.
    if (pack->keypoint_count > 0) {
      std::vector<uint32_t> words;
      partscreen::detail::lookup_words(v, pack->descriptors, 2, words);
      for (uint32_t w : words)
        if (w >= v.word_count) __builtin_trap();
    }
    (void)sink;
  } catch (const partscreen::Error& e) {
    if (e.code() != partscreen::ErrorCode::invalid_pack) __builtin_trap();
  }
  return 0;
}

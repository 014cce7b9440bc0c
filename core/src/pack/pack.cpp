// SPDX-License-Identifier: GPL-3.0-or-later
// Reading, validating and writing signature packs; enrolment.
#include <fcntl.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "features/params.h"
#include "pack/pack_data.h"
#include "partscreen/error.h"

namespace partscreen {
namespace detail {
namespace {

[[noreturn]] void bad(const std::string& path, const std::string& why) {
  throw Error(ErrorCode::invalid_pack, path, why);
}


// The pack checksum: BLAKE2b-256 over the whole file with the checksum field itself zeroed, so
// every header byte (name, creation time, reserved) is protected too.
void pack_checksum(const uint8_t* bytes, size_t size, uint8_t out[32]) {
  if (sodium_init() < 0) throw Error(ErrorCode::internal, "", "libsodium failed to initialise");
  PackHeader h;
  std::memcpy(&h, bytes, sizeof h);
  std::memset(h.checksum, 0, sizeof h.checksum);
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(&h), sizeof h);
  crypto_generichash_update(&st, bytes + sizeof h, size - sizeof h);
  crypto_generichash_final(&st, out, 32);
}

std::string hex(const uint8_t* d, size_t n) {
  static const char* k = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) { s[2 * i] = k[d[i] >> 4]; s[2 * i + 1] = k[d[i] & 15]; }
  return s;
}

}  // namespace

std::shared_ptr<const PackData> parse_pack(const std::string& path, const uint8_t* bytes, size_t size,
                                           std::shared_ptr<const void> storage, bool verify_checksum) {
  const char* next = " Rebuild it with `partscreen enroll` or fetch it again from its publisher.";
  if (size < kPackHeaderBytes) {
    if (size >= 8 && std::memcmp(bytes, kPackMagic, 8) != 0) bad(path, "not a partscreen pack (wrong magic bytes)");
    bad(path, "truncated pack: " + std::to_string(size) + " bytes, shorter than the header." + next);
  }
  PackHeader h;
  std::memcpy(&h, bytes, sizeof h);
  if (std::memcmp(h.magic, kPackMagic, 8) != 0) bad(path, "not a partscreen pack (wrong magic bytes)");
  if (h.format_version != kPackFormatVersion)
    bad(path, "pack format version " + std::to_string(h.format_version) + " is not supported (this partscreen reads version " +
                  std::to_string(kPackFormatVersion) + ")." + next);
  if (h.header_bytes != kPackHeaderBytes) bad(path, "corrupt header (header size)");
  if (h.file_bytes != size)
    bad(path, "truncated or padded pack: header says " + std::to_string(h.file_bytes) + " bytes, file has " +
                  std::to_string(size) + "." + next);
  if (h.descriptor_bytes != kDescriptorBytes) bad(path, "corrupt header (descriptor size)");
  if (h.section_count != kSectionCount) bad(path, "corrupt header (section count)");
  if (verify_checksum) {
    uint8_t sum[32];
    pack_checksum(bytes, size, sum);
    if (std::memcmp(sum, h.checksum, 32) != 0) bad(path, std::string("checksum mismatch: the pack is corrupt or was modified.") + next);
  }
  const uint64_t table_end = kPackHeaderBytes + uint64_t(kSectionCount) * sizeof(SectionEntry);
  if (table_end > size) bad(path, "truncated section table");
  const uint8_t* sec[kSectionCount + 1] = {nullptr};
  uint64_t sec_bytes[kSectionCount + 1] = {0};
  for (uint32_t i = 0; i < kSectionCount; ++i) {
    SectionEntry e;
    std::memcpy(&e, bytes + kPackHeaderBytes + i * sizeof(SectionEntry), sizeof e);
    if (e.id < 1 || e.id > kSectionCount || sec[e.id]) bad(path, "corrupt section table");
    if (e.offset % 64 != 0 || e.offset < table_end || e.offset > size || e.bytes > size - e.offset)
      bad(path, "corrupt section table (section " + std::to_string(e.id) + " out of bounds)");
    sec[e.id] = bytes + e.offset;
    sec_bytes[e.id] = e.bytes;
  }
  auto need = [&](Section s, uint64_t count, uint64_t each) {
    if (count > sec_bytes[uint32_t(s)] / (each ? each : 1) || sec_bytes[uint32_t(s)] != count * each)
      bad(path, "corrupt pack: section " + std::to_string(uint32_t(s)) + " has the wrong size");
  };
  need(Section::references, h.reference_count, sizeof(ReferenceRecord));
  need(Section::keypoints, h.keypoint_count, sizeof(KeypointRecord));
  need(Section::descriptors, h.keypoint_count, kDescriptorBytes);
  need(Section::vocab_nodes, h.node_count, sizeof(VocabNode));
  need(Section::vocab_centroids, h.node_count, kDescriptorBytes * sizeof(float));
  need(Section::word_offsets, uint64_t(h.word_count) + 1, sizeof(uint32_t));
  need(Section::word_entries, h.keypoint_count, sizeof(uint32_t));

  auto data = std::make_shared<PackData>();
  data->path = path;
  data->format_version = h.format_version;
  data->file_bytes = size;
  std::memcpy(data->checksum.data(), h.checksum, 32);
  const char* strings = reinterpret_cast<const char*>(sec[uint32_t(Section::strings)]);
  const uint64_t strings_bytes = sec_bytes[uint32_t(Section::strings)];
  auto str = [&](uint32_t off, uint32_t len) {
    if (uint64_t(off) + len > strings_bytes) bad(path, "corrupt pack: string out of bounds");
    return std::string(strings + off, len);
  };
  data->name = str(h.name_offset, h.name_length);
  data->reference_records = reinterpret_cast<const ReferenceRecord*>(sec[uint32_t(Section::references)]);
  data->keypoints = reinterpret_cast<const KeypointRecord*>(sec[uint32_t(Section::keypoints)]);
  data->keypoint_count = h.keypoint_count;
  data->descriptors = sec[uint32_t(Section::descriptors)];
  for (uint32_t r = 0; r < h.reference_count; ++r) {
    const ReferenceRecord& rec = data->reference_records[r];
    if (uint64_t(rec.keypoint_begin) + rec.keypoint_count > h.keypoint_count || rec.keypoint_count == 0)
      bad(path, "corrupt pack: reference " + std::to_string(r) + " has an invalid keypoint range");
    if (!(rec.size_mm > 0.f) || !(rec.radius_mm > 0.f) || !std::isfinite(rec.size_mm) || !std::isfinite(rec.radius_mm))
      bad(path, "corrupt pack: reference " + std::to_string(r) + " has an invalid size");
    ReferenceInfo info;
    info.id = str(rec.id_offset, rec.id_length);
    info.category = str(rec.category_offset, rec.category_length);
    info.label = str(rec.label_offset, rec.label_length);
    info.area_mm2 = rec.area_mm2;
    info.size_mm = rec.size_mm;
    info.keypoint_count = rec.keypoint_count;
    info.component_count = rec.component_count;
    data->references.push_back(std::move(info));
  }
  for (uint32_t k = 0; k < h.keypoint_count; ++k) {
    const KeypointRecord& kp = data->keypoints[k];
    if (kp.reference >= h.reference_count) bad(path, "corrupt pack: keypoint refers to a missing reference");
    const ReferenceRecord& rec = data->reference_records[kp.reference];
    if (k < rec.keypoint_begin || k >= rec.keypoint_begin + rec.keypoint_count) bad(path, "corrupt pack: keypoint order");
    for (int d = 0; d < 3; ++d)
      if (!std::isfinite(kp.position[d]) || !std::isfinite(kp.normal[d]) || !std::isfinite(kp.surface_normal[d]))
        bad(path, "corrupt pack: non-finite keypoint");
    if (!(kp.weight >= 0.f) || !(kp.salience >= 0.f && kp.salience <= 1.f)) bad(path, "corrupt pack: invalid keypoint weight");
  }
  VocabularyView& v = data->vocabulary;
  v.nodes = reinterpret_cast<const VocabNode*>(sec[uint32_t(Section::vocab_nodes)]);
  v.centroids = reinterpret_cast<const float*>(sec[uint32_t(Section::vocab_centroids)]);
  v.node_count = h.node_count;
  v.word_offsets = reinterpret_cast<const uint32_t*>(sec[uint32_t(Section::word_offsets)]);
  v.word_entries = reinterpret_cast<const uint32_t*>(sec[uint32_t(Section::word_entries)]);
  v.word_count = h.word_count;
  if (h.node_count == 0) bad(path, "corrupt pack: empty index");
  for (uint32_t n = 0; n < h.node_count; ++n) {
    const VocabNode& node = v.nodes[n];
    if (node.child_count == 0) {
      if (node.word >= h.word_count) bad(path, "corrupt pack: index leaf without a word");
    } else if (node.first_child <= n || uint64_t(node.first_child) + node.child_count > h.node_count) {
      bad(path, "corrupt pack: index tree is not a tree");  // children after parents: no cycles
    }
  }
  if (v.word_offsets[0] != 0 || v.word_offsets[h.word_count] != h.keypoint_count) bad(path, "corrupt pack: inverted lists");
  for (uint32_t w = 0; w < h.word_count; ++w)
    if (v.word_offsets[w] > v.word_offsets[w + 1]) bad(path, "corrupt pack: inverted lists");
  for (uint32_t e = 0; e < h.keypoint_count; ++e)
    if (v.word_entries[e] >= h.keypoint_count) bad(path, "corrupt pack: inverted list entry out of range");
  if (sodium_init() < 0) throw Error(ErrorCode::internal, "", "libsodium failed to initialise");
  crypto_generichash(data->content.data(), 32, bytes + kPackHeaderBytes, size - kPackHeaderBytes, nullptr, 0);
  data->storage = std::move(storage);
  return data;
}

// Serialises a pack. Layout in pack_format.h.
std::vector<uint8_t> write_pack_bytes(const std::string& name, const std::vector<ReferenceInfo>& refs,
                                      const std::vector<ReferenceRecord>& records_in,
                                      const std::vector<KeypointRecord>& keypoints,
                                      const std::vector<uint8_t>& descriptors, const VocabularyBuild& vocab) {
  std::string strings;
  auto add = [&](const std::string& s, uint32_t& off, uint32_t& len) {
    off = uint32_t(strings.size());
    len = uint32_t(s.size());
    strings += s;
  };
  PackHeader h{};
  std::memcpy(h.magic, kPackMagic, 8);
  h.format_version = kPackFormatVersion;
  h.header_bytes = kPackHeaderBytes;
  h.reference_count = uint32_t(refs.size());
  h.keypoint_count = uint32_t(keypoints.size());
  h.node_count = uint32_t(vocab.nodes.size());
  h.word_count = uint32_t(vocab.word_offsets.size() - 1);
  h.descriptor_bytes = kDescriptorBytes;
  h.section_count = kSectionCount;
  // Reproducible builds: SOURCE_DATE_EPOCH, when set, replaces the clock.
  const char* epoch = std::getenv("SOURCE_DATE_EPOCH");
  h.created_unix = epoch ? std::strtoull(epoch, nullptr, 10) : uint64_t(std::time(nullptr));
  add(name, h.name_offset, h.name_length);
  std::vector<ReferenceRecord> records = records_in;
  for (size_t r = 0; r < refs.size(); ++r) {
    add(refs[r].id, records[r].id_offset, records[r].id_length);
    add(refs[r].category, records[r].category_offset, records[r].category_length);
    add(refs[r].label, records[r].label_offset, records[r].label_length);
  }
  struct Blob { Section id; const void* data; size_t bytes; };
  const Blob blobs[kSectionCount] = {
      {Section::strings, strings.data(), strings.size()},
      {Section::references, records.data(), records.size() * sizeof(ReferenceRecord)},
      {Section::keypoints, keypoints.data(), keypoints.size() * sizeof(KeypointRecord)},
      {Section::descriptors, descriptors.data(), descriptors.size()},
      {Section::vocab_nodes, vocab.nodes.data(), vocab.nodes.size() * sizeof(VocabNode)},
      {Section::vocab_centroids, vocab.centroids.data(), vocab.centroids.size() * sizeof(float)},
      {Section::word_offsets, vocab.word_offsets.data(), vocab.word_offsets.size() * sizeof(uint32_t)},
      {Section::word_entries, vocab.word_entries.data(), vocab.word_entries.size() * sizeof(uint32_t)},
  };
  auto align = [](uint64_t x) { return (x + 63) & ~uint64_t(63); };
  uint64_t offset = align(kPackHeaderBytes + kSectionCount * sizeof(SectionEntry));
  std::vector<SectionEntry> table;
  for (const Blob& b : blobs) {
    table.push_back(SectionEntry{uint32_t(b.id), 0, offset, b.bytes});
    offset = align(offset + b.bytes);
  }
  std::vector<uint8_t> out(offset, 0);
  h.file_bytes = offset;
  std::memcpy(out.data() + kPackHeaderBytes, table.data(), table.size() * sizeof(SectionEntry));
  for (size_t i = 0; i < kSectionCount; ++i)
    if (blobs[i].bytes) std::memcpy(out.data() + table[i].offset, blobs[i].data, blobs[i].bytes);
  std::memset(h.checksum, 0, sizeof h.checksum);
  std::memcpy(out.data(), &h, sizeof h);
  pack_checksum(out.data(), out.size(), h.checksum);
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

}  // namespace detail

// ------------------------------------------------------------------ Pack

namespace {
struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr && addr != MAP_FAILED) munmap(addr, size);
  }
};
}  // namespace

Pack Pack::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw Error(ErrorCode::io, path,
                std::string("cannot open pack: ") + std::strerror(errno) + ". Build one with `partscreen enroll --out PACK FILE...`.");
  struct stat st{};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::invalid_pack, path, "not a regular file");
  }
  auto map = std::make_shared<Mapping>();
  map->size = size_t(st.st_size);
  if (map->size == 0) {
    ::close(fd);
    throw Error(ErrorCode::invalid_pack, path, "empty file, not a pack");
  }
  map->addr = mmap(nullptr, map->size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map->addr == MAP_FAILED) throw Error(ErrorCode::io, path, std::string("cannot map pack: ") + std::strerror(errno));
  Pack pack;
  pack.data_ = detail::parse_pack(path, static_cast<const uint8_t*>(map->addr), map->size, map, true);
  return pack;
}

const std::string& Pack::path() const { return data_->path; }
const std::string& Pack::name() const { return data_->name; }
uint32_t Pack::format_version() const { return data_->format_version; }
std::string Pack::checksum_hex() const { return detail::hex(data_->checksum.data(), 32); }
std::string Pack::content_hex() const { return detail::hex(data_->content.data(), 32); }
size_t Pack::reference_count() const { return data_->references.size(); }
const ReferenceInfo& Pack::reference(size_t i) const { return data_->references.at(i); }
uint64_t Pack::file_bytes() const { return data_->file_bytes; }

}  // namespace partscreen

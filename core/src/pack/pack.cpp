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
#include <set>
#include <sstream>

#include "features/params.h"
#include "pack/pack_data.h"
#include "partscreen/error.h"
#include "partscreen/trust.h"

namespace partscreen {
namespace detail {
namespace {

[[noreturn]] void bad(const std::string& path, const std::string& why) {
  throw Error(ErrorCode::invalid_pack, path, why);
}

void need_sodium() {
  if (sodium_init() < 0) throw Error(ErrorCode::internal, "", "libsodium failed to initialise");
}

// The hash state after the signed bytes of a complete file (the header with its checksum zeroed,
// up to the signature itself), and where they end.
crypto_generichash_state hash_signed_bytes(const uint8_t* bytes, size_t size, size_t* signed_end) {
  need_sodium();
  PackHeader h;
  std::memcpy(&h, bytes, sizeof h);
  std::memset(h.checksum, 0, sizeof h.checksum);
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(&h), sizeof h);
  *signed_end = size >= sizeof h + kSignatureBytes ? size - kSignatureBytes + kSignatureCovered : size;
  crypto_generichash_update(&st, bytes + sizeof h, *signed_end - sizeof h);
  return st;
}

// The digest of what `st` has hashed so far; `st` goes on (a plain struct: a copy forks the hash).
std::array<uint8_t, 32> final_digest(const crypto_generichash_state& st) {
  crypto_generichash_state fork = st;
  std::array<uint8_t, 32> d{};
  crypto_generichash_final(&fork, d.data(), 32);
  return d;
}

}  // namespace

// The pack's two digests in one pass (pack_format.h): the checksum, BLAKE2b-256 over the whole
// file with the checksum field itself zeroed, so every header byte (name, creation time, reserved)
// and the signature block are protected too; and the digest an ed25519_blake2b signature signs,
// the same hash stopped before the signature itself.
PackDigests pack_digests(const uint8_t* bytes, size_t size) {
  size_t signed_end = 0;
  crypto_generichash_state st = hash_signed_bytes(bytes, size, &signed_end);
  PackDigests d{};
  d.signed_digest = final_digest(st);
  crypto_generichash_update(&st, bytes + signed_end, size - signed_end);
  d.checksum = final_digest(st);
  return d;
}

namespace {

// Feeds the signed bytes (pack_format.h) of a complete file to an Ed25519ph state (algorithm 1).
void sign_update(crypto_sign_state& st, const uint8_t* bytes, size_t size) {
  PackHeader h;
  std::memcpy(&h, bytes, sizeof h);
  std::memset(h.checksum, 0, sizeof h.checksum);
  crypto_sign_update(&st, reinterpret_cast<const unsigned char*>(&h), sizeof h);
  crypto_sign_update(&st, bytes + sizeof h, size - sizeof h - kSignatureBytes + kSignatureCovered);
}

// What an ed25519_blake2b signature signs: the domain string with its NUL, then the digest.
std::array<uint8_t, sizeof kSignatureDomain + 32> signed_message(const std::array<uint8_t, 32>& digest) {
  std::array<uint8_t, sizeof kSignatureDomain + 32> m{};
  std::memcpy(m.data(), kSignatureDomain, sizeof kSignatureDomain);
  std::memcpy(m.data() + sizeof kSignatureDomain, digest.data(), 32);
  return m;
}

// Sections 1-8 with their lengths: the enrolled content, whatever the metadata or signature.
void content_hash(const uint8_t* const* sec, const uint64_t* sec_bytes, uint8_t out[32]) {
  need_sodium();
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  for (uint32_t s = 1; s <= kContentSections; ++s) {
    const uint64_t n = sec_bytes[s];
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(&n), sizeof n);
    if (n) crypto_generichash_update(&st, sec[s], n);
  }
  crypto_generichash_final(&st, out, 32);
}

PackMetadata parse_metadata(const std::string& path, const uint8_t* sec, uint64_t bytes) {
  auto fail = [&](const std::string& why) { bad(path, "corrupt metadata: " + why); };
  if (bytes > kMaxMetadataBytes) fail("section larger than 1 MiB");
  if (bytes < sizeof(MetadataHead)) fail("section shorter than its head");
  MetadataHead m;
  std::memcpy(&m, sec, sizeof m);
  const uint64_t refs = uint64_t(m.category_count) + m.revoked_count;
  if (refs > (bytes - sizeof m) / sizeof(StringRef)) fail("more strings than the section holds");
  const uint64_t table_end = sizeof m + refs * sizeof(StringRef);
  if (uint64_t(m.strings_bytes) != bytes - table_end) fail("string area has the wrong size");
  const char* strings = reinterpret_cast<const char*>(sec + table_end);
  auto str = [&](uint32_t off, uint32_t len) {
    if (len > kMaxMetadataString || uint64_t(off) + len > m.strings_bytes) fail("string out of bounds");
    return std::string(strings + off, len);
  };
  PackMetadata out;
  out.sequence = m.sequence;
  out.created_unix = m.created_unix;
  out.expires_unix = m.expires_unix;
  if (m.expires_unix < 0 || m.created_unix < 0) fail("negative time");
  out.publisher = str(m.publisher_offset, m.publisher_length);
  out.jurisdiction = str(m.jurisdiction_offset, m.jurisdiction_length);
  for (uint64_t i = 0; i < refs; ++i) {
    StringRef r;
    std::memcpy(&r, sec + sizeof m + i * sizeof r, sizeof r);
    (i < m.category_count ? out.categories : out.revoked).push_back(str(r.offset, r.length));
  }
  return out;
}

std::vector<uint8_t> metadata_bytes(const PackMetadata& md) {
  auto check = [](const std::string& s, const char* what) {
    if (s.size() > kMaxMetadataString)
      throw Error(ErrorCode::invalid_argument, "", std::string(what) + " is longer than 4096 bytes");
  };
  MetadataHead m{};
  m.sequence = md.sequence;
  m.created_unix = md.created_unix;
  m.expires_unix = md.expires_unix;
  if (md.created_unix < 0 || md.expires_unix < 0) throw Error(ErrorCode::invalid_argument, "", "times must not be negative");
  std::string strings;
  auto add = [&](const std::string& s, uint32_t& off, uint32_t& len, const char* what) {
    check(s, what);
    off = uint32_t(strings.size());
    len = uint32_t(s.size());
    strings += s;
  };
  add(md.publisher, m.publisher_offset, m.publisher_length, "the publisher");
  add(md.jurisdiction, m.jurisdiction_offset, m.jurisdiction_length, "the jurisdiction");
  std::vector<StringRef> refs;
  for (const auto* list : {&md.categories, &md.revoked})
    for (const std::string& s : *list) {
      StringRef r{};
      add(s, r.offset, r.length, "a category or revoked id");
      refs.push_back(r);
    }
  m.category_count = uint32_t(md.categories.size());
  m.revoked_count = uint32_t(md.revoked.size());
  m.strings_bytes = uint32_t(strings.size());
  std::vector<uint8_t> out(sizeof m + refs.size() * sizeof(StringRef) + strings.size());
  if (out.size() > kMaxMetadataBytes) throw Error(ErrorCode::limit_exceeded, "", "pack metadata larger than 1 MiB");
  std::memcpy(out.data(), &m, sizeof m);
  if (!refs.empty()) std::memcpy(out.data() + sizeof m, refs.data(), refs.size() * sizeof(StringRef));
  if (!strings.empty()) std::memcpy(out.data() + sizeof m + refs.size() * sizeof(StringRef), strings.data(), strings.size());
  return out;
}

int64_t now_or_epoch() {
  // Reproducible builds: SOURCE_DATE_EPOCH, when set, replaces the clock.
  const char* epoch = std::getenv("SOURCE_DATE_EPOCH");
  return epoch ? int64_t(std::strtoull(epoch, nullptr, 10)) : int64_t(std::time(nullptr));
}

struct Blob { Section id; const void* data; size_t bytes; };

// Header template + the nine sections -> a complete file, checksummed and (with a key) signed.
std::vector<uint8_t> assemble(PackHeader h, const Blob (&blobs)[kSectionCount], const KeyPair* key) {
  auto align = [](uint64_t x) { return (x + 63) & ~uint64_t(63); };
  uint64_t offset = align(kPackHeaderBytes + kSectionCount * sizeof(SectionEntry));
  std::vector<SectionEntry> table;
  for (const Blob& b : blobs) {
    table.push_back(SectionEntry{uint32_t(b.id), 0, offset, b.bytes});
    offset = align(offset + b.bytes);
  }
  const uint64_t size = offset + kSignatureBytes;
  std::vector<uint8_t> out(size, 0);
  std::memcpy(h.magic, kPackMagic, 8);
  h.format_version = kPackFormatVersion;
  h.header_bytes = kPackHeaderBytes;
  h.section_count = kSectionCount;
  h.file_bytes = size;
  std::memset(h.checksum, 0, sizeof h.checksum);
  std::memcpy(out.data(), &h, sizeof h);
  std::memcpy(out.data() + kPackHeaderBytes, table.data(), table.size() * sizeof(SectionEntry));
  for (size_t i = 0; i < kSectionCount; ++i)
    if (blobs[i].bytes) std::memcpy(out.data() + table[i].offset, blobs[i].data, blobs[i].bytes);
  SignatureBlock sig{};
  std::memcpy(sig.magic, kSignatureMagic, 8);
  if (key) {
    need_sodium();
    sig.algorithm = uint32_t(SignatureAlgorithm::ed25519_blake2b);
    const auto id = key_id_of(key->public_key.key);
    std::memcpy(sig.key_id, id.data(), 16);
  }
  // One pass: the checksum's hash goes on from where the signed digest forks off, once the
  // signature is in place.
  std::memcpy(out.data() + offset, &sig, sizeof sig);
  size_t signed_end = 0;
  crypto_generichash_state st = hash_signed_bytes(out.data(), out.size(), &signed_end);
  if (key) {
    const auto message = signed_message(final_digest(st));
    crypto_sign_detached(sig.signature, nullptr, message.data(), message.size(), key->secret.data());
    std::memcpy(out.data() + offset, &sig, sizeof sig);
  }
  crypto_generichash_update(&st, out.data() + signed_end, out.size() - signed_end);
  std::memcpy(h.checksum, final_digest(st).data(), 32);
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

PackMetadata completed(PackMetadata md, const KeyPair* key) {
  if (md.created_unix == 0) md.created_unix = now_or_epoch();
  if (key) md.publisher = key->public_key.publisher;
  return md;
}

}  // namespace

std::string hex(const uint8_t* d, size_t n) {
  static const char* k = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) { s[2 * i] = k[d[i] >> 4]; s[2 * i + 1] = k[d[i] & 15]; }
  return s;
}

std::array<uint8_t, 16> key_id_of(const std::array<uint8_t, 32>& public_key) {
  need_sodium();
  std::array<uint8_t, 16> id{};
  crypto_generichash(id.data(), id.size(), public_key.data(), public_key.size(), nullptr, 0);
  return id;
}

bool verify_pack_bytes(const uint8_t* bytes, size_t size, const uint8_t public_key[32], const PackDigests* digests) {
  if (size < kPackHeaderBytes + kSignatureBytes) return false;
  need_sodium();
  SignatureBlock sig;
  std::memcpy(&sig, bytes + size - kSignatureBytes, sizeof sig);
  if (sig.algorithm == uint32_t(SignatureAlgorithm::ed25519_blake2b)) {
    const auto message = signed_message(digests ? digests->signed_digest : pack_digests(bytes, size).signed_digest);
    return crypto_sign_verify_detached(sig.signature, message.data(), message.size(), public_key) == 0;
  }
  if (sig.algorithm != uint32_t(SignatureAlgorithm::ed25519ph)) return false;
  crypto_sign_state st;
  crypto_sign_init(&st);
  sign_update(st, bytes, size);
  return crypto_sign_final_verify(&st, sig.signature, public_key) == 0;
}

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes, const char* what) {
  // Atomic replace: a crash never leaves a half-written file under the final name.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(ErrorCode::io, path, std::string("cannot write the ") + what + " (check the folder exists and is writable)");
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw Error(ErrorCode::io, path, "write failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(ErrorCode::io, path, std::string("cannot move the finished ") + what + " into place");
  }
}

PackDigests verify_checksum_of(const std::string& path, const uint8_t* bytes, size_t size) {
  PackHeader h;
  std::memcpy(&h, bytes, sizeof h);
  const PackDigests d = pack_digests(bytes, size);
  if (std::memcmp(d.checksum.data(), h.checksum, 32) != 0)
    bad(path, "checksum mismatch: the pack is corrupt or was modified. Rebuild it with `partscreen enroll` or fetch it again from its publisher.");
  return d;
}

PackDigests verify_checksum(const PackData& pack) { return verify_checksum_of(pack.path, pack.file, pack.file_bytes); }

const std::array<uint8_t, 32>& pack_content(const PackData& pack) {
  std::call_once(pack.content_once, [&] { content_hash(pack.sections, pack.section_bytes, pack.content.data()); });
  return pack.content;
}

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
  if (verify_checksum) verify_checksum_of(path, bytes, size);
  const uint64_t table_end = kPackHeaderBytes + uint64_t(kSectionCount) * sizeof(SectionEntry);
  if (table_end + kSignatureBytes > size) bad(path, "truncated section table");
  const uint64_t body_end = size - kSignatureBytes;  // sections end before the signature block
  SignatureBlock sig;
  std::memcpy(&sig, bytes + body_end, sizeof sig);
  if (std::memcmp(sig.magic, kSignatureMagic, 8) != 0) bad(path, "corrupt signature block (wrong magic bytes)");
  if (sig.algorithm > uint32_t(SignatureAlgorithm::ed25519_blake2b) || sig.flags != 0)
    bad(path, "corrupt signature block (unknown algorithm " + std::to_string(sig.algorithm) + ")");
  const uint8_t* sec[kSectionCount + 1] = {nullptr};
  uint64_t sec_bytes[kSectionCount + 1] = {0};
  for (uint32_t i = 0; i < kSectionCount; ++i) {
    SectionEntry e;
    std::memcpy(&e, bytes + kPackHeaderBytes + i * sizeof(SectionEntry), sizeof e);
    if (e.id < 1 || e.id > kSectionCount || sec[e.id]) bad(path, "corrupt section table");
    if (e.offset % 64 != 0 || e.offset < table_end || e.offset > body_end || e.bytes > body_end - e.offset)
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
  data->file = bytes;
  data->signature = sig;
  for (uint32_t s = 0; s <= kSectionCount; ++s) {
    data->sections[s] = sec[s];
    data->section_bytes[s] = sec_bytes[s];
  }
  std::memcpy(data->checksum.data(), h.checksum, 32);
  data->metadata = parse_metadata(path, sec[uint32_t(Section::metadata)], sec_bytes[uint32_t(Section::metadata)]);
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
  const std::set<std::string> revoked(data->metadata.revoked.begin(), data->metadata.revoked.end());
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
    info.revoked = revoked.count(info.id) > 0;
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
  data->storage = std::move(storage);
  return data;
}

std::vector<uint8_t> write_pack_bytes(const std::string& name, const std::vector<ReferenceInfo>& refs,
                                      const std::vector<ReferenceRecord>& records_in,
                                      const std::vector<KeypointRecord>& keypoints,
                                      const std::vector<uint8_t>& descriptors, const VocabularyBuild& vocab,
                                      const PackMetadata& metadata_in, const KeyPair* key) {
  std::string strings;
  auto add = [&](const std::string& s, uint32_t& off, uint32_t& len) {
    off = uint32_t(strings.size());
    len = uint32_t(s.size());
    strings += s;
  };
  const PackMetadata metadata = completed(metadata_in, key);
  PackHeader h{};
  h.reference_count = uint32_t(refs.size());
  h.keypoint_count = uint32_t(keypoints.size());
  h.node_count = uint32_t(vocab.nodes.size());
  h.word_count = uint32_t(vocab.word_offsets.size() - 1);
  h.descriptor_bytes = kDescriptorBytes;
  h.created_unix = uint64_t(metadata.created_unix);
  add(name, h.name_offset, h.name_length);
  std::vector<ReferenceRecord> records = records_in;
  for (size_t r = 0; r < refs.size(); ++r) {
    add(refs[r].id, records[r].id_offset, records[r].id_length);
    add(refs[r].category, records[r].category_offset, records[r].category_length);
    add(refs[r].label, records[r].label_offset, records[r].label_length);
  }
  const std::vector<uint8_t> meta = metadata_bytes(metadata);
  const Blob blobs[kSectionCount] = {
      {Section::strings, strings.data(), strings.size()},
      {Section::references, records.data(), records.size() * sizeof(ReferenceRecord)},
      {Section::keypoints, keypoints.data(), keypoints.size() * sizeof(KeypointRecord)},
      {Section::descriptors, descriptors.data(), descriptors.size()},
      {Section::vocab_nodes, vocab.nodes.data(), vocab.nodes.size() * sizeof(VocabNode)},
      {Section::vocab_centroids, vocab.centroids.data(), vocab.centroids.size() * sizeof(float)},
      {Section::word_offsets, vocab.word_offsets.data(), vocab.word_offsets.size() * sizeof(uint32_t)},
      {Section::word_entries, vocab.word_entries.data(), vocab.word_entries.size() * sizeof(uint32_t)},
      {Section::metadata, meta.data(), meta.size()},
  };
  return assemble(h, blobs, key);
}

std::vector<uint8_t> resign_pack_bytes(const PackData& pack, const PackMetadata& metadata_in, const KeyPair* key) {
  const PackMetadata metadata = completed(metadata_in, key);
  PackHeader h;
  std::memcpy(&h, pack.file, sizeof h);
  h.created_unix = uint64_t(metadata.created_unix);
  const std::vector<uint8_t> meta = metadata_bytes(metadata);
  Blob blobs[kSectionCount];
  for (uint32_t s = 1; s <= kContentSections; ++s) blobs[s - 1] = {Section(s), pack.sections[s], size_t(pack.section_bytes[s])};
  blobs[kSectionCount - 1] = {Section::metadata, meta.data(), meta.size()};
  return assemble(h, blobs, key);
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

Pack Pack::open(const std::string& path) { return detail::open_pack(path, true); }

namespace detail {
Pack open_pack(const std::string& path, bool verify_checksum) {
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
  return pack_from_data(parse_pack(path, static_cast<const uint8_t*>(map->addr), map->size, map, verify_checksum));
}
}  // namespace detail

const std::string& Pack::path() const { return data_->path; }
const std::string& Pack::name() const { return data_->name; }
uint32_t Pack::format_version() const { return data_->format_version; }
std::string Pack::checksum_hex() const { return detail::hex(data_->checksum.data(), 32); }
std::string Pack::content_hex() const { return detail::hex(detail::pack_content(*data_).data(), 32); }
size_t Pack::reference_count() const { return data_->references.size(); }
const ReferenceInfo& Pack::reference(size_t i) const { return data_->references.at(i); }
uint64_t Pack::file_bytes() const { return data_->file_bytes; }
const PackMetadata& Pack::metadata() const { return data_->metadata; }
bool Pack::is_signed() const { return data_->signature.algorithm != uint32_t(detail::SignatureAlgorithm::none); }
std::string Pack::signer_key_id() const { return is_signed() ? detail::hex(data_->signature.key_id, 16) : std::string(); }
std::string Pack::reference_content_hex(size_t i) const {
  const detail::ReferenceRecord& rec = data_->reference_records[i < reference_count() ? i : throw std::out_of_range("reference")];
  const ReferenceInfo& info = data_->references[i];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  // Positions, normals, weights and descriptors; not the record's index into the pack.
  for (uint32_t k = rec.keypoint_begin; k < rec.keypoint_begin + rec.keypoint_count; ++k) {
    detail::KeypointRecord kp = data_->keypoints[k];
    kp.reference = 0;
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(&kp), sizeof kp);
  }
  crypto_generichash_update(&st, data_->descriptors + size_t(rec.keypoint_begin) * detail::kDescriptorBytes,
                            size_t(rec.keypoint_count) * detail::kDescriptorBytes);
  for (const std::string* s : {&info.category, &info.label}) {
    const uint64_t n = s->size();
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(&n), sizeof n);
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(s->data()), s->size());
  }
  uint8_t out[32];
  crypto_generichash_final(&st, out, 32);
  return detail::hex(out, 32);
}

Pack pack_from_data(std::shared_ptr<const PackData> data) {
  Pack p;
  p.data_ = std::move(data);
  return p;
}

}  // namespace partscreen

// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Signature packs: what a reference part is turned into when it is enrolled.
// A pack holds, per reference, sparse keypoints (position, normal, area weight) and a local
// shape descriptor per keypoint, plus an index over all descriptors of the pack. It never holds
// triangles or a dense surface: see docs/packs.md for what is stored and why it cannot be
// printed. Packs are versioned, checksummed, signed binary files, read by memory map; who may
// sign the packs a program accepts is partscreen/trust.h.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "partscreen/io.h"

namespace partscreen {

struct ReferenceInput {
  std::string path;      // mesh or CAD file of the reference part
  std::string id;        // defaults to the file stem
  std::string category;  // operator's taxonomy, free text (e.g. "demo", "accessory")
  std::string label;     // human-readable name shown to reviewers
};

// Reads a manifest CSV with a header row naming (in any order) path,id,category,label.
// Relative paths are taken relative to the manifest's folder. Throws Error on bad rows.
std::vector<ReferenceInput> read_manifest(const std::string& csv_path);

// Same, with relative paths taken relative to `base_dir` (e.g. where a package's data was unpacked).
std::vector<ReferenceInput> read_manifest(const std::string& csv_path, const std::string& base_dir);

// What a publisher says about a pack (format version 2). Signed with the pack, but not part of
// its content: re-signing with new metadata keeps Pack::content_hex().
struct PackMetadata {
  std::string publisher;               // must equal the signing key's publisher name
  uint64_t sequence = 0;               // grows with every release of a pack (rollback protection)
  int64_t created_unix = 0;            // 0 when writing: now (or $SOURCE_DATE_EPOCH)
  int64_t expires_unix = 0;            // 0: never expires
  std::string jurisdiction;            // free text, e.g. "EU", "US-CA", "marketplace X"
  std::vector<std::string> categories; // the category taxonomy references are filed under
  std::vector<std::string> revoked;    // reference ids withdrawn: never matched, dropped by merge
};

struct KeyPair;  // partscreen/trust.h

struct EnrollOptions {
  LoadOptions load;
  std::string pack_name = "local";   // free text stored in the pack header
  uint32_t threads = 0;              // 0: all cores
  PackMetadata metadata;             // stored as given (created_unix 0: now)
  const KeyPair* signing_key = nullptr;  // sign the pack (partscreen/trust.h); nullptr: unsigned
};

struct ReferenceInfo {
  std::string id;
  std::string category;
  std::string label;
  double area_mm2 = 0.0;        // surface area of the enrolled part
  double size_mm = 0.0;         // sqrt(area): the length every relative tolerance is taken of
  uint32_t keypoint_count = 0;
  uint32_t component_count = 0;
  bool revoked = false;         // listed in the pack's metadata as revoked: never matched
};

struct EnrollReport {
  std::vector<ReferenceInfo> references;
  uint64_t pack_bytes = 0;
  double total_ms = 0.0;
};

// Enrolls every reference into a new pack written atomically to out_path (written to a
// temporary file beside it, then renamed). Throws Error naming the first reference that failed.
EnrollReport enroll(const std::vector<ReferenceInput>& references, const std::string& out_path,
                    const EnrollOptions& options = {});

// A reference already in memory (the service, the Python binding, benchmarks).
struct ReferenceMesh {
  ReferenceInput input;  // id (required), category, label; path is only used in messages
  Mesh mesh;             // millimetres
};

// Same as enroll(), for meshes in memory. Throws Error naming the first reference that failed.
EnrollReport enroll_meshes(const std::vector<ReferenceMesh>& references, const std::string& out_path,
                           const EnrollOptions& options = {});

struct PackData;  // defined in core/src/pack; opaque to users

// A loaded pack. Cheap to copy (shared, immutable). Thread-safe for concurrent scans.
class Pack {
public:
  // Opens and validates a pack file (magic, version, sizes, checksum). Throws Error with
  // ErrorCode::invalid_pack naming the file and what is wrong.
  static Pack open(const std::string& path);

  const std::string& path() const;
  const std::string& name() const;
  uint32_t format_version() const;
  std::string checksum_hex() const;         // BLAKE2b-256 of the whole file: identifies this exact pack file
  std::string content_hex() const;          // BLAKE2b-256 after the header: equal for packs enrolled from
                                            // the same references with the same partscreen
  size_t reference_count() const;
  const ReferenceInfo& reference(size_t i) const;
  uint64_t file_bytes() const;
  const PackMetadata& metadata() const;
  bool is_signed() const;
  std::string signer_key_id() const;        // hex key id of the signing key; "" when unsigned
  std::string reference_content_hex(size_t i) const;  // BLAKE2b-256 of one reference's keypoints
                                                      // and descriptors (pack diff)

  const PackData& data() const { return *data_; }

private:
  friend Pack pack_from_data(std::shared_ptr<const PackData> data);
  std::shared_ptr<const PackData> data_;
};

// Writes one pack holding the references of all `inputs` (in order; a later pack's reference
// replaces an earlier one with the same id). References any input revokes are left out, and the
// union of the revoked ids is kept in the output's metadata. The index is rebuilt, so merging the
// packs of A and B gives the same content as enrolling A and B together. Atomic like enroll().
EnrollReport merge_packs(const std::vector<Pack>& inputs, const std::string& out_path, const EnrollOptions& options = {});

// What changed from pack `a` to pack `b`, by reference id.
struct PackDiff {
  std::vector<std::string> added;      // in b only
  std::vector<std::string> removed;    // in a only
  std::vector<std::string> changed;    // in both, other keypoints/descriptors/category/label
  std::vector<std::string> unchanged;
  std::vector<std::string> newly_revoked;  // revoked in b, not in a
  bool same_content = false;           // content_hex equal
};
PackDiff diff_packs(const Pack& a, const Pack& b);

}  // namespace partscreen

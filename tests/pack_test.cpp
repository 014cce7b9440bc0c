// SPDX-License-Identifier: GPL-3.0-or-later
// Signature packs: enrolment round trip, manifests, and a pack damaged in every way a download or
// a disk can damage it (truncated at every length, any header byte flipped, any section
// corrupted, foreign files): always Error(invalid_pack), never a crash. And what a pack must not
// hold: the reference's triangles.
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

#include "engine_fixtures.h"
#include "pack/pack_data.h"
#include "pack/pack_format.h"
#include "partscreen/partscreen.h"

namespace partscreen::test {
namespace {

namespace fs = std::filesystem;

EnrollOptions two_threads() {
  EnrollOptions o;
  o.threads = 2;
  o.pack_name = "pack_test";
  return o;
}

// Parses bytes as a pack; returns the error code, or nullopt-like `internal` when it opened.
// The bytes are copied into a buffer of exactly their size so ASan sees any overread.
bool parses(const std::vector<uint8_t>& bytes, size_t size, ErrorCode* code, std::string* reason = nullptr) {
  std::unique_ptr<uint8_t[]> exact(new uint8_t[size ? size : 1]);
  if (size) std::memcpy(exact.get(), bytes.data(), size);
  try {
    detail::parse_pack("damaged.pack", exact.get(), size, nullptr, true);
    return true;
  } catch (const Error& e) {
    *code = e.code();
    if (reason) *reason = e.reason();
    EXPECT_EQ(e.file(), "damaged.pack");
    return false;
  }
}

// A manifest of three references with quoted fields (commas and quotes inside), columns in an
// unusual order and relative paths; enrolled once for the file.
class Packs : public ::testing::Test {
public:
  static void SetUpTestSuite() {
    if (!have_cgal_data() || dir_) return;
    dir_ = new TempDir("partscreen_pack");
    fs::create_directory(dir_->file("parts"));
    for (const char* s : {"pinion", "anchor", "fandisk"}) fs::copy_file(cgal_mesh(s), dir_->file(std::string("parts/") + s + ".off"));
    write_text(dir_->file("refs.csv"),
               "label,path,category,id\n"
               "\"Gear, 12 teeth \"\"demo\"\"\",parts/pinion.off,gears,gear-1\n"
               "# a comment line\n"
               "\n"
               "Anchor plate , parts/anchor.off , \"hardware, misc\" , anchor-7\r\n"
               "Fan disk,parts/fandisk.off,demo,\n");
    enroll(read_manifest(dir_->file("refs.csv")), dir_->file("refs.pack"), two_threads());
    bytes_ = new std::vector<uint8_t>(read_bytes(dir_->file("refs.pack")));
  }
  static void TearDownTestSuite() {
    delete bytes_;
    delete dir_;
    bytes_ = nullptr;
    dir_ = nullptr;
  }

protected:
  void SetUp() override { PARTSCREEN_REQUIRE_CGAL_DATA(); }
  static const std::string pack_path() { return dir_->file("refs.pack"); }
  static const std::vector<uint8_t>& bytes() { return *bytes_; }
  static TempDir* dir_;
  static std::vector<uint8_t>* bytes_;
};
TempDir* Packs::dir_ = nullptr;
std::vector<uint8_t>* Packs::bytes_ = nullptr;

TEST_F(Packs, ManifestRoundTrip) {
  const std::vector<ReferenceInput> refs = read_manifest(dir_->file("refs.csv"));
  ASSERT_EQ(refs.size(), 3u);
  EXPECT_EQ(refs[0].label, "Gear, 12 teeth \"demo\"");
  EXPECT_EQ(refs[0].path, dir_->file("parts/pinion.off"));
  EXPECT_EQ(refs[1].category, "hardware, misc");
  EXPECT_EQ(refs[1].label, "Anchor plate");
  EXPECT_EQ(refs[1].path, dir_->file("parts/anchor.off"));

  const Pack pack = Pack::open(pack_path());
  EXPECT_EQ(pack.name(), "pack_test");
  EXPECT_EQ(pack.format_version(), detail::kPackFormatVersion);
  EXPECT_EQ(pack.file_bytes(), bytes().size());
  EXPECT_EQ(pack.path(), pack_path());
  EXPECT_EQ(pack.checksum_hex().size(), 64u);
  ASSERT_EQ(pack.reference_count(), 3u);
  EXPECT_EQ(pack.reference(0).id, "gear-1");
  EXPECT_EQ(pack.reference(0).category, "gears");
  EXPECT_EQ(pack.reference(0).label, "Gear, 12 teeth \"demo\"");
  EXPECT_EQ(pack.reference(1).id, "anchor-7");
  EXPECT_EQ(pack.reference(1).category, "hardware, misc");
  EXPECT_EQ(pack.reference(2).id, "fandisk");  // empty id column: the file stem
  EXPECT_EQ(pack.reference(2).label, "Fan disk");
  for (size_t i = 0; i < pack.reference_count(); ++i) {
    const ReferenceInfo& r = pack.reference(i);
    EXPECT_GT(r.keypoint_count, 0u) << r.id;
    EXPECT_GT(r.area_mm2, 0.0) << r.id;
    EXPECT_NEAR(r.size_mm * r.size_mm, r.area_mm2, 1e-3 * r.area_mm2) << r.id;
    EXPECT_EQ(r.component_count, 1u) << r.id;
  }
  // The area stored is the mesh's.
  const LoadedFile f = load_file(cgal_mesh("pinion"));
  EXPECT_NEAR(pack.reference(0).area_mm2, f.components[0].area_mm2, 1e-4 * f.components[0].area_mm2);
  EXPECT_THROW(pack.reference(3), std::out_of_range);
}

TEST_F(Packs, EnrolmentIsDeterministic) {
  TempDir again;
  enroll(read_manifest(dir_->file("refs.csv")), again.file("b.pack"), two_threads());
  EnrollOptions one = two_threads();
  one.threads = 1;
  enroll(read_manifest(dir_->file("refs.csv")), again.file("c.pack"), one);
  // The content id is the same; the file checksum differs only by the creation time in the header.
  const std::string a = Pack::open(pack_path()).content_hex();
  EXPECT_EQ(Pack::open(again.file("b.pack")).content_hex(), a);
  EXPECT_EQ(Pack::open(again.file("c.pack")).content_hex(), a);
  // Everything between the header and the metadata section is identical byte for byte (the
  // header and the metadata hold the creation time).
  const std::vector<uint8_t> b = read_bytes(again.file("b.pack"));
  ASSERT_EQ(b.size(), bytes().size());
  detail::SectionEntry meta{};
  for (uint32_t s = 0; s < detail::kSectionCount; ++s) {
    std::memcpy(&meta, b.data() + detail::kPackHeaderBytes + s * sizeof meta, sizeof meta);
    if (meta.id == uint32_t(detail::Section::metadata)) break;
  }
  ASSERT_EQ(meta.id, uint32_t(detail::Section::metadata));
  EXPECT_TRUE(std::equal(b.begin() + detail::kPackHeaderBytes, b.begin() + long(meta.offset), bytes().begin() + detail::kPackHeaderBytes));
}

TEST_F(Packs, ManifestErrors) {
  TempDir d;
  write_text(d.file("nopath.csv"), "file,id\npinion.off,x\n");
  try {
    read_manifest(d.file("nopath.csv"));
    FAIL() << "a manifest without a path column was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::malformed);
    EXPECT_EQ(e.file(), d.file("nopath.csv"));
    EXPECT_NE(e.reason().find("path"), std::string::npos) << e.reason();
  }
  write_text(d.file("missing.csv"), "path,id\nno_such_part.stl,x\n");
  const auto refs = read_manifest(d.file("missing.csv"));
  ASSERT_EQ(refs.size(), 1u);
  try {
    enroll(refs, d.file("x.pack"), two_threads());
    FAIL() << "a missing reference file was enrolled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io);
    EXPECT_EQ(e.file(), d.file("no_such_part.stl"));
  }
  EXPECT_FALSE(fs::exists(d.file("x.pack"))) << "a failed enrolment left a pack behind";
  write_text(d.file("empty.csv"), "");
  EXPECT_THROW(read_manifest(d.file("empty.csv")), Error);
  write_text(d.file("norow.csv"), "path,id\n,x\n");
  EXPECT_THROW(read_manifest(d.file("norow.csv")), Error);
  try {
    read_manifest(d.file("absent.csv"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io);
    EXPECT_EQ(e.file(), d.file("absent.csv"));
  }
  try {
    enroll({}, d.file("none.pack"), two_threads());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
}

TEST_F(Packs, DuplicateIdsAreRefused) {
  TempDir d;
  std::vector<ReferenceInput> refs = reference_inputs({"pinion", "anchor"});
  refs[1].id = "pinion";
  try {
    enroll(refs, d.file("dup.pack"), two_threads());
    FAIL() << "two references with one id were enrolled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(e.reason().find("pinion"), std::string::npos) << e.reason();
  }
  EXPECT_FALSE(fs::exists(d.file("dup.pack")));
  // Same stem, no ids: refused too.
  refs = {ReferenceInput{cgal_mesh("pinion"), "", "", ""}, ReferenceInput{dir_->file("parts/pinion.off"), "", "", ""}};
  EXPECT_THROW(enroll(refs, d.file("dup2.pack"), two_threads()), Error);
}

// Every length up to 4 KiB, then every 61st byte up to the full size minus one.
TEST_F(Packs, TruncatedAtEveryLength) {
  const std::vector<uint8_t>& b = bytes();
  ASSERT_GT(b.size(), 4096u);
  size_t tried = 0;
  for (size_t n = 0; n < b.size(); n += n < 4096 ? 1 : 61) {
    ErrorCode code{};
    ASSERT_FALSE(parses(b, n, &code)) << "a pack truncated to " << n << " bytes opened";
    ASSERT_EQ(code, ErrorCode::invalid_pack) << n;
    ++tried;
  }
  ErrorCode code{};
  EXPECT_FALSE(parses(b, b.size() - 1, &code));
  EXPECT_TRUE(parses(b, b.size(), &code)) << "the intact pack must parse";
  // Through the file API as well, at a few lengths.
  TempDir d;
  for (size_t n : {size_t(0), size_t(7), size_t(8), size_t(127), size_t(128), size_t(129), size_t(1000), b.size() / 2, b.size() - 1}) {
    write_bytes(d.file("t.pack"), b.data(), n);
    try {
      Pack::open(d.file("t.pack"));
      FAIL() << n;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_pack) << n;
      EXPECT_EQ(e.file(), d.file("t.pack"));
    }
  }
  EXPECT_GT(tried, 4096u);
}

// Header fields the parser checks or the checksum covers; a flip anywhere in them is refused.
// The checksum covers the whole file (with its own field zeroed), so every header byte counts.
constexpr size_t kCheckedHeaderEnd = detail::kPackHeaderBytes;

TEST_F(Packs, EveryHeaderByteFlippedIsRefused) {
  std::vector<uint8_t> b = bytes();
  for (size_t i = 0; i < kCheckedHeaderEnd; ++i) {
    for (uint8_t mask : {uint8_t(0xff), uint8_t(0x01), uint8_t(0x80)}) {
      b[i] ^= mask;
      ErrorCode code{};
      std::string reason;
      EXPECT_FALSE(parses(b, b.size(), &code, &reason)) << "header byte " << i << " ^ " << int(mask) << " went unnoticed";
      EXPECT_EQ(code, ErrorCode::invalid_pack) << i;
      b[i] ^= mask;
    }
  }
}

// A byte flipped inside each section (and the section table) breaks the checksum.
TEST_F(Packs, ByteFlippedInEachSectionIsRefused) {
  std::vector<uint8_t> b = bytes();
  size_t sections = 0;
  for (uint32_t s = 0; s < detail::kSectionCount; ++s) {
    detail::SectionEntry e;
    std::memcpy(&e, b.data() + detail::kPackHeaderBytes + s * sizeof e, sizeof e);
    ASSERT_LE(e.offset + e.bytes, b.size());
    if (e.bytes == 0) continue;
    ++sections;
    for (uint64_t at : {e.offset, e.offset + e.bytes / 2, e.offset + e.bytes - 1}) {
      b[at] ^= 0x10;
      ErrorCode code{};
      std::string reason;
      EXPECT_FALSE(parses(b, b.size(), &code, &reason)) << "section " << e.id << " byte " << at;
      EXPECT_EQ(code, ErrorCode::invalid_pack);
      EXPECT_NE(reason.find("checksum"), std::string::npos) << reason;
      b[at] ^= 0x10;
    }
  }
  EXPECT_EQ(sections, detail::kSectionCount);
  for (size_t at = detail::kPackHeaderBytes; at < detail::kPackHeaderBytes + detail::kSectionCount * sizeof(detail::SectionEntry); ++at) {
    b[at] ^= 0x04;
    ErrorCode code{};
    EXPECT_FALSE(parses(b, b.size(), &code)) << "section table byte " << at;
    b[at] ^= 0x04;
  }
  // Without the checksum the structural checks alone still refuse a corrupted table.
  std::vector<uint8_t> t = bytes();
  detail::SectionEntry e;
  std::memcpy(&e, t.data() + detail::kPackHeaderBytes, sizeof e);
  e.offset += 64 * 1024 * 1024;
  std::memcpy(t.data() + detail::kPackHeaderBytes, &e, sizeof e);
  EXPECT_THROW(detail::parse_pack("t", t.data(), t.size(), nullptr, false), Error);
}

TEST_F(Packs, ForeignFilesGetAClearError) {
  TempDir d;
  auto expect = [&](const std::string& path, ErrorCode want, const char* what) {
    try {
      Pack::open(path);
      FAIL() << what << " opened as a pack";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), want) << what << ": " << e.reason();
      EXPECT_EQ(e.file(), path);
      EXPECT_FALSE(e.reason().empty());
    }
  };
  expect(std::string(PARTSCREEN_TEST_MODELS) + "/STL/Wuson.stl", ErrorCode::invalid_pack, "an STL");
  expect(cgal_mesh("pinion"), ErrorCode::invalid_pack, "an OFF");
  write_bytes(d.file("empty.pack"), "", 0);
  expect(d.file("empty.pack"), ErrorCode::invalid_pack, "an empty file");
  fs::create_directory(d.file("dir.pack"));
  expect(d.file("dir.pack"), ErrorCode::invalid_pack, "a directory");
  expect(d.file("absent.pack"), ErrorCode::io, "a missing file");
  // Right magic, another format version.
  std::vector<uint8_t> b = bytes();
  uint32_t v = detail::kPackFormatVersion + 1;
  std::memcpy(b.data() + offsetof(detail::PackHeader, format_version), &v, 4);
  write_bytes(d.file("v2.pack"), b.data(), b.size());
  try {
    Pack::open(d.file("v2.pack"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_pack);
    EXPECT_NE(e.reason().find("version"), std::string::npos) << e.reason();
  }
}

// A pack is signatures, not geometry: far smaller than the part, and no vertex of the part's
// mesh appears in it.
TEST_F(Packs, HoldsNoTriangles) {
  TempDir d;
  const std::string mesh_path = cgal_mesh("fandisk");
  enroll(reference_inputs({"fandisk"}), d.file("one.pack"), two_threads());
  const std::vector<uint8_t> pack = read_bytes(d.file("one.pack"));
  const LoadedFile f = load_file(mesh_path);
  const uint64_t stl_bytes = 84 + 50 * f.mesh.triangle_count();  // the same mesh as binary STL
  // Measured: 12,946 triangles (647 KB as binary STL, 376 KB as OFF), pack ~62 KB.
  EXPECT_LT(pack.size() * 5, stl_bytes) << "pack " << pack.size() << " bytes, mesh " << stl_bytes;
  EXPECT_LT(pack.size() * 4, fs::file_size(mesh_path));
  // Every 12-byte window of the pack, at any alignment.
  std::unordered_set<std::string> windows;
  for (size_t i = 0; i + 12 <= pack.size(); ++i) windows.insert(std::string(reinterpret_cast<const char*>(pack.data() + i), 12));
  size_t found = 0;
  for (size_t v = 0; v < f.mesh.vertex_count(); ++v)
    found += windows.count(std::string(reinterpret_cast<const char*>(&f.mesh.positions[3 * v]), 12));
  EXPECT_EQ(found, 0u) << found << " of " << f.mesh.vertex_count() << " vertices appear in the pack";
}

}  // namespace
}  // namespace partscreen::test

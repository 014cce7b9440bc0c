// SPDX-License-Identifier: GPL-3.0-or-later
// Pack distribution (partscreen/trust.h): a signed pack tampered with in each region (header,
// metadata, payload, signature block) with its checksum recomputed as an attacker would, truncated
// at many lengths, signed by an unknown key or with a forged key id, expired, rolled back, and a
// revoked reference; merge and diff; the demo key; the local key created by racing processes; the
// CLI's exit codes and one-line refusals. Every test has its own PARTSCREEN_HOME.
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine_fixtures.h"
#include "pack/pack_data.h"
#include "pack/pack_format.h"
#include "partscreen/partscreen.h"
#include "run_program.h"

namespace partscreen::test {
namespace {

namespace fs = std::filesystem;

// Each test: a private home, two small unsigned packs enrolled once per process.
class Trust : public ::testing::Test {
public:
  static void SetUpTestSuite() {
    if (!have_cgal_data() || dir_) return;
    dir_ = new TempDir("partscreen_trust");
    EnrollOptions o;
    o.threads = 2;
    o.pack_name = "refs";
    enroll(reference_inputs({"pinion", "anchor"}), dir_->file("both.pack"), o);
    enroll(reference_inputs({"pinion"}), dir_->file("pinion.pack"), o);
    enroll(reference_inputs({"anchor"}), dir_->file("anchor.pack"), o);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

protected:
  void SetUp() override {
    PARTSCREEN_REQUIRE_CGAL_DATA();
    home_ = std::make_unique<TempDir>("partscreen_home");
    ::setenv("PARTSCREEN_HOME", home_->path().c_str(), 1);
    publisher_ = generate_key("Example Trust Team");
    trust_key(publisher_.public_key);
  }
  void TearDown() override { ::unsetenv("PARTSCREEN_HOME"); }

  // `unsigned_pack` signed by `key` into the scratch folder.
  std::string signed_copy(const std::string& name, const KeyPair& key, PackMetadata md, const std::string& src = "both.pack") {
    const std::string out = scratch_.file(name);
    sign_pack(dir_->file(src), out, key, md);
    return out;
  }
  static PackMetadata seq(uint64_t n) {
    PackMetadata m;
    m.sequence = n;
    return m;
  }
  // Expects load_trusted_pack to throw `code` with `words` in the reason.
  static void expect_refused(const std::string& path, ErrorCode code, const std::string& words, const TrustOptions& o = {}) {
    try {
      load_trusted_pack(path, o);
      FAIL() << path << " was accepted; expected: " << words;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.reason();
      EXPECT_NE(e.reason().find(words), std::string::npos) << e.reason();
      EXPECT_EQ(e.reason().find('\n'), std::string::npos);
    }
  }

  static TempDir* dir_;
  std::unique_ptr<TempDir> home_;
  TempDir scratch_{"partscreen_trust_scratch"};
  KeyPair publisher_;
};
TempDir* Trust::dir_ = nullptr;

// What an attacker without the key can do: change bytes, then make the checksum match again.
void recompute_checksum(std::vector<uint8_t>& b) {
  ASSERT_EQ(sodium_init() >= 0, true);
  detail::PackHeader h;
  std::memcpy(&h, b.data(), sizeof h);
  std::memset(h.checksum, 0, 32);
  std::memcpy(b.data(), &h, sizeof h);
  crypto_generichash(h.checksum, 32, b.data(), b.size(), nullptr, 0);
  std::memcpy(b.data(), &h, sizeof h);
}

detail::SectionEntry section(const std::vector<uint8_t>& b, detail::Section id) {
  for (uint32_t s = 0; s < detail::kSectionCount; ++s) {
    detail::SectionEntry e;
    std::memcpy(&e, b.data() + detail::kPackHeaderBytes + s * sizeof e, sizeof e);
    if (e.id == uint32_t(id)) return e;
  }
  ADD_FAILURE() << "no section " << uint32_t(id);
  return {};
}

TEST_F(Trust, SignedPackIsAcceptedAndReportsItsPublisher) {
  PackMetadata md = seq(7);
  md.jurisdiction = "EU";
  md.categories = {"complete-part", "major-component", "accessory"};
  md.expires_unix = int64_t(std::time(nullptr)) + 86400;
  const std::string p = signed_copy("signed.pack", publisher_, md);
  TrustReport r;
  const Pack pack = load_trusted_pack(p, {}, &r);
  EXPECT_EQ(r.publisher, "Example Trust Team");
  EXPECT_EQ(r.key_id, publisher_.public_key.id());
  EXPECT_EQ(r.key_source, "added");
  EXPECT_EQ(r.sequence, 7u);
  EXPECT_FALSE(r.demo);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(pack.metadata().jurisdiction, "EU");
  EXPECT_EQ(pack.metadata().categories, md.categories);
  EXPECT_EQ(pack.metadata().expires_unix, md.expires_unix);
  EXPECT_GT(pack.metadata().created_unix, 0);
  EXPECT_TRUE(pack.is_signed());
  EXPECT_TRUE(signature_valid(pack, publisher_.public_key));
  // Re-signing keeps the enrolled content: the demo-pack freshness test relies on it.
  EXPECT_EQ(pack.content_hex(), Pack::open(dir_->file("both.pack")).content_hex());
  EXPECT_NE(pack.checksum_hex(), Pack::open(dir_->file("both.pack")).checksum_hex());
  // The scan reports who published the pack.
  const ScanResult s = scan_files({cgal_mesh("oblong")}, pack);
  EXPECT_EQ(s.pack_publisher, "Example Trust Team");
  EXPECT_EQ(s.pack_sequence, 7u);
  EXPECT_EQ(s.pack_signed_by, publisher_.public_key.id());
  EXPECT_TRUE(s.pack_note.empty());
}

TEST_F(Trust, UnsignedAndUnknownKeysAreRefused) {
  expect_refused(dir_->file("both.pack"), ErrorCode::untrusted_pack, "not signed");
  const KeyPair stranger = generate_key("Someone Else");
  expect_refused(signed_copy("stranger.pack", stranger, seq(1)), ErrorCode::untrusted_pack, "not in the trust store");
  // A forged key id: the stranger signs, then names the trusted publisher's key as the signer.
  std::vector<uint8_t> b = read_bytes(signed_copy("forged.pack", stranger, seq(1)));
  const auto id = detail::key_id_of(publisher_.public_key.key);
  std::memcpy(b.data() + b.size() - detail::kSignatureBytes + offsetof(detail::SignatureBlock, key_id), id.data(), 16);
  recompute_checksum(b);
  write_bytes(scratch_.file("forged.pack"), b.data(), b.size());
  expect_refused(scratch_.file("forged.pack"), ErrorCode::untrusted_pack, "signature does not match");
  // Removing the publisher from the trust store refuses its packs from then on.
  const std::string ok = signed_copy("ok.pack", publisher_, seq(1));
  EXPECT_NO_THROW(load_trusted_pack(ok));
  ASSERT_EQ(distrust_key(publisher_.public_key.id().substr(0, 10)).size(), 1u);
  expect_refused(ok, ErrorCode::untrusted_pack, "not in the trust store");
  EXPECT_THROW(distrust_key("no such publisher"), Error);
}

// Each region changed by someone without the key, checksum made to match: refused as tampered.
// Unpatched (checksum left alone) the same change is refused as corrupt.
TEST_F(Trust, TamperingWithEachRegionIsRefused) {
  const std::vector<uint8_t> good = read_bytes(signed_copy("good.pack", publisher_, seq(3)));
  struct Region { const char* name; size_t at; };
  const auto keypoints = section(good, detail::Section::keypoints);
  const auto descriptors = section(good, detail::Section::descriptors);
  const auto strings = section(good, detail::Section::strings);
  const auto meta = section(good, detail::Section::metadata);
  const size_t sig = good.size() - detail::kSignatureBytes;
  const std::vector<Region> regions = {
      {"header: creation time", offsetof(detail::PackHeader, created_unix)},
      {"header: reserved", offsetof(detail::PackHeader, reserved) + 3},
      {"payload: reference id", strings.offset + 1},
      {"payload: keypoint position", keypoints.offset + 4 * sizeof(detail::KeypointRecord)},
      {"payload: descriptor", descriptors.offset + descriptors.bytes / 2},
      {"metadata: sequence", meta.offset + offsetof(detail::MetadataHead, sequence)},
      {"metadata: expiry", meta.offset + offsetof(detail::MetadataHead, expires_unix) + 5},
      {"metadata: publisher name", meta.offset + meta.bytes - 1},
      {"signature: signature bytes", sig + offsetof(detail::SignatureBlock, signature) + 10},
      {"signature: last signature byte", sig + offsetof(detail::SignatureBlock, signature) + 63},
  };
  for (const Region& r : regions) {
    std::vector<uint8_t> b = good;
    b[r.at] ^= 0x01;
    write_bytes(scratch_.file("t.pack"), b.data(), b.size());
    expect_refused(scratch_.file("t.pack"), ErrorCode::invalid_pack, "checksum mismatch");
    recompute_checksum(b);
    write_bytes(scratch_.file("t.pack"), b.data(), b.size());
    SCOPED_TRACE(r.name);
    expect_refused(scratch_.file("t.pack"), ErrorCode::untrusted_pack, "signature does not match");
  }
  // The signature block's own fields: key id (unknown key) and algorithm (unsigned).
  std::vector<uint8_t> b = good;
  b[sig + offsetof(detail::SignatureBlock, key_id)] ^= 0x40;
  recompute_checksum(b);
  write_bytes(scratch_.file("t.pack"), b.data(), b.size());
  expect_refused(scratch_.file("t.pack"), ErrorCode::untrusted_pack, "not in the trust store");
  b = good;
  std::memset(b.data() + sig + offsetof(detail::SignatureBlock, algorithm), 0, 4);
  recompute_checksum(b);
  write_bytes(scratch_.file("t.pack"), b.data(), b.size());
  expect_refused(scratch_.file("t.pack"), ErrorCode::untrusted_pack, "not signed");
  b = good;
  b[sig] ^= 0x01;  // the block's magic
  recompute_checksum(b);
  write_bytes(scratch_.file("t.pack"), b.data(), b.size());
  expect_refused(scratch_.file("t.pack"), ErrorCode::invalid_pack, "signature block");
  // And the untouched file still passes.
  write_bytes(scratch_.file("t.pack"), good.data(), good.size());
  EXPECT_NO_THROW(load_trusted_pack(scratch_.file("t.pack")));
}

// Packs are signed over the BLAKE2b digest the checksum pass yields (algorithm 2, one read of the
// file); the bundled demo pack, signed before, carries Ed25519ph (algorithm 1) and still verifies,
// tampered copies of it are still refused, and neither signature passes for the other.
TEST_F(Trust, EarlierEd25519phPacksStillVerifyAndAlgorithmsDoNotPassForEachOther) {
  auto algorithm = [](const std::vector<uint8_t>& b) {
    detail::SignatureBlock s;
    std::memcpy(&s, b.data() + b.size() - detail::kSignatureBytes, sizeof s);
    return s.algorithm;
  };
  const std::string demo_pack = std::string(PARTSCREEN_SOURCE_DIR) + "/models/reference/demo.pack";
  const std::vector<uint8_t> old = read_bytes(demo_pack);
  ASSERT_EQ(algorithm(old), uint32_t(detail::SignatureAlgorithm::ed25519ph));
  EXPECT_NO_THROW(load_trusted_pack(demo_pack));
  std::vector<uint8_t> b = old;
  b[section(b, detail::Section::descriptors).offset + 7] ^= 0x01;
  recompute_checksum(b);
  write_bytes(scratch_.file("t.pack"), b.data(), b.size());
  expect_refused(scratch_.file("t.pack"), ErrorCode::untrusted_pack, "signature does not match");

  // Re-signed: algorithm 2, the same enrolled content, accepted.
  const KeyPair demo = load_key_pair(std::string(PARTSCREEN_SOURCE_DIR) + "/models/reference/demo-publisher.key");
  sign_pack(demo_pack, scratch_.file("resigned.pack"), demo, Pack::open(demo_pack).metadata());
  const std::vector<uint8_t> now = read_bytes(scratch_.file("resigned.pack"));
  ASSERT_EQ(algorithm(now), uint32_t(detail::SignatureAlgorithm::ed25519_blake2b));
  EXPECT_EQ(Pack::open(scratch_.file("resigned.pack")).content_hex(), Pack::open(demo_pack).content_hex());
  EXPECT_NO_THROW(load_trusted_pack(scratch_.file("resigned.pack")));
  EXPECT_TRUE(signature_valid(Pack::open(scratch_.file("resigned.pack")), demo.public_key));

  // Each signature relabelled as the other algorithm (checksum made to match): refused.
  const size_t at = now.size() - detail::kSignatureBytes + offsetof(detail::SignatureBlock, algorithm);
  b = now;
  b[at] = uint8_t(detail::SignatureAlgorithm::ed25519ph);
  recompute_checksum(b);
  write_bytes(scratch_.file("t.pack"), b.data(), b.size());
  expect_refused(scratch_.file("t.pack"), ErrorCode::untrusted_pack, "signature does not match");
  b = old;
  b[at] = uint8_t(detail::SignatureAlgorithm::ed25519_blake2b);
  recompute_checksum(b);
  write_bytes(scratch_.file("t.pack"), b.data(), b.size());
  expect_refused(scratch_.file("t.pack"), ErrorCode::untrusted_pack, "signature does not match");
  // An algorithm this version does not know is a corrupt block, not an unsigned pack.
  b = now;
  b[at] = 3;
  recompute_checksum(b);
  write_bytes(scratch_.file("t.pack"), b.data(), b.size());
  expect_refused(scratch_.file("t.pack"), ErrorCode::invalid_pack, "unknown algorithm 3");
}

TEST_F(Trust, TruncatedSignedPackIsRefusedAtEveryLength) {
  const std::vector<uint8_t> good = read_bytes(signed_copy("good.pack", publisher_, seq(3)));
  size_t tried = 0;
  for (size_t n = 0; n < good.size(); n += n < 1024 ? 7 : n > good.size() - 300 ? 1 : 997) {
    write_bytes(scratch_.file("t.pack"), good.data(), n);
    try {
      load_trusted_pack(scratch_.file("t.pack"));
      FAIL() << "truncated to " << n << " bytes and accepted";
    } catch (const Error& e) {
      ASSERT_EQ(e.code(), ErrorCode::invalid_pack) << n << ": " << e.reason();
    }
    ++tried;
  }
  EXPECT_GT(tried, 250u);
  // Parsed in memory without the checksum, the structural checks alone refuse the cut.
  for (size_t cut : {size_t(1), size_t(64), size_t(detail::kSignatureBytes), size_t(detail::kSignatureBytes + 1)}) {
    std::vector<uint8_t> b(good.begin(), good.end() - long(cut));
    EXPECT_THROW(detail::parse_pack("t", b.data(), b.size(), nullptr, false), Error) << cut;
  }
}

TEST_F(Trust, RollbackIsRefusedPerPublisherAndPackName) {
  const std::string v5 = signed_copy("v5.pack", publisher_, seq(5));
  const std::string v4 = signed_copy("v4.pack", publisher_, seq(4));
  const std::string v6 = signed_copy("v6.pack", publisher_, seq(6));
  // A dry run (pack verify) records nothing.
  TrustOptions dry;
  dry.record_sequence = false;
  EXPECT_NO_THROW(load_trusted_pack(v6, dry));
  EXPECT_NO_THROW(load_trusted_pack(v4));
  EXPECT_NO_THROW(load_trusted_pack(v5));
  expect_refused(v4, ErrorCode::untrusted_pack, "rolled back: sequence 4 is older than sequence 5");
  EXPECT_NO_THROW(load_trusted_pack(v5)) << "the same release again is fine";
  EXPECT_NO_THROW(load_trusted_pack(v6));
  expect_refused(v5, ErrorCode::untrusted_pack, "rolled back");
  // Another pack name from the same publisher has its own sequence.
  const std::string other = signed_copy("other.pack", publisher_, seq(1), "pinion.pack");
  EnrollOptions o;
  o.threads = 2;
  o.pack_name = "another name";
  o.metadata = seq(1);
  o.signing_key = &publisher_;
  enroll(reference_inputs({"anchor"}), scratch_.file("named.pack"), o);
  EXPECT_NO_THROW(load_trusted_pack(scratch_.file("named.pack")));
  // "refs" (pinion.pack's name) is at 6 already.
  expect_refused(other, ErrorCode::untrusted_pack, "rolled back");
  // Packs signed by this machine's own key are not rollback-checked (docs/packs.md).
  const KeyPair local = local_key();
  const std::string l2 = signed_copy("l2.pack", local, seq(2)), l1 = signed_copy("l1.pack", local, seq(1));
  EXPECT_NO_THROW(load_trusted_pack(l2));
  EXPECT_NO_THROW(load_trusted_pack(l1));
}

TEST_F(Trust, ExpiredPackIsRefused) {
  const int64_t now = int64_t(std::time(nullptr));
  PackMetadata md = seq(1);
  md.expires_unix = now + 3600;
  const std::string p = signed_copy("exp.pack", publisher_, md);
  TrustOptions later;
  later.now_unix = now + 7200;
  later.record_sequence = false;
  expect_refused(p, ErrorCode::untrusted_pack, "expired on", later);
  later.now_unix = now + 3500;
  EXPECT_NO_THROW(load_trusted_pack(p, later));
  md.expires_unix = 0;  // never
  later.now_unix = now + 100LL * 365 * 86400;
  EXPECT_NO_THROW(load_trusted_pack(signed_copy("never.pack", publisher_, md), later));
}

TEST_F(Trust, RevokedReferenceIsNotMatchedAndMergeDropsIt) {
  ScanOptions so;
  so.threads = 2;
  const std::string active = signed_copy("active.pack", publisher_, seq(1));
  const ScanResult before = scan_files({cgal_mesh("pinion")}, load_trusted_pack(active), so);
  ASSERT_FALSE(before.matches.empty());
  EXPECT_EQ(before.matches[0].reference, "pinion");
  EXPECT_EQ(before.verdict, Verdict::flagged);

  PackMetadata md = seq(2);
  md.revoked = {"pinion"};
  const Pack revoked = load_trusted_pack(signed_copy("revoked.pack", publisher_, md));
  ASSERT_EQ(revoked.reference_count(), 2u);
  EXPECT_TRUE(revoked.reference(0).revoked);
  EXPECT_FALSE(revoked.reference(1).revoked);
  const ScanResult after = scan_files({cgal_mesh("pinion")}, revoked, so);
  for (const Match& m : after.matches) EXPECT_NE(m.reference, "pinion") << "a revoked reference was matched";
  EXPECT_EQ(after.verdict, Verdict::clear);
  // Cumulative screening (found masks kept across jobs) stops counting it too.
  const std::vector<uint8_t> all(revoked.reference(0).keypoint_count, 1);
  EXPECT_GT(coverage_from_found(Pack::open(active), "pinion", all).score, 0.99);
  EXPECT_EQ(coverage_from_found(revoked, "pinion", all).score, 0.0);
  // The other reference is still found.
  const ScanResult anchor = scan_files({cgal_mesh("anchor")}, revoked, so);
  ASSERT_FALSE(anchor.matches.empty());
  EXPECT_EQ(anchor.matches[0].reference, "anchor");
  // Merging drops it and keeps the revocation.
  EnrollOptions mo;
  mo.pack_name = "refs";
  mo.signing_key = &publisher_;
  mo.metadata = seq(3);
  merge_packs({revoked}, scratch_.file("merged.pack"), mo);
  const Pack merged = load_trusted_pack(scratch_.file("merged.pack"));
  ASSERT_EQ(merged.reference_count(), 1u);
  EXPECT_EQ(merged.reference(0).id, "anchor");
  EXPECT_EQ(merged.metadata().revoked, std::vector<std::string>{"pinion"});
  const PackDiff d = diff_packs(Pack::open(active), merged);
  EXPECT_EQ(d.removed, std::vector<std::string>{"pinion"});
  EXPECT_EQ(d.unchanged, std::vector<std::string>{"anchor"});
  EXPECT_EQ(d.newly_revoked, std::vector<std::string>{"pinion"});
  EXPECT_FALSE(d.same_content);
}

TEST_F(Trust, MergeEqualsEnrollingTogetherAndLaterPacksWin) {
  EnrollOptions mo;
  mo.pack_name = "refs";
  mo.threads = 2;
  const Pack a = Pack::open(dir_->file("pinion.pack")), b = Pack::open(dir_->file("anchor.pack"));
  merge_packs({a, b}, scratch_.file("ab.pack"), mo);
  const Pack ab = Pack::open(scratch_.file("ab.pack"));
  // Same references in the same order: the merged pack is what enrolling both gives.
  EXPECT_EQ(ab.content_hex(), Pack::open(dir_->file("both.pack")).content_hex());
  PackDiff same = diff_packs(Pack::open(dir_->file("both.pack")), ab);
  EXPECT_TRUE(same.same_content);
  EXPECT_EQ(same.unchanged.size(), 2u);
  EXPECT_TRUE(same.added.empty() && same.removed.empty() && same.changed.empty());
  // A later pack's reference replaces an earlier one with the same id.
  std::vector<ReferenceInput> other = reference_inputs({"rotor"});
  other[0].id = "pinion";
  mo.pack_name = "refs";
  enroll(other, scratch_.file("newpinion.pack"), mo);
  merge_packs({ab, Pack::open(scratch_.file("newpinion.pack"))}, scratch_.file("ab2.pack"), mo);
  const Pack ab2 = Pack::open(scratch_.file("ab2.pack"));
  ASSERT_EQ(ab2.reference_count(), 2u);
  const PackDiff d = diff_packs(ab, ab2);
  EXPECT_EQ(d.changed, std::vector<std::string>{"pinion"});
  EXPECT_EQ(d.unchanged, std::vector<std::string>{"anchor"});
  ScanOptions so;
  so.threads = 2;
  const ScanResult r = scan_files({cgal_mesh("rotor")}, ab2, so);
  ASSERT_FALSE(r.matches.empty());
  EXPECT_EQ(r.matches[0].reference, "pinion");  // the rotor now stands under that id
}

TEST_F(Trust, DemoKeyIsTrustedByDefaultAndRemovable) {
  const std::string demo_pack = std::string(PARTSCREEN_SOURCE_DIR) + "/models/reference/demo.pack";
  const PublicKey shipped = load_public_key(std::string(PARTSCREEN_SOURCE_DIR) + "/models/reference/demo-publisher.pub");
  EXPECT_EQ(shipped.key, demo_public_key().key);
  EXPECT_EQ(shipped.publisher, demo_public_key().publisher);
  EXPECT_EQ(load_key_pair(std::string(PARTSCREEN_SOURCE_DIR) + "/models/reference/demo-publisher.key").public_key.key, shipped.key);
  TrustReport r;
  const Pack p = load_trusted_pack(demo_pack, {}, &r);
  EXPECT_TRUE(r.demo);
  EXPECT_NE(r.note.find("not for production"), std::string::npos);
  const ScanResult s = scan_files({cgal_mesh("oblong")}, p);
  EXPECT_NE(s.pack_note.find("demo pack: not for production"), std::string::npos);
  EXPECT_NE(scan_result_json(s).find("not for production"), std::string::npos);
  TrustOptions strict;
  strict.allow_demo_key = false;
  expect_refused(demo_pack, ErrorCode::untrusted_pack, "not in the trust store", strict);
  ASSERT_EQ(distrust_key("demo").size(), 1u);
  expect_refused(demo_pack, ErrorCode::untrusted_pack, "not in the trust store");
  trust_key(shipped);
  EXPECT_NO_THROW(load_trusted_pack(demo_pack));
  // A second key may not claim a trusted publisher's name.
  EXPECT_THROW(trust_key(generate_key("Example Trust Team").public_key), Error);
}

TEST_F(Trust, KeyFilesRoundTripAndSecretsAreNeverOverwritten) {
  const KeyPair k = generate_key("Round Trip");
  save_key_pair(k, scratch_.file("k.key"), scratch_.file("k.pub"));
  EXPECT_EQ(fs::status(scratch_.file("k.key")).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  const KeyPair back = load_key_pair(scratch_.file("k.key"));
  EXPECT_EQ(back.secret, k.secret);
  EXPECT_EQ(back.public_key.publisher, "Round Trip");
  EXPECT_EQ(load_public_key(scratch_.file("k.pub")).key, k.public_key.key);
  const auto before = read_bytes(scratch_.file("k.key"));
  EXPECT_THROW(save_key_pair(generate_key("Other"), scratch_.file("k.key"), scratch_.file("k2.pub")), Error);
  EXPECT_EQ(read_bytes(scratch_.file("k.key")), before);
  try {
    load_key_pair(scratch_.file("k.pub"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(e.reason().find("public key file"), std::string::npos) << e.reason();
  }
  write_text(scratch_.file("junk.pub"), "hello world\n");
  EXPECT_THROW(load_public_key(scratch_.file("junk.pub")), Error);
  EXPECT_THROW(generate_key(""), Error);
  EXPECT_THROW(generate_key("two\nlines"), Error);
}

// Eight processes ask for the local key at once on a fresh home: one key, complete, for all.
TEST_F(Trust, LocalKeyCreatedOnceByRacingProcesses) {
  const std::string home = scratch_.file("race-home");
  std::vector<pid_t> kids;
  for (int i = 0; i < 8; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      try {
        const KeyPair k = local_key(home);
        write_text(home + "-id-" + std::to_string(i), k.public_key.id());
        _exit(0);
      } catch (...) {
        _exit(3);
      }
    }
    kids.push_back(pid);
  }
  for (pid_t p : kids) {
    int status = 0;
    ASSERT_EQ(waitpid(p, &status, 0), p);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const std::string id = local_key(home).public_key.id();
  for (int i = 0; i < 8; ++i) {
    const auto got = read_bytes(home + "-id-" + std::to_string(i));
    EXPECT_EQ(std::string(got.begin(), got.end()), id) << i;
  }
  size_t leftovers = 0;
  for (const auto& e : fs::directory_iterator(home)) leftovers += e.path().filename().string().rfind(".local.key", 0) == 0;
  EXPECT_EQ(leftovers, 0u);
}

// The program, as a user runs it: enroll then scan with nothing set up; refusals are one line, exit 2.
TEST_F(Trust, CliEnforcesTrustWithOneLineErrors) {
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), PARTSCREEN_CLI);
    return run_program(args, scratch_.path());
  };
  const std::string pack = scratch_.file("cli.pack");
  Outcome e = run({"enroll", "--threads", "2", "--out", pack, cgal_mesh("pinion")});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  Outcome s = run({"scan", "--threads", "2", "--json", "--pack", pack, cgal_mesh("pinion")});
  EXPECT_EQ(s.exit_code, 1) << s.err;
  EXPECT_NE(s.out.find("\"signed_by\": \"" + local_key().public_key.id() + "\""), std::string::npos) << s.out;
  EXPECT_EQ(run({"pack", "verify", pack}).exit_code, 0);
  // Unsigned: refused, one line, exit 2.
  Outcome u = run({"scan", "--pack", dir_->file("both.pack"), cgal_mesh("pinion")});
  EXPECT_EQ(u.exit_code, 2);
  EXPECT_NE(u.err.find("not signed"), std::string::npos) << u.err;
  EXPECT_EQ(std::count(u.err.begin(), u.err.end(), '\n'), 1) << u.err;
  EXPECT_EQ(run({"pack", "verify", dir_->file("both.pack")}).exit_code, 2);
  // Looking into a refused pack still shows what it holds, and why it is refused.
  Outcome looked = run({"pack", "info", "--json", dir_->file("both.pack")});
  EXPECT_EQ(looked.exit_code, 0) << looked.err;
  EXPECT_NE(looked.out.find("\"trusted\": false"), std::string::npos) << looked.out;
  EXPECT_NE(looked.out.find("not signed"), std::string::npos) << looked.out;
  EXPECT_NE(looked.out.find("\"keypoints\""), std::string::npos) << looked.out;
  // Sign with a publisher key made by the CLI, trust it, publish a release, roll back.
  ASSERT_EQ(run({"key", "generate", "--publisher", "CLI Team", "--out", scratch_.file("team.key")}).exit_code, 0);
  ASSERT_EQ(run({"pack", "sign", "--key", scratch_.file("team.key"), "--sequence", "9", "--out", scratch_.file("v9.pack"), pack}).exit_code, 0);
  ASSERT_EQ(run({"pack", "sign", "--key", scratch_.file("team.key"), "--sequence", "8", "--out", scratch_.file("v8.pack"), pack}).exit_code, 0);
  Outcome unknown = run({"scan", "--pack", scratch_.file("v9.pack"), cgal_mesh("oblong")});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("trust add"), std::string::npos) << unknown.err;
  ASSERT_EQ(run({"trust", "add", scratch_.file("team.key.pub")}).exit_code, 0);
  Outcome ok = run({"scan", "--json", "--pack", scratch_.file("v9.pack"), cgal_mesh("oblong")});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("\"publisher\": \"CLI Team\""), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("\"sequence\": 9"), std::string::npos) << ok.out;
  Outcome rolled = run({"scan", "--pack", scratch_.file("v8.pack"), cgal_mesh("oblong")});
  EXPECT_EQ(rolled.exit_code, 2);
  EXPECT_NE(rolled.err.find("rolled back"), std::string::npos) << rolled.err;
  Outcome list = run({"trust", "list", "--json"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("CLI Team"), std::string::npos);
  EXPECT_NE(list.out.find("\"demo\""), std::string::npos);
  Outcome info = run({"pack", "info", "--json", scratch_.file("v9.pack")});
  EXPECT_EQ(info.exit_code, 0);
  EXPECT_NE(info.out.find("\"sequence\": 9"), std::string::npos) << info.out;
  EXPECT_EQ(run({"pack", "diff", pack, scratch_.file("v9.pack")}).exit_code, 0);  // same content
  EXPECT_EQ(run({"pack", "diff", pack, dir_->file("both.pack")}).exit_code, 1);
  EXPECT_EQ(run({"pack", "bogus", pack}).exit_code, 2);
  for (const char* c : {"key", "pack", "trust"}) {
    Outcome h = run({c, "--help"});
    EXPECT_EQ(h.exit_code, 0) << c;
    EXPECT_NE(h.out.find("Examples"), std::string::npos) << c << h.out;
  }
}

}  // namespace
}  // namespace partscreen::test

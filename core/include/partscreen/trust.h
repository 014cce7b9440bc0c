// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Who may publish the packs a program screens against. Packs are signed with Ed25519 keys
// (libsodium); a program accepts a pack only when a key in its trust store signed it, it has not
// expired, and its sequence number is not older than the last one accepted for that publisher
// and pack name (rollback). Everything a pack goes through before it is trusted is in
// docs/packs.md ("Trust").
//
// Local state lives in the partscreen home: $PARTSCREEN_HOME, else $XDG_CONFIG_HOME/partscreen,
// else ~/.config/partscreen:
//   local.key, local.pub      this machine's key pair, created on first use; signs `enroll`
//   trust/<key id>.pub        trusted publisher keys (the demo key is put there on first use)
//   sequences/<key id>-<name> last sequence accepted per publisher key and pack name
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "partscreen/pack.h"

namespace partscreen {

struct PublicKey {
  std::string publisher;            // the name packs signed with this key must carry
  std::array<uint8_t, 32> key{};    // Ed25519 public key
  std::string id() const;           // hex BLAKE2b-128 of the key: what a pack names its signer by
};

struct KeyPair {
  PublicKey public_key;
  std::array<uint8_t, 64> secret{};  // libsodium's Ed25519 secret key (seed + public key)
};

// A fresh key pair for `publisher` (non-empty, one line, at most 200 bytes).
KeyPair generate_key(const std::string& publisher);

// Key files are short text files (docs/packs.md). The secret key file is created exclusively
// with mode 0600: an existing file is never overwritten (Error io).
void save_key_pair(const KeyPair& key, const std::string& secret_path, const std::string& public_path);
KeyPair load_key_pair(const std::string& secret_path);
void save_public_key(const PublicKey& key, const std::string& path);
PublicKey load_public_key(const std::string& path);

// The partscreen home (see above); `home` non-empty: that folder.
std::string partscreen_home(const std::string& home = "");

// This machine's key pair, created on first use. Safe when several processes start at once: the
// key is written to a private temporary file and linked into place, so every process ends with
// the same complete key.
KeyPair local_key(const std::string& home = "");

// The public key of the demo publisher that signs models/reference/demo.pack. Its secret key is
// public (models/reference/demo-publisher.key) so anyone can rebuild the demo pack: it proves
// nothing, and scans with it say "demo pack: not for production". Remove it from the trust store
// of any real deployment (`partscreen trust remove demo`).
PublicKey demo_public_key();

struct TrustedKey {
  PublicKey key;
  std::string source;  // "local" (this machine's key), "demo", "added"
  std::string path;    // its file
};

// The trust store: this machine's key (when it exists) and every key in trust/.
std::vector<TrustedKey> trusted_keys(const std::string& home = "");
// Adds a key (replacing one with the same id). Refuses a key whose publisher name another
// trusted key already uses (two keys for one name would make the name meaningless).
void trust_key(const PublicKey& key, const std::string& home = "");
// Removes the key with this id (or id prefix of at least 8 hex digits), or every key of this
// publisher name, or the demo key for "demo". Returns the keys removed (none: Error invalid_argument).
std::vector<PublicKey> distrust_key(const std::string& id_or_publisher, const std::string& home = "");

// Signs a pack: `in_path`'s enrolled content, copied byte for byte, with `metadata` (publisher
// replaced by the key's) and a signature by `key`, written atomically to `out_path` (may equal
// in_path). metadata.created_unix 0: now.
void sign_pack(const std::string& in_path, const std::string& out_path, const KeyPair& key, const PackMetadata& metadata);

// True when `pack` carries a valid signature by `key` (over everything but the checksum).
bool signature_valid(const Pack& pack, const PublicKey& key);

struct TrustOptions {
  std::string home;              // "" : partscreen_home()
  int64_t now_unix = 0;          // 0: the clock (tests pass a time to check expiry)
  bool record_sequence = true;   // remember the sequence accepted (off: a dry run, `pack verify`)
  bool allow_demo_key = true;    // false: refuse the demo key even when it is in the trust store
};

// Who signed a trusted pack, and what the caller should show.
struct TrustReport {
  std::string publisher;
  std::string key_id;
  std::string key_source;        // TrustedKey::source
  uint64_t sequence = 0;
  int64_t expires_unix = 0;
  bool demo = false;             // signed by the demo key
  std::string note;              // "demo pack: not for production ..." or ""
  std::vector<std::string> warnings;  // e.g. the sequence could not be recorded
};

// Opens a pack that came from outside (CLI scan, the service, plugins) and enforces trust:
// unsigned, tampered, signed by an unknown key, claiming another publisher's name, expired, or
// rolled back (sequence below the last accepted for this key and pack name) all throw
// Error(untrusted_pack) saying what is wrong and what to do. Corrupt files throw invalid_pack as
// Pack::open does. On success the sequence is recorded (TrustOptions::record_sequence).
Pack load_trusted_pack(const std::string& path, const TrustOptions& options = {}, TrustReport* report = nullptr);

}  // namespace partscreen

// SPDX-License-Identifier: GPL-3.0-or-later
// Keys, the trust store and the trust rules for packs that come from outside (partscreen/trust.h).
// The scheme follows the usual software-update pattern (signed metadata with a sequence number and
// an expiry, checked against pinned publisher keys; cf. The Update Framework's threat model:
// arbitrary-package, rollback and freeze attacks).
#include "partscreen/trust.h"

#include <fcntl.h>
#include <pwd.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>

#include "pack/pack_data.h"
#include "partscreen/error.h"

namespace partscreen {
namespace {

namespace fs = std::filesystem;

// The demo publisher (models/reference/demo-publisher.pub; a test checks the two agree).
constexpr const char* kDemoPublisher = "partscreen demo publisher (not for production)";
constexpr const char* kDemoPublicHex = "01f5a0478ddc437d7bbf9da69325c0b781bd831a1f585a10de0c416e9be99807";
constexpr size_t kMaxKeyFileBytes = 64 * 1024;

void need_sodium() {
  if (sodium_init() < 0) throw Error(ErrorCode::internal, "", "libsodium failed to initialise");
}

bool unhex(const std::string& s, uint8_t* out, size_t n) {
  if (s.size() != 2 * n) return false;
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < n; ++i) {
    int a = v(s[2 * i]), b = v(s[2 * i + 1]);
    if (a < 0 || b < 0) return false;
    out[i] = uint8_t(a * 16 + b);
  }
  return true;
}

void check_publisher(const std::string& p) {
  if (p.empty() || p.size() > 200 || p.find_first_of("\r\n") != std::string::npos || p.front() == ' ' || p.back() == ' ')
    throw Error(ErrorCode::invalid_argument, "", "a publisher name must be one line of 1-200 characters, no leading or trailing space");
}

// "name: value" lines; '#' comments. Bounded; a clear error for anything else.
std::map<std::string, std::string> read_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::io, path, std::string("cannot open key file: ") + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > kMaxKeyFileBytes) throw Error(ErrorCode::malformed, path, "not a partscreen key file (larger than 64 KiB)");
  std::map<std::string, std::string> fields;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const size_t colon = line.find(": ");
    if (colon == std::string::npos) throw Error(ErrorCode::malformed, path, "not a partscreen key file (expected 'name: value' lines)");
    fields[line.substr(0, colon)] = line.substr(colon + 2);
  }
  return fields;
}

std::string public_text(const PublicKey& k) {
  return "# partscreen public key: give this file to whoever should trust your packs\n"
         "# ('partscreen trust add FILE').\n"
         "publisher: " + k.publisher + "\nkey-id: " + k.id() + "\ned25519-public: " + detail::hex(k.key.data(), 32) + "\n";
}

std::string secret_text(const KeyPair& k) {
  return "# partscreen secret key: whoever holds it can sign packs as the publisher below. Keep it private.\n"
         "publisher: " + k.public_key.publisher + "\nkey-id: " + k.public_key.id() + "\ned25519-secret: " +
         detail::hex(k.secret.data(), 64) + "\n";
}

void write_text_atomic(const std::string& path, const std::string& text, const char* what) {
  detail::write_file_atomic(path, std::vector<uint8_t>(text.begin(), text.end()), what);
}

// Writes a new file with mode 0600, failing when it exists (never replaces a secret key).
void write_exclusive(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    throw Error(ErrorCode::io, path,
                errno == EEXIST ? "exists already: a secret key is never overwritten (choose another path or delete it first)"
                                : std::string("cannot create: ") + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    throw Error(ErrorCode::io, path, "write failed (disk full?)");
  }
}

void make_dirs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw Error(ErrorCode::io, dir, "cannot create the partscreen home folder: " + ec.message());
}

std::string local_publisher_name() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  const char* user = std::getenv("USER");
  std::string u = user && *user ? user : std::to_string(::getuid());
  std::string name = "local:" + u + "@" + host;
  for (char& c : name)
    if (c == '\n' || c == '\r') c = '_';
  return name.substr(0, 200);
}

std::string date_text(int64_t t) {
  char buf[32];
  std::time_t tt = std::time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

[[noreturn]] void refuse(const std::string& path, const std::string& why) {
  throw Error(ErrorCode::untrusted_pack, path, why);
}

// The trust store's folder, created with the demo key on first use. Nullopt-like "" when the home
// cannot be written: the store is then just the built-in demo key (and the local key).
std::string trust_dir(const std::string& home, bool create) {
  const std::string dir = home + "/trust";
  if (fs::is_directory(dir)) return dir;
  if (!create) return "";
  try {
    make_dirs(home);
    const std::string tmp = dir + ".tmp." + std::to_string(::getpid());
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::create_directory(tmp, ec);
    if (ec) return "";
    const PublicKey demo = demo_public_key();
    write_text_atomic(tmp + "/" + demo.id() + ".pub", public_text(demo), "trusted key");
    // Atomic: a concurrent first use sees either no folder or one holding the demo key.
    if (::rename(tmp.c_str(), dir.c_str()) != 0) fs::remove_all(tmp, ec);
    return fs::is_directory(dir) ? dir : "";
  } catch (const Error&) {
    return "";
  }
}

PublicKey public_from_fields(const std::map<std::string, std::string>& f, const std::string& path) {
  PublicKey k;
  auto p = f.find("publisher"), pk = f.find("ed25519-public");
  if (p == f.end() || pk == f.end() || !unhex(pk->second, k.key.data(), 32))
    throw Error(ErrorCode::malformed, path, "not a partscreen public key file (needs 'publisher:' and 'ed25519-public:' lines)");
  k.publisher = p->second;
  check_publisher(k.publisher);
  auto id = f.find("key-id");
  if (id != f.end() && id->second != k.id()) throw Error(ErrorCode::malformed, path, "key-id does not match the key (edited file?)");
  return k;
}

}  // namespace

std::string PublicKey::id() const {
  const auto id = detail::key_id_of(key);
  return detail::hex(id.data(), id.size());
}

KeyPair generate_key(const std::string& publisher) {
  check_publisher(publisher);
  need_sodium();
  KeyPair k;
  k.public_key.publisher = publisher;
  crypto_sign_keypair(k.public_key.key.data(), k.secret.data());
  return k;
}

void save_key_pair(const KeyPair& key, const std::string& secret_path, const std::string& public_path) {
  write_exclusive(secret_path, secret_text(key));
  write_text_atomic(public_path, public_text(key.public_key), "public key");
}

KeyPair load_key_pair(const std::string& path) {
  const auto f = read_key_file(path);
  KeyPair k;
  auto p = f.find("publisher"), sk = f.find("ed25519-secret");
  if (p == f.end() || sk == f.end() || !unhex(sk->second, k.secret.data(), 64))
    throw Error(ErrorCode::malformed, path,
                f.count("ed25519-public") ? "this is a public key file; signing needs the secret key file"
                                          : "not a partscreen secret key file (needs 'publisher:' and 'ed25519-secret:' lines)");
  k.public_key.publisher = p->second;
  check_publisher(k.public_key.publisher);
  need_sodium();
  crypto_sign_ed25519_sk_to_pk(k.public_key.key.data(), k.secret.data());
  auto id = f.find("key-id");
  if (id != f.end() && id->second != k.public_key.id()) throw Error(ErrorCode::malformed, path, "key-id does not match the key (edited file?)");
  return k;
}

void save_public_key(const PublicKey& key, const std::string& path) { write_text_atomic(path, public_text(key), "public key"); }

PublicKey load_public_key(const std::string& path) { return public_from_fields(read_key_file(path), path); }

std::string partscreen_home(const std::string& home) {
  if (!home.empty()) return home;
  if (const char* h = std::getenv("PARTSCREEN_HOME"); h && *h) return h;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return std::string(x) + "/partscreen";
  const char* h = std::getenv("HOME");
  if (!h || !*h) {
    const passwd* pw = getpwuid(::getuid());
    h = pw ? pw->pw_dir : "/tmp";
  }
  return std::string(h) + "/.config/partscreen";
}

KeyPair local_key(const std::string& home_in) {
  const std::string home = partscreen_home(home_in);
  const std::string path = home + "/local.key";
  if (!fs::exists(path)) {
    const bool fresh_home = !fs::exists(home);
    make_dirs(home);
    if (fresh_home) ::chmod(home.c_str(), 0700);  // a folder we made; never change a given one
    // A complete private file first, then link(): link never replaces, so when processes race
    // exactly one key wins and every process reads that one, never a half-written file.
    const KeyPair fresh = generate_key(local_publisher_name());
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    const std::string tmp = home + "/.local.key." + std::to_string(::getpid()) + "." + detail::hex(rnd, 8);
    write_exclusive(tmp, secret_text(fresh));
    const int rc = ::link(tmp.c_str(), path.c_str());
    const int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0 && err != EEXIST) throw Error(ErrorCode::io, path, std::string("cannot create the local key: ") + std::strerror(err));
  }
  KeyPair k = load_key_pair(path);
  const std::string pub = home + "/local.pub";
  if (!fs::exists(pub)) {
    try {
      save_public_key(k.public_key, pub);
    } catch (const Error&) {
    }
  }
  return k;
}

PublicKey demo_public_key() {
  PublicKey k;
  k.publisher = kDemoPublisher;
  unhex(kDemoPublicHex, k.key.data(), 32);
  return k;
}

std::vector<TrustedKey> trusted_keys(const std::string& home_in) {
  const std::string home = partscreen_home(home_in);
  std::vector<TrustedKey> out;
  const std::string local = home + "/local.key";
  if (fs::exists(local)) out.push_back(TrustedKey{load_key_pair(local).public_key, "local", local});
  const PublicKey demo = demo_public_key();
  const std::string dir = trust_dir(home, true);
  if (dir.empty()) {
    out.push_back(TrustedKey{demo, "demo", "(built in: the partscreen home cannot be written)"});
    return out;
  }
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".pub") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) {
    PublicKey k = load_public_key(f);
    out.push_back(TrustedKey{k, k.key == demo.key ? "demo" : "added", f});
  }
  return out;
}

void trust_key(const PublicKey& key, const std::string& home_in) {
  const std::string home = partscreen_home(home_in);
  check_publisher(key.publisher);
  for (const TrustedKey& t : trusted_keys(home))
    if (t.key.publisher == key.publisher && t.key.key != key.key)
      throw Error(ErrorCode::invalid_argument, t.path,
                  "publisher '" + key.publisher + "' already has another trusted key (" + t.key.id() +
                      "); remove it first with 'partscreen trust remove " + t.key.id() + "' if the publisher replaced its key");
  std::string dir = trust_dir(home, true);
  if (dir.empty()) throw Error(ErrorCode::io, home, "cannot create the trust store folder");
  save_public_key(key, dir + "/" + key.id() + ".pub");
}

std::vector<PublicKey> distrust_key(const std::string& what_in, const std::string& home_in) {
  const std::string home = partscreen_home(home_in);
  const std::string what = what_in == "demo" ? demo_public_key().id() : what_in;
  std::vector<PublicKey> removed;
  for (const TrustedKey& t : trusted_keys(home)) {
    const bool by_id = what.size() >= 8 && t.key.id().rfind(what, 0) == 0;
    if (!by_id && t.key.publisher != what) continue;
    if (t.source == "local")
      throw Error(ErrorCode::invalid_argument, t.path,
                  "this machine's own key is always trusted here; to replace it, delete local.key and local.pub (packs it "
                  "signed will then need re-signing)");
    std::error_code ec;
    if (!fs::remove(t.path, ec) || ec) throw Error(ErrorCode::io, t.path, "cannot remove the trusted key file: " + ec.message());
    removed.push_back(t.key);
  }
  if (removed.empty())
    throw Error(ErrorCode::invalid_argument, what_in, "no trusted key has this id or publisher name ('partscreen trust list' shows them)");
  return removed;
}

void sign_pack(const std::string& in_path, const std::string& out_path, const KeyPair& key, const PackMetadata& metadata) {
  const Pack pack = Pack::open(in_path);
  detail::write_file_atomic(out_path, detail::resign_pack_bytes(pack.data(), metadata, &key), "pack");
}

namespace {
bool signature_valid(const Pack& pack, const PublicKey& key, const detail::PackDigests* digests) {
  if (!pack.is_signed() || pack.signer_key_id() != key.id()) return false;
  return detail::verify_pack_bytes(pack.data().file, pack.file_bytes(), key.key.data(), digests);
}
}  // namespace

bool signature_valid(const Pack& pack, const PublicKey& key) { return signature_valid(pack, key, nullptr); }

Pack load_trusted_pack(const std::string& path, const TrustOptions& options, TrustReport* report) {
  Pack pack = detail::open_pack(path, false);
  // The file is read whole (0.5 GB for 10,000 references) once: its checksum and the digest its
  // signature signs come from one pass, before any verdict, so a corrupt file is reported as
  // corrupt, as Pack::open would. A pack signed with Ed25519ph needs a second pass for its
  // signature: the checksum runs on another thread meanwhile, and every verdict waits for it.
  const bool one_pass = pack.data().signature.algorithm != uint32_t(detail::SignatureAlgorithm::ed25519ph);
  detail::PackDigests digests{};
  std::future<void> intact;
  if (one_pass)
    digests = detail::verify_checksum(pack.data());
  else
    intact = std::async(std::launch::async, [&pack] { detail::verify_checksum(pack.data()); });
  auto wait_intact = [&] {
    if (intact.valid()) intact.get();
  };
  auto refuse = [&](const std::string& where, const std::string& why) {
    wait_intact();
    partscreen::refuse(where, why);
  };
  const PackMetadata& md = pack.metadata();
  const std::string home = partscreen_home(options.home);
  const std::string claimed = md.publisher.empty() ? std::string("no publisher named") : "publisher '" + md.publisher + "'";
  if (!pack.is_signed())
    refuse(path, "the pack is not signed, so nothing says who made it or that it is intact. Re-enroll it "
                 "(partscreen enroll signs with this machine's key) or sign it: partscreen pack sign --key KEY " + path);
  const std::string id = pack.signer_key_id();
  const TrustedKey* signer = nullptr;
  const std::vector<TrustedKey> keys = trusted_keys(home);
  for (const TrustedKey& t : keys)
    if (t.key.id() == id && (options.allow_demo_key || t.source != "demo")) signer = &t;
  if (!signer)
    refuse(path, "signed by key " + id + " (" + claimed + "), which is not in the trust store (" + home +
                     "/trust). If you trust that publisher, get its public key file from it and run: partscreen trust add FILE");
  if (!signature_valid(pack, signer->key, one_pass ? &digests : nullptr))
    refuse(path, "the signature does not match: the pack was modified after '" + signer->key.publisher +
                     "' signed it. Do not use it; fetch it again from the publisher.");
  wait_intact();
  if (md.publisher != signer->key.publisher)
    refuse(path, "the pack names " + claimed + " but is signed by the key of '" + signer->key.publisher +
                     "'. Ask the publisher for a correctly signed pack.");
  const int64_t now = options.now_unix ? options.now_unix : int64_t(std::time(nullptr));
  if (md.expires_unix != 0 && now > md.expires_unix)
    refuse(path, "the pack expired on " + date_text(md.expires_unix) + " (" + claimed + ", sequence " + std::to_string(md.sequence) +
                     "): it may lack newer references or revocations. Get the current pack from the publisher.");
  TrustReport r;
  r.publisher = md.publisher;
  r.key_id = id;
  r.key_source = signer->source;
  r.sequence = md.sequence;
  r.expires_unix = md.expires_unix;
  r.demo = signer->source == "demo";
  if (r.demo)
    r.note = "demo pack: not for production (signed with the public demo key; remove it with 'partscreen trust remove demo')";
  // Rollback: per publisher key and pack name. Packs signed by this machine's own key are exempt:
  // whoever can roll back this machine's state can sign with its key anyway (docs/packs.md).
  if (signer->source != "local") {
    uint8_t name_hash[8];
    crypto_generichash(name_hash, sizeof name_hash, reinterpret_cast<const unsigned char*>(pack.name().data()), pack.name().size(),
                       nullptr, 0);
    const std::string dir = home + "/sequences";
    const std::string file = dir + "/" + id + "-" + detail::hex(name_hash, 8);
    std::error_code ec;
    fs::create_directories(dir, ec);
    // One lock for read-compare-write, so concurrent scans never lower the recorded sequence.
    int lock = ::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock >= 0) ::flock(lock, LOCK_EX);
    uint64_t last = 0;
    bool have_last = false;
    {
      std::ifstream in(file);
      std::string word;
      if (in >> word >> last && word == "sequence") have_last = true;
    }
    if (have_last && md.sequence < last) {
      if (lock >= 0) ::close(lock);
      refuse(path, "rolled back: sequence " + std::to_string(md.sequence) + " is older than sequence " + std::to_string(last) +
                       " already accepted from " + claimed + " for pack '" + pack.name() +
                       "'. An old pack lacks newer references and revocations; get the current one from the publisher.");
    }
    if (options.record_sequence && (!have_last || md.sequence > last)) {
      try {
        write_text_atomic(file, "sequence " + std::to_string(md.sequence) + "\npack " + pack.name() + "\npublisher " + md.publisher + "\n",
                          "sequence record");
      } catch (const Error& e) {
        r.warnings.push_back("cannot record the accepted sequence in " + dir + " (" + e.reason() + "): rollback protection is off");
      }
    }
    if (lock >= 0) ::close(lock);
    if (lock < 0 && options.record_sequence)
      r.warnings.push_back("cannot write " + dir + ": rollback protection is off until the partscreen home is writable");
  }
  if (report) *report = std::move(r);
  return pack;
}

}  // namespace partscreen

// SPDX-License-Identifier: GPL-3.0-or-later
// Pack distribution: `partscreen key generate`, `partscreen pack sign|verify|info|merge|diff`,
// `partscreen trust add|list|remove`. Thin shells over partscreen/trust.h and partscreen/pack.h.
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli.h"
#include "partscreen/pack.h"
#include "partscreen/trust.h"

namespace partscreen::cli {
namespace {

using json = nlohmann::ordered_json;

[[noreturn]] void usage(const std::string& command, const std::string& why) {
  throw Error(ErrorCode::invalid_argument, command, why);
}

std::string subcommand(const Args& args, const std::string& command, const char* choices) {
  if (args.positionals().empty()) usage(command, std::string("which action? one of: ") + choices);
  return args.positionals()[0];
}

std::string date_text(int64_t t) {
  if (t == 0) return "never";
  char buf[32];
  std::time_t tt = std::time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

// "2027-01-31" or "2027-01-31T12:00:00Z" or seconds since 1970.
int64_t parse_time(const std::string& option, const std::string& s) {
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) return int64_t(std::stoll(s));
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end) {
    tm = std::tm{};
    end = strptime(s.c_str(), "%Y-%m-%d", &tm);
  }
  if (!end || *end) throw Error(ErrorCode::invalid_argument, option, "expected a date YYYY-MM-DD[THH:MM:SSZ] (UTC), got '" + s + "'");
  return int64_t(timegm(&tm));
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

json metadata_json(const Pack& p) {
  const PackMetadata& m = p.metadata();
  json revoked = json::array(), cats = json::array();
  for (auto& r : m.revoked) revoked.push_back(r);
  for (auto& c : m.categories) cats.push_back(c);
  return json{{"publisher", m.publisher}, {"sequence", m.sequence}, {"created_unix", m.created_unix},
              {"expires_unix", m.expires_unix}, {"jurisdiction", m.jurisdiction}, {"categories", cats},
              {"revoked", revoked}};
}

// ------------------------------------------------------------------ key

int run_key(const Args& args) {
  const std::string action = subcommand(args, "key", "generate");
  if (action != "generate") usage("key", "unknown action '" + action + "'; try 'partscreen key generate --publisher NAME --out FILE'");
  const std::string publisher = args.required("--publisher");
  const std::string out = args.required("--out");
  const KeyPair key = generate_key(publisher);
  const std::string pub = out + ".pub";
  save_key_pair(key, out, pub);
  if (args.flag("--json")) {
    print_json(json{{"publisher", publisher}, {"key_id", key.public_key.id()}, {"secret_key", out}, {"public_key", pub}}.dump());
    return kExitOk;
  }
  std::printf("wrote secret key %s (mode 0600: keep it private, it signs as '%s')\n", out.c_str(), publisher.c_str());
  std::printf("wrote public key %s (key id %s): give it to the machines that should trust you\n", pub.c_str(),
              key.public_key.id().c_str());
  std::printf("next: partscreen pack sign --key %s --sequence 1 refs.pack\n", out.c_str());
  return kExitOk;
}

// ------------------------------------------------------------------ pack

int pack_info(const Args& args, const std::string& path, bool verify) {
  const bool js = args.flag("--json");
  TrustOptions topt;
  topt.record_sequence = false;  // looking is not accepting
  std::string trust_error;
  TrustReport report;
  // A trusted pack is read once (checksum and signature in one pass, as scan does); only a
  // refused one is opened a second time, to show what it holds.
  std::optional<Pack> opened;
  try {
    opened.emplace(load_trusted_pack(path, topt, &report));
  } catch (const Error& e) {
    if (e.code() != ErrorCode::untrusted_pack) throw;
    trust_error = e.reason();
    opened.emplace(Pack::open(path));
  }
  const Pack& pack = *opened;
  if (js) {
    json refs = json::array();
    for (size_t i = 0; i < pack.reference_count(); ++i) {
      const ReferenceInfo& r = pack.reference(i);
      refs.push_back({{"id", r.id}, {"category", r.category}, {"label", r.label}, {"keypoints", r.keypoint_count},
                      {"revoked", r.revoked}});
    }
    json doc{{"pack", path},
             {"name", pack.name()},
             {"format_version", pack.format_version()},
             {"bytes", pack.file_bytes()},
             {"checksum", pack.checksum_hex()},
             {"content", pack.content_hex()},
             {"metadata", metadata_json(pack)},
             {"signed_by", pack.is_signed() ? json(pack.signer_key_id()) : json(nullptr)},
             {"trusted", trust_error.empty()},
             {"trust_error", trust_error.empty() ? json(nullptr) : json(trust_error)},
             {"demo", report.demo}};
    if (!verify) doc["references"] = refs;
    print_json(doc.dump());
  } else {
    const PackMetadata& m = pack.metadata();
    std::printf("pack %s: '%s', format %u, %llu bytes\n", path.c_str(), pack.name().c_str(), pack.format_version(),
                (unsigned long long)pack.file_bytes());
    std::printf("  publisher     %s\n  sequence      %llu\n  created       %s\n  expires       %s\n  jurisdiction  %s\n",
                m.publisher.c_str(), (unsigned long long)m.sequence, date_text(m.created_unix).c_str(), date_text(m.expires_unix).c_str(),
                m.jurisdiction.empty() ? "-" : m.jurisdiction.c_str());
    std::string cats;
    for (auto& c : m.categories) cats += (cats.empty() ? "" : ", ") + c;
    std::printf("  categories    %s\n", cats.empty() ? "-" : cats.c_str());
    std::printf("  signed by     %s\n", pack.is_signed() ? pack.signer_key_id().c_str() : "(unsigned)");
    std::printf("  content       %s\n", pack.content_hex().c_str());
    std::printf("  trust         %s\n", trust_error.empty() ? (report.demo ? "accepted (demo key: not for production)" : "accepted")
                                                           : ("REFUSED: " + trust_error).c_str());
    if (!verify) {
      std::printf("\n  %-32s %-20s %9s  %s\n", "reference", "category", "keypoints", "status");
      for (size_t i = 0; i < pack.reference_count(); ++i) {
        const ReferenceInfo& r = pack.reference(i);
        std::printf("  %-32s %-20s %9u  %s\n", r.id.c_str(), r.category.empty() ? "-" : r.category.c_str(), r.keypoint_count,
                    r.revoked ? "REVOKED (never matched)" : "active");
      }
      for (auto& id : m.revoked) {
        bool present = false;
        for (size_t i = 0; i < pack.reference_count(); ++i) present = present || pack.reference(i).id == id;
        if (!present) std::printf("  %-32s %-20s %9s  revoked\n", id.c_str(), "-", "-");
      }
    }
  }
  if (verify && !trust_error.empty()) {
    if (!js) std::fprintf(stderr, "partscreen: %s: %s\n", path.c_str(), trust_error.c_str());
    return kExitError;
  }
  return kExitOk;
}

PackMetadata metadata_from(const Args& args, const PackMetadata& base) {
  PackMetadata m = base;
  m.sequence = args.has("--sequence") ? args.count("--sequence", 0) : base.sequence + 1;
  m.created_unix = 0;
  if (args.has("--expires")) m.expires_unix = parse_time("--expires", args.text("--expires"));
  if (args.has("--valid-days")) m.expires_unix = int64_t(std::time(nullptr)) + int64_t(args.count("--valid-days", 0, 1, 36500)) * 86400;
  if (args.has("--jurisdiction")) m.jurisdiction = args.text("--jurisdiction");
  if (args.has("--categories")) m.categories = split_list(args.text("--categories"));
  if (args.has("--revoke"))
    for (const std::string& r : split_list(args.text("--revoke"))) m.revoked.push_back(r);
  return m;
}

KeyPair signing_key_from(const Args& args) { return args.has("--key") ? load_key_pair(args.text("--key")) : local_key(); }

int run_pack(const Args& args) {
  const std::string action = subcommand(args, "pack", "sign, verify, info, merge, diff");
  std::vector<std::string> files(args.positionals().begin() + 1, args.positionals().end());
  const bool js = args.flag("--json");
  auto need = [&](size_t n, const char* what) {
    if (files.size() < n) usage("pack " + action, std::string("expected ") + what);
  };
  if (action == "info" || action == "verify") {
    need(1, "PACK");
    int rc = kExitOk;
    for (const std::string& f : files) rc = std::max(rc, pack_info(args, f, action == "verify"));
    return rc;
  }
  if (action == "sign") {
    need(1, "PACK");
    const KeyPair key = signing_key_from(args);
    const Pack in = Pack::open(files[0]);
    PackMetadata m = metadata_from(args, in.metadata());
    for (const std::string& r : m.revoked) {
      bool present = false;
      for (size_t i = 0; i < in.reference_count(); ++i) present = present || in.reference(i).id == r;
      if (!present) std::fprintf(stderr, "partscreen: note: revoked id '%s' is not in this pack (kept in the list)\n", r.c_str());
    }
    const std::string out = args.text("--out", files[0]);
    sign_pack(files[0], out, key, m);
    const Pack signed_pack = Pack::open(out);
    if (js) {
      print_json(json{{"pack", out}, {"signed_by", signed_pack.signer_key_id()}, {"metadata", metadata_json(signed_pack)}}.dump());
    } else {
      std::printf("signed %s as '%s' (key %s), sequence %llu, expires %s\n", out.c_str(), key.public_key.publisher.c_str(),
                  key.public_key.id().c_str(), (unsigned long long)m.sequence, date_text(m.expires_unix).c_str());
      std::printf("next: machines that should accept it run 'partscreen trust add PUBLIC_KEY_FILE' once (key %s)\n",
                  key.public_key.id().c_str());
    }
    return kExitOk;
  }
  if (action == "merge") {
    need(1, "one or more PACK files and --out");
    const std::string out = args.required("--out");
    std::vector<Pack> packs;
    uint64_t sequence = 0;
    for (const std::string& f : files) {
      packs.push_back(Pack::open(f));
      sequence = std::max(sequence, packs.back().metadata().sequence);
    }
    const KeyPair key = signing_key_from(args);
    EnrollOptions options;
    options.pack_name = args.text("--name", std::filesystem::path(out).stem().string());
    PackMetadata base;
    base.sequence = sequence;
    options.metadata = metadata_from(args, base);
    options.signing_key = &key;
    const EnrollReport report = merge_packs(packs, out, options);
    if (js) {
      json ids = json::array();
      for (auto& r : report.references) ids.push_back(r.id);
      print_json(json{{"pack", out}, {"references", ids}, {"bytes", report.pack_bytes}, {"signed_by", key.public_key.id()}}.dump());
    } else {
      std::printf("wrote %s: %zu references from %zu packs, signed as '%s', sequence %llu\n", out.c_str(), report.references.size(),
                  packs.size(), key.public_key.publisher.c_str(), (unsigned long long)options.metadata.sequence);
    }
    return kExitOk;
  }
  if (action == "diff") {
    if (files.size() != 2) usage("pack diff", "expected two packs: OLD NEW");
    const Pack a = Pack::open(files[0]), b = Pack::open(files[1]);
    const PackDiff d = diff_packs(a, b);
    if (js) {
      print_json(json{{"old", files[0]}, {"new", files[1]}, {"same_content", d.same_content}, {"added", d.added},
                      {"removed", d.removed}, {"changed", d.changed}, {"unchanged", d.unchanged}, {"newly_revoked", d.newly_revoked},
                      {"old_metadata", metadata_json(a)}, {"new_metadata", metadata_json(b)}}
                     .dump());
    } else {
      std::printf("%s -> %s: sequence %llu -> %llu, %s\n", files[0].c_str(), files[1].c_str(),
                  (unsigned long long)a.metadata().sequence, (unsigned long long)b.metadata().sequence,
                  d.same_content ? "same enrolled content" : "content differs");
      for (auto& id : d.added) std::printf("  + %s\n", id.c_str());
      for (auto& id : d.removed) std::printf("  - %s\n", id.c_str());
      for (auto& id : d.changed) std::printf("  ~ %s\n", id.c_str());
      for (auto& id : d.newly_revoked) std::printf("  revoked %s\n", id.c_str());
      std::printf("  (%zu unchanged)\n", d.unchanged.size());
    }
    return d.same_content && d.newly_revoked.empty() ? kExitOk : kExitFlagged;
  }
  usage("pack", "unknown action '" + action + "'; one of: sign, verify, info, merge, diff");
}

// ------------------------------------------------------------------ trust

int run_trust(const Args& args) {
  const std::string action = subcommand(args, "trust", "add, list, remove");
  const bool js = args.flag("--json");
  if (action == "list") {
    const auto keys = trusted_keys();
    if (js) {
      json list = json::array();
      for (const TrustedKey& t : keys)
        list.push_back({{"publisher", t.key.publisher}, {"key_id", t.key.id()}, {"source", t.source}, {"path", t.path}});
      print_json(json{{"home", partscreen_home()}, {"keys", list}}.dump());
      return kExitOk;
    }
    std::printf("trust store in %s:\n", partscreen_home().c_str());
    for (const TrustedKey& t : keys)
      std::printf("  %s  %-6s %s%s\n", t.key.id().c_str(), t.source.c_str(), t.key.publisher.c_str(),
                  t.source == "demo" ? "  <- remove for production: partscreen trust remove demo" : "");
    return kExitOk;
  }
  if (args.positionals().size() < 2) usage("trust " + action, action == "add" ? "expected a public key FILE" : "expected a key id or publisher name");
  if (action == "add") {
    for (size_t i = 1; i < args.positionals().size(); ++i) {
      const PublicKey k = load_public_key(args.positionals()[i]);
      trust_key(k);
      if (!js) std::printf("trusted '%s' (key %s)\n", k.publisher.c_str(), k.id().c_str());
      else print_json(json{{"trusted", k.publisher}, {"key_id", k.id()}}.dump());
    }
    return kExitOk;
  }
  if (action == "remove") {
    json removed = json::array();
    for (size_t i = 1; i < args.positionals().size(); ++i)
      for (const PublicKey& k : distrust_key(args.positionals()[i])) {
        removed.push_back({{"publisher", k.publisher}, {"key_id", k.id()}});
        if (!js) std::printf("removed '%s' (key %s): packs it signed are refused from now on\n", k.publisher.c_str(), k.id().c_str());
      }
    if (js) print_json(json{{"removed", removed}}.dump());
    return kExitOk;
  }
  usage("trust", "unknown action '" + action + "'; one of: add, list, remove");
}

const char* kHomeText =
    "State lives in the partscreen home: $PARTSCREEN_HOME, else $XDG_CONFIG_HOME/partscreen,\n"
    "else ~/.config/partscreen (local.key/local.pub: this machine's key; trust/: trusted\n"
    "publisher keys; sequences/: the newest sequence accepted per publisher and pack).\n";

}  // namespace

const CommandSpec& key_command() {
  static const CommandSpec spec = [] {
    CommandSpec c;
    c.name = "key";
    c.summary = "create a publisher key pair for signing packs";
    c.usage = "partscreen key generate --publisher NAME --out FILE [--json]";
    c.description =
        std::string("Creates an Ed25519 key pair: FILE (the secret key, mode 0600, never overwritten) and\n"
                    "FILE.pub (the public key). Sign packs with the secret key ('pack sign --key FILE');\n"
                    "hand FILE.pub to every machine that should accept your packs ('trust add'). The\n"
                    "publisher NAME is bound to the key: packs it signs carry that name.\n"
                    "You do not need a key to enroll and scan on one machine: enroll signs with a local\n"
                    "key created on first use.\n") + kHomeText;
    c.options = {OptionSpec{"--publisher", "NAME", "", "who signs: an organisation or team name shown in every scan"},
                 opt_out("the secret key file to create (the public key goes to FILE.pub)"), opt_json("the key id and paths,")};
    c.examples =
        "  $ partscreen key generate --publisher \"Example Trust Team\" --out team.key\n"
        "      team.key (keep private) and team.key.pub (distribute)\n";
    c.exit_codes = "  0  the key pair was written\n  2  a bad option, or FILE exists already\n";
    c.min_positionals = 1;
    c.run = run_key;
    return c;
  }();
  return spec;
}

const CommandSpec& pack_command() {
  static const CommandSpec spec = [] {
    CommandSpec c;
    c.name = "pack";
    c.summary = "sign, verify, inspect, merge and compare packs";
    c.usage = "partscreen pack sign|verify|info|merge|diff [OPTIONS] PACK...";
    c.description =
        "  sign PACK     re-sign PACK (in place, or to --out) with --key (default: this machine's key)\n"
        "                and new metadata: --sequence (default: the current one plus 1), --expires or\n"
        "                --valid-days, --jurisdiction, --categories, --revoke. The enrolled content is\n"
        "                copied byte for byte.\n"
        "  verify PACK   check PACK against the trust store as scan would (without recording its\n"
        "                sequence): exit 0 when scan would accept it, 2 with the reason otherwise.\n"
        "  info PACK     metadata, signer, trust verdict and the references (revoked ones marked).\n"
        "  merge PACK... --out OUT   one pack with the references of all (a later pack's reference\n"
        "                replaces an earlier one with the same id; revoked references are dropped),\n"
        "                signed with --key; sequence: the highest input's plus 1.\n"
        "  diff OLD NEW  references added, removed, changed and newly revoked; exit 0 when the\n"
        "                enrolled content is the same and nothing new is revoked, 1 otherwise.\n"
        "A pack's sequence number must grow with every release: machines refuse a pack older than\n"
        "the last one they accepted from the same publisher under the same pack name (rollback).\n";
    c.options = {OptionSpec{"--key", "FILE", "this machine's key", "secret key file to sign with (sign, merge)"},
                 OptionSpec{"--out", "PATH", "", "sign: write the signed pack here instead of in place; merge: the merged pack (required)"},
                 OptionSpec{"--name", "NAME", "the file stem of --out", "merge: the name stored in the merged pack"},
                 OptionSpec{"--sequence", "N", "current + 1", "release number of this pack (sign, merge)"},
                 OptionSpec{"--expires", "DATE", "unchanged", "expiry, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC) or unix seconds"},
                 OptionSpec{"--valid-days", "N", "", "expiry N days from now (instead of --expires)"},
                 OptionSpec{"--jurisdiction", "TEXT", "unchanged", "where the pack applies, e.g. a country or marketplace"},
                 OptionSpec{"--categories", "A,B,...", "unchanged", "the category taxonomy references are filed under"},
                 OptionSpec{"--revoke", "ID,...", "", "withdraw references: never matched again (added to the list)"},
                 opt_json("the result as data,")};
    c.examples =
        "  $ partscreen pack sign --key team.key --sequence 7 --valid-days 90 --jurisdiction EU refs.pack\n"
        "      publish release 7 of refs.pack, valid for 90 days\n"
        "  $ partscreen pack sign --key team.key --revoke old-bracket refs.pack\n"
        "      next release (sequence +1) with one reference withdrawn\n"
        "  $ partscreen pack verify refs.pack\n"
        "      would scan accept it here? (exit 0 yes, 2 no, with the reason)\n"
        "  $ partscreen pack diff refs-v6.pack refs-v7.pack\n"
        "      what changed between two releases\n";
    c.exit_codes =
        "  0  done (verify: trusted; diff: same content)\n"
        "  1  diff only: the packs differ\n"
        "  2  an error: a bad option, an unreadable pack, or (verify) a pack scan would refuse\n";
    c.min_positionals = 1;
    c.run = run_pack;
    return c;
  }();
  return spec;
}

const CommandSpec& trust_command() {
  static const CommandSpec spec = [] {
    CommandSpec c;
    c.name = "trust";
    c.summary = "manage the publisher keys whose packs this machine accepts";
    c.usage = "partscreen trust add FILE... | list | remove ID|PUBLISHER|demo";
    c.description =
        std::string(
            "scan accepts a pack only when a key listed here signed it. Always trusted: this\n"
            "machine's own key (it signs 'enroll'). Trusted until you remove it: the demo publisher\n"
            "key that signs models/reference/demo.pack; its secret key is public, so remove it on any\n"
            "real deployment ('trust remove demo'); scans with it say 'demo pack: not for production'.\n"
            "  add FILE...   trust the publisher public keys in FILE... (from 'key generate')\n"
            "  list          the trusted keys: id, source (local, demo, added), publisher\n"
            "  remove X      stop trusting the key with id (or 8+ digit id prefix) X, or publisher X\n") +
        kHomeText;
    c.options = {opt_json("the result as data,")};
    c.examples =
        "  $ partscreen trust add team.key.pub\n"
        "      accept packs signed by that publisher\n"
        "  $ partscreen trust remove demo\n"
        "      production: refuse the demo pack from now on\n";
    c.exit_codes = "  0  done\n  2  a bad option, an unreadable key file, or no such trusted key\n";
    c.min_positionals = 1;
    c.run = run_trust;
    return c;
  }();
  return spec;
}

}  // namespace partscreen::cli

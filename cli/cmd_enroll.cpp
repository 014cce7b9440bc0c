// SPDX-License-Identifier: GPL-3.0-or-later
// `partscreen enroll --out PACK FILE...`: turn reference parts into a signature pack.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli.h"
#include "partscreen/pack.h"
#include "partscreen/trust.h"

namespace partscreen::cli {
namespace {

int run_enroll(const Args& args) {
  const bool json = args.flag("--json");
  const std::string out = args.required("--out");
  std::vector<ReferenceInput> refs;
  if (args.has("--manifest"))
    refs = args.has("--root") ? read_manifest(args.text("--manifest"), args.text("--root")) : read_manifest(args.text("--manifest"));
  for (const std::string& f : args.positionals()) refs.push_back(ReferenceInput{f, "", args.text("--category"), ""});
  if (refs.empty())
    throw Error(ErrorCode::invalid_argument, "enroll", "no reference files: give FILE... or --manifest CSV");
  EnrollOptions options;
  options.load = load_options_from(args);
  options.threads = threads_from(args);
  options.pack_name = args.text("--name", std::filesystem::path(out).stem().string());
  // Signed with this machine's key (created on first use), so `enroll` then `scan` just works.
  const KeyPair key = local_key();
  options.signing_key = &key;
  // Local packs are exempt from rollback checks (docs/packs.md); the time still orders them.
  const char* epoch = std::getenv("SOURCE_DATE_EPOCH");
  options.metadata.sequence = epoch ? std::strtoull(epoch, nullptr, 10) : uint64_t(std::time(nullptr));
  if (!json) std::fprintf(stderr, "enrolling %zu reference%s...\n", refs.size(), refs.size() == 1 ? "" : "s");
  EnrollReport report = enroll(refs, out, options);
  if (json) {
    nlohmann::ordered_json doc;
    doc["pack"] = out;
    doc["bytes"] = report.pack_bytes;
    doc["publisher"] = key.public_key.publisher;
    doc["signed_by"] = key.public_key.id();
    doc["total_ms"] = std::round(report.total_ms);
    auto& list = doc["references"] = nlohmann::ordered_json::array();
    for (const ReferenceInfo& r : report.references)
      list.push_back({{"id", r.id}, {"category", r.category}, {"label", r.label}, {"area_mm2", std::round(r.area_mm2 * 100) / 100},
                      {"keypoints", r.keypoint_count}, {"components", r.component_count}});
    print_json(doc.dump());
    return kExitOk;
  }
  std::printf("%-32s %-14s %10s %12s %s\n", "reference", "category", "keypoints", "area_mm2", "components");
  for (const ReferenceInfo& r : report.references)
    std::printf("%-32s %-14s %10u %12.1f %u\n", r.id.c_str(), r.category.empty() ? "-" : r.category.c_str(), r.keypoint_count,
                r.area_mm2, r.component_count);
  std::printf("\nwrote %s: %zu references, %.1f KiB (%.1f KiB per reference) in %.1f s\n", out.c_str(), report.references.size(),
              double(report.pack_bytes) / 1024.0, double(report.pack_bytes) / 1024.0 / double(report.references.size()),
              report.total_ms / 1000.0);
  std::printf("signed by this machine's key %s ('%s'); other machines need its public key:\n"
              "  partscreen trust add %s/local.pub\n",
              key.public_key.id().substr(0, 16).c_str(), key.public_key.publisher.c_str(), partscreen_home().c_str());
  std::printf("next: partscreen scan --pack %s UPLOAD...\n", out.c_str());
  return kExitOk;
}

}  // namespace

const CommandSpec& enroll_command() {
  static const CommandSpec spec = [] {
    CommandSpec c;
    c.name = "enroll";
    c.summary = "build a signature pack from reference parts";
    c.usage = "partscreen enroll --out PACK [--manifest CSV] [OPTIONS] [FILE...]";
    c.description =
        "Reads each reference part (any format 'info' reads) and stores its signature in PACK: a\n"
        "few hundred sparse keypoints with local shape descriptors per reference, and an index\n"
        "over all of them. The pack holds no triangles and no dense surface, so it can be handed\n"
        "to print services without handing out the parts themselves (docs/packs.md).\n"
        "A reference's id is its file stem unless the manifest names it. The manifest is a CSV\n"
        "file with a header row naming the columns path,id,category,label (any order; paths\n"
        "relative to the manifest's folder). All files of one reference file form one reference\n"
        "(a part made of several bodies is enrolled as one). The pack is written atomically and\n"
        "signed with this machine's key (created on first use in the partscreen home, see\n"
        "'partscreen help key'); to publish it under your organisation's key use 'pack sign'.\n";
    c.options = {opt_out("the pack file to write"), opt_manifest(),
                 OptionSpec{"--root", "DIR", "the manifest's folder", "resolve the manifest's relative paths against DIR"},
                 OptionSpec{"--category", "NAME", "", "category for the FILE arguments (the manifest has its own column)"},
                 OptionSpec{"--name", "NAME", "the file stem of --out", "a name stored in the pack, shown in every scan report"},
                 opt_threads(), opt_json("a JSON summary of the pack,")};
    for (OptionSpec& o : opt_load_limits()) c.options.push_back(o);
    c.examples =
        "  $ partscreen enroll --out demo.pack models/reference/*.stl\n"
        "      one reference per file, ids from the file names\n"
        "  $ partscreen enroll --out refs.pack --manifest refs.csv\n"
        "      ids, categories and labels from a manifest\n";
    c.exit_codes =
        "  0  the pack was written\n"
        "  2  a bad option or a reference that could not be read (nothing is written)\n";
    c.min_positionals = 0;
    c.run = run_enroll;
    return c;
  }();
  return spec;
}

}  // namespace partscreen::cli

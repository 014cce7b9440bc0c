// SPDX-License-Identifier: GPL-3.0-or-later
// `partscreen scan --pack PACK FILE...`: screen one job against a pack.
#include <cmath>
#include <cstdio>
#include <string>

#include "cli.h"
#include "partscreen/report.h"
#include "partscreen/scan.h"
#include "partscreen/trust.h"

namespace partscreen::cli {
namespace {

void print_human(const ScanResult& r, bool all) {
  const char* verdict = verdict_name(r.verdict);
  std::printf("verdict: %s\n", verdict);
  for (const FileReport& f : r.files) {
    if (f.ok)
      std::printf("  file %s: %s, %llu triangles, %u component%s\n", f.path.c_str(), f.format.c_str(),
                  (unsigned long long)f.triangles, f.components, f.components == 1 ? "" : "s");
    else
      std::printf("  file %s: NOT READ (%s: %s)\n", f.path.c_str(), f.error_code.c_str(), f.error.c_str());
  }
  if (r.parts_skipped)
    std::printf("  note: %u of %u parts not screened (specks under 1/1000 of the largest part's size, or beyond the\n"
                "        %s-part limit); scan the large ones separately if that matters\n",
                r.parts_skipped, r.parts_skipped + r.parts_screened, "512");
  size_t hidden = 0;
  for (const Match& m : r.matches) {
    if (!all && m.score < r.review_score) {
      ++hidden;
      continue;
    }
    const char* band = m.score >= r.flag_score ? "FLAGGED" : m.score >= r.review_score ? "review " : "below  ";
    std::printf("\n  %s reference '%s'%s%s%s\n", band, m.reference.c_str(), m.category.empty() ? "" : " [",
                m.category.c_str(), m.category.empty() ? "" : "]");
    if (!m.label.empty() && m.label != m.reference) std::printf("          %s\n", m.label.c_str());
    std::printf("          score %.2f (flag at %.2f, review at %.2f); %.0f%% of the reference's surface found,\n", m.score,
                r.flag_score, r.review_score, 100.0 * m.coverage);
    std::printf("          making up %.0f%% of the carrying part%s\n", 100.0 * m.explained, m.parts.size() == 1 ? "" : "s");
    // Missing surface, by what the upload has there (a reviewer's first question on a partial match).
    if (m.absent >= 0.005 || m.hidden >= 0.005)
      std::printf("          missing: %.0f%% where the upload has open space (lowers the score: another design\n"
                  "          there), %.0f%% inside its material (fused, buried or filled in)\n",
                  100.0 * m.absent, 100.0 * m.hidden);
    if (m.filled_in)
      std::printf("          filled in where the reference stands: the upload adds no material beyond the\n"
                  "          reference's bounding box, so what is deep inside its material lowers the score\n"
                  "          too (another design as likely as a disguise: a person compares the two)\n");
    if (m.wall_mismatch >= 0.005)
      std::printf("          %.0f%% of the reference's thin walls are another thickness here (over 20%% off at\n"
                  "          this scale)%s\n",
                  100.0 * m.wall_mismatch,
                  m.wall_mismatch >= 0.3   ? ": thickened, or stretched across its thickness - not the\n"
                                             "          reference resized, so it is not flagged: a person compares the two"
                  : m.wall_mismatch > 0.1 ? ": the share beyond 10% lowers the score (copies keep their\n"
                                            "          walls; remeshing and noise move up to a tenth of them)"
                                          : "");
    std::printf("          scale %.3f%s, %s\n", m.scale,
                std::fabs(m.scale - 25.4) / 25.4 < 0.1 || std::fabs(m.scale * 25.4 - 1) < 0.1 ? " (an inch/mm unit change)" : "",
                m.mirrored ? "mirrored" : "not mirrored");
    bool reassembled = false;
    for (const MatchPart& p : m.parts) {
      std::printf("          in %s, component %u: %.0f%% of the reference\n", p.file.c_str(), p.component, 100.0 * p.coverage);
      reassembled |= p.reassembled;
    }
    if (reassembled)
      std::printf("          (pieces glued back together where their flat cut faces match: a part cut into\n"
                  "          pieces is screened whole; the scale and placement are the largest piece's)\n");
  }
  if (hidden)
    std::printf("\n  (%zu weaker candidate%s below the review score not shown: --all or --json lists them)\n", hidden,
                hidden == 1 ? "" : "s");
  std::printf("\n%.0f ms (load %.0f, features %.0f, candidates %.0f, verification %.0f), pack '%s'\n", r.timings.total_ms,
              r.timings.load_ms, r.timings.features_ms, r.timings.candidates_ms, r.timings.verify_ms, r.pack_name.c_str());
  std::printf("pack by '%s', sequence %llu, signed by key %s\n", r.pack_publisher.c_str(), (unsigned long long)r.pack_sequence,
              r.pack_signed_by.substr(0, 16).c_str());
  if (!r.pack_note.empty()) std::printf("note: %s\n", r.pack_note.c_str());
  switch (r.verdict) {
    case Verdict::clear: std::printf("next: nothing to do; the job may print.\n"); break;
    case Verdict::review:
      std::printf("next: a person should compare the job with the reference(s) above before it prints.\n");
      break;
    case Verdict::flagged: std::printf("next: do not print; the job holds an enrolled reference part.\n"); break;
    case Verdict::error: std::printf("next: fix or re-export the unreadable file(s) and scan again.\n"); break;
  }
}

int run_scan(const Args& args) {
  const bool json = args.flag("--json");
  // Trust is enforced here, where a pack enters from outside (partscreen/trust.h).
  TrustReport trust;
  Pack pack = load_trusted_pack(args.required("--pack"), TrustOptions{}, &trust);
  for (const std::string& w : trust.warnings) std::fprintf(stderr, "partscreen: warning: %s\n", w.c_str());
  ScanOptions options;
  options.load = load_options_from(args);
  options.threads = threads_from(args);
  options.flag_score = args.number("--flag-score", options.flag_score, 0.0, 1.0);
  options.review_score = args.number("--review-score", options.review_score, 0.0, options.flag_score);
  ScanResult result = scan_files(args.positionals(), pack, options);
  for (const FileReport& f : result.files)
    if (!f.ok) print_error_line(Error(ErrorCode::malformed, f.path, f.error), "scan");
  if (json) print_json(scan_result_json(result));
  else print_human(result, args.flag("--all"));
  switch (result.verdict) {
    case Verdict::clear: return kExitOk;
    case Verdict::review:
    case Verdict::flagged: return kExitFlagged;
    case Verdict::error: return kExitError;
  }
  return kExitError;
}

}  // namespace

const CommandSpec& scan_command() {
  static const CommandSpec spec = [] {
    CommandSpec c;
    c.name = "scan";
    c.summary = "screen a job (one or more files) against a pack";
    c.usage = "partscreen scan --pack PACK [OPTIONS] FILE...";
    c.description =
        "Screens all FILEs together as one job: a reference part cut into pieces spread over\n"
        "several files is assembled from all of them. Each reference found is reported with a\n"
        "score (0..1), the share of its surface found (coverage), the scale and mirroring that\n"
        "map it onto the upload, and the files and components that carry it. Parts are found\n"
        "whole or in pieces, rotated, rescaled (0.5-2x, inch/mm mistakes), mirrored, remeshed,\n"
        "among other parts on a plate, or fused with extra material. A part that is not the\n"
        "reference resized (stretched unevenly, with walls of another thickness, or another\n"
        "design sharing most of it) scores lower; under each match the text output says what\n"
        "of the reference is missing or off.\n"
        "The verdict is 'flagged' when a score reaches --flag-score, 'review' when it reaches\n"
        "--review-score (a person should decide), 'clear' otherwise, and 'error' when a file\n"
        "could not be read (an unread file is never cleared).\n"
        "The pack must be signed by a key in this machine's trust store, unexpired, and not older\n"
        "(sequence number) than the last pack accepted from its publisher; otherwise scan stops\n"
        "with exit 2 and says why ('partscreen help trust', docs/packs.md). Packs you enrolled\n"
        "here are signed with this machine's key and always accepted.\n";
    c.options = {opt_pack(),
                 OptionSpec{"--flag-score", "X", "0.70", "score at which a job is flagged"},
                 OptionSpec{"--review-score", "X", "0.45", "score at which a job goes to human review"},
                 OptionSpec{"--all", "", "", "also list candidates that scored below the review score"},
                 opt_threads(), opt_json("the scan contract's JSON object (README: scan --json),")};
    for (OptionSpec& o : opt_load_limits()) c.options.push_back(o);
    c.examples =
        "  $ partscreen scan --pack models/reference/demo.pack upload.stl\n"
        "      screen one file\n"
        "  $ partscreen scan --pack refs.pack --json part_a.3mf part_b.stl > verdict.json\n"
        "      screen a two-file job; exit code 1 when anything was found\n";
    c.exit_codes =
        "  0  clear\n"
        "  1  flagged or review: see the matches\n"
        "  2  error: a bad option, an unreadable or untrusted pack, or a file that could not be read\n";
    c.min_positionals = 1;
    c.run = run_scan;
    return c;
  }();
  return spec;
}

}  // namespace partscreen::cli

// SPDX-License-Identifier: GPL-3.0-or-later
// `partscreen eval`: test reference parts against a pack (is every disguise caught, does anything
// benign collide) and write report.json and report.html. A thin shell over run_eval().
#include <algorithm>
#include <cstdio>
#include <memory>
#include <filesystem>
#include <map>
#include <string>

#include "cli.h"
#include "partscreen/eval.h"
#include "partscreen/pack.h"

namespace fs = std::filesystem;

namespace partscreen::cli {
namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  return out;
}

// Reference ids are file stems (what `partscreen enroll` gives a file); a repeated stem gets "#2"...
std::vector<EvalReference> references_from(const std::vector<std::string>& files) {
  std::vector<EvalReference> out;
  std::map<std::string, int> seen;
  for (const std::string& f : files) {
    std::string id = fs::path(f).stem().string();
    if (int n = ++seen[id]; n > 1) id += "#" + std::to_string(n);
    out.push_back({id, f});
  }
  return out;
}

Pack enroll_into(const std::vector<EvalReference>& refs, const std::string& path, const Args& args) {
  std::vector<ReferenceInput> inputs;
  for (const EvalReference& r : refs) inputs.push_back(ReferenceInput{r.path, r.id, "eval", ""});
  EnrollOptions eo;
  eo.load = load_options_from(args);
  eo.threads = threads_from(args);
  eo.pack_name = "eval";
  enroll(inputs, path, eo);
  return Pack::open(path);
}

int run_eval_command(const Args& args) {
  const std::string out = args.required("--out");
  const bool collision = args.has("--collision");
  EvalOptions o;
  o.scan.load = load_options_from(args);
  o.scan.threads = threads_from(args);
  o.scan.flag_score = args.number("--flag-score", o.scan.flag_score, 0.0, 1.0);
  o.scan.review_score = args.number("--review-score", o.scan.review_score, 0.0, o.scan.flag_score);
  // Scores down to 0.05 are kept so the distributions show how close the clear ones came.
  o.scan.report_score = 0.05;
  o.seed = args.count("--seed", 1);
  o.cases_per_kind = uint32_t(args.count("--cases-per-kind", 1, 1, 100));
  o.max_new_cases = args.count("--stop-after", 0);
  o.keep_case_files = args.flag("--keep-cases");
  o.cases_dir = out + "/cases";
  o.journal_path = out + "/journal.jsonl";
  if (args.has("--kinds")) o.kinds = split_list(args.text("--kinds"));
  else if (args.flag("--slicers")) {
    o.kinds = eval_default_kinds();
    o.kinds.push_back("gcode_prusa");
    o.kinds.push_back("gcode_cura");
  }
  o.cura_definition = args.text("--cura-definition", PARTSCREEN_CURA_DEFINITION);
  if (!o.cura_definition.empty() && !fs::exists(o.cura_definition)) o.cura_definition.clear();

  std::vector<std::string> distractors = eval_mesh_files(args.required("--distractors"));
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw Error(ErrorCode::io, out, "cannot create the report folder: " + ec.message());

  std::vector<EvalReference> refs;
  Pack pack;
  if (collision) {
    const std::string file = args.text("--collision");
    refs = references_from({file});
    o.distractors_only = true;
    pack = enroll_into(refs, out + "/collision.pack", args);
  } else {
    refs = references_from(eval_mesh_files(args.required("--references")));
    if (refs.empty()) throw Error(ErrorCode::invalid_argument, args.text("--references"), "no mesh or CAD files in this folder");
    pack = args.has("--pack") ? Pack::open(args.text("--pack")) : enroll_into(refs, out + "/references.pack", args);
  }
  // The references themselves are never distractors.
  std::vector<std::string> kept;
  for (const std::string& d : distractors) {
    bool is_ref = false;
    for (const EvalReference& r : refs) is_ref = is_ref || fs::equivalent(d, r.path, ec);
    if (!is_ref) kept.push_back(d);
  }

  std::unique_ptr<Progress> bar;
  o.progress = [&](size_t done, size_t total, const std::string& item) {
    if (!bar) bar = std::make_unique<Progress>(total, true);
    if (done < total) bar->step(item);
    else bar->finish();
  };
  EvalReport report = run_eval(pack, refs, kept, o);
  if (bar) bar->finish();
  write_eval_report(report, out);

  const EvalSummary& s = report.summary;
  if (!report.complete) std::printf("stopped early (--stop-after): run the same command again to finish\n");
  if (report.resumed) std::printf("resumed: %zu finished cases taken from %s\n", report.resumed, o.journal_path.c_str());
  if (!collision) {
    std::printf("references: %zu, cases: %zu (%zu skipped), flagged %.1f%%, review %.1f%%, right reference %.1f%% of flagged\n",
                refs.size(), s.cases, s.skipped, 100.0 * s.detection, s.cases ? 100.0 * double(s.review) / double(s.cases) : 0.0,
                100.0 * s.right_rate);
    for (const EvalKindRow& k : s.by_kind)
      std::printf("  %-16s %3zu cases  flagged %5.1f%%  median score %.2f%s\n", k.kind.c_str(), k.cases,
                  k.cases ? 100.0 * double(k.flagged) / double(k.cases) : 0.0, k.median_score,
                  k.skipped ? ("  (" + std::to_string(k.skipped) + " skipped)").c_str() : "");
  }
  std::printf("distractors: %zu, flagged %zu, review %zu, highest score %.3f\n", s.distractors, s.distractor_flagged,
              s.distractor_review, s.max_distractor_score);
  for (const EvalFalsePositive& f : s.false_positives)
    std::printf("  %s: %s %s (%.3f)\n", f.verdict.c_str(), f.file.c_str(), f.reference.c_str(), f.score);
  if (collision) {
    std::vector<const EvalCase*> top;
    for (const EvalCase& c : report.cases)
      if (c.group == "distractor" && c.verdict == "clear" && c.score > 0) top.push_back(&c);
    std::stable_sort(top.begin(), top.end(), [](const EvalCase* a, const EvalCase* b) { return a->score > b->score; });
    if (!top.empty()) std::printf("closest clear distractors:\n");
    for (size_t i = 0; i < top.size() && i < 5; ++i) std::printf("  %.3f %s\n", top[i]->score, top[i]->files[0].c_str());
  }
  std::printf("latency: p50 %.0f ms, p95 %.0f ms\nreport: %s/report.html, %s/report.json\n", s.latency_p50, s.latency_p95,
              out.c_str(), out.c_str());
  return kExitOk;
}

}  // namespace

const CommandSpec& eval_command() {
  static const CommandSpec spec = [] {
    CommandSpec c;
    c.name = "eval";
    c.summary = "test reference parts: detection under every disguise, collisions with benign parts";
    c.usage =
        "partscreen eval [--pack PACK] --references DIR --distractors DIR --out REPORT_DIR [OPTIONS]\n"
        "       partscreen eval --collision NEW_PART --distractors DIR --out REPORT_DIR";
    c.description =
        "For every reference part in DIR (its id in the pack is the file stem), makes the\n"
        "transformation suite (rigid, scale, inch/mm mistakes, mirror, noise, subdivision,\n"
        "decimation, remeshing, plane cuts into capped pieces over several files, plate packing\n"
        "among distractors, fusion, burying, drilled holes, combinations, STL/3MF/OBJ round trips;\n"
        "with --slicers also G-code from prusa-slicer and CuraEngine), writes each case to\n"
        "REPORT_DIR/cases and scans it; then scans every distractor (everyday benign parts).\n"
        "Writes REPORT_DIR/report.json (every case and the summary tables) and report.html\n"
        "(detection per transformation and per reference, false positives, score distributions,\n"
        "ROC curve, thresholds for chosen false-positive rates, latency, versions).\n"
        "Without --pack the references are enrolled into REPORT_DIR/references.pack.\n"
        "Deterministic for a seed. Every finished case is appended to REPORT_DIR/journal.jsonl:\n"
        "after a crash or Ctrl-C, the same command resumes where it stopped.\n"
        "--collision NEW_PART: enrolls one new part alone and scans the distractors against it,\n"
        "listing the benign parts it would flag or send to review and how close the others came.\n";
    c.options = {opt_pack(),
                 OptionSpec{"--references", "DIR", "", "folder of the reference parts' mesh or CAD files"},
                 OptionSpec{"--distractors", "DIR", "", "folder of benign parts that must stay clear"},
                 OptionSpec{"--collision", "FILE", "", "collision mode: one new reference against the distractors alone"},
                 opt_out("report.json, report.html, the journal and the case files (a folder)"),
                 OptionSpec{"--seed", "N", "1", "random seed of the suite (same seed, same cases, same verdicts)"},
                 OptionSpec{"--kinds", "LIST", "all but G-code", "comma-separated case kinds (see 'partscreen help eval')"},
                 OptionSpec{"--cases-per-kind", "N", "1", "cases per reference and kind, each with its own seed"},
                 OptionSpec{"--slicers", "", "off", "add G-code cases sliced by prusa-slicer and CuraEngine"},
                 OptionSpec{"--cura-definition", "JSON", "the test printer", "CuraEngine machine definition for gcode_cura"},
                 OptionSpec{"--keep-cases", "", "off", "keep every case's files in REPORT_DIR/cases (else deleted once scanned)"},
                 OptionSpec{"--stop-after", "N", "0 = no limit", "stop after N new cases (a later run resumes)"},
                 OptionSpec{"--flag-score", "X", "0.70", "score at which a job is flagged"},
                 OptionSpec{"--review-score", "X", "0.45", "score at which a job goes to review"},
                 opt_threads()};
    for (OptionSpec& o : opt_load_limits()) c.options.push_back(o);
    std::string kinds;
    for (const std::string& k : eval_kind_names()) kinds += (kinds.empty() ? "" : ", ") + k;
    c.description += "Kinds: " + kinds + ".\n";
    c.examples =
        "  $ partscreen eval --pack refs.pack --references refs/ --distractors benign/ --out report/\n"
        "      the whole suite; open report/report.html\n"
        "  $ partscreen eval --references refs/ --distractors benign/ --slicers --seed 7 --out r7/\n"
        "      enroll refs/ first, add G-code cases, another seed\n"
        "  $ partscreen eval --collision new_part.stl --distractors benign/ --out collide/\n"
        "      would this new reference collide with everyday parts?\n";
    c.exit_codes =
        "  0  the report was written\n"
        "  2  a bad option, an unreadable folder or pack, a reference missing from the pack\n";
    c.run = run_eval_command;
    return c;
  }();
  return spec;
}

}  // namespace partscreen::cli

// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The CLI's small framework: a command is a CommandSpec (name, help text, options) plus one
// function taking the parsed Args. main.cpp holds the dispatch table; each command lives in its
// own cmd_<name>.cpp. Everything here is a thin shell over the core's public API.
#include <cstdint>
#include <string>
#include <vector>

#include "partscreen/error.h"
#include "partscreen/io.h"

namespace partscreen::cli {

// Exit codes shared by every command (documented in README "Exit codes").
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 2;  // bad option, unreadable file, any partscreen::Error
inline constexpr int kExitFlagged = 1;  // scan: the verdict is "flagged" or "review"
// A command may define more (e.g. scan: a code for "flagged"); add them here so they stay unique.

struct OptionSpec {
  std::string name;          // "--pack"
  std::string value_name;    // "PACK"; empty for a flag such as --json
  std::string default_text;  // shown as "(default: ...)"; empty when required or obvious
  std::string help;          // one sentence; wrapped by the help renderer
};

class Args;

struct CommandSpec {
  std::string name;         // "info"
  std::string summary;      // one line for `partscreen --help`
  std::string usage;        // "partscreen info [OPTIONS] FILE..."
  std::string description;  // paragraphs, pre-wrapped at 80 columns
  std::vector<OptionSpec> options;
  std::string examples;     // pre-wrapped lines, each "  $ partscreen ..." plus a comment line
  std::string exit_codes;   // pre-wrapped lines
  size_t min_positionals = 0;
  int (*run)(const Args& args) = nullptr;
};

// Parsed command line of one command. Option errors are partscreen::Error with
// ErrorCode::invalid_argument and the option's name in the file slot, so they print as
// "partscreen: --threads: expected a whole number, got 'x'".
class Args {
public:
  Args(const CommandSpec& command, const std::vector<std::string>& argv);  // argv after the command name

  const CommandSpec& command() const { return *command_; }
  bool help_requested() const { return help_; }
  bool flag(const std::string& name) const;                       // a flag was given
  bool has(const std::string& name) const;                        // an option with a value was given
  std::string text(const std::string& name, const std::string& fallback = "") const;
  std::string required(const std::string& name) const;            // throws when missing
  uint64_t count(const std::string& name, uint64_t fallback, uint64_t min = 0, uint64_t max = UINT64_MAX) const;
  uint64_t bytes(const std::string& name, uint64_t fallback) const;  // accepts K, M, G (binary) suffixes
  double number(const std::string& name, double fallback, double min, double max) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

private:
  const OptionSpec* find(const std::string& name) const;
  const CommandSpec* command_;
  std::vector<std::pair<std::string, std::string>> values_;  // name -> value ("" for flags); last wins
  std::vector<std::string> positionals_;
  bool help_ = false;
};

// ---- Options several commands share: use these so names, value names and defaults agree. ----
OptionSpec opt_json(const std::string& what);                // --json
OptionSpec opt_threads();                                    // --threads N (0: all cores)
OptionSpec opt_pack();                                       // --pack PACK
OptionSpec opt_out(const std::string& what);                 // --out PATH
OptionSpec opt_manifest();                                   // --manifest CSV
std::vector<OptionSpec> opt_load_limits();                   // --max-bytes, --max-triangles
LoadOptions load_options_from(const Args& args);             // LoadOptions{} with the limits applied
uint32_t threads_from(const Args& args);                     // --threads, 0 when absent

// ---- Output ----
std::string render_help(const CommandSpec& command);
// What to do next for an error, or "" when nothing obvious; `command` names the help to suggest.
std::string hint_for(const Error& error, const std::string& command);
// One line on stderr: "partscreen: FILE: reason (hint)". With json, the caller decides where the
// {"error": ...} object goes (alone, or inside the command's document): see error_object().
void print_error_line(const Error& error, const std::string& command);
// error_json() plus a "hint" member, as a compact JSON string.
std::string error_object(const Error& error, const std::string& command);
// Pretty-prints a JSON document (parsed from `compact`) to stdout with a trailing newline.
void print_json(const std::string& compact);

// A one-line progress bar on stderr, drawn only when stderr is a terminal, the caller allows it
// (not with --json) and there are more than a few items. clear() before printing anything else.
class Progress {
public:
  Progress(size_t total, bool allowed);
  ~Progress();
  void step(const std::string& item);  // call before starting item i (advances the counter)
  void clear();
  void finish();

private:
  size_t total_;
  size_t done_ = 0;
  bool enabled_;
  bool drawn_ = false;
};

// The command table lives in main.cpp; commands use it only to name themselves in hints.
const std::vector<const CommandSpec*>& commands();

// ---- Commands (one function returning its spec per cmd_<name>.cpp) ----
const CommandSpec& info_command();
const CommandSpec& enroll_command();
const CommandSpec& scan_command();
const CommandSpec& variant_command();
const CommandSpec& serve_command();
const CommandSpec& eval_command();

const CommandSpec& key_command();    // cmd_trust.cpp
const CommandSpec& pack_command();   // cmd_trust.cpp
const CommandSpec& trust_command();  // cmd_trust.cpp

}  // namespace partscreen::cli

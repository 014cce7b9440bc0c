// SPDX-License-Identifier: GPL-3.0-or-later
// Option parsing, shared options and help rendering for every command.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "cli.h"

namespace partscreen::cli {
namespace {

Error usage(const std::string& what, const std::string& reason) {
  return Error(ErrorCode::invalid_argument, what, reason);
}

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// Greedy word wrap of `text` into lines of at most `width` columns, the first line already
// holding `indent` columns and the following ones indented by `indent` spaces.
std::string wrap(const std::string& text, size_t indent, size_t width) {
  std::istringstream words(text);
  std::string word, out;
  size_t column = indent;
  bool first = true;
  while (words >> word) {
    if (!first && column + 1 + word.size() > width) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
      first = true;
    }
    if (!first) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    first = false;
  }
  return out;
}

}  // namespace

Args::Args(const CommandSpec& command, const std::vector<std::string>& argv) : command_(&command) {
  bool options_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      positionals_.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      help_ = true;
      continue;
    }
    std::string name = a, value;
    bool inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_value = true;
    }
    const OptionSpec* spec = find(name);
    if (!spec) throw usage(name, "unknown option for '" + command.name + "'");
    if (spec->value_name.empty()) {
      if (inline_value) throw usage(name, "takes no value");
      values_.emplace_back(name, "");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argv.size()) throw usage(name, "needs a value: " + name + " " + spec->value_name);
      value = argv[++i];
    }
    values_.emplace_back(name, value);
  }
  if (!help_ && positionals_.size() < command.min_positionals)
    throw usage(command.name, "missing argument: usage: " + command.usage);
}

const OptionSpec* Args::find(const std::string& name) const {
  for (const OptionSpec& o : command_->options)
    if (o.name == name) return &o;
  return nullptr;
}

bool Args::flag(const std::string& name) const { return has(name); }

bool Args::has(const std::string& name) const {
  for (const auto& [n, v] : values_)
    if (n == name) return true;
  return false;
}

std::string Args::text(const std::string& name, const std::string& fallback) const {
  std::string out = fallback;
  for (const auto& [n, v] : values_)
    if (n == name) out = v;  // the last one wins, as in most Unix tools
  return out;
}

std::string Args::required(const std::string& name) const {
  if (!has(name)) {
    const OptionSpec* spec = find(name);
    throw usage(name, "is required: " + name + " " + (spec ? spec->value_name : std::string("VALUE")));
  }
  return text(name);
}

uint64_t Args::count(const std::string& name, uint64_t fallback, uint64_t min, uint64_t max) const {
  if (!has(name)) return fallback;
  const std::string v = text(name);
  errno = 0;
  const unsigned long long n = all_digits(v) ? std::strtoull(v.c_str(), nullptr, 10) : 0;
  if (!all_digits(v) || errno == ERANGE) throw usage(name, "expected a whole number, got '" + v + "'");
  if (n < min || n > max)
    throw usage(name, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + v);
  return n;
}

uint64_t Args::bytes(const std::string& name, uint64_t fallback) const {
  if (!has(name)) return fallback;
  std::string v = text(name);
  int shift = 0;
  if (!v.empty()) {
    switch (v.back()) {
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      default: break;
    }
  }
  const std::string digits = shift ? v.substr(0, v.size() - 1) : v;
  errno = 0;
  const unsigned long long n = all_digits(digits) ? std::strtoull(digits.c_str(), nullptr, 10) : 0;
  if (!all_digits(digits) || errno == ERANGE || (shift && n > (UINT64_MAX >> shift)))
    throw usage(name, "expected a size in bytes such as 1048576, 512K, 64M or 2G, got '" + v + "'");
  return uint64_t(n) << shift;
}

double Args::number(const std::string& name, double fallback, double min, double max) const {
  if (!has(name)) return fallback;
  const std::string v = text(name);
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(d))
    throw usage(name, "expected a number, got '" + v + "'");
  if (d < min || d > max) {
    std::ostringstream s;
    s << "must be between " << min << " and " << max << ", got " << v;
    throw usage(name, s.str());
  }
  return d;
}

// ---- Shared options ----

OptionSpec opt_json(const std::string& what) {
  return {"--json", "", "off",
          "print " + what + " on stdout instead of text; errors become {\"error\": {...}} objects in it"};
}

OptionSpec opt_threads() {
  return {"--threads", "N", "0 = all cores", "worker threads"};
}

OptionSpec opt_pack() {
  return {"--pack", "PACK", "", "signature pack file (made by 'partscreen enroll')"};
}

OptionSpec opt_out(const std::string& what) {
  return {"--out", "PATH", "", "where to write " + what + " (written to a temporary file, then renamed)"};
}

OptionSpec opt_manifest() {
  return {"--manifest", "CSV", "",
          "CSV file with a header row naming path,id,category,label; relative paths are taken from the "
          "CSV's folder"};
}

// 536870912 -> "512M": the shortest exact spelling, in the suffixes --max-bytes accepts.
static std::string size_text(uint64_t n) {
  if (n == 0) return "0";
  for (auto [shift, suffix] : {std::pair<int, const char*>{30, "G"}, {20, "M"}, {10, "K"}})
    if (n % (uint64_t(1) << shift) == 0) return std::to_string(n >> shift) + suffix;
  return std::to_string(n);
}

std::vector<OptionSpec> opt_load_limits() {
  const LoadOptions d;
  return {
      {"--max-bytes", "N", size_text(d.max_file_bytes),
       "refuse a file larger than N bytes before reading it (K, M, G suffixes allowed)"},
      {"--max-triangles", "N", std::to_string(d.max_triangles), "refuse a file with more than N triangles"},
  };
}

LoadOptions load_options_from(const Args& args) {
  LoadOptions o;  // options a command does not offer are never present, so the defaults stay
  o.max_file_bytes = args.bytes("--max-bytes", o.max_file_bytes);
  o.max_triangles = args.count("--max-triangles", o.max_triangles, 1);
  return o;
}

uint32_t threads_from(const Args& args) { return uint32_t(args.count("--threads", 0, 0, 1024)); }

// ---- Help ----

std::string render_help(const CommandSpec& c) {
  std::string out = "partscreen " + c.name + " - " + c.summary + "\n\nUsage:\n  " + c.usage + "\n\n" +
                    c.description;
  if (!c.description.empty() && c.description.back() != '\n') out += '\n';
  out += "\nOptions:\n";
  constexpr size_t kColumn = 24;
  std::vector<OptionSpec> all = c.options;
  all.push_back({"-h, --help", "", "", "show this help and exit"});
  for (const OptionSpec& o : all) {
    std::string left = "  " + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
    // \x1f keeps "(default: X)" on one line through the wrap.
    std::string text = o.help + (o.default_text.empty() ? "" : " (default:\x1f" + o.default_text + ")");
    if (left.size() + 2 > kColumn) {
      out += left + "\n" + std::string(kColumn, ' ');
    } else {
      out += left + std::string(kColumn - left.size(), ' ');
    }
    std::string wrapped = wrap(text, kColumn, 80);
    std::replace(wrapped.begin(), wrapped.end(), '\x1f', ' ');
    out += wrapped + "\n";
  }
  if (!c.examples.empty()) out += "\nExamples:\n" + c.examples;
  if (!out.empty() && out.back() != '\n') out += '\n';
  if (!c.exit_codes.empty()) out += "\nExit codes:\n" + c.exit_codes;
  if (!out.empty() && out.back() != '\n') out += '\n';
  return out;
}

}  // namespace partscreen::cli

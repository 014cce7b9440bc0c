// SPDX-License-Identifier: GPL-3.0-or-later
// partscreen: the command-line program. Dispatches to one function per command (cmd_<name>.cpp);
// everything it does goes through the core's public API.
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "cli.h"
#include "partscreen/version.h"

namespace partscreen::cli {

// The dispatch table: `partscreen --help` lists commands in this order.
const std::vector<const CommandSpec*>& commands() {
  static const std::vector<const CommandSpec*> table = {
      &scan_command(),
      &enroll_command(),
      &info_command(),
      &variant_command(),
      &serve_command(),
      &eval_command(),

      &pack_command(),
      &trust_command(),
      &key_command(),
  };
  return table;
}

namespace {

const CommandSpec* find_command(const std::string& name) {
  for (const CommandSpec* c : commands())
    if (c->name == name) return c;
  return nullptr;
}

std::string command_names() {
  std::string out;
  for (const CommandSpec* c : commands()) out += (out.empty() ? "" : ", ") + c->name;
  return out;
}

void print_main_help() {
  std::printf(
      "partscreen %s - screen meshes, CAD files and G-code against signature packs of\n"
      "enrolled reference parts\n"
      "\n"
      "Usage:\n"
      "  partscreen COMMAND [OPTIONS] [ARGS...]\n"
      "  partscreen help COMMAND      show what COMMAND does, its options and examples\n"
      "  partscreen --version         print the version and exit\n"
      "\n"
      "Commands:\n",
      version_string());
  for (const CommandSpec* c : commands()) std::printf("  %-10s %s\n", c->name.c_str(), c->summary.c_str());
  std::printf(
      "\n"
      "Start with:\n"
      "  $ partscreen enroll --out refs.pack reference_a.stl reference_b.step\n"
      "      turn reference parts into a signature pack (no printable geometry is stored)\n"
      "  $ partscreen scan --pack refs.pack upload.3mf\n"
      "      screen a job: clear, review or flagged, with what matched and where\n"
      "  $ partscreen info part.stl\n"
      "      check what partscreen reads from a file (format, triangles, components, sizes)\n"
      "\n"
      "Exit codes:\n"
      "  0  success (scan: clear)\n"
      "  1  scan only: flagged or review\n"
      "  2  any error: a bad option or an unreadable file; one line on stderr says which and why\n"
      "\n"
      "Every command accepts --help. Documentation: README.md.\n");
}

// argv[i] == "--json" anywhere: errors found before the command's own parsing still honour it.
bool wants_json(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) return false;
    if (std::strcmp(argv[i], "--json") == 0) return true;
  }
  return false;
}

int fail(const Error& e, const std::string& command, bool json) {
  print_error_line(e, command);
  if (json) print_json(error_object(e, command));
  return kExitError;
}

int dispatch(int argc, char** argv) {
  const bool json = wants_json(argc, argv);
  if (argc < 2) {
    return fail(Error(ErrorCode::invalid_argument, "", "no command given: try 'partscreen info FILE'"), "", json);
  }
  const std::string first = argv[1];
  if (first == "--help" || first == "-h") {
    print_main_help();
    return kExitOk;
  }
  if (first == "--version" || first == "-V") {
    std::printf("partscreen %s\n", version_string());
    return kExitOk;
  }
  if (first == "help") {
    if (argc < 3) {
      print_main_help();
      return kExitOk;
    }
    const CommandSpec* c = find_command(argv[2]);
    if (!c)
      return fail(Error(ErrorCode::invalid_argument, argv[2], "unknown command; commands: " + command_names()),
                  "", json);
    std::fputs(render_help(*c).c_str(), stdout);
    return kExitOk;
  }
  const CommandSpec* command = find_command(first);
  if (!command) {
    const char* why = first.rfind("-", 0) == 0 ? "unknown option; options go after the command"
                                                : "unknown command";
    return fail(Error(ErrorCode::invalid_argument, first, std::string(why) + "; commands: " + command_names()), "",
                json);
  }
  try {
    const Args args(*command, std::vector<std::string>(argv + 2, argv + argc));
    if (args.help_requested()) {
      std::fputs(render_help(*command).c_str(), stdout);
      return kExitOk;
    }
    return command->run(args);
  } catch (const Error& e) {
    return fail(e, command->name, json);
  } catch (const std::bad_alloc&) {
    return fail(Error(ErrorCode::limit_exceeded, "", "out of memory (lower --max-triangles or --max-bytes)"),
                command->name, json);
  } catch (const std::exception& e) {
    return fail(Error(ErrorCode::internal, "", e.what()), command->name, json);
  }
}

}  // namespace
}  // namespace partscreen::cli

int main(int argc, char** argv) { return partscreen::cli::dispatch(argc, argv); }

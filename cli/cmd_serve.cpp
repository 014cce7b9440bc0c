// SPDX-License-Identifier: GPL-3.0-or-later
// partscreen serve: the HTTP/JSON screening service (service/), and its token administration.
#include <cstdio>

#include "cli.h"
#include "service.h"

namespace partscreen::cli {
namespace {

int run_serve(const Args& args) {
  const std::string data = args.required("--data");
  const auto& pos = args.positionals();
  if (!pos.empty()) {
    if (pos.size() != 3 || pos[0] != "token" || pos[1] != "create")
      throw Error(ErrorCode::invalid_argument, pos[0], "expected 'token create NAME' or no arguments");
    service::TokenSpec spec;
    spec.name = pos[2];
    spec.role = args.text("--role", spec.role);
    spec.jobs_per_day = args.count("--jobs-per-day", spec.jobs_per_day, 1);
    spec.bytes_per_day = args.bytes("--bytes-per-day", spec.bytes_per_day);
    const std::string secret = service::create_token(data, spec);
    std::printf("%s\n", secret.c_str());
    std::fprintf(stderr, "token '%s' (%s) created; the secret above is shown once, only its hash is stored\n",
                 spec.name.c_str(), spec.role.c_str());
    return kExitOk;
  }
  service::ServiceOptions o;
  o.data_dir = data;
  o.pack_path = args.required("--pack");
  const std::string listen = args.text("--listen", "127.0.0.1:8080");
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw Error(ErrorCode::invalid_argument, "--listen", "expected HOST:PORT, got '" + listen + "'");
  o.host = listen.substr(0, colon);
  o.port = int(std::stoul("0" + listen.substr(colon + 1)));
  if (o.port > 65535) throw Error(ErrorCode::invalid_argument, "--listen", "port out of range");
  o.web_dir = args.text("--web", PARTSCREEN_WEB_DIR);
  o.workers = uint32_t(args.count("--workers", o.workers, 1, 256));
  o.max_queue = uint32_t(args.count("--queue", o.max_queue, 1, 1'000'000));
  o.http_threads = uint32_t(args.count("--http-threads", o.http_threads, 4, 4096));
  o.max_request_bytes = args.bytes("--max-request", o.max_request_bytes);
  o.max_sync_bytes = args.bytes("--max-sync", o.max_sync_bytes);
  o.max_files = uint32_t(args.count("--max-files", o.max_files, 1, 10'000));
  o.job_timeout_seconds = args.number("--job-timeout", o.job_timeout_seconds, 0.01, 86400.0);
  o.max_wait_seconds = args.number("--max-wait", o.max_wait_seconds, 0.0, 3600.0);
  o.upload_seconds = args.number("--upload-timeout", o.upload_seconds, 0.5, 3600.0);
  o.read_timeout_seconds = args.number("--read-timeout", o.read_timeout_seconds, 1.0, 600.0);
  o.window_seconds = args.number("--window-days", o.window_seconds / 86400.0, 0.0, 3650.0) * 86400.0;
  o.webhook_attempts = uint32_t(args.count("--webhook-attempts", o.webhook_attempts, 1, 100));
  o.scan.load = load_options_from(args);
  o.scan.threads = threads_from(args);
  o.scan.flag_score = args.number("--flag-score", o.scan.flag_score, 0.0, 1.0);
  o.scan.review_score = args.number("--review-score", o.scan.review_score, 0.0, o.scan.flag_score);
  return service::run_server(o);
}

}  // namespace

const CommandSpec& serve_command() {
  static const CommandSpec spec = [] {
    CommandSpec c;
    c.name = "serve";
    c.summary = "run the HTTP screening service (jobs, review page, audit log)";
    c.usage = "partscreen serve --data DIR --pack PACK [OPTIONS]\n"
              "       partscreen serve --data DIR token create NAME [--role reviewer]";
    c.description =
        "Runs an HTTP/JSON service: POST /jobs (multipart files or a zip) answers 202 with a job\n"
        "id; GET /jobs/ID[?wait=S] gives its state and the scan's JSON (as 'scan --json');\n"
        "POST /scan waits for small jobs. A webhook URL (form field or ?webhook=) is POSTed\n"
        "the job when it finishes. Jobs, results, review decisions and an append-only audit\n"
        "log are kept in DIR/state.sqlite; uploads in DIR/uploads. A job accepted (202)\n"
        "survives kill -9: it runs again at the next start and is recorded once.\n"
        "Pieces of one reference uploaded by one token in separate jobs within --window-days\n"
        "add up (cumulative screening). The review page is at /review/ (reviewer token).\n"
        "'token create NAME' prints a new API token (only its hash is stored).\n";
    c.options = {
        OptionSpec{"--data", "DIR", "", "folder for the database and stored uploads (created)"},
        opt_pack(),
        OptionSpec{"--listen", "HOST:PORT", "127.0.0.1:8080", "address to listen on (port 0: any free port)"},
        OptionSpec{"--workers", "N", "1", "jobs scanned at once"},
        OptionSpec{"--queue", "N", "64", "accepted jobs waiting at most; beyond, 429 with Retry-After"},
        OptionSpec{"--http-threads", "N", "64", "connections served at once"},
        OptionSpec{"--max-request", "BYTES", "64M", "largest request body (413 beyond)"},
        OptionSpec{"--max-sync", "BYTES", "8M", "largest request body for POST /scan"},
        OptionSpec{"--max-files", "N", "16", "files per job, zip members included"},
        OptionSpec{"--job-timeout", "SECONDS", "300", "a job scanning longer fails with 'timeout'"},
        OptionSpec{"--max-wait", "SECONDS", "60", "longest a request waits for a verdict (POST /scan, ?wait=)"},
        OptionSpec{"--upload-timeout", "SECONDS", "60", "a request body must arrive within this"},
        OptionSpec{"--read-timeout", "SECONDS", "5", "close a connection silent for this long"},
        OptionSpec{"--window-days", "DAYS", "30", "how far back cumulative screening adds up an account's jobs"},
        OptionSpec{"--webhook-attempts", "N", "5", "webhook deliveries tried per job (exponential backoff)"},
        OptionSpec{"--web", "DIR", "", "review page folder (default: the source tree's service/web)"},
        OptionSpec{"--flag-score", "X", "0.70", "score at which a job is flagged"},
        OptionSpec{"--review-score", "X", "0.45", "score at which a job goes to human review"},
        OptionSpec{"--role", "ROLE", "client", "token create: client, or reviewer (may also decide in the review queue)"},
        OptionSpec{"--jobs-per-day", "N", "10000", "token create: jobs per 24 hours"},
        OptionSpec{"--bytes-per-day", "BYTES", "10G", "token create: upload bytes per 24 hours"},
        opt_threads()};
    for (OptionSpec& o : opt_load_limits()) c.options.push_back(o);
    c.examples =
        "  $ partscreen serve --data /var/lib/partscreen token create shop --role client\n"
        "      print a new API token for the account 'shop'\n"
        "  $ partscreen serve --data /var/lib/partscreen --pack refs.pack --listen 127.0.0.1:8080\n"
        "      run the service\n"
        "  $ curl -H 'Authorization: Bearer TOKEN' -F file=@part.stl 'http://127.0.0.1:8080/jobs?wait=30'\n"
        "      screen an upload and wait up to 30 s for the verdict\n";
    c.exit_codes =
        "  0  stopped by SIGINT/SIGTERM, or the token was created\n"
        "  2  could not start (bad option, unreadable pack, port in use)\n";
    c.run = run_serve;
    return c;
  }();
  return spec;
}

}  // namespace partscreen::cli

// SPDX-License-Identifier: GPL-3.0-or-later
// The screening service: HTTP front (cpp-httplib), durable job queue (SQLite, store.h), scan
// workers over the core's public API, cumulative screening per account, webhooks, review API.
//
// Durability contract: the upload's bytes are fsync'ed under data_dir/uploads/<job>/ and the
// job row committed (WAL, synchronous=FULL) before 202 is sent. A worker claims a job with
// state queued -> running and records its result with running -> done in one transaction with
// the audit row, so a job interrupted by kill -9 is re-queued at start and recorded exactly once.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "partscreen/error.h"
#include "partscreen/io.h"
#include "partscreen/pack.h"
#include "partscreen/report.h"
#include "partscreen/scan.h"
#include "partscreen/trust.h"
#include "partscreen/version.h"
#include "service.h"
#include "store.h"

namespace partscreen::service {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

struct Account {
  int64_t id = 0;
  std::string name;
  std::string role;
  int64_t jobs_per_day = 0;
  int64_t bytes_per_day = 0;
};

struct Upload {
  std::string name;
  std::string bytes;
};

// A request the client got wrong: becomes {"error": {...}} with an HTTP status.
struct HttpError {
  int status;
  std::string code;
  std::string reason;
  int retry_after = 0;
};

std::string token_hash(const std::string& secret) { return blake2b_hex(secret.data(), secret.size()); }

// Upload names end up in file names and reports: keep the base name's safe characters only.
std::string safe_name(const std::string& raw) {
  std::string base = raw;
  if (auto slash = base.find_last_of("/\\"); slash != std::string::npos) base = base.substr(slash + 1);
  std::string out;
  for (char c : base)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') out += c;
  while (!out.empty() && out[0] == '.') out.erase(0, 1);
  if (out.size() > 100) out = out.substr(out.size() - 100);
  return out.empty() ? "upload" : out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && std::equal(suffix.rbegin(), suffix.rend(), s.rbegin(),
                                                 [](char a, char b) { return std::tolower(a) == std::tolower(b); });
}

// Expands a zip upload with the same caps the core applies to 3MF containers: members, total
// decompressed bytes, per-member ratio; sizes are not trusted (reads stop one byte past them).
std::vector<Upload> expand_zip(const Upload& zip, uint32_t max_files, uint64_t max_total, double max_ratio) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(zip.bytes.data(), zip.bytes.size(), 0, &err);
  if (!src) throw HttpError{400, "malformed", zip.name + ": cannot read the zip"};
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY, &err);
  if (!za) {
    zip_source_free(src);
    throw HttpError{400, "malformed", zip.name + ": not a readable zip archive"};
  }
  std::vector<Upload> out;
  uint64_t total = 0;
  try {
    const zip_int64_t n = zip_get_num_entries(za, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
      zip_stat_t st;
      zip_stat_init(&st);
      if (zip_stat_index(za, i, 0, &st) != 0 || !st.name) continue;
      const std::string name = st.name;
      if (name.empty() || name.back() == '/' || name.rfind("__MACOSX/", 0) == 0) continue;
      if (out.size() >= max_files)
        throw HttpError{413, "limit_exceeded", zip.name + ": more than " + std::to_string(max_files) + " files"};
      if ((st.valid & ZIP_STAT_SIZE) && (st.valid & ZIP_STAT_COMP_SIZE) && st.size > 0 &&
          double(st.size) > max_ratio * std::max<double>(1.0, double(st.comp_size)))
        throw HttpError{413, "limit_exceeded", zip.name + ": " + name + " expands more than the allowed ratio"};
      zip_file_t* f = zip_fopen_index(za, i, 0);
      if (!f) throw HttpError{400, "malformed", zip.name + ": cannot open member " + name};
      Upload u{safe_name(name), {}};
      char buf[65536];
      zip_int64_t got;
      while ((got = zip_fread(f, buf, sizeof buf)) > 0) {
        total += uint64_t(got);
        if (total > max_total) {
          zip_fclose(f);
          throw HttpError{413, "limit_exceeded",
                          zip.name + ": expands beyond " + std::to_string(max_total) + " bytes"};
        }
        u.bytes.append(buf, size_t(got));
      }
      zip_fclose(f);
      if (got < 0) throw HttpError{400, "malformed", zip.name + ": member " + name + " is corrupt"};
      out.push_back(std::move(u));
    }
  } catch (...) {
    zip_discard(za);
    throw;
  }
  zip_discard(za);
  if (out.empty()) throw HttpError{400, "empty", zip.name + ": the zip holds no files"};
  return out;
}

void write_durably(const fs::path& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw Error(ErrorCode::io, path.string(), std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      ::close(fd);
      throw Error(ErrorCode::io, path.string(), std::strerror(errno));
    }
    done += size_t(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) throw Error(ErrorCode::io, path.string(), "fsync failed");
}

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

int severity(const std::string& verdict) {
  if (verdict == "flagged") return 3;
  if (verdict == "error") return 2;
  if (verdict == "review") return 1;
  return 0;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    default: return status >= 500 ? "Internal Server Error" : "Error";
  }
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& res, const HttpError& e) {
  if (e.retry_after > 0) res.set_header("Retry-After", std::to_string(e.retry_after));
  send_json(res, e.status, json{{"error", json{{"code", e.code}, {"reason", e.reason}}}});
}

// Prometheus histogram of scan wall time.
struct Histogram {
  static constexpr std::array<double, 10> kBounds{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
  std::array<std::atomic<uint64_t>, 11> counts{};
  std::atomic<uint64_t> sum_us{0};
  void observe(double s) {
    size_t i = 0;
    while (i < kBounds.size() && s > kBounds[i]) ++i;
    ++counts[i];
    sum_us += uint64_t(s * 1e6);
  }
};

class Service {
public:
  explicit Service(const ServiceOptions& o)
      : opt_(o), pack_(load_trusted_pack(o.pack_path)), db_((fs::path(o.data_dir) / "state.sqlite").string()) {
    uploads_ = fs::path(o.data_dir) / "uploads";
    fs::create_directories(uploads_);
    // The CLI's JSON lists matches from its report_score up; the service asks the engine for weaker
    // ones too because a small piece is exactly what cumulative screening adds up, and filters the
    // reported list back to the CLI's.
    report_score_ = opt_.scan.report_score;
    scan_options_ = opt_.scan;
    scan_options_.report_score = std::min(0.05, report_score_);
    scan_options_.load.max_seconds = std::min(scan_options_.load.max_seconds, opt_.job_timeout_seconds);
    recover();
  }

  void run() {
    httplib::Server svr;
    const size_t http_threads = opt_.http_threads;
    svr.new_task_queue = [http_threads] { return new httplib::ThreadPool(http_threads); };
    svr.set_payload_max_length(opt_.max_request_bytes);
    svr.set_read_timeout(time_t(opt_.read_timeout_seconds), 0);
    svr.set_write_timeout(30, 0);
    svr.set_keep_alive_timeout(5);
    routes(svr);

    int port = opt_.port;
    if (port == 0) {
      port = svr.bind_to_any_port(opt_.host);
      if (port <= 0) throw Error(ErrorCode::io, opt_.host, "cannot listen on any port");
    } else if (!svr.bind_to_port(opt_.host, port)) {
      throw Error(ErrorCode::io, opt_.host + ":" + std::to_string(port), "cannot listen (port in use?)");
    }

    std::vector<std::thread> threads;
    for (uint32_t i = 0; i < std::max<uint32_t>(1, opt_.workers); ++i) threads.emplace_back([this] { worker(); });
    threads.emplace_back([this] { watchdog(); });
    threads.emplace_back([this] { webhooks(); });
    std::thread signals([this, &svr] {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGINT);
      sigaddset(&set, SIGTERM);
      sigaddset(&set, SIGUSR1);  // sent by ourselves to end this thread on a failed listen
      int sig = 0;
      sigwait(&set, &sig);
      std::fprintf(stderr, "partscreen serve: stopping (signal %d); queued jobs stay queued\n", sig);
      stop_requested_ = true;
      svr.stop();
    });

    std::printf("partscreen serve: listening on http://%s:%d (pack %s, %zu references, data %s)\n",
                opt_.host.c_str(), port, pack_.name().c_str(), pack_.reference_count(), opt_.data_dir.c_str());
    std::fflush(stdout);
    svr.listen_after_bind();

    if (!stop_requested_) pthread_kill(signals.native_handle(), SIGUSR1);
    signals.join();
    {
      std::lock_guard<std::mutex> l(mutex_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    webhook_cv_.notify_all();
    watchdog_cv_.notify_all();
    for (auto& t : threads) t.join();
  }

private:
  // ---------------------------------------------------------------- startup recovery
  void recover() {
    std::lock_guard<std::recursive_mutex> l(db_.mutex());
    // Jobs that were running when the process died run again (their result was never committed).
    Stmt(db_.handle(), "UPDATE jobs SET state='queued' WHERE state='running'").run();
    Stmt q(db_.handle(), "SELECT id FROM jobs WHERE state='queued' ORDER BY created");
    while (q.step()) queue_.push_back(q.text(0));
    Stmt w(db_.handle(), "SELECT id FROM jobs WHERE webhook_state='pending'");
    while (w.step()) webhook_queue_.push_back({w.text(0), now_seconds()});
    if (!queue_.empty())
      std::fprintf(stderr, "partscreen serve: %zu accepted job(s) resumed from %s\n", queue_.size(),
                   opt_.data_dir.c_str());
  }

  // ---------------------------------------------------------------- auth
  std::optional<Account> authenticate(const httplib::Request& req) {
    std::string header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (header.rfind(prefix, 0) != 0) return std::nullopt;
    const std::string h = token_hash(header.substr(prefix.size()));
    std::lock_guard<std::recursive_mutex> l(db_.mutex());
    Stmt s(db_.handle(), "SELECT id, name, role, jobs_per_day, bytes_per_day FROM tokens WHERE hash=?");
    s.bind(1, h);
    if (!s.step()) return std::nullopt;
    return Account{s.integer(0), s.text(1), s.text(2), s.integer(3), s.integer(4)};
  }

  Account require(const httplib::Request& req, bool reviewer) {
    auto a = authenticate(req);
    if (!a) {
      ++m_unauthorized_;
      throw HttpError{401, "unauthorized", "missing or unknown API token (Authorization: Bearer TOKEN)"};
    }
    if (reviewer && a->role != "reviewer") {
      ++m_unauthorized_;
      throw HttpError{403, "forbidden", "this action needs a reviewer token"};
    }
    return *a;
  }

  // ---------------------------------------------------------------- accepting jobs
  // Reads the body within the request cap and the upload deadline (a client trickling bytes is
  // cut off instead of holding a connection indefinitely).
  std::vector<Upload> read_uploads(const httplib::Request& req, const httplib::ContentReader& reader,
                                   uint64_t cap, std::string& webhook, bool& consumed) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(opt_.upload_seconds);
    if (req.has_header("Content-Length") &&
        std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10) > cap)
      throw HttpError{413, "limit_exceeded", "request larger than " + std::to_string(cap) + " bytes"};
    uint64_t received = 0;
    bool too_big = false, too_slow = false;
    auto guard = [&](size_t n) {
      received += n;
      if (received > cap) too_big = true;
      if (std::chrono::steady_clock::now() > deadline) too_slow = true;
      return !too_big && !too_slow;
    };
    std::vector<httplib::MultipartFormData> parts;
    std::string body;
    bool ok;
    if (req.is_multipart_form_data()) {
      ok = reader(
          [&](const httplib::MultipartFormData& h) {
            parts.push_back(h);
            parts.back().content.clear();
            return parts.size() <= size_t(opt_.max_files) + 8;
          },
          [&](const char* data, size_t n) {
            if (!guard(n)) return false;
            parts.back().content.append(data, n);
            return true;
          });
    } else {
      ok = reader([&](const char* data, size_t n) {
        if (!guard(n)) return false;
        body.append(data, n);
        return true;
      });
    }
    if (too_big) throw HttpError{413, "limit_exceeded", "request larger than " + std::to_string(cap) + " bytes"};
    if (too_slow)
      throw HttpError{408, "timeout", "the upload did not arrive within " + std::to_string(int(opt_.upload_seconds)) + " s"};
    if (!ok) {
      if (received >= opt_.max_request_bytes)
        throw HttpError{413, "limit_exceeded", "request larger than " + std::to_string(cap) + " bytes"};
      throw HttpError{408, "timeout", "the request body did not arrive (read timeout or closed connection)"};
    }
    consumed = true;

    std::vector<Upload> raw;
    webhook = req.get_param_value("webhook");
    if (req.is_multipart_form_data()) {
      for (auto& p : parts) {
        if (p.filename.empty()) {
          if (p.name == "webhook") webhook = p.content;
          continue;
        }
        raw.push_back(Upload{p.filename, std::move(p.content)});
      }
    } else if (!body.empty()) {
      std::string name = req.get_param_value("name");
      if (name.empty()) name = req.get_header_value("Content-Type") == "application/zip" ? "upload.zip" : "upload";
      raw.push_back(Upload{name, std::move(body)});
    }
    if (raw.empty()) throw HttpError{400, "empty", "no file in the request (multipart field with a filename, or a raw body)"};

    std::vector<Upload> files;
    for (auto& u : raw) {
      if (ends_with(u.name, ".zip")) {
        const uint32_t room = opt_.max_files > files.size() ? opt_.max_files - uint32_t(files.size()) : 0;
        for (auto& m : expand_zip(u, room, opt_.scan.load.max_unzipped_bytes, opt_.scan.load.max_zip_ratio))
          files.push_back(std::move(m));
      } else {
        files.push_back(Upload{safe_name(u.name), std::move(u.bytes)});
      }
      if (files.size() > opt_.max_files)
        throw HttpError{413, "limit_exceeded", "more than " + std::to_string(opt_.max_files) + " files in one job"};
    }
    if (!webhook.empty() && webhook.rfind("http://", 0) != 0 && webhook.rfind("https://", 0) != 0)
      throw HttpError{400, "invalid_argument", "webhook must be an http:// or https:// URL"};
    if (webhook.size() > 2000) throw HttpError{400, "invalid_argument", "webhook URL too long"};
    return files;
  }

  int retry_after_locked() const {
    const double avg = completed_ > 0 ? double(scan_us_total_) / 1e6 / double(completed_) : 1.0;
    const double s = double(queue_.size() + 1) * avg / double(std::max<uint32_t>(1, opt_.workers));
    return int(std::clamp(std::ceil(s), 1.0, 300.0));
  }

  void check_quota(const Account& a, uint64_t bytes) {
    Stmt q(db_.handle(), "SELECT count(*), coalesce(sum(bytes),0) FROM jobs WHERE token_id=? AND created>=?");
    q.bind(1, a.id).bind(2, now_seconds() - 86400.0);
    q.step();
    if (q.integer(0) + 1 > a.jobs_per_day || uint64_t(q.integer(1)) + bytes > uint64_t(a.bytes_per_day)) {
      ++m_rejected_quota_;
      throw HttpError{429, "quota", "daily quota of token '" + a.name + "' reached", 3600};
    }
  }

  std::string accept(const Account& a, std::vector<Upload> files, const std::string& webhook) {
    uint64_t bytes = 0;
    for (auto& f : files) bytes += f.bytes.size();
    {
      std::lock_guard<std::recursive_mutex> l(db_.mutex());
      check_quota(a, bytes);  // early, before writing anything; again in the insert transaction
    }
    {
      std::lock_guard<std::mutex> l(mutex_);
      if (queue_.size() + reserved_ >= opt_.max_queue) {
        ++m_rejected_busy_;
        throw HttpError{429, "busy", "the queue is full; retry later", retry_after_locked()};
      }
      ++reserved_;  // counted against the queue bound while its bytes are being written
    }
    struct Unreserve {
      Service* s;
      ~Unreserve() {
        std::lock_guard<std::mutex> l(s->mutex_);
        --s->reserved_;
      }
    } unreserve{this};

    const std::string id = random_hex(12);
    const fs::path dir = uploads_ / id;
    fs::create_directories(dir);
    struct RemoveUnlessAccepted {
      fs::path dir;
      bool accepted = false;
      ~RemoveUnlessAccepted() {
        std::error_code ec;
        if (!accepted) fs::remove_all(dir, ec);
      }
    } cleanup{dir};
    json list = json::array();
    std::string hashes;
    for (size_t i = 0; i < files.size(); ++i) {
      const std::string stored = std::to_string(i) + "_" + files[i].name;
      write_durably(dir / stored, files[i].bytes);
      const std::string h = blake2b_hex(files[i].bytes.data(), files[i].bytes.size());
      list.push_back(json{{"name", files[i].name}, {"stored", stored}, {"bytes", files[i].bytes.size()}, {"blake2b", h}});
      hashes += (hashes.empty() ? "" : ",") + h;
    }
    fsync_dir(dir);
    fsync_dir(uploads_);
    {
      Transaction t(db_);
      check_quota(a, bytes);  // concurrent uploads of one token are serialised here
      Stmt ins(db_.handle(),
               "INSERT INTO jobs(id, token_id, created, state, bytes, files, webhook) VALUES(?,?,?,'queued',?,?,?)");
      ins.bind(1, id).bind(2, a.id).bind(3, now_seconds()).bind(4, int64_t(bytes)).bind(5, list.dump());
      if (webhook.empty()) ins.bind_null(6);
      else ins.bind(6, webhook);
      ins.run();
      audit("accepted", a.name, id, hashes, "", "", "");
      t.commit();
      cleanup.accepted = true;
    }
    {
      std::lock_guard<std::mutex> l(mutex_);
      queue_.push_back(id);
    }
    ++m_accepted_;
    work_cv_.notify_one();
    return id;
  }

  void audit(const std::string& event, const std::string& actor, const std::string& job, const std::string& hashes,
             const std::string& verdict, const std::string& reviewer, const std::string& reason) {
    Stmt a(db_.handle(),
           "INSERT INTO audit(at, event, actor, job_id, file_hash, pack_name, pack_version, pack_checksum, verdict, "
           "reviewer, reason) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    a.bind(1, now_seconds()).bind(2, event).bind(3, actor).bind(4, job).bind(5, hashes).bind(6, pack_.name());
    a.bind(7, "pack format " + std::to_string(pack_.format_version()) + ", partscreen " + version_string());
    a.bind(8, pack_.checksum_hex());
    auto opt = [&](int i, const std::string& v) {
      if (v.empty()) a.bind_null(i);
      else a.bind(i, v);
    };
    opt(9, verdict);
    opt(10, reviewer);
    opt(11, reason);
    a.run();
  }

  // ---------------------------------------------------------------- workers
  void worker() {
    for (;;) {
      std::string id;
      {
        std::unique_lock<std::mutex> l(mutex_);
        work_cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        id = queue_.front();
        queue_.pop_front();
        ++running_count_;
      }
      try {
        process(id);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "partscreen serve: job %s: %s\n", id.c_str(), e.what());
        finish_failed(id, std::string("internal error: ") + e.what());
      }
      {
        std::lock_guard<std::mutex> l(mutex_);
        --running_count_;
        running_.erase(id);
        timed_out_.erase(id);
      }
    }
  }

  void process(const std::string& id) {
    int64_t attempts = 0, token_id = 0;
    std::string files_text, hashes, account;
    {
      Transaction t(db_);
      Stmt claim(db_.handle(), "UPDATE jobs SET state='running', attempts=attempts+1, started=? WHERE id=? AND state='queued'");
      claim.bind(1, now_seconds()).bind(2, id).run();
      if (db_.changes() != 1) return;  // already finished or failed (e.g. duplicate queue entry)
      Stmt s(db_.handle(), "SELECT attempts, token_id, files, (SELECT name FROM tokens WHERE id=token_id) FROM jobs WHERE id=?");
      s.bind(1, id);
      s.step();
      attempts = s.integer(0);
      token_id = s.integer(1);
      files_text = s.text(2);
      account = s.text(3);
      t.commit();
    }
    {
      std::lock_guard<std::mutex> l(mutex_);
      running_[id] = std::chrono::steady_clock::now();
    }
    watchdog_cv_.notify_all();
    if (attempts > int64_t(opt_.max_attempts)) {
      finish_failed(id, "the job stopped the service " + std::to_string(attempts - 1) + " times; not retried");
      return;
    }
    const json files = json::parse(files_text);
    std::vector<std::string> paths;
    std::map<std::string, std::string> display;  // stored path -> upload name
    for (const auto& f : files) {
      const std::string p = (uploads_ / id / f["stored"].get<std::string>()).string();
      paths.push_back(p);
      display[p] = f["name"].get<std::string>();
      hashes += (hashes.empty() ? "" : ",") + f["blake2b"].get<std::string>();
    }

    const auto t0 = std::chrono::steady_clock::now();
    ScanResult full = scan_files(paths, pack_, scan_options_);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    m_scan_.observe(seconds);

    // What the CLI would print: upload names instead of server paths, its report_score.
    ScanResult shown = full;
    for (auto& f : shown.files) f.path = display.count(f.path) ? display[f.path] : safe_name(f.path);
    shown.matches.erase(std::remove_if(shown.matches.begin(), shown.matches.end(),
                                       [&](const Match& m) { return m.score < report_score_; }),
                        shown.matches.end());
    for (auto& m : shown.matches)
      for (auto& p : m.parts) p.file = display.count(p.file) ? display[p.file] : safe_name(p.file);
    const std::string result = scan_result_json(shown);
    const std::string own_verdict = verdict_name(full.verdict);

    json highlights = json::array();
    for (const Match& m : shown.matches) {
      const auto& pts = m.found_points;
      json p = json::array();
      const size_t step = std::max<size_t>(1, pts.size() / 4000);
      for (size_t i = 0; i < pts.size(); i += step) p.push_back(json::array({pts[i][0], pts[i][1], pts[i][2]}));
      highlights.push_back(json{{"reference", m.reference}, {"label", m.label}, {"score", m.score}, {"points", p}});
    }

    std::lock_guard<std::mutex> cumulative_lock(cumulative_mutex_);
    const double now = now_seconds();
    json cumulative = cumulative_for(token_id, id, full, now);
    std::string verdict = own_verdict;
    if (!cumulative.is_null() && severity(cumulative["verdict"]) > severity(verdict)) verdict = cumulative["verdict"];

    bool recorded = false;
    std::string webhook;
    {
      Transaction t(db_);
      Stmt up(db_.handle(),
              "UPDATE jobs SET state='done', finished=?, verdict=?, result=?, cumulative=?, highlights=?, review=?, "
              "webhook_state=CASE WHEN webhook IS NULL THEN NULL ELSE 'pending' END WHERE id=? AND state='running'");
      up.bind(1, now).bind(2, verdict).bind(3, result);
      if (cumulative.is_null()) up.bind_null(4);
      else up.bind(4, cumulative.dump());
      up.bind(5, highlights.dump());
      if (verdict == "review" || verdict == "flagged") up.bind(6, std::string("pending"));
      else up.bind_null(6);
      up.bind(7, id).run();
      if (db_.changes() == 1) {
        for (const Match& m : full.matches) {
          const auto& mask = m.found;
          if (mask.empty() || std::find(mask.begin(), mask.end(), 1) == mask.end()) continue;
          Stmt f(db_.handle(),
                 "INSERT OR REPLACE INTO found(job_id, token_id, reference, pack_content, created, mask) VALUES(?,?,?,?,?,?)");
          f.bind(1, id).bind(2, token_id).bind(3, m.reference).bind(4, pack_.content_hex()).bind(5, now);
          f.bind_blob(6, mask.data(), mask.size()).run();
        }
        audit("result", account, id, hashes, verdict, "", cumulative.is_null() ? "" : cumulative["explanation"].get<std::string>());
        Stmt w(db_.handle(), "SELECT coalesce(webhook,'') FROM jobs WHERE id=?");
        w.bind(1, id);
        if (w.step()) webhook = w.text(0);
        t.commit();
        recorded = true;
      }
    }
    if (!recorded) return;  // timed out meanwhile: the watchdog recorded the failure
    {
      std::lock_guard<std::mutex> l(mutex_);
      ++completed_;
      scan_us_total_ += uint64_t(seconds * 1e6);
      ++m_verdicts_[verdict];
    }
    done_cv_.notify_all();
    if (!webhook.empty()) {
      std::lock_guard<std::mutex> l(mutex_);
      webhook_queue_.push_back({id, now_seconds()});
      webhook_cv_.notify_all();
    }
    std::fprintf(stderr, "partscreen serve: job %s (%s): %s in %.2f s\n", id.c_str(), account.c_str(), verdict.c_str(),
                 seconds);
  }

  // Union of this account's found masks per reference within the window. The explanation names
  // the earlier jobs whose pieces added to the union.
  json cumulative_for(int64_t token_id, const std::string& id, const ScanResult& full, double now) {
    json best;
    double best_score = -1.0;
    std::lock_guard<std::recursive_mutex> l(db_.mutex());
    for (const Match& m : full.matches) {
      std::vector<uint8_t> u = m.found;
      if (u.empty()) continue;
      Stmt q(db_.handle(),
             "SELECT job_id, mask FROM found WHERE token_id=? AND reference=? AND pack_content=? AND created>=? AND job_id<>? "
             "ORDER BY created");
      q.bind(1, token_id).bind(2, m.reference).bind(3, pack_.content_hex()).bind(4, now - opt_.window_seconds).bind(5, id);
      json earlier = json::array();
      while (q.step()) {
        const auto mask = q.blob(1);
        if (mask.size() != u.size()) continue;
        bool adds = false;
        for (size_t i = 0; i < u.size(); ++i)
          if (mask[i] && !u[i]) {
            u[i] = 1;
            adds = true;
          }
        if (adds) earlier.push_back(q.text(0));
      }
      if (earlier.empty()) continue;
      const ReferenceCoverage c = coverage_from_found(pack_, m.reference, u);
      const std::array<double, 2> sc{c.score, c.coverage};
      if (sc[0] <= m.score || sc[0] < opt_.scan.review_score || sc[0] <= best_score) continue;
      best_score = sc[0];
      const std::string v = sc[0] >= opt_.scan.flag_score ? "flagged" : "review";
      std::string list;
      for (size_t i = 0; i < earlier.size(); ++i) list += (i ? ", " : "") + earlier[i].get<std::string>();
      char text[512];
      std::snprintf(text, sizeof text,
                    "pieces of '%s' uploaded by this account in job(s) %s and this job together reach score %.2f "
                    "(this job alone %.2f; %s threshold %.2f)",
                    m.label.c_str(), list.c_str(), sc[0], m.score, v == "flagged" ? "flag" : "review",
                    v == "flagged" ? opt_.scan.flag_score : opt_.scan.review_score);
      best = json{{"verdict", v},          {"reference", m.reference}, {"label", m.label},
                  {"score", sc[0]},        {"coverage", sc[1]},        {"own_score", m.score},
                  {"earlier_jobs", earlier}, {"window_seconds", opt_.window_seconds}, {"explanation", text}};
    }
    return best;
  }

  void finish_failed(const std::string& id, const std::string& why) {
    bool recorded = false;
    {
      Transaction t(db_);
      Stmt up(db_.handle(),
              "UPDATE jobs SET state='failed', finished=?, verdict='error', error=?, "
              "webhook_state=CASE WHEN webhook IS NULL THEN NULL ELSE 'pending' END WHERE id=? AND state='running'");
      up.bind(1, now_seconds()).bind(2, why).bind(3, id).run();
      if (db_.changes() == 1) {
        Stmt s(db_.handle(), "SELECT (SELECT name FROM tokens WHERE id=token_id), files, coalesce(webhook,'') FROM jobs WHERE id=?");
        s.bind(1, id);
        s.step();
        std::string hashes;
        for (const auto& f : json::parse(s.text(1))) hashes += (hashes.empty() ? "" : ",") + f["blake2b"].get<std::string>();
        audit("result", s.text(0), id, hashes, "error", "", why);
        const std::string hook = s.text(2);
        t.commit();
        recorded = true;
        if (!hook.empty()) {
          std::lock_guard<std::mutex> l(mutex_);
          webhook_queue_.push_back({id, now_seconds()});
        }
      }
    }
    if (recorded) {
      ++m_failed_;
      {
        std::lock_guard<std::mutex> l(mutex_);
        ++m_verdicts_["error"];
      }
      done_cv_.notify_all();
      webhook_cv_.notify_all();
      std::fprintf(stderr, "partscreen serve: job %s failed: %s\n", id.c_str(), why.c_str());
    }
  }

  // The engine has no cancellation point, so a job past its timeout is recorded as failed at once
  // (clients and webhooks see it) while its worker finishes in the background and its late result
  // is discarded (the running -> done update no longer matches).
  void watchdog() {
    for (;;) {
      std::vector<std::string> late;
      {
        std::unique_lock<std::mutex> l(mutex_);
        // Wake at the earliest running job's deadline (or 250 ms; a new job notifies).
        const auto limit = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(opt_.job_timeout_seconds));
        auto wake = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
        for (auto& [id, start] : running_)
          if (!timed_out_.count(id)) wake = std::min(wake, start + limit + std::chrono::milliseconds(1));
        watchdog_cv_.wait_until(l, wake);  // no predicate: a notification recomputes the wake time
        if (stopping_) return;
        const auto now = std::chrono::steady_clock::now();
        for (auto& [id, start] : running_)
          if (std::chrono::duration<double>(now - start).count() > opt_.job_timeout_seconds && !timed_out_.count(id))
            late.push_back(id);
        for (auto& id : late) timed_out_.insert(id);
      }
      for (auto& id : late) {
        ++m_timeouts_;
        finish_failed(id, "timeout: the scan took longer than " + std::to_string(int(opt_.job_timeout_seconds)) + " s");
      }
    }
  }

  // ---------------------------------------------------------------- webhooks
  void webhooks() {
    for (;;) {
      std::pair<std::string, double> item;
      {
        std::unique_lock<std::mutex> l(mutex_);
        for (;;) {
          if (stopping_) return;
          if (!webhook_queue_.empty()) {
            auto it = std::min_element(webhook_queue_.begin(), webhook_queue_.end(),
                                       [](auto& a, auto& b) { return a.second < b.second; });
            const double wait = it->second - now_seconds();
            if (wait <= 0) {
              item = *it;
              webhook_queue_.erase(it);
              break;
            }
            webhook_cv_.wait_for(l, std::chrono::duration<double>(std::min(wait, 1.0)));
          } else {
            webhook_cv_.wait_for(l, std::chrono::seconds(1));
          }
        }
      }
      deliver(item.first);
    }
  }

  void deliver(const std::string& id) {
    std::string url, body;
    int64_t attempts = 0;
    {
      std::lock_guard<std::recursive_mutex> l(db_.mutex());
      Stmt s(db_.handle(), "SELECT coalesce(webhook,''), webhook_attempts, coalesce(webhook_state,'') FROM jobs WHERE id=?");
      s.bind(1, id);
      if (!s.step() || s.text(2) != "pending") return;
      url = s.text(0);
      attempts = s.integer(1);
      body = job_json(id, 0, true).dump();
    }
    bool ok = false;
    const size_t scheme_end = url.find("://");
    const size_t path_start = url.find('/', scheme_end + 3);
    const std::string origin = url.substr(0, path_start);
    const std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
    try {
      httplib::Client cli(origin);
      cli.set_connection_timeout(5, 0);
      cli.set_read_timeout(10, 0);
      cli.set_write_timeout(10, 0);
      httplib::Headers headers{{"X-Partscreen-Job", id}};
      auto r = cli.Post(path.c_str(), headers, body, "application/json");
      ok = r && r->status >= 200 && r->status < 300;
    } catch (...) {
      ok = false;
    }
    ++attempts;
    const bool give_up = !ok && attempts >= int64_t(opt_.webhook_attempts);
    {
      Transaction t(db_);
      Stmt up(db_.handle(), "UPDATE jobs SET webhook_attempts=?, webhook_state=? WHERE id=?");
      up.bind(1, attempts).bind(2, std::string(ok ? "delivered" : give_up ? "failed" : "pending")).bind(3, id).run();
      t.commit();
    }
    if (ok) ++m_webhooks_ok_;
    else ++m_webhooks_failed_;
    if (!ok && !give_up) {
      const double backoff = std::min(60.0, std::pow(2.0, double(attempts - 1)));
      std::lock_guard<std::mutex> l(mutex_);
      webhook_queue_.push_back({id, now_seconds() + backoff});
    }
  }

  // ---------------------------------------------------------------- reading jobs
  // The job as clients see it; nullopt when unknown or (owner_id != 0) not theirs.
  json job_json(const std::string& id, int64_t owner_id, bool any_owner) {
    std::lock_guard<std::recursive_mutex> l(db_.mutex());
    Stmt s(db_.handle(),
           "SELECT j.id, j.token_id, j.created, j.state, j.files, j.started, j.finished, j.verdict, j.result, j.cumulative, "
           "j.error, j.review, t.name, j.webhook_state, j.attempts FROM jobs j JOIN tokens t ON t.id=j.token_id WHERE j.id=?");
    s.bind(1, id);
    if (!s.step()) return nullptr;
    if (!any_owner && s.integer(1) != owner_id) return nullptr;
    json files = json::array();
    for (auto& f : json::parse(s.text(4)))
      files.push_back(json{{"name", f["name"]}, {"bytes", f["bytes"]}, {"blake2b", f["blake2b"]}});
    json out{{"id", s.text(0)}, {"state", s.text(3)}, {"account", s.text(12)}, {"created", s.real(2)}, {"files", files}};
    if (!s.is_null(7)) out["verdict"] = s.text(7);
    if (!s.is_null(8)) out["result"] = json::parse(s.text(8));
    out["cumulative"] = s.is_null(9) ? json(nullptr) : json::parse(s.text(9));
    if (!s.is_null(10)) out["error"] = s.text(10);
    if (!s.is_null(11)) out["review"] = s.text(11);
    if (!s.is_null(13)) out["webhook"] = s.text(13);
    if (!s.is_null(6)) out["finished"] = s.real(6);
    out["attempts"] = s.integer(14);
    return out;
  }

  json wait_for_job(const std::string& id, int64_t owner, bool any_owner, double seconds) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(std::min(seconds, opt_.max_wait_seconds)));
    for (;;) {
      json j = job_json(id, owner, any_owner);
      if (j.is_null() || j["state"] == "done" || j["state"] == "failed" || stop_requested_) return j;
      std::unique_lock<std::mutex> l(mutex_);
      if (done_cv_.wait_until(l, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(200))) ==
              std::cv_status::timeout &&
          std::chrono::steady_clock::now() >= deadline)
        return job_json(id, owner, any_owner);
    }
  }

  // ---------------------------------------------------------------- routes
  template <class F>
  auto guarded(F f) {
    return [this, f](const httplib::Request& req, httplib::Response& res) {
      try {
        f(req, res);
      } catch (const HttpError& e) {
        send_error(res, e);
      } catch (const Error& e) {
        send_error(res, HttpError{500, error_code_name(e.code()), e.reason()});
      } catch (const std::exception& e) {
        send_error(res, HttpError{500, "internal", e.what()});
      }
    };
  }

  // The rest of a refused body is never read, so the connection cannot carry another request.
  // cpp-httplib 0.11 keeps reading it (a client trickling bytes would hold the connection
  // forever) and offers no handle on the socket, so the handler finds its own connection (the one
  // socket whose peer is the request's remote address and port), writes the error response itself
  // and shuts the socket down; cpp-httplib's own write then fails harmlessly.
  static void refuse_and_close(const httplib::Request& req, httplib::Response& res, const HttpError& e) {
    send_error(res, e);
    res.set_header("Connection", "close");
    std::string raw = "HTTP/1.1 " + std::to_string(e.status) + " " + reason_phrase(e.status) +
                      "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                      std::to_string(res.body.size()) + "\r\n";
    if (e.retry_after > 0) raw += "Retry-After: " + std::to_string(e.retry_after) + "\r\n";
    raw += "\r\n" + res.body;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc/self/fd", ec)) {
      const int fd = std::atoi(entry.path().filename().c_str());
      sockaddr_storage peer{}, local{};
      socklen_t pn = sizeof peer, ln = sizeof local;
      if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pn) != 0) continue;
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ln) != 0) continue;
      auto port_of = [](const sockaddr_storage& a) {
        if (a.ss_family == AF_INET) return int(ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port));
        if (a.ss_family == AF_INET6) return int(ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port));
        return -1;
      };
      char host[INET6_ADDRSTRLEN] = "";
      if (peer.ss_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, host, sizeof host);
      else if (peer.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, host, sizeof host);
      if (port_of(peer) == req.remote_port && port_of(local) == req.local_port && req.remote_addr == host) {
        size_t sent = 0;
        while (sent < raw.size()) {
          const ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
          if (n <= 0) break;
          sent += size_t(n);
        }
        ::shutdown(fd, SHUT_RDWR);
        return;
      }
    }
  }

  // Reads and discards a small body so that a refusal reaches clients that send the body without
  // waiting for 100-continue; larger bodies are not worth reading (the connection is closed).
  static bool drain_small_body(const httplib::Request& req, const httplib::ContentReader& reader) {
    const uint64_t kMax = 1ull << 20;
    if (!req.has_header("Content-Length") ||
        std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10) > kMax)
      return false;
    uint64_t got = 0;
    auto sink = [&](const char*, size_t n) { return (got += n) <= kMax; };
    if (req.is_multipart_form_data()) return reader([](const httplib::MultipartFormData&) { return true; }, sink);
    return reader(sink);
  }

  void post_job(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader, bool sync) {
    bool consumed = false;  // the whole body was read: the connection can go on
    try {
      const auto a = authenticate(req);
      if (!a) {
        ++m_unauthorized_;
        consumed = drain_small_body(req, reader);
        throw HttpError{401, "unauthorized", "missing or unknown API token (Authorization: Bearer TOKEN)"};
      }
      std::string webhook;
      auto files = read_uploads(req, reader, sync ? opt_.max_sync_bytes : opt_.max_request_bytes, webhook, consumed);
      const std::string id = accept(*a, std::move(files), webhook);
      double wait = sync ? opt_.max_wait_seconds : 0.0;
      if (req.has_param("wait")) wait = std::atof(req.get_param_value("wait").c_str());
      json j = wait > 0 ? wait_for_job(id, a->id, false, wait) : job_json(id, a->id, false);
      const bool finished = j["state"] == "done" || j["state"] == "failed";
      res.set_header("Location", "/jobs/" + id);
      send_json(res, finished ? 200 : 202, j);
    } catch (const HttpError& e) {
      if (consumed) send_error(res, e);
      else refuse_and_close(req, res, e);
    } catch (const Error& e) {
      send_error(res, HttpError{500, error_code_name(e.code()), e.reason()});
    }
  }

  void routes(httplib::Server& svr) {
    svr.set_logger([this](const httplib::Request&, const httplib::Response& res) {
      std::lock_guard<std::mutex> l(mutex_);
      ++m_http_[res.status];
    });
    svr.Post("/jobs", [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& r) {
      post_job(req, res, r, false);
    });
    svr.Post("/scan", [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& r) {
      post_job(req, res, r, true);
    });
    svr.Get(R"(/jobs/([0-9a-f]{24}))", guarded([this](const httplib::Request& req, httplib::Response& res) {
              const Account a = require(req, false);
              const bool any = a.role == "reviewer";
              const double wait = req.has_param("wait") ? std::atof(req.get_param_value("wait").c_str()) : 0.0;
              json j = wait > 0 ? wait_for_job(req.matches[1], a.id, any, wait) : job_json(req.matches[1], a.id, any);
              if (j.is_null()) throw HttpError{404, "not_found", "no such job for this token"};
              send_json(res, 200, j);
            }));
    svr.Get("/healthz", guarded([this](const httplib::Request&, httplib::Response& res) {
              {
                std::lock_guard<std::recursive_mutex> l(db_.mutex());
                Stmt(db_.handle(), "SELECT 1").step();
              }
              std::lock_guard<std::mutex> l(mutex_);
              send_json(res, 200,
                        json{{"status", "ok"}, {"version", version_string()}, {"pack", pack_.name()},
                             {"pack_checksum", pack_.checksum_hex()}, {"queued", queue_.size()}, {"running", running_count_}});
            }));
    svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics(), "text/plain; version=0.0.4");
    });

    // The review page and its API. The page is static; every API call carries a reviewer token.
    const std::string web = opt_.web_dir;
    svr.set_mount_point("/review/three", web + "/node_modules/three");
    svr.set_mount_point("/review", web + "/static");
    svr.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/review/"); });
    svr.Get("/review", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/review/"); });
    svr.Get("/api/review/queue", guarded([this](const httplib::Request& req, httplib::Response& res) {
              require(req, true);
              json out = json::array();
              std::vector<std::string> ids;
              {
                std::lock_guard<std::recursive_mutex> l(db_.mutex());
                Stmt s(db_.handle(), "SELECT id FROM jobs WHERE review='pending' ORDER BY created LIMIT 500");
                while (s.step()) ids.push_back(s.text(0));
              }
              for (auto& id : ids) {
                json j = job_json(id, 0, true);
                json brief{{"id", id}, {"account", j["account"]}, {"created", j["created"]}, {"verdict", j["verdict"]},
                           {"files", j["files"]}, {"cumulative", j["cumulative"]}};
                if (j.contains("result") && !j["result"]["matches"].empty()) {
                  auto& m = j["result"]["matches"][0];
                  brief["best"] = json{{"label", m["label"]}, {"score", m["score"]}, {"coverage", m["coverage"]}};
                }
                out.push_back(brief);
              }
              send_json(res, 200, json{{"jobs", out}});
            }));
    svr.Get(R"(/api/review/jobs/([0-9a-f]{24}))", guarded([this](const httplib::Request& req, httplib::Response& res) {
              require(req, true);
              json j = job_json(req.matches[1], 0, true);
              if (j.is_null()) throw HttpError{404, "not_found", "no such job"};
              std::lock_guard<std::recursive_mutex> l(db_.mutex());
              Stmt s(db_.handle(), "SELECT coalesce(highlights,'[]') FROM jobs WHERE id=?");
              s.bind(1, std::string(req.matches[1]));
              s.step();
              j["highlights"] = json::parse(s.text(0));
              json decisions = json::array();
              Stmt d(db_.handle(), "SELECT reviewer, decision, reason, at FROM reviews WHERE job_id=? ORDER BY id");
              d.bind(1, std::string(req.matches[1]));
              while (d.step())
                decisions.push_back(json{{"reviewer", d.text(0)}, {"decision", d.text(1)}, {"reason", d.text(2)}, {"at", d.real(3)}});
              j["decisions"] = decisions;
              send_json(res, 200, j);
            }));
    svr.Get(R"(/api/review/jobs/([0-9a-f]{24})/mesh)", guarded([this](const httplib::Request& req, httplib::Response& res) {
              require(req, true);
              res.set_content(mesh_blob(req.matches[1]), "application/octet-stream");
            }));
    svr.Post(R"(/api/review/jobs/([0-9a-f]{24})/decision)", guarded([this](const httplib::Request& req, httplib::Response& res) {
               const Account a = require(req, true);
               json body = json::parse(req.body, nullptr, false);
               if (!body.is_object() || !body["decision"].is_string() || !body["reason"].is_string())
                 throw HttpError{400, "invalid_argument", "expected {\"decision\": \"approve\"|\"reject\", \"reason\": \"...\"}"};
               const std::string decision = body["decision"], reason = body["reason"];
               if (decision != "approve" && decision != "reject")
                 throw HttpError{400, "invalid_argument", "decision must be approve or reject"};
               if (reason.find_first_not_of(" \t\r\n") == std::string::npos || reason.size() > 4000)
                 throw HttpError{400, "invalid_argument", "a reason (1-4000 characters) is required"};
               const std::string id = req.matches[1];
               {
                 Transaction t(db_);
                 Stmt s(db_.handle(), "SELECT verdict, files, state FROM jobs WHERE id=?");
                 s.bind(1, id);
                 if (!s.step()) throw HttpError{404, "not_found", "no such job"};
                 if (s.text(2) != "done" && s.text(2) != "failed") throw HttpError{409, "conflict", "the job has not finished"};
                 std::string hashes;
                 for (const auto& f : json::parse(s.text(1))) hashes += (hashes.empty() ? "" : ",") + f["blake2b"].get<std::string>();
                 const std::string verdict = s.text(0);
                 const std::string state = decision == "approve" ? "approved" : "rejected";
                 Stmt r(db_.handle(), "INSERT INTO reviews(job_id, reviewer, decision, reason, at) VALUES(?,?,?,?,?)");
                 r.bind(1, id).bind(2, a.name).bind(3, decision).bind(4, reason).bind(5, now_seconds()).run();
                 Stmt u(db_.handle(), "UPDATE jobs SET review=? WHERE id=?");
                 u.bind(1, state).bind(2, id).run();
                 audit("review:" + decision, a.name, id, hashes, verdict, a.name, reason);
                 t.commit();
               }
               ++m_reviews_;
               send_json(res, 200, job_json(id, 0, true));
             }));
  }

  // The upload's own triangles (never the reference's: packs hold none) for the 3D view:
  // "PSM1", file count, then per file: name length, name (padded to 4), vertex count, triangle
  // count, float32 positions, uint32 indices. G-code objects come as points (0 triangles).
  std::string mesh_blob(const std::string& id) {
    json files;
    {
      std::lock_guard<std::recursive_mutex> l(db_.mutex());
      Stmt s(db_.handle(), "SELECT files FROM jobs WHERE id=?");
      s.bind(1, id);
      if (!s.step()) throw HttpError{404, "not_found", "no such job"};
      files = json::parse(s.text(0));
    }
    std::string out = "PSM1";
    auto put32 = [&](uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); };
    put32(uint32_t(files.size()));
    uint64_t budget = 4'000'000;  // triangles sent at most (a browser tab's comfortable limit)
    for (const auto& f : files) {
      const std::string name = f["name"];
      put32(uint32_t(name.size()));
      out += name;
      out.append((4 - name.size() % 4) % 4, '\0');
      LoadedFile lf;
      try {
        lf = load_file((uploads_ / id / f["stored"].get<std::string>()).string(), scan_options_.load);
      } catch (const Error&) {
        put32(0);
        put32(0);
        continue;
      }
      std::vector<float> pos = lf.mesh.positions;
      std::vector<uint32_t> idx = lf.mesh.indices;
      if (idx.size() / 3 > budget) idx.clear();
      budget -= std::min<uint64_t>(budget, idx.size() / 3);
      for (const auto& s : lf.surfaces) {
        if (pos.size() / 3 > 2'000'000) break;
        pos.insert(pos.end(), s.positions.begin(), s.positions.end());
      }
      put32(uint32_t(pos.size() / 3));
      put32(uint32_t(idx.size() / 3));
      out.append(reinterpret_cast<const char*>(pos.data()), pos.size() * 4);
      out.append(reinterpret_cast<const char*>(idx.data()), idx.size() * 4);
    }
    return out;
  }

  std::string metrics() {
    std::ostringstream o;
    auto line = [&](const char* name, const char* type, const char* help, double v) {
      o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n' << name << ' ' << v << '\n';
    };
    line("partscreen_jobs_accepted_total", "counter", "Jobs accepted (202).", double(m_accepted_));
    line("partscreen_jobs_failed_total", "counter", "Jobs failed (timeout, repeated crash, internal error).", double(m_failed_));
    line("partscreen_jobs_timeout_total", "counter", "Jobs failed by the per-job timeout.", double(m_timeouts_));
    line("partscreen_rejected_busy_total", "counter", "Uploads refused with 429 because the queue was full.", double(m_rejected_busy_));
    line("partscreen_rejected_quota_total", "counter", "Uploads refused with 429 by a token's daily quota.", double(m_rejected_quota_));
    line("partscreen_unauthorized_total", "counter", "Requests with a missing, unknown or insufficient token.", double(m_unauthorized_));
    line("partscreen_reviews_total", "counter", "Review decisions recorded.", double(m_reviews_));
    line("partscreen_webhooks_delivered_total", "counter", "Webhook deliveries answered with 2xx.", double(m_webhooks_ok_));
    line("partscreen_webhooks_failed_total", "counter", "Webhook delivery attempts that failed.", double(m_webhooks_failed_));
    {
      std::lock_guard<std::mutex> l(mutex_);
      line("partscreen_queue_depth", "gauge", "Accepted jobs waiting for a worker.", double(queue_.size()));
      line("partscreen_jobs_running", "gauge", "Jobs being scanned.", double(running_count_));
      o << "# HELP partscreen_jobs_completed_total Jobs completed, by verdict.\n# TYPE partscreen_jobs_completed_total counter\n";
      for (auto& [v, n] : m_verdicts_) o << "partscreen_jobs_completed_total{verdict=\"" << v << "\"} " << n << '\n';
      o << "# HELP partscreen_http_responses_total HTTP responses, by status.\n# TYPE partscreen_http_responses_total counter\n";
      for (auto& [code, n] : m_http_) o << "partscreen_http_responses_total{code=\"" << code << "\"} " << n << '\n';
    }
    o << "# HELP partscreen_scan_seconds Wall time of one job's scan.\n# TYPE partscreen_scan_seconds histogram\n";
    uint64_t cum = 0;
    for (size_t i = 0; i < Histogram::kBounds.size(); ++i) {
      cum += m_scan_.counts[i];
      o << "partscreen_scan_seconds_bucket{le=\"" << Histogram::kBounds[i] << "\"} " << cum << '\n';
    }
    cum += m_scan_.counts[Histogram::kBounds.size()];
    o << "partscreen_scan_seconds_bucket{le=\"+Inf\"} " << cum << '\n';
    o << "partscreen_scan_seconds_sum " << double(m_scan_.sum_us) / 1e6 << "\npartscreen_scan_seconds_count " << cum << '\n';
    return o.str();
  }

  ServiceOptions opt_;
  Pack pack_;
  Db db_;
  fs::path uploads_;
  ScanOptions scan_options_;
  double report_score_ = 0.25;

  std::mutex mutex_;  // queue, running set, webhook queue, counters below
  std::condition_variable work_cv_, done_cv_, webhook_cv_, watchdog_cv_;
  std::deque<std::string> queue_;
  size_t reserved_ = 0;
  size_t running_count_ = 0;
  std::map<std::string, std::chrono::steady_clock::time_point> running_;
  std::set<std::string> timed_out_;
  std::vector<std::pair<std::string, double>> webhook_queue_;
  bool stopping_ = false;
  std::atomic<bool> stop_requested_{false};
  std::mutex cumulative_mutex_;  // one account's jobs are added up one at a time
  uint64_t completed_ = 0, scan_us_total_ = 0;
  std::map<std::string, uint64_t> m_verdicts_;
  std::map<int, uint64_t> m_http_;
  std::atomic<uint64_t> m_accepted_{0}, m_failed_{0}, m_timeouts_{0}, m_rejected_busy_{0}, m_rejected_quota_{0},
      m_unauthorized_{0}, m_reviews_{0}, m_webhooks_ok_{0}, m_webhooks_failed_{0};
  Histogram m_scan_;
};

}  // namespace

int run_server(const ServiceOptions& options) {
  if (sodium_init() < 0) throw Error(ErrorCode::internal, "libsodium", "initialisation failed");
  if (options.data_dir.empty()) throw Error(ErrorCode::invalid_argument, "--data", "a data folder is required");
  fs::create_directories(options.data_dir);
  // Signals are taken by one thread with sigwait(); every thread started from here inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  Service service(options);
  service.run();
  return 0;
}

std::string create_token(const std::string& data_dir, const TokenSpec& spec) {
  if (sodium_init() < 0) throw Error(ErrorCode::internal, "libsodium", "initialisation failed");
  if (spec.name.empty() || spec.name.size() > 100) throw Error(ErrorCode::invalid_argument, "NAME", "1-100 characters");
  if (spec.role != "client" && spec.role != "reviewer")
    throw Error(ErrorCode::invalid_argument, "--role", "expected client or reviewer, got '" + spec.role + "'");
  fs::create_directories(data_dir);
  Db db((fs::path(data_dir) / "state.sqlite").string());
  const std::string secret = "pst_" + random_hex(24);
  Transaction t(db);
  Stmt exists(db.handle(), "SELECT 1 FROM tokens WHERE name=?");
  exists.bind(1, spec.name);
  if (exists.step()) throw Error(ErrorCode::invalid_argument, spec.name, "a token with this name exists");
  Stmt ins(db.handle(), "INSERT INTO tokens(name, hash, role, jobs_per_day, bytes_per_day, created) VALUES(?,?,?,?,?,?)");
  ins.bind(1, spec.name).bind(2, token_hash(secret)).bind(3, spec.role).bind(4, int64_t(spec.jobs_per_day));
  ins.bind(5, int64_t(std::min<uint64_t>(spec.bytes_per_day, uint64_t(INT64_MAX)))).bind(6, now_seconds()).run();
  Stmt a(db.handle(), "INSERT INTO audit(at, event, actor, reason) VALUES(?, 'token:create', ?, ?)");
  a.bind(1, now_seconds()).bind(2, spec.name).bind(3, "role " + spec.role).run();
  t.commit();
  return secret;
}

}  // namespace partscreen::service

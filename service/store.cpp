// SPDX-License-Identifier: GPL-3.0-or-later
#include "store.h"

#include <sodium.h>
#include <sqlite3.h>

#include <chrono>

#include "partscreen/error.h"

namespace partscreen::service {
namespace {

Error db_error(sqlite3* db, const std::string& what) {
  return Error(ErrorCode::io, "database", what + ": " + (db ? sqlite3_errmsg(db) : "cannot open"));
}

// Schema version 1. The audit table refuses UPDATE and DELETE, and a job's result is recorded at
// most once (partial unique index), so a replayed job after a crash cannot write a second result.
const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS tokens(
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, hash TEXT UNIQUE NOT NULL, role TEXT NOT NULL,
  jobs_per_day INTEGER NOT NULL, bytes_per_day INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS jobs(
  id TEXT PRIMARY KEY, token_id INTEGER NOT NULL REFERENCES tokens(id), created REAL NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL, files TEXT NOT NULL,
  webhook TEXT, webhook_state TEXT, webhook_attempts INTEGER NOT NULL DEFAULT 0,
  started REAL, finished REAL, verdict TEXT, result TEXT, cumulative TEXT, highlights TEXT,
  error TEXT, review TEXT);
CREATE INDEX IF NOT EXISTS jobs_token_created ON jobs(token_id, created);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE TABLE IF NOT EXISTS found(
  job_id TEXT NOT NULL REFERENCES jobs(id), token_id INTEGER NOT NULL, reference TEXT NOT NULL,
  pack_content TEXT NOT NULL, created REAL NOT NULL, mask BLOB NOT NULL, PRIMARY KEY(job_id, reference));
CREATE INDEX IF NOT EXISTS found_account ON found(token_id, reference, created);
CREATE TABLE IF NOT EXISTS reviews(
  id INTEGER PRIMARY KEY, job_id TEXT NOT NULL REFERENCES jobs(id), reviewer TEXT NOT NULL,
  decision TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit(
  id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, event TEXT NOT NULL, actor TEXT NOT NULL,
  job_id TEXT, file_hash TEXT, pack_name TEXT, pack_version TEXT, pack_checksum TEXT, verdict TEXT, reviewer TEXT, reason TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS audit_result_once ON audit(job_id) WHERE event = 'result';
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)SQL";

}  // namespace

Stmt::Stmt(sqlite3* db, const char* sql) : db_(db) {
  if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) throw db_error(db, "prepare");
}
Stmt::~Stmt() { sqlite3_finalize(stmt_); }
Stmt& Stmt::bind(int i, const std::string& v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Stmt& Stmt::bind(int i, double v) {
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}
Stmt& Stmt::bind_blob(int i, const void* data, size_t n) {
  sqlite3_bind_blob(stmt_, i, data, static_cast<int>(n), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}
bool Stmt::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw db_error(db_, "step");
}
void Stmt::run() {
  while (step()) {
  }
}
std::string Stmt::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : std::string();
}
int64_t Stmt::integer(int col) const { return sqlite3_column_int64(stmt_, col); }
double Stmt::real(int col) const { return sqlite3_column_double(stmt_, col); }
std::vector<uint8_t> Stmt::blob(int col) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
  return p ? std::vector<uint8_t>(p, p + sqlite3_column_bytes(stmt_, col)) : std::vector<uint8_t>();
}
bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

Db::Db(const std::string& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    Error e = db_error(db_, "open " + path);
    sqlite3_close(db_);
    throw e;
  }
  sqlite3_busy_timeout(db_, 10000);
  // WAL with synchronous=FULL: a transaction that returned is on disk, so a 202 means the job
  // survives kill -9 and power loss.
  exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
  exec(kSchema);
}
Db::~Db() { sqlite3_close(db_); }
void Db::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg ? msg : "?";
    sqlite3_free(msg);
    throw Error(ErrorCode::io, "database", m);
  }
}
int Db::changes() const { return sqlite3_changes(db_); }

Transaction::Transaction(Db& db) : db_(db), lock_(db.mutex()) { db_.exec("BEGIN IMMEDIATE"); }
Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
    }
  }
}
void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  randombytes_buf(buf.data(), buf.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), buf.data(), buf.size());
  hex.pop_back();
  return hex;
}

std::string blake2b_hex(const void* data, size_t n) {
  unsigned char h[crypto_generichash_BYTES];
  crypto_generichash(h, sizeof h, static_cast<const unsigned char*>(data), n, nullptr, 0);
  char hex[2 * sizeof h + 1];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return hex;
}

}  // namespace partscreen::service

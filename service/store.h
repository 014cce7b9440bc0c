// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The service's durable state: one SQLite database in WAL mode (jobs, results, per-reference found
// masks for cumulative screening, review decisions, tokens, and an append-only audit log enforced
// by triggers). One connection guarded by a mutex: every write is a short transaction, and the
// scans themselves (seconds) run outside it.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace partscreen::service {

// A prepared statement with positional binding; columns read by index.
class Stmt {
public:
  Stmt(sqlite3* db, const char* sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, const std::string& v);
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, double v);
  Stmt& bind_blob(int i, const void* data, size_t n);
  Stmt& bind_null(int i);
  bool step();   // true: a row is available
  void run();    // step to completion
  std::string text(int col) const;
  int64_t integer(int col) const;
  double real(int col) const;
  std::vector<uint8_t> blob(int col) const;
  bool is_null(int col) const;

private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Db {
public:
  explicit Db(const std::string& path);  // opens or creates, applies the schema
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  sqlite3* handle() { return db_; }
  void exec(const char* sql);
  int changes() const;
  std::recursive_mutex& mutex() { return mutex_; }

private:
  sqlite3* db_ = nullptr;
  std::recursive_mutex mutex_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back when destroyed without commit(); holds the Db's mutex.
class Transaction {
public:
  explicit Transaction(Db& db);
  ~Transaction();
  void commit();

private:
  Db& db_;
  std::lock_guard<std::recursive_mutex> lock_;
  bool done_ = false;
};

double now_seconds();               // Unix time
std::string random_hex(size_t bytes);
std::string blake2b_hex(const void* data, size_t n);

}  // namespace partscreen::service

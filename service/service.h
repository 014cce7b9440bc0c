// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// `partscreen serve`: the HTTP/JSON screening service (jobs, review queue, audit log) over the
// core's public API. The CLI command (cli/cmd_serve.cpp) only parses options and calls these.
#include <cstdint>
#include <string>

#include "partscreen/scan.h"

namespace partscreen::service {

struct ServiceOptions {
  std::string data_dir;            // state.sqlite (WAL) and uploads/ live here
  std::string pack_path;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string web_dir;             // the review page (service/web with node_modules/three)
  uint32_t workers = 1;            // jobs scanned at once
  uint32_t max_queue = 64;         // accepted jobs waiting for a worker; beyond: 429 + Retry-After
  uint32_t http_threads = 64;      // connections served at once (a slow client holds one)
  uint64_t max_request_bytes = 64ull << 20;   // larger requests get 413 before the body is read
  uint64_t max_sync_bytes = 8ull << 20;       // POST /scan (synchronous) is for small jobs only
  uint32_t max_files = 16;         // files per job (after zip expansion)
  double upload_seconds = 60.0;    // a request body must arrive within this (slow clients)
  double read_timeout_seconds = 5.0;  // a connection that sends nothing for this long is closed
  double job_timeout_seconds = 300.0; // a job running longer is failed with "timeout"
  double max_wait_seconds = 60.0;  // cap on ?wait= and the synchronous endpoint
  uint32_t max_attempts = 3;       // a job that crashed the service this often is failed, not retried
  double window_seconds = 30.0 * 86400.0;  // cumulative screening looks back this far per account
  uint32_t webhook_attempts = 5;   // deliveries tried per job (1 s, 2 s, 4 s ... backoff, 60 s cap)
  ScanOptions scan;                // thresholds, threads, load limits (max_unzipped_bytes, max_zip_ratio)
};

// Runs until SIGINT or SIGTERM. Throws partscreen::Error when it cannot start (no pack, port busy).
int run_server(const ServiceOptions& options);

struct TokenSpec {
  std::string name;
  std::string role = "client";      // "client" (submits jobs) or "reviewer" (also decides in the review queue)
  uint64_t jobs_per_day = 10'000;
  uint64_t bytes_per_day = 10ull << 30;
};

// Creates a token in data_dir's database and returns its secret (shown once; only a BLAKE2b hash is
// stored). Throws Error(invalid_argument) when the name is taken.
std::string create_token(const std::string& data_dir, const TokenSpec& spec);

}  // namespace partscreen::service

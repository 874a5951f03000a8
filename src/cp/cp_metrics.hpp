#pragma once
// The control plane's own metrics (beside the HTTP server's and the process's, in the same
// registry; docs/operations.md lists them all). Outcome labels are "ok" or an error's id
// (`Error::id()`, one of a fixed set of codes), never anything a caller sent.
#include <easyenclave/error.hpp>
#include <easyenclave/metrics.hpp>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

namespace ee::cp {

struct CpMetrics {
  explicit CpMetrics(metrics::Registry& registry);

  metrics::Registry& registry;
  metrics::Family<metrics::Counter>& registrations;       ///< {outcome}
  metrics::Family<metrics::Counter>& attestations;        ///< {evidence, outcome}
  metrics::Family<metrics::Counter>& heartbeats;          ///< {outcome}
  metrics::Family<metrics::Counter>& tunnel_operations;   ///< {operation, outcome}
  metrics::Family<metrics::Counter>& deployment_changes;  ///< {status}: moves into each status
  metrics::Family<metrics::Counter>& task_runs;           ///< {task, outcome}; outcome "skipped": another holds the lease
  metrics::Family<metrics::Histogram>& task_durations;    ///< {task}
  metrics::Family<metrics::Gauge>& agents;                ///< {status}, set at scrape time
  metrics::Family<metrics::Gauge>& deployments;           ///< {status} of the active statuses, at scrape time

  /// When the scrape-time gauges were last read from the stores: they are read at most once per
  /// kGaugeLifetime, so scraping often never costs more than that.
  static constexpr std::chrono::seconds kGaugeLifetime{10};
  bool gauges_fresh(std::chrono::steady_clock::time_point now);
  void gauges_read(std::chrono::steady_clock::time_point now);

 private:
  std::mutex mutex_;
  std::optional<std::chrono::steady_clock::time_point> gauges_read_at_{};
};

/// "ok", or the error's id.
template <class T>
std::string outcome_of(result<T> const& r) {
  return r ? std::string("ok") : r.error().id();
}

}  // namespace ee::cp

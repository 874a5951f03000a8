#pragma once
/// @file Counters, gauges and histograms with labels, rendered in the Prometheus text exposition
/// format (version 0.0.4). The programs serve one registry each at `/metrics`.
///
/// Updating a series is lock-free (atomics); finding a labelled series takes a shared lock and
/// no allocation when it exists. Label values must come from small, fixed sets (a route pattern,
/// a status code, an error id): never an agent id or anything a caller chooses, so the number of
/// series stays bounded.
#include <easyenclave/error.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ee::metrics {

/// The Content-Type of `Registry::render`'s output.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

/// A count that only goes up.
class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down.
class Gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept { value_.fetch_add(d, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// Observations counted into buckets by upper bound, with their sum and count.
class Histogram {
 public:
  /// `bounds`: the buckets' upper bounds, strictly increasing and finite; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void observe(double value) noexcept;

  struct Snapshot {
    std::vector<double> bounds{};
    std::vector<std::uint64_t> cumulative{};  ///< per bound, then +Inf (= count)
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  ///< bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

/// Bucket bounds in seconds for request and task durations: 0.5 ms to 10 s.
std::vector<double> duration_buckets();

enum class Type { counter, gauge, histogram };

/// The series of one metric, one per combination of label values.
template <class Metric>
class Family {
 public:
  /// The series with these label values (one per label name, in order), created on first use.
  /// A call with the wrong number of values, or a value with a NUL byte, answers a series no
  /// render shows (and `Registry::check` reports it), so a mistake never throws on a request path.
  Metric& with(std::initializer_list<std::string_view> values);
  /// The series of a family without labels.
  Metric& get() { return with({}); }

  std::string const& name() const noexcept { return name_; }

 private:
  friend class Registry;
  Family(std::string name, std::vector<std::string> label_names, std::function<std::unique_ptr<Metric>()> make)
      : name_(std::move(name)), label_names_(std::move(label_names)), make_(std::move(make)) {}

  template <class Visit>
  void for_each(Visit const& visit) const;

  std::string name_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::shared_mutex mutex_;
  /// Keyed by the label values, each followed by a NUL byte: the map's order is the order of the
  /// value tuples, which is the order a render shows.
  std::map<std::string, std::unique_ptr<Metric>, std::less<>> series_;
  std::unique_ptr<Metric> misuse_ = make_();
  std::atomic<bool> misused_{false};
};

/// A set of metric families and the callbacks that fill the scrape-time ones.
/// Thread-safe; families live as long as the registry.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(Registry const&) = delete;
  Registry& operator=(Registry const&) = delete;

  /// Registers a family. Names follow Prometheus: [a-zA-Z_:][a-zA-Z0-9_:]*, labels
  /// [a-zA-Z_][a-zA-Z0-9_]* not starting with "__" (and not "le" on a histogram); counters end
  /// in "_total". Registering a name twice with the same type and labels returns the first
  /// family; anything else is recorded for `check` and answers a family no render shows.
  Family<Counter>& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<std::string> label_names,
                               std::vector<double> bounds);
  /// An unlabelled counter or gauge whose value `read` gives at each render (counts kept
  /// elsewhere: a server's refused connections, the process's CPU time).
  void callback(std::string name, std::string help, Type type, std::function<double()> read);

  /// Runs before each render, to set scrape-time gauges (agents by status). Runs on the
  /// rendering thread; keep it quick or cached.
  void on_collect(std::function<void()> collect);

  /// The first registration problem, as errc::invalid_value naming the metric; success if none.
  result<void> check() const;

  /// Every family, sorted by name, series sorted by label values, in the text format.
  std::string render() const;

 private:
  struct Entry;
  Entry* find_or_add(std::string const& name, Type type, std::vector<std::string> const& labels);
  void record_problem(std::string problem);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> entries_;
  std::vector<std::function<void()>> collectors_;
  std::string first_problem_{};
  std::vector<std::unique_ptr<Entry>> rejected_;
};

/// Reads a text exposition another process served and writes it again as `Registry::render`
/// writes: only `# HELP name text`, `# TYPE name counter|gauge|histogram|summary|untyped` and
/// samples `name{label="value",...} value [timestamp]` with valid names, escapes and numbers
/// pass, each on a line of its own; other comments and blank lines are dropped. A relay (the CP
/// handing on an agent's metrics) thereby never passes on bytes it did not understand.
/// @returns errc::invalid_value naming the line and what is wrong with it; errc::out_of_range
///          past `max_lines` lines.
result<std::string> canonical_exposition(std::string_view text, std::size_t max_lines = 10'000);

/// Registers Prometheus' standard process metrics, read from /proc/self at each render:
/// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
/// process_open_fds, process_max_fds, process_start_time_seconds.
void add_process_metrics(Registry& registry);

}  // namespace ee::metrics

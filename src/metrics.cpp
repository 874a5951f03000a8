// Prometheus text exposition format, version 0.0.4:
// https://prometheus.io/docs/instrumenting/exposition_formats/ (HELP and TYPE lines, label value
// escaping of backslash, double quote and newline; histograms as _bucket{le=...}, _sum, _count).
#include <easyenclave/metrics.hpp>

#include "detail/proc_self.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <variant>

namespace ee::metrics {
namespace {

bool is_name(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  auto const first = name.front();
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '_' ||
        (allow_colon && first == ':'))) {
    return false;
  }
  return std::all_of(name.begin() + 1, name.end(), [allow_colon](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           (allow_colon && c == ':');
  });
}

void append_number(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, ec == std::errc() ? end : buffer);
  }
}

void append_number(std::string& out, std::uint64_t value) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, ec == std::errc() ? end : buffer);
}

void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// The key of a series: each value followed by NUL. False when a value holds a NUL itself.
bool key_of(std::string& key, std::initializer_list<std::string_view> values) {
  key.clear();
  for (auto v : values) {
    if (v.find('\0') != std::string_view::npos) return false;
    key.append(v);
    key.push_back('\0');
  }
  return true;
}

// `{a="x",b="y"` (no closing brace: a histogram's bucket adds le) from the names and a key.
void append_labels(std::string& out, std::vector<std::string> const& names, std::string_view key) {
  out += '{';
  std::size_t start = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto const end = key.find('\0', start);
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    append_escaped(out, key.substr(start, end - start), true);
    out += '"';
    start = end + 1;
  }
}

void close_labels(std::string& out, bool any) {
  if (any) {
    out += '}';
  } else if (!out.empty() && out.back() == '{') {
    out.pop_back();
  }
}

std::string_view type_name(Type type) {
  switch (type) {
    case Type::counter: return "counter";
    case Type::gauge: return "gauge";
    case Type::histogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) noexcept {
  // The first bound at or above the value (Prometheus buckets are "less than or equal").
  auto const it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.reserve(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  // Read apart from the buckets, so under concurrent observations the three may disagree by the
  // observations in flight; +Inf is reported as the bucket total so the buckets stay monotonic.
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> duration_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

template <class Metric>
Metric& Family<Metric>::with(std::initializer_list<std::string_view> values) {
  thread_local std::string key;
  if (values.size() != label_names_.size() || !key_of(key, values)) {
    misused_.store(true, std::memory_order_relaxed);
    return *misuse_;
  }
  {
    std::shared_lock const read(mutex_);
    if (auto it = series_.find(key); it != series_.end()) return *it->second;
  }
  std::unique_lock const write(mutex_);
  auto [it, inserted] = series_.try_emplace(key);
  if (inserted) it->second = make_();
  return *it->second;
}

template <class Metric>
template <class Visit>
void Family<Metric>::for_each(Visit const& visit) const {
  std::shared_lock const read(mutex_);
  for (auto const& [key, metric] : series_) visit(std::string_view(key), *metric);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

struct Registry::Entry {
  std::string name;
  std::string help;
  Type type = Type::counter;
  std::vector<std::string> labels;
  std::variant<std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>,
               std::unique_ptr<Family<Histogram>>, std::function<double()>>
      series;
};

Registry::Registry() = default;
Registry::~Registry() = default;

void Registry::record_problem(std::string problem) {
  if (first_problem_.empty()) first_problem_ = std::move(problem);
}

// With mutex_ held. Null when the name is taken by another kind of family (recorded).
Registry::Entry* Registry::find_or_add(std::string const& name, Type type, std::vector<std::string> const& labels) {
  bool valid = is_name(name, true);
  if (!valid) record_problem("metric name \"" + name + "\" is not a Prometheus name");
  if (valid && type == Type::counter && !(name.size() > 6 && name.ends_with("_total"))) {
    record_problem("counter " + name + " does not end in _total");
    valid = false;
  }
  for (auto const& label : labels) {
    if (!is_name(label, false) || label.starts_with("__") || (type == Type::histogram && label == "le")) {
      record_problem("metric " + name + ": label \"" + label + "\" is not allowed");
      valid = false;
    }
  }
  if (auto it = entries_.find(name); it != entries_.end()) {
    if (it->second->type == type && it->second->labels == labels && valid) return it->second.get();
    record_problem("metric " + name + " registered twice with another type or labels");
    valid = false;
  }
  auto entry = std::make_unique<Entry>();
  entry->name = name;
  entry->type = type;
  entry->labels = labels;
  auto* raw = entry.get();
  if (valid) {
    entries_.emplace(name, std::move(entry));
  } else {
    rejected_.push_back(std::move(entry));
  }
  return raw;
}

Family<Counter>& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard const lock(mutex_);
  auto* entry = find_or_add(name, Type::counter, label_names);
  if (auto* family = std::get_if<0>(&entry->series); family && *family) return **family;
  entry->help = std::move(help);
  auto& slot = entry->series.emplace<0>(
      new Family<Counter>(std::move(name), std::move(label_names), [] { return std::make_unique<Counter>(); }));
  return *slot;
}

Family<Gauge>& Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard const lock(mutex_);
  auto* entry = find_or_add(name, Type::gauge, label_names);
  if (auto* family = std::get_if<1>(&entry->series); family && *family) return **family;
  entry->help = std::move(help);
  auto& slot = entry->series.emplace<1>(
      new Family<Gauge>(std::move(name), std::move(label_names), [] { return std::make_unique<Gauge>(); }));
  return *slot;
}

Family<Histogram>& Registry::histogram(std::string name, std::string help, std::vector<std::string> label_names,
                                       std::vector<double> bounds) {
  std::lock_guard const lock(mutex_);
  bool const sorted = std::adjacent_find(bounds.begin(), bounds.end(), std::greater_equal<>()) == bounds.end() &&
                      std::all_of(bounds.begin(), bounds.end(), [](double b) { return std::isfinite(b); });
  if (!sorted) {
    record_problem("histogram " + name + ": bounds must be finite and strictly increasing");
    bounds.clear();  // only +Inf: the family still counts and sums
  }
  auto* entry = find_or_add(name, Type::histogram, label_names);
  if (auto* family = std::get_if<2>(&entry->series); family && *family) return **family;
  entry->help = std::move(help);
  auto& slot = entry->series.emplace<2>(new Family<Histogram>(
      std::move(name), std::move(label_names),
      [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); }));
  return *slot;
}

void Registry::callback(std::string name, std::string help, Type type, std::function<double()> read) {
  std::lock_guard const lock(mutex_);
  if (type == Type::histogram) {
    record_problem("callback metric " + name + " cannot be a histogram");
    return;
  }
  auto* entry = find_or_add(name, type, {});
  if (entry->series.index() == 3) {
    record_problem("callback metric " + name + " registered twice");
    return;
  }
  entry->help = std::move(help);
  entry->series = std::move(read);
}

void Registry::on_collect(std::function<void()> collect) {
  std::lock_guard const lock(mutex_);
  collectors_.push_back(std::move(collect));
}

result<void> Registry::check() const {
  std::lock_guard const lock(mutex_);
  if (!first_problem_.empty()) return Error(errc::invalid_value, first_problem_);
  for (auto const& [name, entry] : entries_) {
    bool misused = false;
    std::visit(
        [&misused](auto const& series) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(series)>, std::function<double()>>) {
            if (series) misused = series->misused_.load(std::memory_order_relaxed);
          }
        },
        entry->series);
    if (misused) {
      return Error(errc::invalid_value, "metric " + name + " was given the wrong number of label values or a NUL");
    }
  }
  return {};
}

std::string Registry::render() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard const lock(mutex_);
    collectors = collectors_;
  }
  for (auto const& collect : collectors) collect();

  std::string out;
  out.reserve(4096);
  std::lock_guard const lock(mutex_);
  // Named members, not a structured binding: the lambdas below use them, which clang 14 (the
  // fuzz build) does not allow of a binding.
  for (auto const& item : entries_) {
    auto const& name = item.first;
    auto const& entry = item.second;
    out += "# HELP ";
    out += name;
    out += ' ';
    append_escaped(out, entry->help, false);
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type_name(entry->type);
    out += '\n';
    auto const& labels = entry->labels;
    auto const series_head = [&](std::string_view suffix, std::string_view key) {
      out += name;
      out += suffix;
      if (!labels.empty()) append_labels(out, labels, key);
    };
    switch (entry->series.index()) {
      case 0:
        if (auto const& f = std::get<0>(entry->series)) {
          f->for_each([&](std::string_view key, Counter const& c) {
            series_head("", key);
            close_labels(out, !labels.empty());
            out += ' ';
            append_number(out, c.value());
            out += '\n';
          });
        }
        break;
      case 1:
        if (auto const& f = std::get<1>(entry->series)) {
          f->for_each([&](std::string_view key, Gauge const& g) {
            series_head("", key);
            close_labels(out, !labels.empty());
            out += ' ';
            append_number(out, g.value());
            out += '\n';
          });
        }
        break;
      case 2:
        if (auto const& f = std::get<2>(entry->series)) {
          f->for_each([&](std::string_view key, Histogram const& h) {
            auto const snap = h.snapshot();
            for (std::size_t i = 0; i <= snap.bounds.size(); ++i) {
              series_head("_bucket", key);
              out += labels.empty() ? "{" : ",";
              out += "le=\"";
              if (i < snap.bounds.size()) {
                append_number(out, snap.bounds[i]);
              } else {
                out += "+Inf";
              }
              out += "\"} ";
              append_number(out, snap.cumulative[i]);
              out += '\n';
            }
            series_head("_sum", key);
            close_labels(out, !labels.empty());
            out += ' ';
            append_number(out, snap.sum);
            out += '\n';
            series_head("_count", key);
            close_labels(out, !labels.empty());
            out += ' ';
            append_number(out, snap.count);
            out += '\n';
          });
        }
        break;
      case 3: {
        auto const& read = std::get<3>(entry->series);
        out += name;
        out += ' ';
        append_number(out, read ? read() : std::numeric_limits<double>::quiet_NaN());
        out += '\n';
        break;
      }
      default: break;
    }
  }
  return out;
}

namespace {

// One line of an exposition being read; every reader advances `at` past what it consumed.
class LineReader {
 public:
  explicit LineReader(std::string_view line) : line_(line) {}

  bool done() const { return at_ >= line_.size(); }
  char peek() const { return done() ? '\0' : line_[at_]; }
  bool take(char c) {
    if (peek() != c) return false;
    ++at_;
    return true;
  }
  void skip_blanks() {
    while (!done() && (line_[at_] == ' ' || line_[at_] == '\t')) ++at_;
  }
  // A metric (colons allowed) or label name.
  std::string_view name(bool allow_colon) {
    auto const start = at_;
    while (!done()) {
      char const c = line_[at_];
      bool const ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':') ||
                      (at_ > start && c >= '0' && c <= '9');
      if (!ok) break;
      ++at_;
    }
    return line_.substr(start, at_ - start);
  }
  // A token up to the next blank.
  std::string_view word() {
    auto const start = at_;
    while (!done() && line_[at_] != ' ' && line_[at_] != '\t') ++at_;
    return line_.substr(start, at_ - start);
  }
  std::string_view rest() const { return done() ? std::string_view() : line_.substr(at_); }
  // A quoted label value, unescaped into `out`. False when unterminated or badly escaped.
  bool quoted(std::string& out) {
    if (!take('"')) return false;
    while (!done()) {
      char const c = line_[at_++];
      if (c == '"') return true;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (done()) return false;
      char const escaped = line_[at_++];
      if (escaped == 'n') {
        out += '\n';
      } else if (escaped == '\\' || escaped == '"') {
        out += escaped;
      } else {
        return false;
      }
    }
    return false;
  }

 private:
  std::string_view line_;
  std::size_t at_ = 0;
};

std::optional<double> parse_sample_value(std::string_view text) {
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text.empty()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

bool is_type_name(std::string_view type) {
  return type == "counter" || type == "gauge" || type == "histogram" || type == "summary" || type == "untyped";
}

// Help text as the format escapes it (backslash and newline only), with no control character.
bool is_help_text(std::string_view help) {
  for (std::size_t i = 0; i < help.size(); ++i) {
    auto const c = static_cast<unsigned char>(help[i]);
    if (c < 0x20 || c == 0x7f) return false;
    if (c == '\\') {
      if (i + 1 >= help.size() || (help[i + 1] != '\\' && help[i + 1] != 'n')) return false;
      ++i;
    }
  }
  return true;
}

}  // namespace

result<std::string> canonical_exposition(std::string_view text, std::size_t max_lines) {
  std::string out;
  out.reserve(text.size());
  std::size_t number = 0;
  while (!text.empty()) {
    auto const end = text.find('\n');
    auto line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++number;
    if (number > max_lines) {
      return Error(errc::out_of_range, "the exposition has more than " + std::to_string(max_lines) + " lines");
    }
    auto const bad = [number](std::string const& why) {
      return Error(errc::invalid_value, "line " + std::to_string(number) + ": " + why);
    };
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    LineReader in(line);
    in.skip_blanks();
    if (in.done()) continue;
    if (in.take('#')) {
      in.skip_blanks();
      auto const keyword = in.word();
      if (keyword != "HELP" && keyword != "TYPE") continue;  // a plain comment: dropped
      in.skip_blanks();
      auto const name = in.name(true);
      if (name.empty() || !(in.done() || in.peek() == ' ' || in.peek() == '\t')) {
        return bad("a " + std::string(keyword) + " line without a valid metric name");
      }
      in.skip_blanks();
      auto const rest = in.rest();
      if (keyword == "TYPE") {
        auto type = rest;
        while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
        if (!is_type_name(type)) return bad("unknown metric type");
        out += "# TYPE ";
        out += name;
        out += ' ';
        out += type;
        out += '\n';
      } else {
        if (!is_help_text(rest)) return bad("help text with a control character or a bad escape");
        out += "# HELP ";
        out += name;
        out += ' ';
        out += rest;
        out += '\n';
      }
      continue;
    }
    auto const name = in.name(true);
    if (name.empty()) return bad("a sample must start with a metric name");
    out += name;
    if (in.take('{')) {
      out += '{';
      bool first = true;
      for (;;) {
        in.skip_blanks();
        if (in.take('}')) break;
        auto const label = in.name(false);
        if (label.empty()) return bad("a label name is missing or invalid");
        in.skip_blanks();
        if (!in.take('=')) return bad("a label without '='");
        in.skip_blanks();
        std::string value;
        if (!in.quoted(value)) return bad("a label value is not a properly escaped quoted string");
        if (!first) out += ',';
        first = false;
        out += label;
        out += "=\"";
        append_escaped(out, value, true);
        out += '"';
        in.skip_blanks();
        if (in.take(',')) continue;
        if (in.take('}')) break;
        return bad("labels must be separated by ',' and closed by '}'");
      }
      out += '}';
    }
    if (!(in.peek() == ' ' || in.peek() == '\t')) return bad("a sample needs a value after its name");
    in.skip_blanks();
    auto const value = parse_sample_value(in.word());
    if (!value) return bad("the value is not a number");
    out += ' ';
    append_number(out, *value);
    in.skip_blanks();
    if (!in.done()) {
      auto const stamp = in.word();
      std::int64_t ms = 0;
      auto [stamp_end, ec] = std::from_chars(stamp.data(), stamp.data() + stamp.size(), ms);
      if (stamp.empty() || ec != std::errc() || stamp_end != stamp.data() + stamp.size()) {
        return bad("the timestamp is not an integer");
      }
      out += ' ';
      out += stamp;
      in.skip_blanks();
      if (!in.done()) return bad("text after the timestamp");
    }
    out += '\n';
  }
  return out;
}

void add_process_metrics(Registry& registry) {
  registry.callback("process_cpu_seconds_total", "User and system CPU time spent, in seconds", Type::counter,
                    [] { return detail::read_proc_self().cpu_seconds; });
  registry.callback("process_resident_memory_bytes", "Resident memory size, in bytes", Type::gauge,
                    [] { return static_cast<double>(detail::read_proc_self().resident_bytes); });
  registry.callback("process_virtual_memory_bytes", "Virtual memory size, in bytes", Type::gauge,
                    [] { return static_cast<double>(detail::read_proc_self().virtual_bytes); });
  registry.callback("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds",
                    Type::gauge, [] { return detail::read_proc_self().start_time_seconds; });
  registry.callback("process_open_fds", "Open file descriptors", Type::gauge,
                    [] { return static_cast<double>(detail::count_open_fds()); });
  registry.callback("process_max_fds", "The soft limit of open file descriptors", Type::gauge,
                    [] { return static_cast<double>(detail::max_fds()); });
}

}  // namespace ee::metrics

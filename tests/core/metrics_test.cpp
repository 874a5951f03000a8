#include <easyenclave/metrics.hpp>

#include "detail/proc_self.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace {

using ee::metrics::Registry;
using ee::metrics::Type;

TEST(Metrics, RendersCountersAndGaugesWithHelpTypeAndSortedSeries) {
  Registry r;
  auto& requests = r.counter("app_requests_total", "Requests served", {"route", "status"});
  requests.with({"/b", "200"}).inc(2);
  requests.with({"/a", "500"}).inc();
  requests.with({"/a", "200"}).inc(7);
  r.gauge("app_temperature", "A gauge").get().set(-1.5);

  EXPECT_EQ(r.render(),
            "# HELP app_requests_total Requests served\n"
            "# TYPE app_requests_total counter\n"
            "app_requests_total{route=\"/a\",status=\"200\"} 7\n"
            "app_requests_total{route=\"/a\",status=\"500\"} 1\n"
            "app_requests_total{route=\"/b\",status=\"200\"} 2\n"
            "# HELP app_temperature A gauge\n"
            "# TYPE app_temperature gauge\n"
            "app_temperature -1.5\n");
  EXPECT_TRUE(r.check());
}

TEST(Metrics, HistogramBucketsAreCumulativeAndInclusiveOfTheirBound) {
  Registry r;
  auto& h = r.histogram("app_seconds", "Durations", {"task"}, {0.1, 1});
  auto& series = h.with({"x"});
  series.observe(0.1);   // on the bound: counted in le="0.1"
  series.observe(0.5);
  series.observe(30);    // only in +Inf
  EXPECT_EQ(r.render(),
            "# HELP app_seconds Durations\n"
            "# TYPE app_seconds histogram\n"
            "app_seconds_bucket{task=\"x\",le=\"0.1\"} 1\n"
            "app_seconds_bucket{task=\"x\",le=\"1\"} 2\n"
            "app_seconds_bucket{task=\"x\",le=\"+Inf\"} 3\n"
            "app_seconds_sum{task=\"x\"} 30.6\n"
            "app_seconds_count{task=\"x\"} 3\n");
}

TEST(Metrics, UnlabelledHistogramPutsLeAlone) {
  Registry r;
  r.histogram("app_wait_seconds", "W", {}, {1}).get().observe(2);
  auto const text = r.render();
  EXPECT_NE(text.find("app_wait_seconds_bucket{le=\"1\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("app_wait_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("app_wait_seconds_sum 2\n"), std::string::npos) << text;
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  Registry r;
  r.counter("app_odd_total", "Help with \\ and\nnewline", {"v"}).with({"a\"b\\c\nd"}).inc();
  EXPECT_EQ(r.render(),
            "# HELP app_odd_total Help with \\\\ and\\nnewline\n"
            "# TYPE app_odd_total counter\n"
            "app_odd_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Metrics, WrongLabelCountOrNulIsNeverRenderedAndCheckSaysSo) {
  Registry r;
  auto& f = r.counter("app_x_total", "X", {"a"});
  f.with({"one", "two"}).inc();
  f.with({std::string_view("n\0l", 3)}).inc();
  EXPECT_EQ(r.render(), "# HELP app_x_total X\n# TYPE app_x_total counter\n");
  auto checked = r.check();
  ASSERT_FALSE(checked);
  EXPECT_NE(checked.error().message().find("app_x_total"), std::string::npos);
}

TEST(Metrics, BadNamesAndConflictingRegistrationsAreRecordedNotRendered) {
  {
    Registry r;
    r.counter("app_requests", "no _total suffix").get().inc();
    EXPECT_FALSE(r.check());
    EXPECT_EQ(r.render(), "");
  }
  {
    Registry r;
    r.gauge("1bad", "starts with a digit").get().set(1);
    EXPECT_FALSE(r.check());
    EXPECT_EQ(r.render(), "");
  }
  {
    Registry r;
    r.gauge("app_g", "label", {"__reserved"}).with({"x"}).set(1);
    EXPECT_FALSE(r.check());
  }
  {
    Registry r;
    r.histogram("app_h", "le is the bucket's", {"le"}, {1}).with({"x"}).observe(1);
    EXPECT_FALSE(r.check());
  }
  {
    Registry r;
    r.histogram("app_h2", "unsorted", {}, {2, 1});
    EXPECT_FALSE(r.check());
  }
  {
    Registry r;
    auto& first = r.counter("app_twice_total", "T", {"a"});
    auto& again = r.counter("app_twice_total", "T", {"a"});
    EXPECT_EQ(&first, &again);
    EXPECT_TRUE(r.check());
    r.gauge("app_twice_total", "as a gauge").get().set(3);  // another type under the same name
    EXPECT_FALSE(r.check());
    EXPECT_EQ(r.render().find("gauge"), std::string::npos);
  }
}

TEST(Metrics, CallbacksAndCollectorsRunAtRender) {
  Registry r;
  double value = 1;
  r.callback("app_cb_total", "from elsewhere", Type::counter, [&value] { return value; });
  auto& g = r.gauge("app_collected", "set at scrape");
  int collected = 0;
  r.on_collect([&] { g.get().set(++collected * 10.0); });
  value = 42;
  auto const text = r.render();
  EXPECT_NE(text.find("app_cb_total 42\n"), std::string::npos) << text;
  EXPECT_NE(text.find("app_collected 10\n"), std::string::npos) << text;
  EXPECT_EQ(collected, 1);
}

TEST(Metrics, ConcurrentIncrementsAreAllCounted) {
  Registry r;
  auto& f = r.counter("app_hits_total", "H", {"worker"});
  auto& h = r.histogram("app_hit_seconds", "H", {}, {1});
  constexpr int kThreads = 4;
  constexpr int kEach = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&f, &h, t] {
      auto const label = std::to_string(t % 2);
      for (int i = 0; i < kEach; ++i) {
        f.with({label}).inc();
        h.get().observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(f.with({"0"}).value() + f.with({"1"}).value(), std::uint64_t{kThreads * kEach});
  EXPECT_EQ(h.get().snapshot().count, std::uint64_t{kThreads * kEach});
}

TEST(Metrics, ProcessMetricsReadThisProcess) {
  Registry r;
  ee::metrics::add_process_metrics(r);
  ASSERT_TRUE(r.check());
  auto const text = r.render();
  for (auto name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds ",
                    "process_max_fds ", "process_start_time_seconds ", "process_virtual_memory_bytes "}) {
    EXPECT_NE(text.find(std::string("\n") + name), std::string::npos) << name;
  }
  auto const self = ee::detail::read_proc_self();
  EXPECT_GT(self.resident_bytes, 0u);
  EXPECT_GT(self.start_time_seconds, 1.7e9);  // after 2023: a real epoch time, not ticks since boot
  EXPECT_GT(ee::detail::count_open_fds(), 2u);
}

TEST(CanonicalExposition, ARenderIsItsOwnCanonicalForm) {
  Registry r;
  r.counter("app_requests_total", "Requests \\ served\nhere", {"route"}).with({"/a\"b\\c\nd"}).inc(3);
  r.histogram("app_seconds", "D", {"task"}, {0.5, 1}).with({"x"}).observe(0.7);
  r.gauge("app_level", "G").get().set(-2.25);
  ee::metrics::add_process_metrics(r);
  auto const text = r.render();
  auto const again = ee::metrics::canonical_exposition(text);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, text);
}

TEST(CanonicalExposition, NormalisesSpacingDropsCommentsAndKeepsTimestamps) {
  auto const out = ee::metrics::canonical_exposition(
      "# a plain comment\n"
      "\n"
      "#  TYPE  x_total   counter  \r\n"
      "x_total{ a = \"1\" , b=\"q\\\"\" ,} 3.0 1700000000000\n"
      "y\t+Inf\n"
      "z -Inf -5\n"
      "w NaN");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(*out,
            "# TYPE x_total counter\n"
            "x_total{a=\"1\",b=\"q\\\"\"} 3 1700000000000\n"
            "y +Inf\n"
            "z -Inf -5\n"
            "w NaN\n");
}

TEST(CanonicalExposition, RefusesWhatItCannotReadNamingTheLine) {
  struct Case {
    char const* text;
    char const* says;
  };
  for (auto const& c : std::initializer_list<Case>{
           {"<html>", "line 1"},
           {"ok 1\n1bad 2", "line 2"},
           {"x{a=\"1} 1", "quoted"},
           {"x{a=\"\\t\"} 1", "quoted"},
           {"x{a=1} 1", "quoted"},
           {"x{=\"1\"} 1", "label name"},
           {"x{a=\"1\" b=\"2\"} 1", "separated"},
           {"x", "value"},
           {"x{a=\"1\"}", "value"},
           {"x 1x", "number"},
           {"x 0x10", "number"},
           {"x 1e999", "number"},
           {"x 1 12.5", "timestamp"},
           {"x 1 2 3", "after the timestamp"},
           {"# TYPE x widget", "type"},
           {"# TYPE 9x counter", "metric name"},
           {"# HELP x bell\x07", "control"},
           {"# HELP x bad \\t escape", "escape"},
       }) {
    auto const out = ee::metrics::canonical_exposition(c.text);
    ASSERT_FALSE(out) << c.text;
    EXPECT_NE(out.error().message().find(c.says), std::string::npos) << c.text << ": " << out.error().message();
  }
}

TEST(CanonicalExposition, StopsAtTheLineLimit) {
  std::string text;
  for (int i = 0; i < 11; ++i) text += "x " + std::to_string(i) + "\n";
  EXPECT_TRUE(ee::metrics::canonical_exposition(text, 11));
  auto const out = ee::metrics::canonical_exposition(text, 10);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message().find("more than 10 lines"), std::string::npos);
}

TEST(ProcStat, ParsesFieldsAfterACommandNameWithSpacesAndParentheses) {
  // Fields 3.. of proc(5); utime 14 = 11, stime 15 = 22, starttime 22 = 333, vsize 23 = 4096,
  // rss 24 = 7.
  std::string const text =
      "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 11 22 0 0 20 0 3 0 333 4096 7 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  auto const stat = ee::detail::parse_proc_stat(text);
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->utime_ticks, 11u);
  EXPECT_EQ(stat->stime_ticks, 22u);
  EXPECT_EQ(stat->start_ticks, 333u);
  EXPECT_EQ(stat->virtual_bytes, 4096u);
  EXPECT_EQ(stat->resident_pages, 7u);
}

TEST(ProcStat, RefusesTruncatedOrMalformedText) {
  EXPECT_FALSE(ee::detail::parse_proc_stat(""));
  EXPECT_FALSE(ee::detail::parse_proc_stat("1234 no parenthesis 1 2 3"));
  EXPECT_FALSE(ee::detail::parse_proc_stat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 11"));  // ends before field 24
  EXPECT_FALSE(ee::detail::parse_proc_stat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 1x 22 0 0 20 0 3 0 333 4096 7"));
  EXPECT_FALSE(ee::detail::parse_proc_stat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 11 22 0 0 20 0 3 0 -5 4096 7"));
  EXPECT_FALSE(ee::detail::parse_proc_stat(
      "1 (x) S 1 1 1 0 -1 0 0 0 0 0 99999999999999999999999 22 0 0 20 0 3 0 1 4096 7"));
}

TEST(ProcStat, BootTimeLine) {
  EXPECT_EQ(ee::detail::parse_boot_time("cpu 1 2 3\nbtime 1765000000\nprocesses 9\n"), 1765000000u);
  EXPECT_FALSE(ee::detail::parse_boot_time("cpu 1 2 3\n"));
  EXPECT_FALSE(ee::detail::parse_boot_time("btime x\n"));
  EXPECT_FALSE(ee::detail::parse_boot_time(""));
}

}  // namespace

#include <easyenclave/log.hpp>

#include "detail/log.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <mutex>

#include <unistd.h>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Captured {
  ee::log::Level level;
  std::string component;
  std::string message;
};

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ee::log::set_sink([this](ee::log::Level l, std::string_view c, std::string_view m) {
      std::lock_guard lock(mutex_);
      events_.push_back({l, std::string(c), std::string(m)});
    });
    ee::log::set_level(ee::log::Level::info);
  }
  void TearDown() override {
    ee::log::set_sink({});
    ee::log::set_level(ee::log::Level::info);
  }
  std::vector<Captured> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::mutex mutex_;
  std::vector<Captured> events_;
};

TEST_F(LogTest, StreamsArgumentsIntoOneEvent) {
  ee::detail::log::info("tdx", "parsed quote v", 4, " bytes=", 5006);
  auto const got = events();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].level, ee::log::Level::info);
  EXPECT_EQ(got[0].component, "tdx");
  EXPECT_EQ(got[0].message, "parsed quote v4 bytes=5006");
}

TEST_F(LogTest, DropsEventsBelowTheLevelWithoutFormatting) {
  ee::detail::log::debug("x", "not shown");
  ee::log::set_level(ee::log::Level::error);
  ee::detail::log::warn("x", "not shown either");
  ee::detail::log::error("x", "shown");
  auto const got = events();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message, "shown");
  EXPECT_FALSE(ee::log::enabled(ee::log::Level::warn));
  EXPECT_TRUE(ee::log::enabled(ee::log::Level::error));
}

TEST_F(LogTest, SilentWithoutSink) {
  ee::log::set_sink({});
  EXPECT_FALSE(ee::log::enabled(ee::log::Level::error));
  ee::detail::log::error("x", "goes nowhere");  // must not crash
}

TEST_F(LogTest, ConcurrentEventsAllArrive) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t] {
      for (int i = 0; i < 100; ++i) ee::detail::log::info("c", "t=", t, " i=", i);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(events().size(), 400u);
}

TEST(LogNames, ParseLevelsAndFormats) {
  ee::log::Level level = ee::log::Level::info;
  EXPECT_TRUE(ee::log::parse_level("debug", level));
  EXPECT_EQ(level, ee::log::Level::debug);
  EXPECT_TRUE(ee::log::parse_level("warning", level));
  EXPECT_EQ(level, ee::log::Level::warn);
  EXPECT_FALSE(ee::log::parse_level("verbose", level));
  EXPECT_EQ(level, ee::log::Level::warn);
  ee::log::Format format = ee::log::Format::text;
  EXPECT_TRUE(ee::log::parse_format("json", format));
  EXPECT_EQ(format, ee::log::Format::json);
  EXPECT_FALSE(ee::log::parse_format("xml", format));
}

// The stderr sink writes one line per event; JSON lines escape control characters and quotes.
TEST(LogStderrSink, WritesOneJsonLinePerEvent) {
  std::FILE* capture = std::tmpfile();
  ASSERT_NE(capture, nullptr);
  int const saved = dup(fileno(stderr));
  std::fflush(stderr);
  dup2(fileno(capture), fileno(stderr));
  auto sink = ee::log::make_stderr_sink(ee::log::Format::json);
  sink(ee::log::Level::warn, "http", "line one\nwith \"quotes\"");
  sink(ee::log::Level::info, "cp", "second");
  sink(ee::log::Level::debug, "http", "method=GET status=200 request_id=Ab9._-x\"y other_request_id=zzz");
  sink(ee::log::Level::debug, "http", "other_request_id=zzz");
  std::fflush(stderr);
  dup2(saved, fileno(stderr));
  close(saved);
  std::rewind(capture);
  std::string text;
  char buf[512];
  while (auto n = std::fread(buf, 1, sizeof buf, capture)) text.append(buf, n);
  std::fclose(capture);
  ASSERT_EQ(std::count(text.begin(), text.end(), '\n'), 4);
  // A request line's id is a field too (only the id's own characters; another key's ending in
  // request_id is not it).
  EXPECT_NE(text.find(R"(other_request_id=zzz","request_id":"Ab9._-x"})"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("msg":"other_request_id=zzz"})"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("level":"warn","component":"http","msg":"line one\nwith \"quotes\""})"), std::string::npos)
      << text;
  EXPECT_NE(text.find(R"("msg":"second"})"), std::string::npos);
}

}  // namespace

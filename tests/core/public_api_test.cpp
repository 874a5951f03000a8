// The small public helpers: files, time, encodings.
#include <easyenclave/encoding.hpp>
#include <easyenclave/file.hpp>
#include <easyenclave/time.hpp>

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

namespace {

TEST(File, AtomicWriteThenReadRoundTrips) {
  ee::test::TempDir dir;
  auto const path = dir.path() / "state.json";
  ASSERT_TRUE(ee::write_file_atomic(path, std::string_view("{\"a\":1}")));
  EXPECT_EQ(ee::read_file(path).value(), "{\"a\":1}");
  ASSERT_TRUE(ee::write_file_atomic(path, std::string_view("second"), 0600));
  EXPECT_EQ(ee::read_file(path).value(), "second");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temporary files are left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] auto const& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST(File, ErrorsNameThePath) {
  auto missing = ee::read_file("/nonexistent/dir/file");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), ee::errc::io_error);
  EXPECT_NE(missing.error().message().find("/nonexistent/dir/file"), std::string::npos);
  auto unwritable = ee::write_file_atomic("/nonexistent/dir/file", std::string_view("x"));
  ASSERT_FALSE(unwritable);
  EXPECT_EQ(unwritable.error(), ee::errc::io_error);
  ee::test::TempDir dir;
  auto const big = dir.write("big", std::string(100, 'x'));
  auto capped = ee::read_file(big, 10);
  ASSERT_FALSE(capped);
  EXPECT_EQ(capped.error(), ee::errc::out_of_range);
}

TEST(Time, ParsesRfc3339AndUnixSeconds) {
  auto const rfc = ee::parse_time("2025-07-19T10:00:34Z").value();
  auto const unix_time = ee::parse_time("1752919234").value();
  EXPECT_EQ(rfc, unix_time);
  EXPECT_EQ(ee::format_time(rfc), "2025-07-19T10:00:34Z");
  EXPECT_FALSE(ee::parse_time("99999999999999999999999"));
  EXPECT_FALSE(ee::parse_time("yesterday"));
  EXPECT_FALSE(ee::parse_time(""));
}

TEST(Encoding, PublicHexAndBase64) {
  std::vector<std::uint8_t> const bytes = {0xde, 0xad, 0xbe, 0xef};
  EXPECT_EQ(ee::hex_encode(bytes), "deadbeef");
  EXPECT_EQ(ee::hex_decode("DEADBEEF").value(), bytes);
  EXPECT_EQ(ee::base64_encode(bytes), "3q2+7w==");
  EXPECT_EQ(ee::base64_decode("3q2+7w==").value(), bytes);
  EXPECT_EQ(ee::hex_decode("xyz").error(), ee::errc::bad_hex);
  EXPECT_EQ(ee::base64_decode("3q2+7w=").error(), ee::errc::bad_base64);
}

}  // namespace

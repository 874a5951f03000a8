#include <easyenclave/error.hpp>
#include <easyenclave/http/error.hpp>

#include <gtest/gtest.h>

namespace {

ee::result<int> parse_positive(int n) {
  if (n <= 0) return ee::Error(ee::errc::out_of_range, "n must be positive");
  return n;
}

TEST(Error, DomainCodeMapsOntoCondition) {
  ee::Error const e = ee::errc::bad_hex;
  EXPECT_EQ(e, ee::errc::bad_hex);
  EXPECT_EQ(e, ee::condition::invalid_input);
  EXPECT_FALSE(e == ee::condition::upstream_failure);
  EXPECT_EQ(e.cond(), ee::condition::invalid_input);
  ee::Error const timeout = ee::http::errc::timeout;
  EXPECT_EQ(timeout, ee::condition::unavailable);
  EXPECT_EQ(ee::Error(ee::http::errc::certificate_untrusted).cond(), ee::condition::upstream_failure);
}

TEST(Error, IdIsDomainDotName) {
  EXPECT_EQ(ee::Error(ee::errc::missing_field).id(), "core.missing_field");
  EXPECT_EQ(ee::Error(ee::http::errc::bad_url).id(), "http.bad_url");
  ee::Error const foreign(boost::system::errc::make_error_code(boost::system::errc::io_error));
  EXPECT_EQ(foreign.id(), "generic:" + std::to_string(EIO));
  EXPECT_EQ(foreign.cond(), ee::condition::upstream_failure);
}

TEST(Error, MessagePrefersDetailAndContextPrefixes) {
  ee::Error const bare = ee::errc::bad_base64;
  EXPECT_EQ(bare.message(), "not valid base64");
  ee::Error const detailed(ee::errc::bad_base64, "invalid character at offset 3");
  EXPECT_EQ(detailed.message(), "invalid character at offset 3");
  EXPECT_EQ(detailed.with_context("field 'quote'").message(), "field 'quote': invalid character at offset 3");
  EXPECT_EQ(bare.with_context("quote").message(), "quote: not valid base64");
  EXPECT_EQ(detailed.with_context("x"), ee::errc::bad_base64);
}

TEST(Error, ResultCarriesValueOrError) {
  auto ok = parse_positive(3);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 3);
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), ee::errc::out_of_range);
  EXPECT_EQ(bad.error().message(), "n must be positive");
}

TEST(Error, ValueThrowsSystemErrorWithTheError) {
  auto bad = parse_positive(0);
  try {
    (void)bad.value();
    FAIL() << "value() must throw on an error result";
  } catch (ee::SystemError const& e) {
    EXPECT_EQ(e.error(), ee::errc::out_of_range);
    EXPECT_NE(std::string(e.what()).find("n must be positive"), std::string::npos);
  }
}

TEST(Error, ConditionNamesAreStable) {
  EXPECT_EQ(ee::to_string(ee::condition::invalid_input), "invalid_input");
  EXPECT_EQ(ee::to_string(ee::condition::unavailable), "unavailable");
  EXPECT_EQ(ee::condition_of(ee::error_code{}), ee::condition{});
}

TEST(Error, ForeignTimeoutAndCancellationAreUnavailable) {
  namespace se = boost::system::errc;
  EXPECT_EQ(ee::condition_of(se::make_error_code(se::timed_out)), ee::condition::unavailable);
  EXPECT_EQ(ee::condition_of(se::make_error_code(se::operation_canceled)), ee::condition::unavailable);
  EXPECT_EQ(ee::condition_of(se::make_error_code(se::no_such_file_or_directory)), ee::condition::not_found);
}

}  // namespace

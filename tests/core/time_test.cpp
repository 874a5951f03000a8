#include "detail/time.hpp"

#include <gtest/gtest.h>

namespace {

using ee::detail::format_rfc3339;
using ee::detail::from_unix_seconds;
using ee::detail::parse_rfc3339;
using ee::detail::to_unix_seconds;

TEST(Rfc3339, ParsesUtcAndOffsets) {
  EXPECT_EQ(to_unix_seconds(parse_rfc3339("2023-07-01T01:00:00Z").value()), 1688173200);
  EXPECT_EQ(to_unix_seconds(parse_rfc3339("2026-03-20T10:41:14Z").value()), 1774003274);
  EXPECT_EQ(to_unix_seconds(parse_rfc3339("2023-07-01T03:00:00+02:00").value()), 1688173200);
  EXPECT_EQ(to_unix_seconds(parse_rfc3339("2023-06-30T20:30:00-04:30").value()), 1688173200);
  EXPECT_EQ(to_unix_seconds(parse_rfc3339("1970-01-01t00:00:00z").value()), 0);
  EXPECT_EQ(to_unix_seconds(parse_rfc3339("1969-12-31 23:59:59Z").value()), -1);
}

TEST(Rfc3339, KeepsFractions) {
  auto t = parse_rfc3339("2023-12-05T00:09:10.123456789Z").value();
  EXPECT_EQ(to_unix_seconds(t), 1701734950);
  EXPECT_EQ(format_rfc3339(t, 6), "2023-12-05T00:09:10.123456Z");
  EXPECT_EQ(format_rfc3339(t, 3), "2023-12-05T00:09:10.123Z");
  EXPECT_EQ(format_rfc3339(t), "2023-12-05T00:09:10Z");
  // More than nine fraction digits: extra precision is dropped, not an error.
  EXPECT_TRUE(parse_rfc3339("2023-12-05T00:09:10.1234567891234Z"));
}

TEST(Rfc3339, FormatRoundTrips) {
  for (std::int64_t s : {0LL, 1688173200LL, 1774003274LL, 951782400LL /* 2000-02-29 */, -86400LL}) {
    auto const text = format_rfc3339(from_unix_seconds(s));
    EXPECT_EQ(to_unix_seconds(parse_rfc3339(text).value()), s) << text;
  }
  EXPECT_EQ(format_rfc3339(from_unix_seconds(951782400)), "2000-02-29T00:00:00Z");
}

TEST(Rfc3339, RejectsMalformedTimestamps) {
  for (auto bad : {"", "2023-07-01", "2023-07-01T01:00:00", "2023-07-01T01:00Z", "2023-13-01T00:00:00Z",
                   "2023-02-29T00:00:00Z", "2023-04-31T00:00:00Z", "2023-07-01T24:00:00Z",
                   "2023-07-01T23:60:00Z", "2016-12-31T23:59:60Z", "2023-07-01T01:00:00.Z",
                   "2023-07-01T01:00:00+0200", "2023-07-01T01:00:00+24:00", "2023-07-01T01:00:00Zjunk",
                   "2023-07-01X01:00:00Z", "20230701T010000Z", "2023-7-01T01:00:00Z", "+023-07-01T01:00:00Z",
                   "9999-12-31T23:59:59Z", "1000-01-01T00:00:00Z", "2023-07-01T01:00:00 Z"}) {
    auto r = parse_rfc3339(bad);
    EXPECT_FALSE(r) << "accepted: " << bad;
    if (!r) {
      EXPECT_EQ(r.error(), ee::errc::bad_time) << bad;
    }
  }
}

TEST(UnixSeconds, ClampsInsteadOfOverflowing) {
  auto far = from_unix_seconds(std::numeric_limits<std::int64_t>::max());
  auto past = from_unix_seconds(std::numeric_limits<std::int64_t>::min());
  EXPECT_GT(far, from_unix_seconds(4'000'000'000));
  EXPECT_LT(past, from_unix_seconds(-4'000'000'000));
}

}  // namespace

#include "detail/json.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace {

namespace json = ee::detail::json;

TEST(JsonParse, AcceptsOneStrictDocument) {
  auto v = json::parse(R"({"a":1,"b":[true,null,"x"],"c":{"d":-2.5}})");
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(json::serialize(*v), R"({"a":1,"b":[true,null,"x"],"c":{"d":-2.5E0}})");
}

TEST(JsonParse, RejectsMalformedDocuments) {
  for (auto bad : {"", "{", "{\"a\":}", "[1,]", "{\"a\":1,}", "{'a':1}", "{\"a\":1} x", "// c\n{}",
                   "{\"a\":1}{}", "nul", "\"\\x\"", "01", "1.", "{\"a\" 1}"}) {
    auto r = json::parse(bad);
    EXPECT_FALSE(r) << "accepted: " << bad;
    if (!r) {
      EXPECT_EQ(r.error(), ee::errc::invalid_json) << bad;
      EXPECT_EQ(r.error(), ee::condition::invalid_input);
    }
  }
}

TEST(JsonParse, EveryTruncationOfAValidDocumentFails) {
  std::string const doc = R"({"vm_name":"agent-1","nested":{"list":[1,2,{"k":"v"}],"n":-12},"ok":true})";
  ASSERT_TRUE(json::parse(doc));
  for (std::size_t n = 0; n < doc.size(); ++n) {
    EXPECT_FALSE(json::parse(doc.substr(0, n))) << "prefix of length " << n << " accepted";
  }
}

TEST(JsonParse, RejectsDuplicateKeysAtAnyDepth) {
  for (auto doc : {R"({"a":1,"a":2})", R"({"x":{"a":1,"b":2,"a":3}})", R"([{"k":1},{"k":1,"k":1}])",
                   R"({"a\u0062":1,"ab":2})"}) {
    auto r = json::parse(doc);
    ASSERT_FALSE(r) << doc;
    EXPECT_EQ(r.error(), ee::errc::duplicate_json_key) << doc;
  }
  // The same key in sibling objects is fine.
  EXPECT_TRUE(json::parse(R"([{"k":1},{"k":2}])"));
  EXPECT_TRUE(json::parse(R"({"a":{"a":{"a":1}}})"));
}

TEST(JsonParse, EnforcesDepthAndSizeLimits) {
  std::string deep(40, '[');
  deep += std::string(40, ']');
  auto too_deep = json::parse(deep);
  ASSERT_FALSE(too_deep);
  EXPECT_EQ(too_deep.error(), ee::errc::json_too_deep);
  EXPECT_TRUE(json::parse(deep, {.max_depth = 64}));
  auto too_large = json::parse(R"({"a":"0123456789"})", {.max_bytes = 10});
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.error(), ee::errc::json_too_large);
}

TEST(JsonParse, RejectsInvalidUtf8) {
  EXPECT_FALSE(json::parse("\"\xc3\x28\""));
  EXPECT_TRUE(json::parse("\"\xc3\xa9\""));
}

TEST(JsonParse, HugeNumbers) {
  // Beyond double's range: refused rather than read as infinity.
  auto inf = json::parse(R"({"n":1e400})");
  ASSERT_FALSE(inf);
  EXPECT_EQ(inf.error(), ee::errc::out_of_range);
  EXPECT_FALSE(json::parse("-1e400"));
  EXPECT_TRUE(json::parse(" {\"a\":1} \n"));  // surrounding whitespace is part of the grammar
  // Beyond int64 but within uint64 and beyond uint64: parsed, but not an int64 field.
  auto v = json::parse(R"({"big":18446744073709551615,"bigger":123456789012345678901234567890})");
  ASSERT_TRUE(v);
  auto r = json::ObjectReader::from(*v);
  ASSERT_TRUE(r);
  auto big = r->integer("big");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), ee::errc::out_of_range);
  auto bigger = r->integer("bigger");
  ASSERT_FALSE(bigger);
  EXPECT_EQ(bigger.error(), ee::errc::wrong_type);
}

class ObjectReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto v = json::parse(R"({"name":"agent-1","count":7,"ratio":0.5,"flag":true,"none":null,
      "inner":{"mrtd":"ab","deeper":{"x":1}},"list":["a","b"],"mixed":["a",2],"neg":-5})");
    ASSERT_TRUE(v) << v.error().message();
    doc_ = std::move(*v);
  }
  json::ObjectReader reader() { return json::ObjectReader::from(doc_).value(); }
  boost::json::value doc_;
};

TEST_F(ObjectReaderTest, ReadsTypedFields) {
  auto r = reader();
  EXPECT_EQ(r.string("name").value(), "agent-1");
  EXPECT_EQ(r.integer("count", 0, 10).value(), 7);
  EXPECT_TRUE(r.boolean("flag").value());
  EXPECT_EQ(r.child("inner").value().string("mrtd").value(), "ab");
  EXPECT_EQ(r.string_array("list").value(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.array("mixed").value()->size(), 2u);
}

TEST_F(ObjectReaderTest, OptionalFieldsTreatNullAsAbsent) {
  auto r = reader();
  EXPECT_FALSE(r.optional_string("none").value().has_value());
  EXPECT_FALSE(r.optional_string("absent").value().has_value());
  EXPECT_EQ(r.optional_string("name").value(), "agent-1");
  EXPECT_FALSE(r.optional_integer("absent").value().has_value());
  EXPECT_EQ(r.optional_boolean("flag").value(), true);
  EXPECT_FALSE(r.optional_child("absent").value().has_value());
  EXPECT_FALSE(r.contains("none"));
  auto wrong = r.optional_string("count");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), ee::errc::wrong_type);
}

TEST_F(ObjectReaderTest, ErrorsNameTheFieldPath) {
  auto r = reader();
  auto missing = r.string("vm_name");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), ee::errc::missing_field);
  EXPECT_EQ(missing.error().message(), "body.vm_name: required field is missing");

  auto wrong = r.string("count");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), ee::errc::wrong_type);
  EXPECT_EQ(wrong.error().message(), "body.count: expected string, got number");

  auto nested = r.child("inner").value().child("deeper").value().string("x");
  ASSERT_FALSE(nested);
  EXPECT_EQ(nested.error().message(), "body.inner.deeper.x: expected string, got number");

  auto fraction = r.integer("ratio");
  ASSERT_FALSE(fraction);
  EXPECT_EQ(fraction.error(), ee::errc::wrong_type);

  auto range = r.integer("neg", 0, 100);
  ASSERT_FALSE(range);
  EXPECT_EQ(range.error(), ee::errc::out_of_range);
  EXPECT_EQ(range.error().message(), "body.neg: integer must be between 0 and 100");

  auto elements = r.string_array("mixed");
  ASSERT_FALSE(elements);
  EXPECT_EQ(elements.error().message(), "body.mixed: element 1: expected string, got number");
  EXPECT_FALSE(r.child("name"));
  EXPECT_FALSE(r.array("name"));
  EXPECT_FALSE(r.boolean("name"));
}

TEST_F(ObjectReaderTest, RejectsUnknownKeysWhenAsked) {
  auto r = reader().child("inner").value();
  EXPECT_TRUE(r.reject_unknown({"mrtd", "deeper"}));
  auto unknown = r.reject_unknown({"mrtd"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message(), "body.inner.deeper: unknown field");
}

TEST(ObjectReader, RejectsNonObjects) {
  auto v = json::parse("[1,2]").value();
  auto r = json::ObjectReader::from(v, "request");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "request: expected object, got array");
}

}  // namespace

// The writer must give what serialising the same value gives, byte for byte: every single byte
// (control characters, quote, backslash, DEL, bytes of UTF-8 sequences), and mixed text.
TEST(JsonWriter, EscapesEveryByteAsSerializeDoes) {
  for (int b = 0; b < 256; ++b) {
    std::string const text = std::string("a") + static_cast<char>(b) + "z";
    std::string written;
    ee::detail::json::append_string(written, text);
    EXPECT_EQ(written, ee::detail::json::serialize(boost::json::value(text))) << "byte " << b;
  }
  std::string const mixed = "tab\there \"quoted\" back\\slash \x01\x1f caf\xc3\xa9 /path\n";
  std::string written;
  ee::detail::json::append_string(written, mixed);
  EXPECT_EQ(written, ee::detail::json::serialize(boost::json::value(mixed)));
}

TEST(JsonWriter, WritesAnObjectAsSerializeWouldInTheOrderGiven) {
  std::string out;
  ee::detail::json::ObjectWriter w(out);
  w.string("name", "x\"y").boolean("ok", true).boolean("no", false).integer("n", -42).null("gone")
      .integer("big", std::numeric_limits<std::int64_t>::max());
  w.end();
  boost::json::object o;
  o["name"] = "x\"y";
  o["ok"] = true;
  o["no"] = false;
  o["n"] = -42;
  o["gone"] = nullptr;
  o["big"] = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(out, ee::detail::json::serialize(o));
  std::string empty;
  ee::detail::json::ObjectWriter(empty).end();
  EXPECT_EQ(empty, "{}");
}

// Quote files in binary, hex or base64 text (decode_quote_file, read_quote_file), and verdicts
// described before and after the PCK certificate was read.
#include "support/temp_dir.hpp"

#include <easyenclave/encoding.hpp>
#include <easyenclave/tdx/describe.hpp>
#include <easyenclave/tdx/simulator.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using ee::tdx::QuoteEncoding;

std::shared_ptr<ee::tdx::Simulator> simulator() {
  static auto const sim = ee::tdx::Simulator::create().value();
  return sim;
}

std::vector<std::uint8_t> sample_quote() {
  ee::tdx::ReportData report_data{};
  report_data.fill(0x5a);
  return simulator()->quote(report_data).value();
}

std::span<std::uint8_t const> bytes_of(std::string const& text) {
  return {reinterpret_cast<std::uint8_t const*>(text.data()), text.size()};
}

// `text` broken into lines of `width` characters, each ending in "\n", as base64 and xxd -p wrap.
std::string wrapped(std::string const& text, std::size_t width) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += width) out += text.substr(i, width) + "\n";
  return out;
}

std::string upper(std::string text) {
  for (auto& c : text)
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
  return text;
}

void expect_decodes(std::string const& contents, QuoteEncoding encoding, std::vector<std::uint8_t> const& quote) {
  auto decoded = ee::tdx::decode_quote_file(bytes_of(contents));
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(decoded->encoding, encoding);
  EXPECT_EQ(decoded->bytes, quote);
}

bool names_the_formats(ee::Error const& e) {
  auto const m = e.message();
  return m.find("binary") != std::string::npos && m.find("hex") != std::string::npos &&
         m.find("base64") != std::string::npos;
}

TEST(QuoteFile, BinaryStartsWithVersionFourOrFive) {
  auto const quote = sample_quote();
  std::string const binary(quote.begin(), quote.end());
  expect_decodes(binary, QuoteEncoding::binary, quote);
  auto v5 = quote;
  v5[0] = 5;
  expect_decodes(std::string(v5.begin(), v5.end()), QuoteEncoding::binary, v5);
}

TEST(QuoteFile, HexTextInEitherCaseWrappedOrTrimmed) {
  auto const quote = sample_quote();
  auto const hex = ee::hex_encode(quote);
  expect_decodes(hex, QuoteEncoding::hex, quote);
  expect_decodes(hex + "\n", QuoteEncoding::hex, quote);
  expect_decodes("  " + upper(hex) + "\r\n", QuoteEncoding::hex, quote);
  expect_decodes(wrapped(hex, 60), QuoteEncoding::hex, quote);  // xxd -p
}

TEST(QuoteFile, Base64TextWrappedOrTrimmed) {
  auto const quote = sample_quote();
  auto const b64 = ee::base64_encode(quote);
  expect_decodes(b64, QuoteEncoding::base64, quote);
  expect_decodes(b64 + "\n", QuoteEncoding::base64, quote);  // ee sim quote
  expect_decodes(wrapped(b64, 76), QuoteEncoding::base64, quote);  // base64(1)
}

TEST(QuoteFile, OtherBinaryIsLeftToTheQuoteParser) {
  std::vector<std::uint8_t> sgx(64, 0);
  sgx[0] = 3;  // an SGX quote's version
  auto decoded = ee::tdx::decode_quote_file(sgx);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->encoding, QuoteEncoding::binary);
}

TEST(QuoteFile, RefusesTextThatIsNeitherHexNorBase64AndNamesTheFormats) {
  auto r = ee::tdx::decode_quote_file(bytes_of("-----BEGIN QUOTE-----\n"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::errc::invalid_value);
  EXPECT_TRUE(names_the_formats(r.error())) << r.error().message();
  EXPECT_NE(r.error().message().find("'-' at byte 0"), std::string::npos) << r.error().message();

  for (std::string const empty : {"", " \n\t\r\n"}) {
    auto e = ee::tdx::decode_quote_file(bytes_of(empty));
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error(), ee::errc::invalid_value);
    EXPECT_TRUE(names_the_formats(e.error())) << e.error().message();
  }
}

TEST(QuoteFile, RefusesHexOrBase64ThatDoesNotDecode) {
  auto odd = ee::tdx::decode_quote_file(bytes_of("04000200a"));
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error(), ee::errc::bad_hex);
  EXPECT_NE(odd.error().message().find("read as hex text"), std::string::npos) << odd.error().message();
  EXPECT_TRUE(names_the_formats(odd.error())) << odd.error().message();
  auto unpadded = ee::tdx::decode_quote_file(bytes_of("BAACAIEAAAAAAAAAk5pyM"));
  ASSERT_FALSE(unpadded);
  EXPECT_EQ(unpadded.error(), ee::errc::bad_base64);
  EXPECT_NE(unpadded.error().message().find("read as base64 text"), std::string::npos) << unpadded.error().message();
  EXPECT_TRUE(names_the_formats(unpadded.error())) << unpadded.error().message();
  // Words fit base64's alphabet once the spaces go; they still fail with the formats named.
  auto words = ee::tdx::decode_quote_file(bytes_of("not a quote\n"));
  ASSERT_FALSE(words);
  EXPECT_TRUE(names_the_formats(words.error())) << words.error().message();
}

TEST(QuoteFile, IsBounded) {
  std::vector<std::uint8_t> huge(ee::tdx::kMaxQuoteFileBytes + 1, static_cast<std::uint8_t>('0'));
  auto r = ee::tdx::decode_quote_file(huge);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::errc::out_of_range);
}

TEST(QuoteFile, ReadQuoteFileParsesEveryEncodingAndNamesTheFileAndFormat) {
  ee::test::TempDir dir;
  auto const quote = sample_quote();
  auto const expected = ee::tdx::parse_quote(quote).value();
  for (auto const& [name, contents] :
       std::vector<std::pair<std::string, std::string>>{{"q.dat", std::string(quote.begin(), quote.end())},
                                                        {"q.hex", ee::hex_encode(quote) + "\n"},
                                                        {"q.b64", ee::base64_encode(quote) + "\n"}}) {
    auto parsed = ee::tdx::read_quote_file(dir.write(name, contents));
    ASSERT_TRUE(parsed) << name << ": " << parsed.error().message();
    EXPECT_EQ(parsed->td_report().report_data, expected.td_report().report_data) << name;
  }
  // Hex of something that is not a TDX quote: the format was recognised; the parser says why.
  auto sgx = ee::tdx::read_quote_file(dir.write("sgx.hex", "0300" + std::string(200, '0')));
  ASSERT_FALSE(sgx);
  EXPECT_NE(sgx.error().message().find("sgx.hex (hex text)"), std::string::npos) << sgx.error().message();
  EXPECT_TRUE(names_the_formats(sgx.error())) << sgx.error().message();
  // Truncated but well-started binary: the parser's reason, without a format lecture.
  auto truncated = ee::tdx::read_quote_file(dir.write("short.dat", std::string(quote.begin(), quote.begin() + 100)));
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error(), ee::tdx::errc::quote_truncated);
  EXPECT_NE(truncated.error().message().find("short.dat (binary)"), std::string::npos) << truncated.error().message();
}

TEST(DescribeVerdict, NoFmspcBeforeThePckCertificateWasRead) {
  auto quote_bytes = sample_quote();
  ee::tdx::VerifyOptions options{.root = simulator()->root(), .now = std::chrono::system_clock::now()};

  auto good = ee::tdx::verify(ee::tdx::parse_quote(quote_bytes).value(), &simulator()->collateral(), options).value();
  ASSERT_TRUE(good.accepted());
  auto const fmspc = ee::hex_encode(good.fmspc);
  EXPECT_NE(ee::tdx::describe_verdict_text(good).find("fmspc=" + fmspc), std::string::npos);
  auto good_json = boost::json::parse(ee::tdx::describe_verdict_json(good));
  EXPECT_EQ(good_json.at("fmspc").as_string(), fmspc);
  EXPECT_TRUE(good_json.at("pck").is_object());

  // A changed signed byte fails the first step, before the PCK certificate is looked at.
  quote_bytes[200] ^= 0x01;
  auto bad = ee::tdx::verify(ee::tdx::parse_quote(quote_bytes).value(), &simulator()->collateral(), options).value();
  ASSERT_FALSE(bad.accepted());
  ASSERT_EQ(bad.steps.back().name, "quote_signature");
  auto const text = ee::tdx::describe_verdict_text(bad);
  EXPECT_EQ(text.find("fmspc"), std::string::npos) << text;
  auto bad_json = boost::json::parse(ee::tdx::describe_verdict_json(bad));
  EXPECT_TRUE(bad_json.at("fmspc").is_null());
  EXPECT_TRUE(bad_json.at("pck").is_null());
}

}  // namespace

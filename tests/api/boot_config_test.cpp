// The boot configuration codec: what the launcher puts on the kernel command line and the agent
// reads back from /proc/cmdline.
#include <easyenclave/api/boot_config.hpp>

#include <easyenclave/encoding.hpp>

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace {

using ee::api::decode_boot_config;
using ee::api::encode_boot_config;
using ee::api::fits_command_line;
using ee::api::kBootConfigMaxCmdline;
using ee::api::kBootConfigMaxJson;

constexpr char kConfig[] =
    R"({"mode":"agent","cp_url":"https://cp.example.com","owner":"github:org/octo-org",)"
    R"("node_size":"tiny","datacenter":"gcp:us-central1-a","vm_name":"vm-1"})";

// An object that compresses well: 40 near-identical flags.
std::string compressible_config() {
  std::string out = R"({"process_command":[)";
  for (int i = 0; i < 40; ++i) {
    out += std::string(i == 0 ? "" : ",") + "\"--flag-number-" + std::to_string(i) + "\"";
  }
  return out + "]}";
}

std::vector<std::uint8_t> zlib_bytes(std::string const& text) {
  uLongf size = compressBound(static_cast<uLong>(text.size()));
  std::vector<std::uint8_t> out(size);
  int const rc = compress2(out.data(), &size, reinterpret_cast<Bytef const*>(text.data()),
                           static_cast<uLong>(text.size()), Z_BEST_COMPRESSION);
  EXPECT_EQ(rc, Z_OK);
  out.resize(size);
  return out;
}

std::string zlib_b64(std::string const& text) { return ee::base64_encode(zlib_bytes(text)); }

std::string b64(std::string const& text) {
  return ee::base64_encode(
      std::span(reinterpret_cast<std::uint8_t const*>(text.data()), text.size()));
}

// Refused with the codec's code, as invalid input, with a message that mentions `what`.
testing::AssertionResult refused(ee::result<std::optional<std::string>> const& r,
                                 std::string_view what) {
  if (r) return testing::AssertionFailure() << "accepted";
  if (r.error() != ee::api::errc::invalid_boot_config) {
    return testing::AssertionFailure() << "code " << r.error().id();
  }
  if (r.error() != ee::condition::invalid_input) {
    return testing::AssertionFailure() << "not invalid_input";
  }
  if (r.error().message().find(what) == std::string::npos) {
    return testing::AssertionFailure() << "message: " << r.error().message();
  }
  return testing::AssertionSuccess();
}

TEST(BootConfig, RoundTripsThroughARealisticCommandLine) {
  auto param = encode_boot_config(kConfig);
  ASSERT_TRUE(param) << param.error().message();
  EXPECT_TRUE(fits_command_line(*param, 64));
  // As /proc/cmdline shows it: the bootloader's parameters around ours, a trailing newline.
  auto const cmdline = "BOOT_IMAGE=/vmlinuz console=ttyS0 root=/dev/vda1 ro " + *param +
                       " quiet\n";
  auto decoded = decode_boot_config(cmdline);
  ASSERT_TRUE(decoded) << decoded.error().message();
  ASSERT_TRUE(decoded->has_value());
  EXPECT_EQ(**decoded, kConfig);  // already compact: unchanged
  // Last on the line, with the newline right after the value.
  auto last = decode_boot_config("console=ttyS0 " + *param + "\n");
  ASSERT_TRUE(last && *last) << (last ? "" : last.error().message());
  EXPECT_EQ(**last, kConfig);
}

TEST(BootConfig, PicksTheCompressedFormWhenItIsShorter) {
  auto const big = compressible_config();
  auto zipped = encode_boot_config(big);
  ASSERT_TRUE(zipped);
  EXPECT_TRUE(zipped->starts_with("easyenclave.configz=")) << *zipped;
  EXPECT_LT(zipped->size(), ("easyenclave.config=" + b64(big)).size());
  auto back = decode_boot_config("console=ttyS0 root=/dev/vda1 " + *zipped + " quiet");
  ASSERT_TRUE(back && *back);
  EXPECT_EQ(**back, big);
}

TEST(BootConfig, PicksThePlainFormWhenCompressionDoesNotPay) {
  // zlib's header and checksum cost more than a tiny object saves.
  auto plain = encode_boot_config(R"({"a":1})");
  ASSERT_TRUE(plain);
  EXPECT_EQ(*plain, "easyenclave.config=" + b64(R"({"a":1})"));
  auto back = decode_boot_config(*plain);
  ASSERT_TRUE(back && *back);
  EXPECT_EQ(**back, R"({"a":1})");
}

TEST(BootConfig, UsesOnlyCharactersSafeOnACommandLine) {
  for (auto const& json : {std::string(kConfig), compressible_config()}) {
    auto param = encode_boot_config(json);
    ASSERT_TRUE(param);
    auto const value = param->substr(param->find('=') + 1);
    for (char c : value) {
      bool const b64_char = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
      EXPECT_TRUE(b64_char) << "'" << c << "' in " << *param;
    }
  }
}

TEST(BootConfig, EncodingCompactsAndRefusesWhatIsNotAnObject) {
  auto param = encode_boot_config("{ \"a\" : [ 1 , 2 ] ,\n \"b\" : { } }");
  ASSERT_TRUE(param);
  EXPECT_EQ(**decode_boot_config(*param), R"({"a":[1,2],"b":{}})");
  for (std::string const bad : {"[1,2]", "\"text\"", "1", "null", "{", "", "{\"a\":1,\"a\":2}",
                                "{\"a\":1} {}", "{\"a\":1,}"}) {
    auto r = encode_boot_config(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), ee::api::errc::invalid_boot_config) << bad;
  }
  auto too_large = encode_boot_config(R"({"x":")" + std::string(kBootConfigMaxJson, 'x') + "\"}");
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.error(), ee::api::errc::invalid_boot_config);
}

TEST(BootConfig, FitsCommandLineCountsTheKernelsLimit) {
  // 2047 characters and the NUL.
  EXPECT_TRUE(fits_command_line(std::string(kBootConfigMaxCmdline - 1, 'a')));
  EXPECT_FALSE(fits_command_line(std::string(kBootConfigMaxCmdline, 'a')));
  // With 100 characters of other parameters and the space before ours.
  EXPECT_TRUE(fits_command_line(std::string(kBootConfigMaxCmdline - 102, 'a'), 100));
  EXPECT_FALSE(fits_command_line(std::string(kBootConfigMaxCmdline - 101, 'a'), 100));
  EXPECT_FALSE(fits_command_line("a", kBootConfigMaxCmdline));
  EXPECT_FALSE(fits_command_line("a", static_cast<std::size_t>(-1)));
  // A config too big for the line still encodes: the launcher puts it on a config drive.
  std::string big = "{";
  for (int i = 0; i < 400; ++i) {
    big += std::string(i == 0 ? "" : ",") + "\"k" + std::to_string(i * 7919 % 10007) + "\":\"" +
           std::to_string(i * 104729 % 1000003) + "\"";
  }
  big += "}";
  auto param = encode_boot_config(big);
  ASSERT_TRUE(param);
  EXPECT_FALSE(fits_command_line(*param));
}

TEST(BootConfig, AbsentIsNotAnError) {
  for (std::string const line :
       {"", "\n", "console=ttyS0 quiet\n", "easyenclave.other=1 easyenclave.configuration=x",
        "xeasyenclave.config=e30= easyenclave.config_z=e30= easyenclave.Config=e30=",
        "\"foo=easyenclave.config=e30=\""}) {
    auto r = decode_boot_config(line);
    ASSERT_TRUE(r) << line << ": " << r.error().message();
    EXPECT_FALSE(r->has_value()) << line;
  }
}

TEST(BootConfig, SplitsParametersAsTheKernelDoes) {
  auto const value = b64(R"({"b":2})");
  for (std::string const& line : {
           // A quoted value, after a quoted value holding spaces.
           "dyndbg=\"file x.c +p\" easyenclave.config=\"" + value + "\" quiet",
           // The whole parameter quoted.
           "a \"easyenclave.config=" + value + "\" b",
           // Tabs and newlines separate too.
           "a\teasyenclave.config=" + value + "\nb",
           // An opening quote without a closing one runs to the end of the line.
           "a easyenclave.config=\"" + value,
       }) {
    auto r = decode_boot_config(line);
    ASSERT_TRUE(r) << line << ": " << r.error().message();
    ASSERT_TRUE(r->has_value()) << line;
    EXPECT_EQ(**r, R"({"b":2})") << line;
  }
  // A space inside the quotes belongs to the value, which then is not base64.
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config=\"e30= e30=\""), "not base64"));
}

TEST(BootConfig, RefusesMalformedValuesNamingTheProblem) {
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config="), "easyenclave.config is empty"));
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.configz"), "easyenclave.configz is empty"));
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config=\"\""), "is empty"));
  EXPECT_TRUE(refused(decode_boot_config("a easyenclave.config= b"), "is empty"));
  // Not canonical base64: a foreign character, the URL alphabet, missing padding.
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config=not*base64"), "not base64"));
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config=e30"), "not base64"));
  auto url_alphabet = b64(R"({"a":"??>>"})");
  for (char& c : url_alphabet) c = c == '+' ? '-' : c == '/' ? '_' : c;
  ASSERT_NE(url_alphabet, b64(R"({"a":"??>>"})"));
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config=" + url_alphabet), "not base64"));
  // Decodes, but not to one JSON object.
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config=" + b64("[1]")), "not a JSON object"));
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config=" + b64("{bad")), "not JSON"));
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config=" + b64("{\"a\":\"\xfb\xff\"}")),
                      "not JSON"));  // not UTF-8
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config=" + b64(R"({"a":1,"a":2})")),
                      "not JSON"));
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.configz=" + zlib_b64("\"text\"")),
                      "easyenclave.configz is not a JSON object"));
  // Longer than any configuration could encode to, checked before decoding.
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config=" + std::string(100'000, 'A')),
                      "longer than any accepted configuration"));
}

TEST(BootConfig, RefusesWhatIsNotACompleteZlibStream) {
  // Plain base64 JSON under the compressed name.
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.configz=" + b64(R"({"a":1})")),
                      "easyenclave.configz is not zlib data"));
  auto const good = zlib_bytes(R"({"a":1})");
  auto truncated = good;
  truncated.resize(truncated.size() - 3);  // part of the Adler-32 trailer
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.configz=" + ee::base64_encode(truncated)),
                      "truncated zlib stream"));
  auto trailing = good;
  trailing.push_back(0);
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.configz=" + ee::base64_encode(trailing)),
                      "bytes after its zlib stream"));
  auto corrupt = good;
  corrupt[corrupt.size() - 1] ^= 0x01;  // the checksum no longer matches
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.configz=" + ee::base64_encode(corrupt)),
                      "not zlib data"));
}

TEST(BootConfig, RefusesAZipBomb) {
  // 1 MiB of spaces inside an object compresses to about a kilobyte.
  auto const bomb = zlib_b64("{\"a\":\"" + std::string(1024 * 1024, ' ') + "\"}");
  ASSERT_LT(bomb.size(), 4096u);
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.configz=" + bomb), "inflates to more than"));
}

TEST(BootConfig, InflatesUpToTheBoundExactly) {
  // {"a":"xxx..."} of exactly kBootConfigMaxJson bytes is accepted; one byte more is not.
  auto const at_bound = "{\"a\":\"" + std::string(kBootConfigMaxJson - 8, 'x') + "\"}";
  ASSERT_EQ(at_bound.size(), kBootConfigMaxJson);
  auto ok = decode_boot_config("easyenclave.configz=" + zlib_b64(at_bound));
  ASSERT_TRUE(ok && *ok) << (ok ? "" : ok.error().message());
  EXPECT_EQ((*ok)->size(), kBootConfigMaxJson);
  auto const over = "{\"a\":\"" + std::string(kBootConfigMaxJson - 7, 'x') + "\"}";
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.configz=" + zlib_b64(over)),
                      "inflates to more than 65536 bytes"));
}

TEST(BootConfig, RefusesTheConfigTwiceOrInBothForms) {
  auto const one = "easyenclave.config=" + b64(R"({"a":1})");
  auto const z = "easyenclave.configz=" + zlib_b64(R"({"a":1})");
  EXPECT_TRUE(refused(decode_boot_config(one + " " + one), "more than once"));
  EXPECT_TRUE(refused(decode_boot_config(z + " quiet " + one),
                      "more than once (easyenclave.configz and easyenclave.config)"));
  EXPECT_TRUE(refused(decode_boot_config(one + " \"" + one + "\""), "more than once"));
  // Even when the second is malformed: which one would the agent have meant?
  EXPECT_TRUE(refused(decode_boot_config(one + " easyenclave.config="), "more than once"));
}

TEST(BootConfig, ErrorsDoNotEchoTheValue) {
  auto const value = b64(R"(["secret-token-value"])");
  auto r = decode_boot_config("easyenclave.config=" + value);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().find(value), std::string::npos);
  EXPECT_EQ(r.error().message().find("secret-token-value"), std::string::npos);
}

TEST(BootConfig, EveryTruncationOfTheValueFailsCleanly) {
  for (auto const& json : {std::string(kConfig), compressible_config()}) {
    auto param = encode_boot_config(json);
    ASSERT_TRUE(param);
    auto const name = param->substr(0, param->find('=') + 1);
    auto const value = param->substr(name.size());
    for (std::size_t n = 0; n < value.size(); ++n) {
      // Some prefixes are valid base64; none may decode to a configuration.
      auto r = decode_boot_config("console=ttyS0 " + name + value.substr(0, n) + " quiet");
      ASSERT_FALSE(r) << name << " prefix " << n;
      EXPECT_EQ(r.error(), ee::api::errc::invalid_boot_config) << name << " prefix " << n;
    }
    auto whole = decode_boot_config(*param);
    ASSERT_TRUE(whole && *whole);
    EXPECT_EQ(**whole, json);
  }
}

}  // namespace

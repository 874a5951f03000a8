// The boot configuration codec: what the launcher puts on the kernel command line and the agent
// reads back.
#include <easyenclave/api/boot_config.hpp>
#include <easyenclave/encoding.hpp>

#include <gtest/gtest.h>

#include <zlib.h>

#include <string>
#include <vector>

namespace {

using ee::api::decode_boot_config;
using ee::api::encode_boot_config;

constexpr char kConfig[] =
    R"({"mode":"agent","cp_url":"https://cp.example.com","owner":"github:org/octo-org",)"
    R"("node_size":"tiny","datacenter":"gcp:us-central1-a","vm_name":"vm-1"})";

std::string value_of(std::string const& param) { return param.substr(param.find('=') + 1); }

std::string zlib(std::string const& text) {
  uLongf size = compressBound(static_cast<uLong>(text.size()));
  std::vector<std::uint8_t> out(size);
  compress2(out.data(), &size, reinterpret_cast<Bytef const*>(text.data()), static_cast<uLong>(text.size()), 9);
  out.resize(size);
  return ee::base64_encode(out);
}

std::string b64(std::string const& text) {
  return ee::base64_encode(std::span(reinterpret_cast<std::uint8_t const*>(text.data()), text.size()));
}

bool refused(ee::result<std::optional<std::string>> const& r, std::string_view mentions) {
  return !r && r.error() == ee::api::errc::invalid_boot_config && r.error() == ee::condition::invalid_input &&
         r.error().message().find(mentions) != std::string::npos;
}

TEST(BootConfig, RoundTripsThroughAKernelCommandLine) {
  auto param = encode_boot_config(kConfig);
  ASSERT_TRUE(param) << param.error().message();
  EXPECT_TRUE(ee::api::fits_command_line(*param));
  auto const cmdline = "BOOT_IMAGE=/vmlinuz console=ttyS0 root=/dev/vda1 ro " + *param + " quiet\n";
  auto decoded = decode_boot_config(cmdline);
  ASSERT_TRUE(decoded) << decoded.error().message();
  ASSERT_TRUE(decoded->has_value());
  EXPECT_EQ(**decoded, kConfig);  // already compact: unchanged
}

TEST(BootConfig, PicksTheShorterForm) {
  // Repetitive text compresses: configz wins.
  std::string big = R"({"process_command":[)";
  for (int i = 0; i < 40; ++i) big += std::string(i ? "," : "") + R"("--flag-number-)" + std::to_string(i) + "\"";
  big += "]}";
  auto zipped = encode_boot_config(big);
  ASSERT_TRUE(zipped);
  EXPECT_TRUE(zipped->starts_with("easyenclave.configz=")) << *zipped;
  // A tiny object does not: zlib's header costs more than it saves.
  auto plain = encode_boot_config(R"({"a":1})");
  ASSERT_TRUE(plain);
  EXPECT_EQ(*plain, "easyenclave.config=" + b64(R"({"a":1})"));
  for (auto const& p : {*zipped, *plain}) {
    auto back = decode_boot_config(p);
    ASSERT_TRUE(back && *back);
  }
}

TEST(BootConfig, EncodingCompactsAndRefusesWhatIsNotAnObject) {
  auto param = encode_boot_config("{ \"a\" : [ 1 , 2 ] }");
  ASSERT_TRUE(param);
  EXPECT_EQ(**decode_boot_config(*param), R"({"a":[1,2]})");
  for (std::string const bad : {"[1,2]", "\"text\"", "{", "", "{\"a\":1,\"a\":2}"}) {
    auto r = encode_boot_config(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), ee::api::errc::invalid_boot_config);
  }
  EXPECT_FALSE(encode_boot_config(R"({"x":")" + std::string(70 * 1024, 'x') + "\"}"));
}

TEST(BootConfig, AbsentIsNotAnError) {
  auto r = decode_boot_config("console=ttyS0 easyenclave.other=1 easyenclave.configuration=x");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_value());
  EXPECT_FALSE(decode_boot_config("")->has_value());
}

TEST(BootConfig, ReadsAQuotedValue) {
  auto r = decode_boot_config("a=\"x y\" easyenclave.config=\"" + b64(R"({"b":2})") + "\" c");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(**r, R"({"b":2})");
}

TEST(BootConfig, RefusesMalformedValuesNamingTheProblem) {
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config="), "empty"));
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config"), "empty"));
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config=not*base64"), "not base64"));
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config=" + b64("[1]")), "not a JSON object"));
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config=" + b64("{bad")), "not JSON"));
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.configz=" + b64(R"({"a":1})")), "zlib"));
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.config=" + std::string(100'000, 'A')), "longer"));
  auto const zipped = zlib(R"({"a":1})");
  auto raw = ee::base64_decode(zipped).value();
  raw.resize(raw.size() - 3);
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.configz=" + ee::base64_encode(raw)), "not a complete zlib"));
  raw = ee::base64_decode(zipped).value();
  raw.push_back(0);
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.configz=" + ee::base64_encode(raw)), "after its zlib stream"));
}

TEST(BootConfig, RefusesAZipBomb) {
  // 1 MiB of spaces inside an object compresses to about a kilobyte.
  auto const bomb = zlib("{\"a\":\"" + std::string(1024 * 1024, ' ') + "\"}");
  ASSERT_LT(bomb.size(), 4096u);
  EXPECT_TRUE(refused(decode_boot_config("easyenclave.configz=" + bomb), "inflates to more than"));
}

TEST(BootConfig, RefusesTheConfigTwiceOrInBothForms) {
  auto const one = "easyenclave.config=" + b64(R"({"a":1})");
  auto const z = "easyenclave.configz=" + zlib(R"({"a":1})");
  EXPECT_TRUE(refused(decode_boot_config(one + " " + one), "more than once"));
  EXPECT_TRUE(refused(decode_boot_config(one + " " + z), "more than once"));
}

TEST(BootConfig, EveryTruncationOfTheValueFailsCleanly) {
  auto param = encode_boot_config(kConfig);
  ASSERT_TRUE(param);
  auto const name = param->substr(0, param->find('=') + 1);
  auto const value = value_of(*param);
  for (std::size_t n = 0; n < value.size(); ++n) {
    auto r = decode_boot_config(name + value.substr(0, n));
    // Base64 allows some prefixes to decode; none may yield a configuration.
    EXPECT_FALSE(r) << n;
  }
}

}  // namespace

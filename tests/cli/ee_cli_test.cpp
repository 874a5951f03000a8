// The `ee` program run for real: exit codes and output of the quote and sim verbs.
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/encoding.hpp>
#include <easyenclave/version.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <span>

namespace {

using ee::test::run;

std::string ee_bin() { return ee::test::program("ee").string(); }
std::string quote_file(std::string const& name) { return ee::test::testdata("attestation/quotes/" + name).string(); }
std::string collateral_file(std::string const& name) {
  return ee::test::testdata("attestation/collateral/" + name).string();
}

TEST(EeCli, QuoteInspectPrintsTheMeasurements) {
  auto r = run({ee_bin(), "quote", "inspect", quote_file("tdx_v5_td15_gtg_sample.dat")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("TDX quote v5 (TD report 1.5), 5006 bytes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876"),
            std::string::npos);
}

TEST(EeCli, QuoteInspectJsonHasEveryField) {
  auto r = run({ee_bin(), "quote", "inspect", "--json", quote_file("tdx_v4_gtg_spr_e4.dat")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto v = boost::json::parse(r.out);
  auto const& report = v.at("td_report");
  EXPECT_EQ(report.at("mr_td").as_string(),
            "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb");
  EXPECT_EQ(report.at("rtmr").as_array().size(), 4u);
  EXPECT_EQ(v.at("trailing_bytes").as_int64(), 39);
  EXPECT_EQ(v.at("header").at("version").as_int64(), 4);
}

TEST(EeCli, VerifyExitCodesFollowTheVerdict) {
  // Row 8 of the testdata matrix: UpToDate at 1752919234.
  auto ok = run({ee_bin(), "quote", "verify", quote_file("tdx_v4_dcapqvl.dat"), "--collateral",
                 collateral_file("dcapqvl_tdx_b0c06f000000.json"), "--at", "1752919234"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("ACCEPTED  tcb_status=UpToDate"), std::string::npos) << ok.out;
  // Row 10: no matching TCB level.
  auto no_level = run({ee_bin(), "quote", "verify", "--json", quote_file("tdx_v5_td15_dcapqvl_outdated.dat"),
                       "--collateral", collateral_file("dcapqvl_tdx_90c06f000000.json"), "--at", "1774003274"});
  EXPECT_EQ(no_level.exit_code, 1) << no_level.out << no_level.err;
  auto v = boost::json::parse(no_level.out);
  EXPECT_FALSE(v.at("accepted").as_bool());
  EXPECT_EQ(v.at("error").at("code").as_string(), "tdx.tcb_level_not_supported");
  // Row 1 and 2: offline inside the PCK window, and after it.
  EXPECT_EQ(run({ee_bin(), "quote", "verify", quote_file("tdx_v4_gtg_spr_e4.dat"), "--at", "2023-07-01T01:00:00Z"})
                .exit_code,
            0);
  EXPECT_EQ(run({ee_bin(), "quote", "verify", quote_file("tdx_v4_gtg_spr_e4.dat"), "--at", "2053-07-01T00:00:00Z"})
                .exit_code,
            1);
}

TEST(EeCli, VerifyRefusesTcbStatusOutsideAllowList) {
  auto r = run({ee_bin(), "quote", "verify", quote_file("tdx_v4_dcapqvl.dat"), "--collateral",
                collateral_file("dcapqvl_tdx_b0c06f000000.json"), "--at", "1752919234", "--allow-tcb", "OutOfDate"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("policy_tcb_status"), std::string::npos) << r.out;
}

// One version, set by project(VERSION) in CMakeLists.txt, is what every program reports.
TEST(EeCli, EveryProgramReportsTheLibraryVersion) {
  for (std::string const name : {"ee", "ee-cp", "ee-agent"}) {
    auto const out = run({ee::test::program(name).string(), "--version"});
    EXPECT_EQ(out.exit_code, 0) << name;
    EXPECT_EQ(out.out, std::string(ee::version()) + "\n") << name;
  }
}

TEST(EeCli, UsageAndIoErrors) {
  EXPECT_EQ(run({ee_bin()}).exit_code, 2);
  EXPECT_EQ(run({ee_bin(), "quote", "verify"}).exit_code, 2);
  EXPECT_EQ(run({ee_bin(), "quote", "verify", quote_file("tdx_v4_dcapqvl.dat"), "--at", "yesterday"}).exit_code, 2);
  EXPECT_EQ(run({ee_bin(), "quote", "inspect", "/nonexistent/quote.dat"}).exit_code, 3);
  auto sgx = run({ee_bin(), "quote", "inspect", quote_file("sgx_v3_dcapqvl.dat")});
  EXPECT_EQ(sgx.exit_code, 2);
  EXPECT_NE(sgx.err.find("SGX quote"), std::string::npos) << sgx.err;
  EXPECT_EQ(run({ee_bin(), "--help"}).exit_code, 0);
}

TEST(EeCli, SimulatorQuoteVerifiesOnlyWithTheSimulatorRoot) {
  ee::test::TempDir dir;
  auto const state = (dir.path() / "sim").string();
  auto const quote = (dir.path() / "q.bin").string();
  auto const out = (dir.path() / "collateral").string();
  auto const report_data = std::string(64, 'a') + std::string(64, 'b');
  auto const mrtd = std::string(96, 'c');
  ASSERT_EQ(run({ee_bin(), "sim", "--dir", state, "quote", "--report-data", report_data, "--mrtd", mrtd, "--out", quote})
                .exit_code,
            0);
  ASSERT_EQ(run({ee_bin(), "sim", "--dir", state, "collateral", "--out", out}).exit_code, 0);

  auto inspect = run({ee_bin(), "quote", "inspect", "--json", quote});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  auto v = boost::json::parse(inspect.out);
  EXPECT_EQ(v.at("td_report").at("report_data").as_string(), report_data);
  EXPECT_EQ(v.at("td_report").at("mr_td").as_string(), mrtd);

  auto trusted = run({ee_bin(), "quote", "verify", quote, "--collateral", out + "/collateral.json", "--root",
                      out + "/root.pem"});
  EXPECT_EQ(trusted.exit_code, 0) << trusted.out << trusted.err;
  auto untrusted = run({ee_bin(), "quote", "verify", quote, "--collateral", out + "/collateral.json"});
  EXPECT_EQ(untrusted.exit_code, 1) << untrusted.out;
  EXPECT_NE(untrusted.out.find("REJECTED"), std::string::npos);

  auto stdout_quote = run({ee_bin(), "sim", "--dir", state, "quote", "--report-data", "00"});
  EXPECT_EQ(stdout_quote.exit_code, 0);
  EXPECT_GT(stdout_quote.out.size(), 5000u);  // base64 of a ~4.9 KB quote
  EXPECT_EQ(run({ee_bin(), "sim", "--dir", state, "quote", "--report-data", std::string(130, 'a')}).exit_code, 2);
}

TEST(EeCli, QuoteFilesMayBeBinaryHexOrBase64Text) {
  ee::test::TempDir dir;
  auto const binary = ee::test::read_file(quote_file("tdx_v4_gtg_spr_e4.dat"));
  ASSERT_FALSE(binary.empty());
  std::span<std::uint8_t const> const bytes(reinterpret_cast<std::uint8_t const*>(binary.data()), binary.size());
  auto const mrtd =
      "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb";
  for (auto const& file : {dir.write("q.hex", ee::hex_encode(bytes) + "\n"), dir.write("q.b64", ee::base64_encode(bytes) + "\n")}) {
    auto r = run({ee_bin(), "quote", "inspect", "--json", file.string()});
    ASSERT_EQ(r.exit_code, 0) << file << ": " << r.err;
    EXPECT_EQ(boost::json::parse(r.out).at("td_report").at("mr_td").as_string(), mrtd) << file;
    // verify reads the same way (offline, inside the PCK window: row 1 of the testdata matrix).
    EXPECT_EQ(run({ee_bin(), "quote", "verify", file.string(), "--at", "2023-07-01T01:00:00Z"}).exit_code, 0) << file;
  }
  // What `ee sim quote` prints is a quote file too.
  auto const state = (dir.path() / "sim").string();
  auto printed = run({ee_bin(), "sim", "--dir", state, "quote", "--report-data", "00"});
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_EQ(run({ee_bin(), "quote", "inspect", dir.write("sim.b64", printed.out).string()}).exit_code, 0);

  // Neither: a usage error that names the accepted formats.
  auto junk = run({ee_bin(), "quote", "inspect", dir.write("junk.txt", "not a quote\n").string()});
  EXPECT_EQ(junk.exit_code, 2);
  for (auto const* format : {"binary", "hex text", "base64 text", "junk.txt"})
    EXPECT_NE(junk.err.find(format), std::string::npos) << format << " in " << junk.err;
}

TEST(EeCli, AllowTcbAcceptsEveryStatusAVerdictCanPrint) {
  // Row 8 of the testdata matrix is UpToDate: allowing only Unknown is a valid policy that
  // rejects it (exit 1), not a usage error.
  auto only_unknown = run({ee_bin(), "quote", "verify", quote_file("tdx_v4_dcapqvl.dat"), "--collateral",
                           collateral_file("dcapqvl_tdx_b0c06f000000.json"), "--at", "1752919234", "--allow-tcb",
                           "Unknown"});
  EXPECT_EQ(only_unknown.exit_code, 1) << only_unknown.out << only_unknown.err;
  EXPECT_NE(only_unknown.out.find("not in the allowed list (Unknown)"), std::string::npos) << only_unknown.out;
  for (auto const* status : {"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded",
                             "OutOfDate", "OutOfDateConfigurationNeeded", "Revoked", "Unknown"}) {
    auto r = run({ee_bin(), "quote", "verify", quote_file("tdx_v4_dcapqvl.dat"), "--collateral",
                  collateral_file("dcapqvl_tdx_b0c06f000000.json"), "--at", "1752919234", "--allow-tcb", status});
    EXPECT_NE(r.exit_code, 2) << status << ": " << r.err;
  }
  auto bogus = run({ee_bin(), "quote", "verify", quote_file("tdx_v4_dcapqvl.dat"), "--allow-tcb", "Fine"});
  EXPECT_EQ(bogus.exit_code, 2);
  EXPECT_NE(bogus.err.find("--allow-tcb"), std::string::npos) << bogus.err;
  EXPECT_NE(bogus.err.find("Unknown"), std::string::npos) << bogus.err;  // lists what is accepted
}

TEST(EeCli, AVerdictThatFailedBeforeThePckWasReadPrintsNoFmspc) {
  ee::test::TempDir dir;
  auto quote = ee::test::read_file(quote_file("tdx_v4_dcapqvl.dat"));
  ASSERT_GT(quote.size(), 300u);
  quote[200] = static_cast<char>(quote[200] ^ 0x01);  // a signed byte of the TD report
  auto const file = dir.write("tampered.dat", quote).string();
  auto r = run({ee_bin(), "quote", "verify", file, "--collateral", collateral_file("dcapqvl_tdx_b0c06f000000.json"),
                "--at", "1752919234"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("[FAIL] quote_signature"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("fmspc"), std::string::npos) << r.out;
  auto json = run({ee_bin(), "quote", "verify", "--json", file, "--collateral",
                   collateral_file("dcapqvl_tdx_b0c06f000000.json"), "--at", "1752919234"});
  EXPECT_TRUE(boost::json::parse(json.out).at("fmspc").is_null()) << json.out;
  // The untampered quote names its FMSPC.
  auto ok = run({ee_bin(), "quote", "verify", quote_file("tdx_v4_dcapqvl.dat"), "--collateral",
                 collateral_file("dcapqvl_tdx_b0c06f000000.json"), "--at", "1752919234"});
  EXPECT_NE(ok.out.find("fmspc=b0c06f000000"), std::string::npos) << ok.out;
}

}  // namespace

namespace {

// ee's flags with variables come from its settings registry; --set keys from the agent's.
TEST(EeCli, SettingsComeFromTheRegistryAndSetKeysFromTheAgents) {
  ee::test::TempDir dir;
  auto const image = dir.write("disk.raw", "not really a disk").string();
  auto unknown = run({ee_bin(), "launch", image, "--owner", "github:org/o", "--cp-url", "https://cp.example.com",
                      "--kernel", image, "--set", "no_such_key=1", "--dry-run", "--state-dir", dir.path().string()});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
  EXPECT_NE(unknown.err.find("--set no_such_key: not a setting of the agent"), std::string::npos) << unknown.err;
  auto bad_value = run({ee_bin(), "launch", image, "--owner", "github:org/o", "--kernel", image, "--set",
                        "log_format=xml", "--dry-run", "--state-dir", dir.path().string()},
                       {{"EE_CP_URL", "https://cp.example.com"}});
  EXPECT_EQ(bad_value.exit_code, 2) << bad_value.err;
  EXPECT_NE(bad_value.err.find("log_format 'xml'"), std::string::npos) << bad_value.err;
  auto level = run({ee_bin(), "list"}, {{"EE_LOG_LEVEL", "loud"}});
  EXPECT_EQ(level.exit_code, 2);
  EXPECT_NE(level.err.find("EE_LOG_LEVEL: log_level 'loud'"), std::string::npos) << level.err;
  // The simulator's directory under its earlier variable name.
  auto const sim = (dir.path() / "sim").string();
  auto out = dir.path() / "collateral";
  auto made = run({ee_bin(), "sim", "collateral", "--out", out.string()}, {{"EE_SIM_DIR", sim}});
  EXPECT_EQ(made.exit_code, 0) << made.err;
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(sim) / "root_ca.pem")) << made.err;
  auto help = run({ee_bin(), "launch", "--help"});
  EXPECT_NE(help.out.find("(Env:EE_CP_URL)"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--qemu TEXT=qemu-system-x86_64"), std::string::npos) << help.out;
}

}  // namespace

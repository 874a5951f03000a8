// ee preflight: each check against a host the test controls (a stand-in qemu, files standing in
// for /sys and /dev), and the real report on this machine.
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/launcher/describe.hpp>
#include <easyenclave/launcher/launcher.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>

namespace {

using namespace ee::launcher;

Check const* find(std::vector<Check> const& checks, std::string const& name) {
  for (auto const& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

struct Host {
  ee::test::TempDir dir;
  PreflightOptions options;

  explicit Host(bool tdx_guest_object) {
    auto const qemu = dir.write("qemu", std::string("#!/bin/sh\n") +
                                            "case \"$1\" in\n"
                                            "--version) echo 'QEMU emulator version 10.1.0' ;;\n"
                                            "-object) echo 'List of user creatable objects:'; " +
                                            (tdx_guest_object ? "echo '  tdx-guest';" : "") +
                                            " echo '  memory-backend-memfd' ;;\n"
                                            "esac\n");
    ::chmod(qemu.c_str(), 0755);
    options.paths.qemu = qemu.string();
    options.paths.tdx_firmware = (dir.path() / "TDVF.fd").string();
    options.kvm_tdx_param = dir.path() / "tdx";
    options.kvm_device = dir.path() / "kvm";  // a plain file: no KVM ioctls answer on it
    options.vsock_device = dir.path() / "vhost-vsock";
  }
};

TEST(Preflight, ATdxHostPassesEveryHardCheckButKvm) {
  Host h(true);
  h.dir.write("TDVF.fd", "firmware");
  h.dir.write("tdx", "Y\n");
  h.dir.write("vhost-vsock", "");
  auto const checks = preflight(h.options);
  EXPECT_TRUE(find(checks, "qemu")->ok);
  EXPECT_NE(find(checks, "qemu")->detail.find("10.1.0"), std::string::npos);
  EXPECT_TRUE(find(checks, "qemu-tdx")->ok);
  EXPECT_TRUE(find(checks, "tdx")->ok);
  EXPECT_TRUE(find(checks, "firmware")->ok);
  EXPECT_TRUE(find(checks, "qgs")->ok);
  // The stand-in device is a file, so KVM does not answer: a hard failure with TDX.
  ASSERT_NE(find(checks, "kvm"), nullptr);
  EXPECT_FALSE(find(checks, "kvm")->ok);
  EXPECT_TRUE(find(checks, "kvm")->hard);
  EXPECT_FALSE(preflight_passed(checks));
}

TEST(Preflight, SaysWhatIsMissingAndWhatToDo) {
  Host h(false);
  auto const checks = preflight(h.options);
  for (auto const* name : {"qemu-tdx", "tdx", "firmware", "kvm"}) {
    auto const* c = find(checks, name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_FALSE(c->ok) << name;
    EXPECT_TRUE(c->hard) << name;
    EXPECT_FALSE(c->fix.empty()) << name;
  }
  EXPECT_FALSE(find(checks, "qgs")->ok);
  EXPECT_FALSE(find(checks, "qgs")->hard);
  EXPECT_NE(find(checks, "tdx")->detail.find("no TDX"), std::string::npos);
  h.dir.write("tdx", "N\n");
  EXPECT_FALSE(find(preflight(h.options), "tdx")->ok);
}

TEST(Preflight, WithoutTdxOnlyQemuAndFirmwareAreHard) {
  Host h(false);
  h.options.tdx = false;
  auto const checks = preflight(h.options);
  EXPECT_EQ(find(checks, "qemu-tdx"), nullptr);
  EXPECT_EQ(find(checks, "tdx"), nullptr);
  EXPECT_FALSE(find(checks, "kvm")->ok);
  EXPECT_FALSE(find(checks, "kvm")->hard);  // TCG instead
  EXPECT_TRUE(find(checks, "firmware")->ok);  // QEMU's own
  EXPECT_TRUE(preflight_passed(checks));
}

TEST(Preflight, AMissingQemuFailsHard) {
  Host h(true);
  h.options.paths.qemu = (h.dir.path() / "no-qemu").string();
  auto const checks = preflight(h.options);
  EXPECT_FALSE(find(checks, "qemu")->ok);
  EXPECT_NE(find(checks, "qemu")->fix.find("qemu-system-x86"), std::string::npos);
  EXPECT_FALSE(preflight_passed(checks));
}

TEST(Preflight, ThisMachineGivesAReadableReport) {
  // No TDX here: the report must say so in words, for people and as JSON for programs.
  auto const checks = preflight({});
  auto const text = describe_checks_text(checks);
  EXPECT_NE(text.find("tdx"), std::string::npos) << text;
  EXPECT_NE(text.find("preflight"), std::string::npos);
  auto const run = ee::test::run({ee::test::program("ee").string(), "preflight", "--json"});
  auto const doc = boost::json::parse(run.out);
  EXPECT_EQ(doc.at("passed").as_bool(), run.exit_code == 0);
  EXPECT_GE(doc.at("checks").as_array().size(), 5u);
  auto const plain = ee::test::run({ee::test::program("ee").string(), "preflight", "--no-tdx"});
  EXPECT_NE(plain.out.find("qemu"), std::string::npos) << plain.out << plain.err;
}

}  // namespace

// ee: the host-side tool. `ee launch | stop | list | logs | preflight` (TDX VMs with QEMU/KVM; in
// ee_vms.cpp), `ee quote inspect|verify` (DCAP verification of TDX quotes), `ee token verify`
// (ITA, GitHub OIDC and other JWTs against a key set file) and `ee sim quote|collateral` (the
// test-only quote simulator), and the control plane's verbs (agents, apps, deploy, deployments,
// measurements, settings, verify, login; in ee_cp_*.cpp, docs/cli.md). Parses flags, calls the
// library, prints text or JSON. Exit codes:
// 0 ok, 1 rejected, 2 usage, 3 I/O or upstream.
#include "ee_cp_verbs.hpp"
#include "ee_image.hpp"
#include "ee_vms.hpp"
#include "setting_flags.hpp"

#include <easyenclave/encoding.hpp>
#include <easyenclave/file.hpp>
#include <easyenclave/jwt/describe.hpp>
#include <easyenclave/launcher/settings.hpp>
#include <easyenclave/log.hpp>
#include <easyenclave/tdx/describe.hpp>
#include <easyenclave/tdx/simulator.hpp>
#include <easyenclave/time.hpp>
#include <easyenclave/version.hpp>

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

namespace {

constexpr int kExitRejected = 1;
constexpr int kExitUsage = 2;
constexpr int kExitIo = 3;

int fail(ee::Error const& e) {
  std::cerr << "ee: " << e.message() << " (" << e.id() << ")\n";
  return e == ee::condition::invalid_input ? kExitUsage : kExitIo;
}

// The check time of --at (RFC 3339 or Unix seconds), or now.
ee::result<std::chrono::system_clock::time_point> check_time(std::string const& at) {
  if (at.empty()) return std::chrono::system_clock::now();
  auto t = ee::parse_time(at);
  if (!t) return t.error().with_context("--at");
  return *t;
}

struct QuoteArgs {
  std::string file, collateral, root, at;
  std::vector<std::string> allowed_tcb{"UpToDate"};
  bool json = false;
};

int quote_inspect(QuoteArgs const& a) {
  auto quote = ee::tdx::read_quote_file(a.file);
  if (!quote) return fail(quote.error());
  std::cout << (a.json ? ee::tdx::describe_quote_json(*quote) + "\n" : ee::tdx::describe_quote_text(*quote));
  return 0;
}

int quote_verify(QuoteArgs const& a) {
  auto now = check_time(a.at);
  if (!now) return fail(now.error());
  ee::tdx::QuoteFileCheck check{.quote_file = a.file, .collateral_file = a.collateral, .root_file = a.root,
                                .now = *now, .allowed_tcb_statuses = {}};
  for (auto const& name : a.allowed_tcb) {
    auto status = ee::tdx::parse_tcb_status_name(name);
    if (!status) return fail(status.error().with_context("--allow-tcb"));
    check.allowed_tcb_statuses.push_back(*status);
  }
  auto verdict = ee::tdx::check_quote_file(check);
  if (!verdict) return fail(verdict.error());
  std::cout << (a.json ? ee::tdx::describe_verdict_json(*verdict) + "\n" : ee::tdx::describe_verdict_text(*verdict));
  return verdict->accepted() ? 0 : kExitRejected;
}

struct TokenArgs {
  std::string file, jwks, kind = "generic", audience, at;
  std::vector<std::string> issuers;
  bool json = false;
};

int token_verify(TokenArgs const& a) {
  auto now = check_time(a.at);
  if (!now) return fail(now.error());
  ee::jwt::CheckOptions options{.kind = ee::jwt::parse_token_kind(a.kind).value_or(ee::jwt::TokenKind::generic),
                                .issuers = a.issuers, .audience = {}, .now = *now};
  if (!a.audience.empty()) options.audience = a.audience;
  auto report = ee::jwt::check_token_files(a.file, a.jwks, options);
  if (!report) return fail(report.error());  // unreadable files 3; bad key set or options 2
  std::cout << (a.json ? report->json + "\n" : report->text);
  return report->accepted ? 0 : kExitRejected;
}

struct SimArgs {
  std::string dir;  // the simulator_dir setting
  std::string report_data, mrtd, out;
};

int sim_quote(SimArgs const& a) {
  ee::tdx::SimulatorOptions options;
  if (!a.mrtd.empty()) {
    auto mrtd = ee::hex_decode(a.mrtd);
    if (!mrtd || mrtd->size() != options.mr_td.size())
      return fail(ee::Error(ee::errc::invalid_value, "--mrtd must be 96 hex characters (48 bytes)"));
    std::copy(mrtd->begin(), mrtd->end(), options.mr_td.begin());
  }
  auto report = ee::hex_decode(a.report_data);
  ee::tdx::ReportData report_data{};
  if (!report || report->size() > report_data.size())
    return fail(ee::Error(ee::errc::invalid_value, "--report-data must be at most 128 hex characters (64 bytes)"));
  std::copy(report->begin(), report->end(), report_data.begin());  // shorter input is zero-padded
  auto simulator = ee::tdx::Simulator::load_or_create(a.dir, options);
  if (!simulator) return fail(simulator.error());
  auto quote = (*simulator)->quote(report_data);
  if (!quote) return fail(quote.error());
  if (a.out.empty()) {
    std::cout << ee::base64_encode(*quote) << "\n";
    return 0;
  }
  auto written = ee::write_file_atomic(a.out, *quote);
  return written ? 0 : fail(written.error());
}

int sim_collateral(SimArgs const& a) {
  auto simulator = ee::tdx::Simulator::load_or_create(a.dir);
  if (!simulator) return fail(simulator.error());
  std::error_code ec;
  std::filesystem::create_directories(a.out, ec);
  if (ec) return fail(ee::Error(ee::errc::io_error, "cannot create " + a.out + ": " + ec.message()));
  auto const dir = std::filesystem::path(a.out);
  if (auto r = ee::write_file_atomic(dir / "collateral.json", (*simulator)->collateral_json()); !r) return fail(r.error());
  if (auto r = ee::write_file_atomic(dir / "root.pem", (*simulator)->root_pem()); !r) return fail(r.error());
  std::cout << R"({"collateral":")" << (dir / "collateral.json").string() << R"(","root":")"
            << (dir / "root.pem").string() << "\"}\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ee: launch and verify easyenclave TDX VMs", "ee"};
  app.set_version_flag("--version", std::string(ee::version()));
  app.require_subcommand(1);
  // Every flag with a variable is a key of ee's settings registry (launcher/settings.hpp).
  ee::cli::SettingFlagSet settings_flags(ee::launcher::setting_registry(), ee::launcher::setting_group_title);
  settings_flags.add(app, {.only = {"log_level"}, .aliases = {}});

  QuoteArgs q;
  auto* quote = app.add_subcommand("quote", "Inspect and verify TDX quotes")->require_subcommand(1);
  auto* inspect = quote->add_subcommand("inspect", "Print every parsed field of a quote");
  inspect->add_option("FILE", q.file, "Quote file: binary, hex or base64 text")->required();
  inspect->add_flag("--json", q.json, "JSON output");
  auto* verify = quote->add_subcommand("verify", "DCAP-verify a quote (exit 0 accepted, 1 rejected)");
  verify->add_option("FILE", q.file, "Quote file: binary, hex or base64 text")->required();
  verify->add_option("--collateral", q.collateral, "Collateral bundle JSON (none: offline verification)");
  verify->add_option("--root", q.root, "Trusted root certificate, PEM or DER (default: Intel SGX Root CA)");
  verify->add_option("--at", q.at, "Check time, RFC 3339 or Unix seconds (default: now)");
  verify->add_option("--allow-tcb", q.allowed_tcb, "Acceptable TCB statuses")->capture_default_str();
  verify->add_flag("--json", q.json, "JSON output");

  TokenArgs t;
  auto* token = app.add_subcommand("token", "Verify JWTs")->require_subcommand(1);
  auto* token_v = token->add_subcommand("verify", "Verify a token against a JWKS file (exit 0 accepted, 1 rejected)");
  token_v->add_option("TOKEN_FILE", t.file, "File holding the compact token")->required();
  token_v->add_option("--jwks", t.jwks, "Key set file (JWKS JSON)")->required();
  token_v->add_option("--kind", t.kind, "ita|github|generic")->check(CLI::IsMember({"ita", "github", "generic"}))
      ->capture_default_str();
  token_v->add_option("--issuer", t.issuers, "Accepted issuer (repeatable; required for generic)");
  token_v->add_option("--audience", t.audience, "Required audience (required for github)");
  token_v->add_option("--at", t.at, "Check time, RFC 3339 or Unix seconds (default: now)");
  token_v->add_flag("--json", t.json, "JSON output");

  auto const vms = add_vm_commands(app, settings_flags);
  auto const cp_verbs = add_cp_commands(app);  // agents, apps, deploy, ... (ee_cp_verbs.cpp)
  auto const images = add_image_commands(app);

  SimArgs s;
  auto* sim = app.add_subcommand("sim", "The TDX quote simulator (test PKI, never trusted by default)")
                  ->require_subcommand(1);
  settings_flags.add(*sim, {.only = {"simulator_dir"}, .aliases = {{"simulator_dir", "--dir"}}});
  auto* sim_q = sim->add_subcommand("quote", "Make a simulated quote (base64 on stdout unless --out)");
  sim_q->add_option("--report-data", s.report_data, "Report data, hex, up to 64 bytes")->required();
  sim_q->add_option("--mrtd", s.mrtd, "MRTD, 96 hex characters");
  sim_q->add_option("--out", s.out, "Write the binary quote here");
  auto* sim_c = sim->add_subcommand("collateral", "Write the simulator's collateral.json and root.pem");
  sim_c->add_option("--out", s.out, "Output directory")->required();

  try {
    app.parse(argc, argv);
  } catch (CLI::ParseError const& e) {
    // --help and --version exit 0; every other parse problem is a usage error (exit 2).
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  auto const host = ee::launcher::resolve_host_settings(settings_flags.values(), ee::settings::process_environment());
  if (!host) return fail(host.error());
  s.dir = host->simulator_dir.string();
  ee::log::Level level{};
  if (!ee::log::parse_level(host->log_level, level)) return kExitUsage;  // the registry's choices
  ee::log::set_level(level);
  ee::log::set_sink(ee::log::make_stderr_sink(ee::log::Format::text));

  if (auto code = run_vm_command(*vms, *host)) return *code;
  if (auto code = run_cp_command(*cp_verbs)) return *code;
  if (auto code = run_image_command(*images)) return *code;
  if (*inspect) return quote_inspect(q);
  if (*verify) return quote_verify(q);
  if (*token_v) return token_verify(t);
  if (*sim_q) return sim_quote(s);
  if (*sim_c) return sim_collateral(s);
  return kExitUsage;
}

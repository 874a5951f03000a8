// ee-fake-ita: the Intel Trust Authority stand-in as a program (see fake_ita.hpp). It trusts the
// quote simulator in --sim-dir (its root and collateral), or an explicit --root and --collateral.
#include "fakes/fake_ita.hpp"
#include "fakes/fake_main_common.hpp"

#include <easyenclave/file.hpp>
#include <easyenclave/tdx/simulator.hpp>

int main(int argc, char** argv) {
  std::string const usage =
      "usage: ee-fake-ita [--listen HOST:PORT] [--api-key KEY] (--sim-dir DIR | --root PEM --collateral JSON)\n"
      "                   [--key-file PEM]\n"
      "Appraises quotes with tdx::verify and answers PS384 tokens; JWKS at /certs. Test use only.\n";
  auto flags = ee::test::parse_flags(argc, argv,
                                     {"--listen", "--api-key", "--sim-dir", "--root", "--collateral", "--key-file"}, usage);
  if (!flags) return 2;
  auto address = ee::http::parse_host_port(ee::test::flag_or_env(*flags, "listen", "EE_LISTEN", "127.0.0.1:0"));
  if (!address) {
    std::cerr << "ee-fake-ita: --listen: " << address.error().message() << "\n";
    return 2;
  }
  ee::test::FakeItaOptions options;
  options.host = address->host;
  options.port = address->port;
  options.api_key = ee::test::flag_or_env(*flags, "api-key", "ITA_API_KEY", options.api_key);
  auto fail = [](ee::Error const& e) {
    std::cerr << "ee-fake-ita: " << e.message() << " (" << e.id() << ")\n";
    return e == ee::condition::invalid_input ? 2 : 3;
  };
  auto const sim_dir = ee::test::flag_or_env(*flags, "sim-dir", "EE_SIM_DIR", "");
  if (flags->contains("root") && flags->contains("collateral")) {
    auto root = ee::tdx::TrustedRoot::from_file(flags->at("root"));
    if (!root) return fail(root.error());
    auto collateral = ee::tdx::load_collateral_file(flags->at("collateral"));
    if (!collateral) return fail(collateral.error());
    options.root = *root;
    options.collateral = std::make_shared<ee::tdx::Collateral const>(std::move(*collateral));
  } else if (!sim_dir.empty()) {
    auto simulator = ee::tdx::Simulator::load_or_create(sim_dir);
    if (!simulator) return fail(simulator.error());
    options.root = (*simulator)->root();
    options.collateral = std::make_shared<ee::tdx::Collateral const>((*simulator)->collateral());
  } else {
    std::cerr << usage;
    return 2;
  }
  if (flags->contains("key-file")) {
    auto pem = ee::read_file(flags->at("key-file"));
    if (!pem) return fail(pem.error());
    options.private_key_pem = *pem;
  }
  ee::test::install_stderr_log();
  auto ita = ee::test::FakeIta::start(std::move(options));
  if (!ita) return fail(ita.error());
  return ee::test::serve((*ita)->server(), (*ita)->url(), R"(,"jwks_url":")" + (*ita)->jwks_url() + "\"");
}

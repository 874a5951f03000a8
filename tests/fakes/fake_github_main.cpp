// ee-fake-github: the fake GitHub Actions OIDC issuer as a program (see fake_github.hpp).
#include "fakes/fake_github.hpp"
#include "fakes/fake_main_common.hpp"

#include <easyenclave/file.hpp>

int main(int argc, char** argv) {
  std::string const usage =
      "usage: ee-fake-github [--listen HOST:PORT] [--issuer ISS] [--key-file PEM]\n"
      "Serves /.well-known/openid-configuration, /.well-known/jwks, GET /token?audience=A and\n"
      "POST /mint; releases: GET /repos/OWNER/REPO/releases, POST /releases/OWNER/REPO.\n"
      "--issuer \"\" makes the issuer the server's own URL. Test use only.\n";
  auto flags = ee::test::parse_flags(argc, argv, {"--listen", "--issuer", "--key-file"}, usage);
  if (!flags) return 2;
  auto address = ee::http::parse_host_port(ee::test::flag_or_env(*flags, "listen", "EE_LISTEN", "127.0.0.1:0"));
  if (!address) {
    std::cerr << "ee-fake-github: --listen: " << address.error().message() << "\n";
    return 2;
  }
  ee::test::FakeGithubOptions options;
  options.host = address->host;
  options.port = address->port;
  if (flags->contains("issuer")) options.issuer = flags->at("issuer");
  if (flags->contains("key-file")) {
    auto pem = ee::read_file(flags->at("key-file"));
    if (!pem) {
      std::cerr << "ee-fake-github: " << pem.error().message() << "\n";
      return 3;
    }
    options.private_key_pem = *pem;
  }
  ee::test::install_stderr_log();
  auto issuer = ee::test::FakeGithubIssuer::start(std::move(options));
  if (!issuer) {
    std::cerr << "ee-fake-github: " << issuer.error().message() << "\n";
    return 3;
  }
  auto const& fake = **issuer;
  return ee::test::serve((*issuer)->server(), fake.url(),
                         R"(,"issuer":")" + fake.issuer() + R"(","jwks_url":")" + fake.jwks_url() + "\"");
}

// The control-plane verbs of the real `ee` program against a real `ee-cp` on loopback (--dev,
// SQLite file, the fake GitHub issuer's keys): aligned tables, --json, --quiet, the exit codes
// 0/1/2/3 with a hint naming what to do next, and every credential source: --token, EE_TOKEN,
// a GitHub Actions token minted at a stand-in ACTIONS_ID_TOKEN_REQUEST_URL, and `ee login`'s
// stored token (mode 0600, refused when looser).
#include "client/actions_token_endpoint.hpp"
#include "fakes/fake_github.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/encoding.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <csignal>
#include <sstream>

namespace {

using ee::test::Completed;
namespace bj = boost::json;

constexpr char kAdmin[] = "cli-admin-token";
const std::string kMrtd(96, 'd');
const std::string kImage = "registry.example/octo-org/hello@sha256:" + std::string(64, 'e');

class EeCpVerbs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ee::test::TempDir();
    github_ = ee::test::FakeGithubIssuer::start().value().release();
    cp_ = new ee::test::Process({ee::test::program("ee-cp").string(), "--dev", "--listen", "127.0.0.1:0", "--db",
                                 (dir_->path() / "cp.db").string(), "--admin-token", kAdmin, "--github-jwks-url",
                                 github_->jwks_url(), "--health-scrape-interval", "0"});
    url_ = ee::test::listening_url(*cp_);
  }
  static void TearDownTestSuite() {
    cp_->signal(SIGTERM);
    cp_->wait(std::chrono::seconds(20));
    delete cp_;
    delete github_;
    delete dir_;
  }
  void SetUp() override { ASSERT_FALSE(url_.empty()) << cp_->err(); }

  // The environment of every run: this CP, and no credential from the test's own environment.
  std::map<std::string, std::string> env(std::map<std::string, std::string> extra = {}) const {
    std::map<std::string, std::string> e{{"EE_CP_URL", url_},
                                         {"EE_TOKEN", ""},
                                         {"ACTIONS_ID_TOKEN_REQUEST_URL", ""},
                                         {"ACTIONS_ID_TOKEN_REQUEST_TOKEN", ""},
                                         {"XDG_CONFIG_HOME", config_.path().string()}};
    for (auto& [k, v] : extra) e[k] = v;
    return e;
  }
  Completed ee(std::vector<std::string> args, std::map<std::string, std::string> extra = {}) const {
    args.insert(args.begin(), ee::test::program("ee").string());
    return ee::test::run(args, env(std::move(extra)));
  }
  std::string token(std::string const& repository = "octo-org/hello") const {
    ee::test::GithubTokenRequest r;
    r.repository = repository;
    return github_->mint(r);
  }
  // Publishes `app` (a new app from octo-org/hello) once per suite.
  void publish(std::string const& app) {
    auto r = ee({"apps", "publish", app, "--source-repo", "octo-org/hello", "--version", "1.0.0", "--image", kImage,
                 "--mrtd", kMrtd, "--description", "cli test"},
                {{"EE_TOKEN", token()}});
    ASSERT_TRUE(r.exit_code == 0 || r.err.find("registry.conflict") != std::string::npos) << r.out << r.err;
  }

  static inline ee::test::TempDir* dir_ = nullptr;
  static inline ee::test::FakeGithubIssuer* github_ = nullptr;
  static inline ee::test::Process* cp_ = nullptr;
  static inline std::string url_;
  ee::test::TempDir config_;
};

std::vector<std::string> lines_of(std::string const& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST_F(EeCpVerbs, ListsAreAlignedTablesJsonOrIds) {
  publish("table-app");
  auto table = ee({"apps", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  auto const lines = lines_of(table.out);
  ASSERT_GE(lines.size(), 2u) << table.out;
  EXPECT_EQ(lines[0].rfind("APP", 0), 0u) << lines[0];
  // Columns line up: each header's column starts where its values do.
  auto const source_col = lines[0].find("SOURCE");
  ASSERT_NE(source_col, std::string::npos);
  for (std::size_t i = 1; i < lines.size(); ++i) EXPECT_EQ(lines[i].find("octo-org/hello"), source_col) << lines[i];

  auto json = ee({"apps", "list", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto const apps = bj::parse(json.out).as_array();
  EXPECT_TRUE(std::any_of(apps.begin(), apps.end(), [](auto const& a) { return a.at("name") == "table-app"; }));

  auto quiet = ee({"apps", "list", "-q"});
  ASSERT_EQ(quiet.exit_code, 0);
  EXPECT_NE(quiet.out.find("table-app\n"), std::string::npos) << quiet.out;
  EXPECT_EQ(quiet.out.find("APP"), std::string::npos);

  auto versions = ee({"apps", "versions", "table-app", "--json"});
  ASSERT_EQ(versions.exit_code, 0) << versions.err;
  EXPECT_EQ(bj::parse(versions.out).as_array().at(0).at("mrtd").as_string(), kMrtd);
  auto show = ee({"apps", "show", "table-app"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("source:"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("1.0.0"), std::string::npos) << show.out;

  auto agents = ee({"agents", "list"});
  ASSERT_EQ(agents.exit_code, 0) << agents.err;
  EXPECT_EQ(agents.out.rfind("AGENT", 0), 0u) << agents.out;
  EXPECT_EQ(ee({"deployments", "list", "--json"}).out, "[]\n");
  EXPECT_EQ(ee({"measurements", "list"}).exit_code, 0);
}

TEST_F(EeCpVerbs, ExitCodesAreRefusedUsageAndUnreachableEachWithAHint) {
  // 1: the CP refuses (not found, no credential, wrong owner).
  auto missing = ee({"apps", "show", "no-such-app"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("registry.not_found"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("hint: check the name or id with `ee apps list`"), std::string::npos) << missing.err;
  auto anonymous = ee({"settings", "list"});
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_NE(anonymous.err.find("ee login"), std::string::npos) << anonymous.err;
  publish("owned-app");
  auto other = ee({"apps", "publish", "owned-app", "--version", "9.0.0", "--image", kImage, "--mrtd", kMrtd},
                  {{"EE_TOKEN", token("evil-org/hello")}});
  EXPECT_EQ(other.exit_code, 1) << other.err;

  // 2: usage, locally or as the CP judged the request.
  EXPECT_EQ(ee({"agents", "list", "--bogus"}).exit_code, 2);
  EXPECT_EQ(ee({"agents", "show"}).exit_code, 2);
  auto no_url = ee({"agents", "list"}, {{"EE_CP_URL", ""}});
  EXPECT_EQ(no_url.exit_code, 2);
  EXPECT_NE(no_url.err.find("--cp-url"), std::string::npos) << no_url.err;
  auto bad_mrtd = ee({"measurements", "add", "xyz", "--token", kAdmin});
  EXPECT_EQ(bad_mrtd.exit_code, 2) << bad_mrtd.err;

  // 3: unreachable.
  auto down = ee({"agents", "list", "--cp-url", "http://127.0.0.1:1"});
  EXPECT_EQ(down.exit_code, 3);
  EXPECT_NE(down.err.find("EE_CP_URL"), std::string::npos) << down.err;

  auto help = ee({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Exit codes: 0 ok, 1 refused"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("3 unreachable"), std::string::npos);
}

TEST_F(EeCpVerbs, AdminVerbsTakeTheTokenFromTheFlagTheEnvironmentOrLogin) {
  auto add = ee({"measurements", "add", kMrtd, "--note", "cli", "--token", kAdmin, "--json"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_EQ(bj::parse(add.out).at("note"), "cli");
  auto listed = ee({"measurements", "list", "-q"});
  EXPECT_NE(listed.out.find(kMrtd), std::string::npos) << listed.out;
  auto removed = ee({"measurements", "remove", kMrtd}, {{"EE_TOKEN", kAdmin}});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;

  auto login = ee({"login", "--token", kAdmin});
  ASSERT_EQ(login.exit_code, 0) << login.err;
  auto const file = config_.path() / "easyenclave" / "token";
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto set = ee({"settings", "set", "heartbeat_interval", "40"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_NE(set.out.find("database"), std::string::npos) << set.out;
  auto get = ee({"settings", "get", "heartbeat_interval", "--json"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(bj::parse(get.out).at("value"), "40");
  auto list = ee({"settings", "list", "--group", "timings"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out.rfind("SETTING", 0), 0u);
  EXPECT_EQ(ee({"settings", "unset", "heartbeat_interval", "-q"}).out, "heartbeat_interval\n");
  // A stored token others may read is refused, with the fix named; the token never printed.
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  auto loose = ee({"settings", "list"});
  EXPECT_EQ(loose.exit_code, 1);
  EXPECT_NE(loose.err.find("chmod 600"), std::string::npos) << loose.err;
  EXPECT_EQ(loose.err.find(kAdmin), std::string::npos);
  ASSERT_EQ(ee({"logout"}).exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(file));
}

TEST_F(EeCpVerbs, InsideGithubActionsTheTokenIsMintedForTheAudience) {
  ee::test::ActionsTokenEndpoint actions(*github_, "runner-request-token");
  std::map<std::string, std::string> const in_actions{{"ACTIONS_ID_TOKEN_REQUEST_URL", actions.request_url()},
                                                       {"ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-request-token"}};
  auto r = ee({"apps", "publish", "actions-app", "--source-repo", "octo-org/hello", "--version", "1.0.0", "--image",
               kImage, "--mrtd", kMrtd},
              in_actions);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "published actions-app@1.0.0\n");
  EXPECT_EQ(actions.calls(), 1);
  // Another audience: the CP refuses the token (1).
  auto wrong = ee({"apps", "publish", "actions-app", "--version", "2.0.0", "--image", kImage, "--mrtd", kMrtd,
                   "--audience", "not-easyenclave"},
                  in_actions);
  EXPECT_EQ(wrong.exit_code, 1) << wrong.err;
  // A request token the endpoint does not know: the credential cannot be had (1), and says why.
  auto bad = in_actions;
  bad["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "stale";
  auto refused = ee({"apps", "publish", "actions-app", "--version", "2.0.0", "--image", kImage, "--mrtd", kMrtd}, bad);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("id-token: write"), std::string::npos) << refused.err;
  // --token wins over the Actions endpoint.
  auto calls = actions.calls();
  auto flag = ee({"apps", "publish", "actions-app", "--version", "2.0.0", "--image", kImage, "--mrtd", kMrtd,
                  "--token", token()},
                 in_actions);
  EXPECT_EQ(flag.exit_code, 0) << flag.err;
  EXPECT_EQ(actions.calls(), calls);
}

TEST_F(EeCpVerbs, DeployWithoutAnAgentAndVerifyWithoutADeploymentSayWhy) {
  publish("lonely-app");
  auto dry = ee({"deploy", "lonely-app", "--dry-run"}, {{"EE_TOKEN", token()}});
  EXPECT_NE(dry.exit_code, 0);
  EXPECT_NE(dry.err.find("hint: "), std::string::npos) << dry.err;
  auto unknown = ee({"deploy", "no-app@1.0.0"}, {{"EE_TOKEN", token()}});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.err;

  auto verify = ee({"verify", "lonely-app"});
  EXPECT_EQ(verify.exit_code, 1) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("PASS catalog_app"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("FAIL running_agent"), std::string::npos) << verify.out;
  auto json = ee({"verify", "lonely-app", "--json"});
  EXPECT_EQ(json.exit_code, 1);
  auto const v = bj::parse(json.out);
  EXPECT_FALSE(v.at("verified").as_bool());
  EXPECT_EQ(v.at("checks").as_array().back().at("name"), "running_agent");
  EXPECT_EQ(v.at("checks").as_array().back().at("result"), "fail");
  auto url = ee({"verify", "https://nowhere.example"});
  EXPECT_EQ(url.exit_code, 1);
  EXPECT_NE(url.err.find("ee agents list"), std::string::npos) << url.err;
}

}  // namespace

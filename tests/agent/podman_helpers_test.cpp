// The podman runtime without podman: its pure helpers (checks, argument lists, parsing what
// podman prints, state mapping, redaction), then the runtime itself driven against a fake podman
// (a shell script that records its arguments and answers from files), which reaches the paths a
// real engine rarely takes: a local image under another digest, a pull that hangs, a container
// that vanishes.
#include "agent/podman_runtime.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/agent/error.hpp>
#include <easyenclave/agent/log_buffer.hpp>
#include <easyenclave/agent/workload.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <sys/stat.h>

namespace {

using namespace std::chrono_literals;
using ee::agent::LogBuffer;
using ee::agent::PodmanOptions;
using ee::agent::WorkloadSpec;
using ee::agent::WorkloadState;
namespace detail = ee::agent::detail;
namespace fs = std::filesystem;

std::string const kHex1(64, 'a');
std::string const kHex2(64, 'b');
std::string const kDigest1 = "sha256:" + kHex1;
std::string const kDigest2 = "sha256:" + kHex2;
std::string const kImage = "registry.test/app@" + kDigest1;

template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = 10s) {
  auto const deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return predicate();
}

// --- checks -----------------------------------------------------------------------------------

TEST(PodmanChecks, AcceptsTheDefaultOptions) {
  EXPECT_TRUE(detail::check_podman_options(PodmanOptions{}));
}

TEST(PodmanChecks, RejectsUnusableOptions) {
  auto refused = [](auto change) {
    PodmanOptions options;
    change(options);
    auto const checked = detail::check_podman_options(options);
    return !checked && checked.error() == ee::agent::errc::invalid_config;
  };
  EXPECT_TRUE(refused([](PodmanOptions& o) { o.container_name = ""; }));
  EXPECT_TRUE(refused([](PodmanOptions& o) { o.container_name = "-rm"; }));
  EXPECT_TRUE(refused([](PodmanOptions& o) { o.container_name = "a b"; }));
  EXPECT_TRUE(refused([](PodmanOptions& o) { o.restart_policy = "sometimes"; }));
  EXPECT_TRUE(refused([](PodmanOptions& o) { o.restart_policy = "on-failure:x"; }));
  EXPECT_TRUE(refused([](PodmanOptions& o) { o.host_port = 0; }));
  EXPECT_TRUE(refused([](PodmanOptions& o) { o.podman = ""; }));
  EXPECT_FALSE(refused([](PodmanOptions& o) { o.restart_policy = "on-failure:3"; }));
  EXPECT_FALSE(refused([](PodmanOptions& o) { o.container_name = "ee_work.load-2"; }));
}

TEST(PodmanChecks, AcceptsOnlyPortableEnvironmentNames) {
  EXPECT_TRUE(detail::check_workload_env({{"A", "1"}, {"_x9", ""}, {"API_KEY", "s e=c;r$et"}}));
  for (std::string const bad : {"", "1A", "A-B", "A=B", "A B", "$(x)"}) {
    auto const checked = detail::check_workload_env({{bad, "v"}});
    ASSERT_FALSE(checked) << bad;
    EXPECT_EQ(checked.error(), ee::agent::errc::invalid_config);
    if (!bad.empty()) {
      EXPECT_EQ(checked.error().message().find(bad), std::string::npos);
    }
  }
  EXPECT_FALSE(detail::check_workload_env({{std::string(129, 'A'), "v"}}));
  EXPECT_TRUE(detail::check_workload_env({{std::string(128, 'A'), "v"}}));
}

TEST(PodmanChecks, RejectsAValueWithANul) {
  auto const checked = detail::check_workload_env({{"TOKEN", std::string("ab\0cd", 5)}});
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().message().find("ab"), std::string::npos);
}

TEST(PodmanChecks, TakesTheDigestOfAPinnedImage) {
  EXPECT_EQ(detail::pinned_digest(kImage).value(), kDigest1);
  EXPECT_EQ(detail::pinned_digest("127.0.0.1:5000/a/b@" + kDigest2).value(), kDigest2);
  for (std::string const& bad : std::vector<std::string>{"app:latest", "app@sha256:abc",
                                                         "-x@" + kDigest1, "@" + kDigest1}) {
    auto const digest = detail::pinned_digest(bad);
    ASSERT_FALSE(digest) << bad;
    EXPECT_EQ(digest.error(), ee::agent::errc::invalid_config);
  }
}

// --- argument lists ---------------------------------------------------------------------------

TEST(PodmanArgs, PullsTheImageWithTheExtraArguments) {
  PodmanOptions options;
  options.podman = "/usr/bin/podman";
  options.pull_args = {"--tls-verify=false"};
  EXPECT_EQ(detail::pull_argv(options, kImage),
            (std::vector<std::string>{"/usr/bin/podman", "pull", "--quiet", "--tls-verify=false",
                                      kImage}));
}

TEST(PodmanArgs, RunsDetachedOnLoopbackWithTheEnvironmentAsArguments) {
  PodmanOptions options;
  options.container_name = "wl";
  options.host_port = 18080;
  options.container_port = 8000;
  options.restart_policy = "on-failure:5";
  WorkloadSpec spec{.image = kImage, .env = {{"B", "two words; $(rm -rf /)"}, {"A", "x=y"}}};
  EXPECT_EQ(detail::run_argv(options, spec),
            (std::vector<std::string>{"podman", "run", "--detach", "--name", "wl", "--restart",
                                      "on-failure:5", "--pull", "never", "--publish",
                                      "127.0.0.1:18080:8000", "--env", "A=x=y", "--env",
                                      "B=two words; $(rm -rf /)", kImage}));
}

// --- what podman prints -----------------------------------------------------------------------

TEST(PodmanParse, ReadsImageFacts) {
  auto const facts = detail::parse_image_facts(
      R"({"id":"ca6b","digest":")" + kDigest1 + R"(","repo_digests":["r/a@)" + kDigest2 + "\"]}\n");
  ASSERT_TRUE(facts) << facts.error().message();
  EXPECT_EQ(facts->id, "ca6b");
  EXPECT_EQ(facts->digest, kDigest1);
  ASSERT_EQ(facts->repo_digests.size(), 1u);
  EXPECT_TRUE(detail::image_has_digest(*facts, kDigest1));
  EXPECT_TRUE(detail::image_has_digest(*facts, kDigest2));  // e.g. the index it was pulled by
  EXPECT_FALSE(detail::image_has_digest(*facts, "sha256:" + std::string(64, 'c')));

  auto const bare = detail::parse_image_facts(R"({"id":"x","digest":"","repo_digests":null})");
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->repo_digests.empty());
  EXPECT_FALSE(detail::image_has_digest(*bare, kDigest1));
  EXPECT_FALSE(detail::parse_image_facts("Error: no such image"));
  EXPECT_FALSE(detail::parse_image_facts(R"({"digest":""})"));
}

TEST(PodmanParse, ReadsContainerFactsAsPodmanPrintsThem) {
  // Captured from podman 4.3.1 with kContainerFormat.
  auto const facts = detail::parse_container_facts(
      R"({"status":"running","exit_code":0,"restarts":2,"image":"ca6b2e507fa9",)"
      R"("image_digest":"sha256:ba2edac4901867c4e45fb74306b6533068e57bbdad460c992c31c2ef180e2607",)"
      R"("error":""})"
      "\n");
  ASSERT_TRUE(facts) << facts.error().message();
  EXPECT_EQ(facts->status, "running");
  EXPECT_EQ(facts->restarts, 2);
  EXPECT_EQ(facts->image_id, "ca6b2e507fa9");
  EXPECT_EQ(facts->image_digest,
            "sha256:ba2edac4901867c4e45fb74306b6533068e57bbdad460c992c31c2ef180e2607");
  EXPECT_FALSE(detail::parse_container_facts(R"({"status":"running"})"));
}

TEST(PodmanParse, MapsContainerStates) {
  auto map = [](std::string status, int exit_code, int restarts, std::string policy,
                std::string error = "") {
    detail::ContainerFacts facts{.status = std::move(status), .exit_code = exit_code,
                                 .restarts = restarts, .error = std::move(error)};
    return detail::map_container_state(facts, policy);
  };
  EXPECT_EQ(map("running", 0, 0, "always").state, WorkloadState::running);
  EXPECT_EQ(map("running", 0, 4, "always").detail, "restarted 4 times");
  EXPECT_EQ(map("created", 0, 0, "always").state, WorkloadState::starting);
  EXPECT_EQ(map("created", 0, 0, "always", "runc: boom").state, WorkloadState::failed);
  // An exit the policy undoes is a restart in progress; once it recurs it is a failure.
  EXPECT_EQ(map("exited", 1, 0, "always").state, WorkloadState::starting);
  auto const looping = map("exited", 3, 2, "always");
  EXPECT_EQ(looping.state, WorkloadState::failed);
  EXPECT_EQ(looping.detail, "exited with code 3 (restarted 2 times)");
  EXPECT_EQ(map("exited", 0, 0, "no").state, WorkloadState::failed);
  EXPECT_EQ(map("exited", 0, 0, "on-failure").state, WorkloadState::failed);
  EXPECT_EQ(map("exited", 1, 0, "on-failure:3").state, WorkloadState::starting);
  EXPECT_EQ(map("exited", 1, 3, "on-failure:3").state, WorkloadState::failed);
  EXPECT_EQ(map("paused", 0, 0, "always").state, WorkloadState::failed);
}

TEST(PodmanParse, SplitsTimestampedLogLines) {
  auto const line = detail::parse_log_line("2026-12-04T17:12:13.342258420Z hello  world");
  ASSERT_TRUE(line);
  EXPECT_EQ(line->text, "hello  world");
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::nanoseconds>(line->at.time_since_epoch()) %
                std::chrono::seconds(1),
            std::chrono::nanoseconds(342258420));
  auto const empty = detail::parse_log_line("2026-12-04T17:12:13.1Z");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->text, "");
  EXPECT_FALSE(detail::parse_log_line("Error: no such container ee-workload"));
  EXPECT_FALSE(detail::parse_log_line(""));
}

TEST(PodmanParse, RedactsAndBoundsDetails) {
  std::map<std::string, std::string> const env{{"TOKEN", "hunter2-secret"}, {"N", "1"}};
  auto const tail = detail::redacted_tail(
      "Trying to pull...\n\nError: bad value hunter2-secret for 1 thing\n", env);
  EXPECT_EQ(tail, "Trying to pull...; Error: bad value *** for 1 thing");
  auto const bounded = detail::redacted_tail("first line\n" + std::string(50, 'x') + "\n", env, 30);
  EXPECT_LE(bounded.size(), 30u);
  EXPECT_EQ(bounded.substr(0, 3), "...");
  EXPECT_EQ(detail::redacted_tail("one\ntwo\nthree\n", {}, 11), "two; three");
}

// --- the runtime against a fake podman --------------------------------------------------------

// Records each call as call.<subcommand>.<pid> (one argument per line) and answers from files.
constexpr char kFakePodman[] = R"(#!/bin/sh
dir="$FAKE_PODMAN_DIR"
for a in "$@"; do printf '%s\n' "$a"; done > "$dir/call.$1.$$"
case "$1" in
  pull)
    while [ -e "$dir/hold-pull" ]; do sleep 0.01; done
    if [ -e "$dir/pull-error" ]; then cat "$dir/pull-error" >&2; exit 125; fi
    echo 0123 ;;
  image) cat "$dir/image.json" ;;
  rm) exit 0 ;;
  run) echo 4567 ;;
  container)
    if [ -e "$dir/gone" ]; then
      echo "Error: inspecting object: no such container x" >&2; exit 125
    fi
    cat "$dir/container.json" ;;
  logs)
    [ -e "$dir/logs.out" ] && cat "$dir/logs.out"
    [ -e "$dir/logs.err" ] && cat "$dir/logs.err" >&2
    exit 0 ;;
esac
)";

class FakePodman : public ::testing::Test {
 protected:
  void SetUp() override {
    auto const script = dir_.write("podman", kFakePodman);
    ::chmod(script.c_str(), 0755);
    options_.podman = script.string();
    options_.podman_env = {{"FAKE_PODMAN_DIR", dir_.path().string()}};
    options_.logs = logs_;
    image_json(kDigest1);
    container_json("running", 0, 0);
  }

  void image_json(std::string const& digest) {
    dir_.write("image.json", R"({"id":"img1","digest":")" + digest + R"(","repo_digests":null})");
  }
  void container_json(std::string const& status, int exit_code, int restarts,
                      std::string const& image = "img1") {
    dir_.write("container.json", R"({"status":")" + status + R"(","exit_code":)" +
                                     std::to_string(exit_code) + R"(,"restarts":)" +
                                     std::to_string(restarts) + R"(,"image":")" + image +
                                     R"(","image_digest":")" + kDigest1 + R"(","error":""})");
  }
  // The arguments of every recorded call of `subcommand`.
  std::vector<std::vector<std::string>> calls(std::string const& subcommand) const {
    std::vector<std::vector<std::string>> out;
    for (auto const& entry : fs::directory_iterator(dir_.path())) {
      if (entry.path().filename().string().rfind("call." + subcommand + ".", 0) != 0) continue;
      std::ifstream in(entry.path());
      std::vector<std::string> argv;
      for (std::string line; std::getline(in, line);) argv.push_back(line);
      out.push_back(std::move(argv));
    }
    return out;
  }
  std::shared_ptr<ee::agent::WorkloadRuntime> runtime(std::chrono::milliseconds refresh = 0ms) {
    return detail::make_podman_runtime(options_, refresh);
  }

  ee::test::TempDir dir_;
  std::shared_ptr<LogBuffer> logs_ = std::make_shared<LogBuffer>();
  PodmanOptions options_;
  WorkloadSpec spec_{.deployment_id = "dep-1",
                     .app_name = "app",
                     .version = "1",
                     .image = kImage,
                     .env = {{"API_KEY", "s3cret-value"}, {"MODE", "prod"}}};
};

TEST_F(FakePodman, PullsChecksRemovesAndRunsWithTheSpec) {
  options_.pull_args = {"--tls-verify=false"};
  options_.container_name = "wl";
  options_.stop_timeout = 3s;
  auto rt = runtime();
  EXPECT_EQ(rt->name(), "podman");
  EXPECT_EQ(rt->status().state, WorkloadState::idle);
  auto const ran = rt->run(spec_);
  ASSERT_TRUE(ran) << ran.error().message();

  auto const pulls = calls("pull");
  ASSERT_EQ(pulls.size(), 1u);
  EXPECT_EQ(pulls[0], (std::vector<std::string>{"pull", "--quiet", "--tls-verify=false", kImage}));
  auto const inspects = calls("image");
  ASSERT_EQ(inspects.size(), 1u);
  EXPECT_EQ(inspects[0].back(), kImage);
  auto const removals = calls("rm");
  ASSERT_EQ(removals.size(), 1u);
  EXPECT_EQ(removals[0], (std::vector<std::string>{"rm", "--force", "--time", "3", "wl"}));
  auto const runs = calls("run");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_NE(std::find(runs[0].begin(), runs[0].end(), "API_KEY=s3cret-value"), runs[0].end());
  EXPECT_EQ(runs[0].back(), kImage);

  auto const status = rt->status();
  EXPECT_EQ(status.state, WorkloadState::running);
  EXPECT_EQ(status.deployment_id, "dep-1");
  EXPECT_EQ(status.image, kImage);
  EXPECT_EQ(status.image_digest, kDigest1);
  ASSERT_TRUE(rt->stop());
}

TEST_F(FakePodman, RefusesALocalImageStoredUnderAnotherDigest) {
  image_json(kDigest2);
  auto rt = runtime();
  auto const ran = rt->run(spec_);
  ASSERT_FALSE(ran);
  EXPECT_EQ(ran.error(), ee::agent::errc::digest_mismatch);
  EXPECT_EQ(ran.error(), ee::condition::forbidden);
  EXPECT_TRUE(calls("run").empty());
  EXPECT_TRUE(calls("rm").empty());  // whatever ran before keeps running
  auto const status = rt->status();
  EXPECT_EQ(status.state, WorkloadState::failed);
  EXPECT_NE(status.detail.find(kDigest2), std::string::npos);
  EXPECT_TRUE(status.image_digest.empty());
}

TEST_F(FakePodman, ReportsAFailedPullWithoutTheSecrets) {
  dir_.write("pull-error", "Trying to pull...\nError: cannot pull: s3cret-value rejected\n");
  auto rt = runtime();
  auto const ran = rt->run(spec_);
  ASSERT_FALSE(ran);
  EXPECT_EQ(ran.error(), ee::agent::errc::command_failed);
  auto const status = rt->status();
  EXPECT_EQ(status.state, WorkloadState::failed);
  EXPECT_NE(status.detail.find("cannot pull: *** rejected"), std::string::npos) << status.detail;
  EXPECT_EQ(status.detail.find("s3cret"), std::string::npos);
  EXPECT_EQ(ran.error().message().find("s3cret"), std::string::npos);
}

TEST_F(FakePodman, RejectsABadSpecWithoutCallingPodman) {
  auto rt = runtime();
  spec_.env["NOT-A-NAME"] = "v";
  auto ran = rt->run(spec_);
  ASSERT_FALSE(ran);
  EXPECT_EQ(ran.error(), ee::condition::invalid_input);
  spec_.env.erase("NOT-A-NAME");
  spec_.image = "app:latest";
  ran = rt->run(spec_);
  ASSERT_FALSE(ran);
  EXPECT_EQ(ran.error(), ee::agent::errc::invalid_config);
  EXPECT_TRUE(calls("pull").empty());
  EXPECT_EQ(rt->status().state, WorkloadState::failed);
}

TEST_F(FakePodman, AnswersStatusWhileAPullIsInProgress) {
  dir_.write("hold-pull", "");
  auto rt = runtime();
  auto running = std::async(std::launch::async, [&] { return rt->run(spec_); });
  ASSERT_TRUE(eventually([&] { return !calls("pull").empty(); }));
  auto const asked = std::chrono::steady_clock::now();
  auto const status = rt->status();
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 500ms);
  EXPECT_EQ(status.state, WorkloadState::pulling);
  EXPECT_EQ(status.deployment_id, "dep-1");
  fs::remove(dir_.path() / "hold-pull");
  auto const ran = running.get();
  ASSERT_TRUE(ran) << ran.error().message();
  EXPECT_EQ(rt->status().state, WorkloadState::running);
}

TEST_F(FakePodman, RefreshesTheStateFromInspect) {
  auto rt = runtime(0ms);
  ASSERT_TRUE(rt->run(spec_));
  container_json("exited", 3, 2);
  auto status = rt->status();
  EXPECT_EQ(status.state, WorkloadState::failed);
  EXPECT_EQ(status.restarts, 2);
  EXPECT_EQ(status.detail, "exited with code 3 (restarted 2 times)");
  container_json("running", 0, 3);
  EXPECT_EQ(rt->status().state, WorkloadState::running);
  container_json("running", 0, 3, "another-image");
  status = rt->status();
  EXPECT_EQ(status.state, WorkloadState::failed);
  EXPECT_NE(status.detail.find("another-image"), std::string::npos);
  dir_.write("gone", "");
  status = rt->status();
  EXPECT_EQ(status.state, WorkloadState::failed);
  EXPECT_EQ(status.detail, "the container is gone");
  EXPECT_TRUE(status.image_digest.empty());
}

TEST_F(FakePodman, CachesTheInspectedState) {
  auto rt = runtime(1h);
  ASSERT_TRUE(rt->run(spec_));
  auto const before = calls("container").size();
  container_json("exited", 3, 2);
  EXPECT_EQ(rt->status().state, WorkloadState::running);
  EXPECT_EQ(calls("container").size(), before);
}

TEST_F(FakePodman, StopIsIdempotent) {
  auto rt = runtime();
  ASSERT_TRUE(rt->stop());
  EXPECT_EQ(rt->status().state, WorkloadState::idle);  // never deployed
  ASSERT_TRUE(rt->run(spec_));
  ASSERT_TRUE(rt->stop());
  ASSERT_TRUE(rt->stop());
  auto const status = rt->status();
  EXPECT_EQ(status.state, WorkloadState::stopped);
  EXPECT_TRUE(status.image_digest.empty());
  EXPECT_EQ(calls("rm").size(), 4u);  // each stop, and run before it starts the container
}

TEST_F(FakePodman, StopSucceedsWhenPodmanIsMissing) {
  options_.podman = (dir_.path() / "no-such-podman").string();
  auto rt = runtime();
  EXPECT_TRUE(rt->stop());
  auto const ran = rt->run(spec_);
  ASSERT_FALSE(ran);
  EXPECT_EQ(ran.error(), ee::agent::errc::program_not_found);
}

TEST_F(FakePodman, FollowsLogsIntoTheBufferOnceEach) {
  // Stamped in the future, so they are after the run whenever the test runs.
  dir_.write("logs.out",
             "2100-01-01T00:00:00.000000001Z first\n2100-01-01T00:00:00.000000001Z second\n"
             "Error: a complaint of podman's own\n");
  dir_.write("logs.err", "2100-01-01T00:00:01Z on stderr\n");
  auto rt = runtime(1h);
  ASSERT_TRUE(rt->run(spec_));
  // The fake ends at once, as podman logs does when a container restarts: the follower starts it
  // again, and the lines it repeats must not be delivered twice.
  ASSERT_TRUE(eventually([&] { return calls("logs").size() >= 2; }, 5s));
  std::this_thread::sleep_for(300ms);
  auto const lines = logs_->read();
  std::vector<std::string> texts;
  for (auto const& line : lines) {
    EXPECT_EQ(line.source, "workload");
    texts.push_back(line.text);
  }
  std::sort(texts.begin(), texts.end());
  EXPECT_EQ(texts, (std::vector<std::string>{"first", "on stderr", "second"}));
  auto const follows = calls("logs");
  ASSERT_FALSE(follows.empty());
  EXPECT_EQ(follows[0].back(), options_.container_name);
  EXPECT_NE(std::find(follows[0].begin(), follows[0].end(), "--follow"), follows[0].end());
  ASSERT_TRUE(rt->stop());
  auto const after_stop = calls("logs").size();
  std::this_thread::sleep_for(1200ms);
  EXPECT_EQ(calls("logs").size(), after_stop);  // the follower ended with stop()
}

}  // namespace

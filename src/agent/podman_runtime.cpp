// The podman workload runtime. Every podman call goes through run_command (run to completion,
// bounded output, a timeout) or, for the log follower, Child: no shell is ever involved, so the
// spec's environment reaches the container as plain arguments and is never interpreted.
//
// Locking: op_mutex_ lets one run() or stop() proceed at a time; mutex_ guards the state that
// status() reads and is never held while podman runs, so status() answers during a long pull.
//
// The container outlives the runtime object on purpose: podman's conmon supervises it (and its
// restart policy), so an agent restart does not take the service down; the next run() or stop()
// removes it by name.
#include "agent/podman_runtime.hpp"

#include <easyenclave/agent/error.hpp>
#include <easyenclave/api/image_reference.hpp>

#include "agent/processes.hpp"
#include "detail/json.hpp"
#include "detail/log.hpp"
#include "detail/time.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>

namespace ee::agent {
namespace detail {
namespace {

namespace core = ::ee::detail;
namespace chr = std::chrono;

bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_digits(std::string_view s) noexcept {
  return !s.empty() && s.size() <= 9 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// podman's own rule for container names.
bool is_container_name(std::string_view name) noexcept {
  return !name.empty() && name.size() <= 128 && is_alnum(name.front()) &&
         std::all_of(name.begin(), name.end(),
                     [](char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; });
}

bool is_restart_policy(std::string_view policy) noexcept {
  if (policy == "no" || policy == "always" || policy == "unless-stopped" ||
      policy == "on-failure") {
    return true;
  }
  constexpr std::string_view kOnFailure = "on-failure:";
  return policy.starts_with(kOnFailure) && is_digits(policy.substr(kOnFailure.size()));
}

bool is_env_name(std::string_view name) noexcept {
  return !name.empty() && name.size() <= 128 && !(name.front() >= '0' && name.front() <= '9') &&
         std::all_of(name.begin(), name.end(), [](char c) { return is_alnum(c) || c == '_'; });
}

std::string_view trim(std::string_view s) noexcept {
  auto const first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  auto const last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

Error invalid(std::string detail) { return Error(errc::invalid_config, std::move(detail)); }

}  // namespace

// Only the fields we need, as a JSON object of our own making. `.ID` is the Go field name (the
// `.Id` alias breaks inside `json` on podman 4.3); RepoDigests prints `null` when empty.
char const kImageFormat[] =
    R"({"id":{{json .ID}},"digest":{{json .Digest}},"repo_digests":{{json .RepoDigests}}})";
char const kContainerFormat[] =
    R"({"status":{{json .State.Status}},"exit_code":{{.State.ExitCode}},)"
    R"("restarts":{{.RestartCount}},"image":{{json .Image}},)"
    R"("image_digest":{{json .ImageDigest}},"error":{{json .State.Error}}})";

result<void> check_podman_options(PodmanOptions const& options) {
  if (options.podman.empty()) return invalid("podman: the program must be named");
  if (!is_container_name(options.container_name)) {
    return invalid("container_name: must be 1-128 characters of [A-Za-z0-9_.-] starting with a "
                   "letter or digit");
  }
  if (!is_restart_policy(options.restart_policy)) {
    return invalid("restart_policy: must be no, always, unless-stopped, on-failure or "
                   "on-failure:N");
  }
  if (options.host_port == 0 || options.container_port == 0) {
    return invalid("host_port and container_port must not be 0");
  }
  if (options.pull_timeout.count() <= 0 || options.command_timeout.count() <= 0 ||
      options.stop_timeout.count() < 0) {
    return invalid("timeouts must be positive");
  }
  return {};
}

result<void> check_workload_env(std::map<std::string, std::string> const& env) {
  std::size_t index = 0;
  for (auto const& [name, value] : env) {
    if (!is_env_name(name)) {
      return invalid("env: the name of entry " + std::to_string(index) +
                     " must match [A-Za-z_][A-Za-z0-9_]{0,127}");
    }
    if (value.find('\0') != std::string::npos) {
      return invalid("env: the value of " + name + " contains a NUL character");
    }
    ++index;
  }
  return {};
}

result<std::string> pinned_digest(std::string_view image) {
  auto ref = api::ImageReference::parse_pinned(image);
  if (!ref) return invalid(ref.error().message());
  return ref->digest();
}

std::vector<std::string> pull_argv(PodmanOptions const& options, std::string const& image) {
  std::vector<std::string> argv{options.podman, "pull", "--quiet"};
  argv.insert(argv.end(), options.pull_args.begin(), options.pull_args.end());
  argv.push_back(image);
  return argv;
}

std::vector<std::string> run_argv(PodmanOptions const& options, WorkloadSpec const& spec) {
  std::vector<std::string> argv{
      options.podman,
      "run",
      "--detach",
      "--name",
      options.container_name,
      "--restart",
      options.restart_policy,
      // The image was pulled and checked just before: never let run fetch anything else.
      "--pull",
      "never",
      "--publish",
      "127.0.0.1:" + std::to_string(options.host_port) + ":" +
          std::to_string(options.container_port),
  };
  for (auto const& [name, value] : spec.env) {
    // Always NAME=VALUE: a bare NAME would make podman copy its own variable of that name.
    argv.push_back("--env");
    argv.push_back(name + "=" + value);
  }
  argv.push_back(spec.image);
  return argv;
}

result<ImageFacts> parse_image_facts(std::string_view text) {
  auto doc = core::json::parse(trim(text));
  if (!doc) return doc.error();
  auto reader = core::json::ObjectReader::from(*doc, "image");
  if (!reader) return reader.error();
  ImageFacts facts;
  auto id = reader->string("id");
  if (!id) return id.error();
  facts.id = std::move(*id);
  auto digest = reader->string("digest");
  if (!digest) return digest.error();
  facts.digest = std::move(*digest);
  if (auto const* repo = reader->object().if_contains("repo_digests"); repo && !repo->is_null()) {
    auto digests = reader->string_array("repo_digests");
    if (!digests) return digests.error();
    facts.repo_digests = std::move(*digests);
  }
  return facts;
}

bool image_has_digest(ImageFacts const& facts, std::string_view digest) {
  if (facts.digest == digest) return true;
  return std::any_of(facts.repo_digests.begin(), facts.repo_digests.end(),
                     [digest](std::string const& repo_digest) {
                       auto ref = api::ImageReference::parse(repo_digest);
                       return ref && ref->pinned() && ref->digest() == digest;
                     });
}

result<ContainerFacts> parse_container_facts(std::string_view text) {
  auto doc = core::json::parse(trim(text));
  if (!doc) return doc.error();
  auto reader = core::json::ObjectReader::from(*doc, "container");
  if (!reader) return reader.error();
  ContainerFacts facts;
  auto status = reader->string("status");
  if (!status) return status.error();
  facts.status = std::move(*status);
  auto exit_code = reader->integer("exit_code", -1, 1 << 16);
  if (!exit_code) return exit_code.error();
  facts.exit_code = static_cast<int>(*exit_code);
  auto restarts = reader->integer("restarts", 0, 1 << 30);
  if (!restarts) return restarts.error();
  facts.restarts = static_cast<int>(*restarts);
  auto image = reader->string("image");
  if (!image) return image.error();
  facts.image_id = std::move(*image);
  auto image_digest = reader->optional_string("image_digest");
  if (!image_digest) return image_digest.error();
  facts.image_digest = image_digest->value_or("");
  auto error = reader->optional_string("error");
  if (!error) return error.error();
  facts.error = error->value_or("");
  return facts;
}

MappedState map_container_state(ContainerFacts const& facts, std::string_view restart_policy) {
  std::string const restarted =
      facts.restarts > 0 ? "restarted " + std::to_string(facts.restarts) + " times" : "";
  if (facts.status == "running") return {WorkloadState::running, restarted};
  if (facts.status == "created" || facts.status == "configured" ||
      facts.status == "initialized") {
    if (!facts.error.empty()) return {WorkloadState::failed, "could not start: " + facts.error};
    return {WorkloadState::starting, "container " + facts.status};
  }
  if (facts.status == "exited" || facts.status == "stopped" || facts.status == "stopping" ||
      facts.status == "dead") {
    std::string detail = "exited with code " + std::to_string(facts.exit_code);
    if (!facts.error.empty()) detail += ": " + facts.error;
    if (!restarted.empty()) detail += " (" + restarted + ")";
    bool will_restart = restart_policy == "always" || restart_policy == "unless-stopped";
    if (restart_policy.starts_with("on-failure") && facts.exit_code != 0) {
      auto const colon = restart_policy.find(':');
      int max_retries = 0;
      if (colon != std::string_view::npos) {
        auto const digits = restart_policy.substr(colon + 1);
        std::from_chars(digits.data(), digits.data() + digits.size(), max_retries);
      }
      will_restart = colon == std::string_view::npos || facts.restarts < max_retries;
    }
    // An exit the policy undoes is a restart in progress, unless it keeps happening.
    if (will_restart && facts.restarts == 0) return {WorkloadState::starting, detail};
    return {WorkloadState::failed, detail};
  }
  return {WorkloadState::failed, "container is " + facts.status};
}

std::optional<TimedLine> parse_log_line(std::string_view line) {
  auto const space = line.find(' ');
  auto const stamp = line.substr(0, space);
  auto at = core::parse_rfc3339(stamp);
  if (!at) return std::nullopt;
  auto const text = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  return TimedLine{*at, text};
}

std::string redacted_tail(std::string_view text, std::map<std::string, std::string> const& env,
                          std::size_t max_bytes) {
  // Redact before cutting: a value split by the cut would no longer match.
  std::string clean(text);
  for (auto const& [name, value] : env) {
    if (value.size() < 4) continue;  // shorter values are no secrets and would mangle the text
    for (auto at = clean.find(value); at != std::string::npos; at = clean.find(value, at + 3)) {
      clean.replace(at, value.size(), "***");
    }
  }
  std::vector<std::string_view> lines;
  std::string_view rest(clean);
  while (!rest.empty()) {
    auto const nl = rest.find('\n');
    auto const line = trim(rest.substr(0, nl));
    if (!line.empty()) lines.push_back(line);
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  std::string out;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    std::string next(*it);
    if (!out.empty()) next += "; " + out;
    if (next.size() > max_bytes) {
      if (out.empty()) out = "..." + next.substr(next.size() - (max_bytes > 3 ? max_bytes - 3 : 0));
      break;
    }
    out = std::move(next);
  }
  return out;
}

namespace {

constexpr char kComponent[] = "agent";
constexpr char kLogSource[] = "workload";
// `podman logs -f` ends whenever the container exits (also on every restart); it is started
// again after this pause, doubled while it brings nothing new, up to the maximum.
constexpr auto kFollowRetry = chr::milliseconds(1000);
constexpr auto kFollowRetryMax = chr::milliseconds(30'000);
constexpr auto kFollowerStopGrace = chr::milliseconds(2000);
constexpr auto kInspectTimeout = chr::seconds(15);

// Follows the container's output into the log buffer with `podman logs -f -t`. Each new run
// starts at the last delivered line (--since) and drops what an earlier run delivered, judged
// per stream by timestamp (the two streams are not ordered relative to each other). Child is
// spawned from the follower's own thread, which outlives it: PR_SET_PDEATHSIG fires when the
// spawning thread exits, not the process.
class LogFollower {
 public:
  LogFollower(PodmanOptions const& options, chr::system_clock::time_point since)
      : argv_{options.podman, "logs", "--follow", "--timestamps", "--since"},
        container_(options.container_name),
        env_(options.podman_env),
        logs_(options.logs),
        cursor_(std::make_shared<Cursor>()) {
    // Strictly before `since`, so a line stamped exactly then still passes the filter.
    cursor_->last.fill(since - chr::nanoseconds(1));
    cursor_->cutoff = cursor_->last;
    thread_ = std::thread([this] { loop(); });
  }
  ~LogFollower() {
    std::shared_ptr<Child> child;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      child = child_;
    }
    wake_.notify_all();
    if (child) child->stop(kFollowerStopGrace);
    if (thread_.joinable()) thread_.join();
  }
  LogFollower(LogFollower const&) = delete;
  LogFollower& operator=(LogFollower const&) = delete;

 private:
  struct Cursor {
    std::mutex mutex;
    std::array<chr::system_clock::time_point, 2> last{};    // newest line seen, per stream
    std::array<chr::system_clock::time_point, 2> cutoff{};  // delivered by earlier runs
    bool progressed = false;
  };

  void loop() {
    auto delay = kFollowRetry;
    for (;;) {
      SpawnOptions spawn;
      spawn.argv = argv_;
      spawn.env = env_;
      {
        std::lock_guard lock(cursor_->mutex);
        cursor_->cutoff = cursor_->last;
        cursor_->progressed = false;
        auto const since = std::min(cursor_->last[0], cursor_->last[1]);
        // Microseconds, rounded down: the per-stream filter removes what was already seen.
        spawn.argv.push_back(core::format_rfc3339(since, 6));
      }
      spawn.argv.push_back(container_);
      spawn.on_line = [cursor = cursor_, logs = logs_](std::string_view line, bool from_stderr) {
        auto const timed = parse_log_line(line);
        if (!timed) return;  // podman's own complaint ("no such container"), not the workload's
        std::size_t const stream = from_stderr ? 1 : 0;
        {
          std::lock_guard lock(cursor->mutex);
          if (timed->at <= cursor->cutoff[stream]) return;
          cursor->last[stream] = std::max(cursor->last[stream], timed->at);
          cursor->progressed = true;
        }
        logs->append(kLogSource, timed->text, timed->at);
      };
      if (auto spawned = Child::spawn(std::move(spawn)); spawned) {
        std::shared_ptr<Child> child(std::move(*spawned));
        bool abandoned = false;
        {
          std::lock_guard lock(mutex_);
          abandoned = stopping_;
          if (!abandoned) child_ = child;
        }
        if (abandoned) {  // the destructor ran between spawn and here and did not see this child
          child->stop(kFollowerStopGrace);
          return;
        }
        child->wait();
        std::lock_guard lock(mutex_);
        child_.reset();
      } else {
        core::log::warn(kComponent, "workload log follower: ", spawned.error().message());
      }
      bool progressed = false;
      {
        std::lock_guard lock(cursor_->mutex);
        progressed = cursor_->progressed;
      }
      delay = progressed ? kFollowRetry : std::min(delay * 2, kFollowRetryMax);
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, delay, [this] { return stopping_; })) return;
    }
  }

  std::vector<std::string> const argv_;
  std::string const container_;
  std::map<std::string, std::string> const env_;
  std::shared_ptr<LogBuffer> const logs_;
  std::shared_ptr<Cursor> const cursor_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::shared_ptr<Child> child_;
  std::thread thread_;
};

class PodmanRuntime final : public WorkloadRuntime {
 public:
  PodmanRuntime(PodmanOptions options, chr::milliseconds refresh_interval)
      : options_(std::move(options)), refresh_interval_(refresh_interval) {}

  result<void> run(WorkloadSpec const& spec) override {
    std::lock_guard op(op_mutex_);
    std::uint64_t const generation = begin_run(spec);
    // From here on the new spec is the deployment the status describes; until the old container
    // is removed below it keeps serving, whatever goes wrong first.
    if (auto ok = check_podman_options(options_); !ok) return fail(generation, ok.error());
    if (auto ok = check_workload_env(spec.env); !ok) return fail(generation, ok.error());
    auto digest = pinned_digest(spec.image);
    if (!digest) return fail(generation, digest.error());

    core::log::info(kComponent, "workload: pulling ", spec.image);
    auto pulled = podman(pull_argv(options_, spec.image), options_.pull_timeout, "pull");
    if (!pulled) return fail(generation, pulled.error());

    // The pull by digest made podman check the manifest against it; this checks that the local
    // image `run` will resolve is the one stored under that digest.
    auto inspected = podman({options_.podman, "image", "inspect", "--format", kImageFormat,
                             spec.image},
                            options_.command_timeout, "image inspect");
    if (!inspected) return fail(generation, inspected.error());
    auto image = parse_image_facts(inspected->out);
    if (!image) {
      return fail(generation, Error(errc::command_failed,
                                    "podman image inspect: unexpected output: " +
                                        image.error().message()));
    }
    if (!image_has_digest(*image, *digest)) {
      auto const found = image->digest.empty() ? std::string("none") : image->digest;
      return fail(generation, Error(errc::digest_mismatch, "the local image " + spec.image +
                                                               " has digest " + found +
                                                               ", not the pinned " + *digest));
    }

    std::unique_ptr<LogFollower> old_follower;
    {
      std::lock_guard lock(mutex_);
      set_state(WorkloadState::starting, "starting " + spec.image);
      old_follower = std::move(follower_);
    }
    old_follower.reset();  // outside the lock: it waits for its podman to end
    if (auto removed = remove_container(); !removed) return fail(generation, removed.error());

    auto const since = chr::system_clock::now();
    auto started = podman(run_argv(options_, spec), options_.command_timeout, "run");
    if (!started) return fail(generation, started.error());
    core::log::info(kComponent, "workload: started ", spec.image, " as ", options_.container_name);
    auto follower = options_.logs ? std::make_unique<LogFollower>(options_, since) : nullptr;
    {
      std::lock_guard lock(mutex_);
      have_container_ = true;
      digest_ = *digest;
      image_id_ = image->id;
      follower_ = std::move(follower);
    }

    auto facts = inspect_container();
    std::lock_guard lock(mutex_);
    busy_ = false;
    refreshed_at_ = chr::steady_clock::now();
    if (!facts) {
      set_state(WorkloadState::starting, "started; " + facts.error().message());
      return {};
    }
    auto mapped = judge(*facts);
    restarts_ = facts->restarts;
    set_state(mapped.state, mapped.detail);
    if (mapped.state == WorkloadState::failed) return Error(errc::command_failed, detail_);
    return {};
  }

  result<void> stop() override {
    std::lock_guard op(op_mutex_);
    std::unique_ptr<LogFollower> follower;
    {
      std::lock_guard lock(mutex_);
      ++generation_;
      busy_ = true;
      follower = std::move(follower_);
    }
    follower.reset();
    auto removed = remove_container();
    std::lock_guard lock(mutex_);
    busy_ = false;
    // Without podman no container can run: nothing to stop.
    if (!removed && removed.error() != errc::program_not_found) {
      set_state(WorkloadState::failed,
                "could not remove the container: " + removed.error().message());
      return removed.error();
    }
    have_container_ = false;
    restarts_ = 0;
    if (state_ != WorkloadState::idle) set_state(WorkloadState::stopped, "");
    return {};
  }

  WorkloadStatus status() override {
    refresh_if_stale();
    std::lock_guard lock(mutex_);
    WorkloadStatus out;
    out.state = state_;
    out.since = since_;
    out.deployment_id = deployment_id_;
    out.image = image_;
    out.detail = detail_;
    out.restarts = restarts_;
    if (have_container_) out.image_digest = digest_;
    return out;
  }

  std::string_view name() const noexcept override { return "podman"; }

 private:
  // Makes `spec` the current deployment, in state pulling; returns its generation.
  std::uint64_t begin_run(WorkloadSpec const& spec) {
    std::lock_guard lock(mutex_);
    busy_ = true;
    deployment_id_ = spec.deployment_id;
    image_ = spec.image;
    env_ = spec.env;
    digest_.clear();
    image_id_.clear();
    restarts_ = 0;
    // The old container, if any, is no longer what the status describes.
    have_container_ = false;
    set_state(WorkloadState::pulling, "pulling " + spec.image);
    return ++generation_;
  }

  // Records `error` as the reason the run of `generation` failed and returns it.
  Error fail(std::uint64_t generation, Error error) {
    std::lock_guard lock(mutex_);
    busy_ = false;
    if (generation == generation_) set_state(WorkloadState::failed, error.message());
    return error;
  }

  // Caller holds mutex_.
  void set_state(WorkloadState state, std::string detail) {
    if (state != state_) since_ = chr::system_clock::now();
    state_ = state;
    detail_ = std::move(detail);
  }

  // Runs podman with `argv` (argv[0] is the program); a non-zero exit is command_failed whose
  // detail is the end of podman's stderr with the spec's values redacted.
  result<CommandResult> podman(std::vector<std::string> argv, chr::seconds timeout,
                               std::string_view what) const {
    std::map<std::string, std::string> env;
    {
      std::lock_guard lock(mutex_);
      env = env_;
    }
    auto done = run_command(std::move(argv), timeout, options_.podman_env);
    if (!done) return as_agent_error(done.error()).with_context("podman " + std::string(what));
    if (done->exit_status != 0) {
      auto tail = redacted_tail(done->err, env);
      return Error(errc::command_failed, "podman " + std::string(what) + " exited with status " +
                                             std::to_string(done->exit_status) +
                                             (tail.empty() ? "" : ": " + tail));
    }
    return done;
  }

  result<void> remove_container() const {
    auto removed = podman({options_.podman, "rm", "--force", "--time",
                           std::to_string(options_.stop_timeout.count()), options_.container_name},
                          options_.command_timeout + options_.stop_timeout, "rm");
    if (!removed) return removed.error();
    return {};
  }

  result<ContainerFacts> inspect_container() const {
    auto inspected = podman({options_.podman, "container", "inspect", "--format", kContainerFormat,
                             options_.container_name},
                            std::min(options_.command_timeout, kInspectTimeout),
                            "container inspect");
    if (!inspected) return inspected.error();
    auto facts = parse_container_facts(inspected->out);
    if (!facts) {
      return Error(errc::command_failed,
                   "podman container inspect: unexpected output: " + facts.error().message());
    }
    return facts;
  }

  // Caller holds mutex_.
  MappedState judge(ContainerFacts const& facts) const {
    if (!image_id_.empty() && facts.image_id != image_id_) {
      return {WorkloadState::failed, "the container runs image " + facts.image_id +
                                         ", not the verified " + image_id_};
    }
    auto mapped = map_container_state(facts, options_.restart_policy);
    mapped.detail = redacted_tail(mapped.detail, env_);
    return mapped;
  }

  // Re-reads the container's state when the cached one is older than refresh_interval_. Only one
  // caller refreshes at a time (the others answer from the cache), and never during run/stop.
  void refresh_if_stale() {
    std::uint64_t generation = 0;
    {
      std::lock_guard lock(mutex_);
      if (busy_ || refreshing_ || !have_container_) return;
      if (chr::steady_clock::now() - refreshed_at_ < refresh_interval_) return;
      refreshing_ = true;
      generation = generation_;
    }
    auto facts = inspect_container();
    std::lock_guard lock(mutex_);
    refreshing_ = false;
    refreshed_at_ = chr::steady_clock::now();
    if (generation != generation_) return;  // run() or stop() changed everything meanwhile
    if (!facts) {
      if (facts.error().detail().find("no such container") != std::string::npos) {
        have_container_ = false;
        set_state(WorkloadState::failed, "the container is gone");
      }
      // Otherwise (podman slow or failing) keep what we knew; the next refresh retries.
      return;
    }
    auto mapped = judge(*facts);
    restarts_ = facts->restarts;
    set_state(mapped.state, std::move(mapped.detail));
  }

  PodmanOptions const options_;
  chr::milliseconds const refresh_interval_;
  std::mutex op_mutex_;  // one run() or stop() at a time
  mutable std::mutex mutex_;
  std::uint64_t generation_ = 0;  // bumped by run() and stop(): stale refreshes are dropped
  bool busy_ = false;             // a run() or stop() is in progress
  bool refreshing_ = false;
  bool have_container_ = false;  // the current deployment's container exists (as far as we know)
  WorkloadState state_ = WorkloadState::idle;
  std::string detail_{};
  chr::system_clock::time_point since_{};
  int restarts_ = 0;
  std::string deployment_id_{};
  std::string image_{};
  std::map<std::string, std::string> env_{};  // only to redact status details
  std::string digest_{};                      // the pinned digest, once verified
  std::string image_id_{};                    // the local image stored under it
  chr::steady_clock::time_point refreshed_at_{};
  std::unique_ptr<LogFollower> follower_;
};

}  // namespace

std::shared_ptr<WorkloadRuntime> make_podman_runtime(PodmanOptions options,
                                                     chr::milliseconds refresh_interval) {
  return std::make_shared<PodmanRuntime>(std::move(options), refresh_interval);
}

}  // namespace detail

std::shared_ptr<WorkloadRuntime> make_podman_runtime(PodmanOptions options) {
  return detail::make_podman_runtime(std::move(options), std::chrono::seconds(2));
}

}  // namespace ee::agent

#pragma once
/// @file The agent's workload: one OCI image (pinned by digest) that serves on 127.0.0.1:8080,
/// behind an interface with two implementations: podman (production) and a local process (tests
/// and `make demo`, where no container engine runs). Embedders may supply their own.
#include <easyenclave/agent/log_buffer.hpp>
#include <easyenclave/error.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ee::agent {

enum class WorkloadState {
  idle,      ///< nothing deployed
  pulling,   ///< fetching the image
  starting,  ///< created, not yet running
  running,
  stopped,  ///< undeployed
  failed,   ///< could not be fetched or started, or keeps exiting
};
/// "idle", "pulling", "starting", "running", "stopped", "failed" (what heartbeats report).
std::string_view to_string(WorkloadState state) noexcept;

/// What the control plane asked to run (api::AgentDeployRequest).
struct WorkloadSpec {
  std::string deployment_id{};
  std::string app_name{};
  std::string version{};
  std::string image{};  ///< "name@sha256:<64 hex>"
  std::map<std::string, std::string> env{};
};

struct WorkloadStatus {
  WorkloadState state = WorkloadState::idle;
  std::string deployment_id{};
  std::string image{};
  /// "sha256:<hex>" of the image that runs (as the engine reports it), empty when none.
  std::string image_digest{};
  /// Why it failed, or what it is doing; never a secret.
  std::string detail{};
  std::chrono::system_clock::time_point since{};
  int restarts = 0;
};

/// Implementations are thread-safe: `status()` may be called while `run()` is in progress.
class WorkloadRuntime {
 public:
  virtual ~WorkloadRuntime() = default;
  /// Fetches and starts `spec`, replacing whatever runs. Blocking (a pull can take minutes): the
  /// agent calls it off its I/O threads, and `status()` shows the progress meanwhile. Returns
  /// once the workload runs, or the error that stopped it (the status then says failed):
  /// agent::errc::digest_mismatch when the fetched image is not the pinned digest,
  /// command_failed / command_timed_out / program_not_found from the engine.
  virtual result<void> run(WorkloadSpec const& spec) = 0;
  /// Stops and removes the workload; succeeds when nothing runs. Blocking.
  virtual result<void> stop() = 0;
  /// The workload's state now.
  virtual WorkloadStatus status() = 0;
  /// "podman", "process".
  virtual std::string_view name() const noexcept = 0;
};

struct PodmanOptions {
  std::string podman = "podman";  ///< the podman binary (a path, or a name in PATH)
  std::string container_name = "ee-workload";
  /// Published as 127.0.0.1:<host_port> → the container's `container_port`.
  std::uint16_t host_port = 8080;
  std::uint16_t container_port = 8080;
  /// --restart policy of the container.
  std::string restart_policy = "always";
  /// Extra environment for podman itself (CONTAINERS_CONF, registries config, ...).
  std::map<std::string, std::string> podman_env{};
  /// Extra arguments to `podman pull` (e.g. --tls-verify=false for a loopback registry in tests).
  std::vector<std::string> pull_args{};
  std::chrono::seconds pull_timeout{600};
  std::chrono::seconds command_timeout{120};
  std::chrono::seconds stop_timeout{10};
  /// Where the container's stdout/stderr go (source "workload"). Null: discarded.
  std::shared_ptr<LogBuffer> logs{};
};

/// The podman runtime: `podman pull` by digest (the engine verifies the manifest digest), a
/// check that the local image has the pinned digest, `podman run -d` with the restart policy,
/// the port published on loopback and the spec's environment, `podman logs -f` into the log
/// buffer, `podman rm -f` to stop. Never throws (except bad_alloc).
std::shared_ptr<WorkloadRuntime> make_podman_runtime(PodmanOptions options);

struct ProcessRuntimeOptions {
  /// The command that serves the workload on 127.0.0.1:`port`. It runs with the spec's
  /// environment plus EE_IMAGE, EE_APP_NAME, EE_APP_VERSION, EE_DEPLOYMENT_ID and PORT, and is
  /// restarted with backoff when it exits.
  std::vector<std::string> command{};
  /// Where its output goes (source "workload"). Null: discarded.
  std::shared_ptr<LogBuffer> logs{};
  /// Handed to the command as PORT.
  std::uint16_t port = 8080;
  std::chrono::milliseconds restart_delay{500};
  std::chrono::milliseconds max_restart_delay{30'000};
};

/// The process runtime: no image is fetched; the command stands in for the image, and the digest
/// it reports is the one the spec pins. For development and tests only: nothing checks that the
/// command is what the image would run.
std::shared_ptr<WorkloadRuntime> make_process_runtime(ProcessRuntimeOptions options);

}  // namespace ee::agent

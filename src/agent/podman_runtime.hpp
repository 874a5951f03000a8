#pragma once
// The pieces of the podman workload runtime that need no podman: checking a spec and the options,
// building podman's argument lists, reading what `podman inspect` and `podman logs -t` print, and
// mapping a container's state onto a WorkloadState. Split out so they are tested on their own.
#include <easyenclave/agent/workload.hpp>
#include <easyenclave/error.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ee::agent::detail {

/// agent::errc::invalid_config unless the container name, restart policy and ports are usable.
result<void> check_podman_options(PodmanOptions const& options);

/// agent::errc::invalid_config unless every name matches [A-Za-z_][A-Za-z0-9_]{0,127} and no
/// value holds a NUL (it would silently cut the argument). The message never quotes a name or a
/// value: either may be a misplaced secret.
result<void> check_workload_env(std::map<std::string, std::string> const& env);

/// "sha256:<hex>" of a pinned "name@sha256:<hex>" image; invalid_config when it is not one.
result<std::string> pinned_digest(std::string_view image);

/// argv of `podman pull` for `image` (argv[0] is options.podman).
std::vector<std::string> pull_argv(PodmanOptions const& options, std::string const& image);

/// argv of `podman run -d` for `spec`, environment included (so it holds secrets: never log
/// it). Assumes check_podman_options and check_workload_env passed.
std::vector<std::string> run_argv(PodmanOptions const& options, WorkloadSpec const& spec);

/// The --format of `podman image inspect` that parse_image_facts reads.
extern char const kImageFormat[];
/// The --format of `podman container inspect` that parse_container_facts reads. It selects
/// only state fields: the full inspect output holds the environment, hence secrets.
extern char const kContainerFormat[];

struct ImageFacts {
  std::string id{};
  std::string digest{};                     ///< "sha256:<hex>" (the manifest podman stored)
  std::vector<std::string> repo_digests{};  ///< "name@sha256:<hex>" for every digest it has
};
/// Parses the output of kImageFormat; core errc codes (invalid_json, wrong_type, ...) otherwise.
result<ImageFacts> parse_image_facts(std::string_view text);

/// True when `facts` show the image under `digest` ("sha256:<hex>"): as its primary digest or
/// as one of its repo digests (a multi-arch index pulled by digest is stored under both).
bool image_has_digest(ImageFacts const& facts, std::string_view digest);

struct ContainerFacts {
  std::string status{};  ///< podman's State.Status: created, running, exited, ...
  int exit_code = 0;
  int restarts = 0;
  std::string image_id{};
  std::string image_digest{};
  std::string error{};  ///< State.Error: why the runtime could not start it
};
/// Parses the output of kContainerFormat.
result<ContainerFacts> parse_container_facts(std::string_view text);

struct MappedState {
  WorkloadState state = WorkloadState::starting;
  std::string detail{};
};
/// What a container in `facts` means for the workload under `restart_policy`: running is
/// running; created/configured/initialized (and an exit the policy will undo) is starting; an
/// exit that the policy will not undo, or that keeps recurring, is failed.
MappedState map_container_state(ContainerFacts const& facts, std::string_view restart_policy);

struct TimedLine {
  std::chrono::system_clock::time_point at{};
  std::string_view text{};
};
/// Splits a line of `podman logs -t` ("<RFC 3339 time> <text>") into its parts; nullopt for a
/// line without a timestamp (podman's own messages).
std::optional<TimedLine> parse_log_line(std::string_view line);

/// `text` cut down for a status detail: its last non-empty lines joined by "; ", at most
/// `max_bytes`, with every env value of four or more characters replaced by "***".
std::string redacted_tail(std::string_view text, std::map<std::string, std::string> const& env,
                          std::size_t max_bytes = 400);

/// make_podman_runtime with the container-state cache lifetime made adjustable (tests).
std::shared_ptr<WorkloadRuntime> make_podman_runtime(PodmanOptions options,
                                                     std::chrono::milliseconds refresh_interval);

}  // namespace ee::agent::detail

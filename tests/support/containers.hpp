#pragma once
// What tests of real podman and skopeo share: finding the tools, a loopback docker-registry, and
// container configuration files in a temporary directory that point podman and skopeo at it.
//
// The configuration is what this sandbox (and CI: root, no systemd, no internet) needs, found by
// trying; it is handed to the tools through their environment (CONTAINERS_CONF,
// CONTAINERS_STORAGE_CONF, CONTAINERS_REGISTRIES_CONF), so the host's own configuration stays
// untouched:
// - default_ulimits: podman asks for nofile=1048576, above the hard limit the sandbox grants
//   (20000) and may not raise, and runc then fails with "error setting rlimits".
// - runtime runc, cgroup_manager cgroupfs, events_logger file: there is no systemd or journald,
//   and crun is not installed (podman would pick these by itself; stated so nothing depends on
//   autodetection).
// - lock_type file and a private tmp_dir: with the default shm locks every podman using a fresh
//   tmp_dir "refreshes" and frees all locks in the shared /dev/shm/libpod_lock, which breaks any
//   other podman on the machine, including a parallel test.
// - storage driver vfs under the temporary directory: works on any file system (overlay works
//   here too, but leaves mounts to clean up) and is removed with the directory.
// - networking: the default CNI bridge (containernetworking-plugins, which apt picks for podman's
//   network stack; netavark is the other choice, so the backend is named).
// - registries.conf marks the loopback registry insecure (plain HTTP).
#include "detail/child_process.hpp"
#include "support/temp_dir.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace ee::test {

/// The program `name` as found in PATH; empty when absent.
std::string find_program(std::string const& name);

/// True for a statically linked 64-bit ELF (no PT_INTERP program header): a busybox that needs
/// the host's dynamic loader cannot run in an image or initrd that has only busybox.
bool is_static_elf(std::string const& path);

/// A TCP port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port();

/// GET `path` from 127.0.0.1:`port` over HTTP/1.0; the whole response, or nullopt when nothing
/// answers.
std::optional<std::string> http_get(std::uint16_t port, std::string const& path);

/// Writes containers.conf, storage.conf and registries.conf under `dir` (storage, run and tmp
/// directories inside it too), marking 127.0.0.1:`registry_port` insecure; returns the
/// environment that makes podman and skopeo use them.
std::map<std::string, std::string> write_container_config(TempDir const& dir,
                                                          std::uint16_t registry_port);

/// docker-registry serving plain HTTP on 127.0.0.1, storing under `dir`. Stopped on
/// destruction.
struct LoopbackRegistry {
  std::uint16_t port = 0;
  std::unique_ptr<::ee::detail::Child> process{};
  std::string error{};  ///< why it did not start; empty when it answers

  /// Starts it on `port` and waits (up to 10 s) until it answers /v2/.
  static std::unique_ptr<LoopbackRegistry> start(TempDir const& dir, std::uint16_t port);
  ~LoopbackRegistry();
  /// "127.0.0.1:<port>"
  std::string host() const { return "127.0.0.1:" + std::to_string(port); }
};

}  // namespace ee::test

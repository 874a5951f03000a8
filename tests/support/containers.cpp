#include "support/containers.hpp"

#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace ee::test {

namespace fs = std::filesystem;

std::string find_program(std::string const& name) {
  char const* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    auto const candidate = fs::path(dir.empty() ? "." : dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

bool is_static_elf(std::string const& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<unsigned char, 64> header{};
  if (!in.read(reinterpret_cast<char*>(header.data()), header.size())) return false;
  if (std::memcmp(header.data(), "\x7f" "ELF", 4) != 0 || header[4] != 2) {
    return false;  // not a 64-bit ELF
  }
  auto read_le = [&](std::size_t at, std::size_t bytes) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) v |= std::uint64_t{header[at + i]} << (8 * i);
    return v;
  };
  auto const phoff = read_le(0x20, 8);
  auto const phentsize = read_le(0x36, 2);
  auto const phnum = read_le(0x38, 2);
  for (std::uint64_t i = 0; i < phnum; ++i) {
    in.seekg(static_cast<std::streamoff>(phoff + i * phentsize));
    std::array<unsigned char, 4> type{};
    if (!in.read(reinterpret_cast<char*>(type.data()), type.size())) return false;
    if (type[0] == 3 && type[1] == 0 && type[2] == 0 && type[3] == 0) return false;  // PT_INTERP
  }
  return true;
}

std::uint16_t free_port() {
  int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::optional<std::string> http_get(std::uint16_t port, std::string const& path) {
  int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  timeval timeout{.tv_sec = 2, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::optional<std::string> response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string const request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      std::string got;
      char chunk[4096];
      for (ssize_t n; (n = ::recv(fd, chunk, sizeof chunk, 0)) > 0;) {
        got.append(chunk, static_cast<std::size_t>(n));
      }
      if (!got.empty()) response = std::move(got);
    }
  }
  ::close(fd);
  return response;
}

std::map<std::string, std::string> write_container_config(TempDir const& dir,
                                                          std::uint16_t registry_port) {
  auto const root = dir.path().string();
  auto const containers = "[containers]\n"
                          "default_ulimits = [\"nofile=20000:20000\", \"nproc=4096:4096\"]\n"
                          "[engine]\n"
                          "runtime = \"runc\"\n"
                          "cgroup_manager = \"cgroupfs\"\n"
                          "events_logger = \"file\"\n"
                          "lock_type = \"file\"\n"
                          "tmp_dir = \"" + root + "/tmp\"\n"
                          "[network]\n"
                          "network_backend = \"cni\"\n"
                          "network_config_dir = \"" + root + "/net\"\n";
  auto const storage = "[storage]\n"
                       "driver = \"vfs\"\n"
                       "runroot = \"" + root + "/run\"\n"
                       "graphroot = \"" + root + "/storage\"\n";
  auto const registries = "unqualified-search-registries = []\n"
                          "[[registry]]\n"
                          "location = \"127.0.0.1:" + std::to_string(registry_port) + "\"\n"
                          "insecure = true\n";
  return {
      {"CONTAINERS_CONF", dir.write("containers.conf", containers).string()},
      {"CONTAINERS_STORAGE_CONF", dir.write("storage.conf", storage).string()},
      {"CONTAINERS_REGISTRIES_CONF", dir.write("registries.conf", registries).string()},
  };
}

std::unique_ptr<LoopbackRegistry> LoopbackRegistry::start(TempDir const& dir, std::uint16_t port) {
  auto registry = std::make_unique<LoopbackRegistry>();
  registry->port = port;
  auto const config = "version: 0.1\n"
                      "log:\n"
                      "  level: error\n"
                      "storage:\n"
                      "  filesystem:\n"
                      "    rootdirectory: " + (dir.path() / "registry").string() + "\n"
                      "http:\n"
                      "  addr: 127.0.0.1:" + std::to_string(port) + "\n";
  auto child = ::ee::detail::Child::spawn(
      {.argv = {"docker-registry", "serve", dir.write("registry.yml", config).string()}});
  if (!child) {
    registry->error = "docker-registry: " + child.error().message();
    return registry;
  }
  registry->process = std::move(*child);
  auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!http_get(port, "/v2/")) {
    if (std::chrono::steady_clock::now() >= deadline) {
      registry->error = "docker-registry did not answer on port " + std::to_string(port);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return registry;
}

LoopbackRegistry::~LoopbackRegistry() {
  if (process) process->stop(std::chrono::seconds(2));
}

}  // namespace ee::test

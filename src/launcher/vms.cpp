// The VMs' lifecycle: launch, list, stop and the serial log, over a state directory per VM.
//
// `<state_root>/<name>/` holds the agent's configuration (0600), meta.json (what `ee list` shows
// and where the VM's other files are), QEMU's pid file, its QMP socket, the serial log and the
// config drive. A VM counts as running when the pid in its pid file is alive, is the QEMU we
// started (its command line names this VM's QMP socket, so a recycled pid or a zombie is not
// mistaken for it) and QMP answers.
#include <easyenclave/file.hpp>
#include <easyenclave/launcher/launcher.hpp>

#include "detail/child_process.hpp"
#include "detail/json.hpp"
#include "detail/log.hpp"
#include "detail/time.hpp"
#include "launcher/host_tools.hpp"
#include "launcher/qmp.hpp"


#include <boost/json/object.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace ee::launcher {
namespace {

namespace fs = std::filesystem;
namespace bj = boost::json;
namespace json = ::ee::detail::json;
namespace log = ::ee::detail::log;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kMetaFile = "meta.json";
constexpr std::string_view kLockFile = "launch.lock";
// One QMP query from `list` or `stop`: a healthy QEMU answers in milliseconds.
constexpr auto kQmpProbe = 2s;
// How long a QEMU killed with SIGKILL may take to disappear before `stop` gives up.
constexpr auto kKillGrace = 5s;
// The most of a serial log `logs` reads: the log grows for as long as the VM runs.
constexpr std::size_t kMaxLogRead = 8 * 1024 * 1024;
constexpr std::size_t kMaxQemuStderr = 64 * 1024;

// [a-z0-9][a-z0-9-]{0,62}: a DNS label, so the name is also safe as a path component.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

Error bad_name(std::string_view name) {
  return Error(errc::invalid_request, "VM name '" + std::string(name) +
                                          "': expected [a-z0-9][a-z0-9-]{0,62}");
}

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
}

Error io_error(std::string const& what, std::error_code const& ec) {
  return Error(ee::errc::io_error, what + ": " + ec.message());
}

// What meta.json records about a VM.
struct Meta {
  std::string name{}, owner{}, node_size{}, cp_url{};
  bool cp = false;
  bool tdx = true;
  std::chrono::system_clock::time_point started_at{};
  fs::path serial_log{}, qmp_socket{}, pid_file{};
};

// Where plan_launch puts a VM's files; only used when meta.json is missing or unreadable, so
// that such a VM can still be stopped and its log read.
Meta default_meta(fs::path const& vm_dir) {
  return Meta{.name = vm_dir.filename().string(),
              .serial_log = vm_dir / "serial.log",
              .qmp_socket = vm_dir / "qmp.sock",
              .pid_file = vm_dir / "qemu.pid"};
}

std::string meta_json(Meta const& m) {
  bj::object o;
  o["name"] = m.name;
  o["owner"] = m.owner;
  o["node_size"] = m.node_size;
  o["cp"] = m.cp;
  o["cp_url"] = m.cp_url;
  o["tdx"] = m.tdx;
  o["started_at"] = ::ee::detail::format_rfc3339(m.started_at);
  o["serial_log"] = m.serial_log.string();
  o["qmp_socket"] = m.qmp_socket.string();
  o["pid_file"] = m.pid_file.string();
  return json::serialize(o) + "\n";
}

result<Meta> read_meta(fs::path const& vm_dir) {
  auto text = read_file(vm_dir / kMetaFile, 64 * 1024);
  if (!text) return text.error();
  auto doc = json::parse(*text);
  if (!doc) return doc.error().with_context((vm_dir / kMetaFile).string());
  auto reader = json::ObjectReader::from(*doc, "meta");
  if (!reader) return reader.error();
  auto m = default_meta(vm_dir);
  auto text_of = [&](std::string_view key, std::string& out) {
    if (auto v = reader->optional_string(key); v && *v) out = **v;
  };
  auto path_of = [&](std::string_view key, fs::path& out) {
    if (auto v = reader->optional_string(key); v && *v && !(*v)->empty()) out = **v;
  };
  text_of("owner", m.owner);
  text_of("node_size", m.node_size);
  text_of("cp_url", m.cp_url);
  if (auto v = reader->optional_boolean("cp"); v && *v) m.cp = **v;
  if (auto v = reader->optional_boolean("tdx"); v && *v) m.tdx = **v;
  if (auto v = reader->optional_string("started_at"); v && *v) {
    if (auto t = ::ee::detail::parse_rfc3339(**v)) m.started_at = *t;
  }
  path_of("serial_log", m.serial_log);
  path_of("qmp_socket", m.qmp_socket);
  path_of("pid_file", m.pid_file);
  return m;
}

Meta meta_or_default(fs::path const& vm_dir) {
  auto m = read_meta(vm_dir);
  if (m) return std::move(*m);
  log::warn("launcher", vm_dir.string(), ": ", m.error().message());
  return default_meta(vm_dir);
}

// The pid QEMU wrote (a decimal number and a newline); nullopt when absent or malformed.
std::optional<pid_t> read_pid(fs::path const& pid_file) {
  auto text = read_file(pid_file, 64);
  if (!text) return std::nullopt;
  long pid = 0;
  std::size_t digits = 0;
  for (char c : *text) {
    if (c < '0' || c > '9') break;
    pid = pid * 10 + (c - '0');
    ++digits;
  }
  if (digits == 0 || digits > 9 || pid <= 1) return std::nullopt;
  return static_cast<pid_t>(pid);
}

// True while `pid` is a live process whose command line names `qmp_socket`: the QEMU of this
// VM. A zombie has an empty command line, and a pid reused by another program does not name
// the socket.
bool is_our_qemu(pid_t pid, fs::path const& qmp_socket) {
  auto cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline", 1024 * 1024);
  if (!cmdline || cmdline->empty()) return false;
  // The arguments are NUL-separated; the socket path is part of one of them.
  return cmdline->find(qmp_socket.string()) != std::string::npos;
}

bool wait_gone(pid_t pid, fs::path const& qmp_socket, Clock::time_point deadline) {
  for (;;) {
    if (!is_our_qemu(pid, qmp_socket)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

struct Observed {
  VmState state = VmState::stopped;
  std::optional<pid_t> pid{};  // set while our QEMU process is alive, answering or not
};

Observed observe(Meta const& m) {
  Observed o;
  auto const pid = read_pid(m.pid_file);
  if (!pid || !is_our_qemu(*pid, m.qmp_socket)) return o;
  o.pid = pid;
  if (detail::qmp_query_status(m.qmp_socket, kQmpProbe)) o.state = VmState::running;
  return o;
}

VmInfo info_of(Meta const& m, Observed const& o, fs::path const& vm_dir) {
  return VmInfo{.name = m.name,
                .state = o.state,
                .owner = m.owner,
                .node_size = m.node_size,
                .cp = m.cp,
                .tdx = m.tdx,
                .pid = o.state == VmState::running && o.pid ? *o.pid : -1,
                .started_at = m.started_at,
                .vm_dir = vm_dir};
}

// An exclusive, non-blocking flock on the VM's launch lock, so two launches of one name cannot
// both start a QEMU. Released when the object goes.
class LaunchLock {
 public:
  static result<LaunchLock> take(fs::path const& vm_dir) {
    auto const path = vm_dir / kLockFile;
    int const fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return io_error("cannot open " + path.string(), {errno, std::generic_category()});
    LaunchLock lock(fd);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        return Error(errc::vm_running, "VM " + vm_dir.filename().string() + " is being launched");
      }
      return io_error("cannot lock " + path.string(), {errno, std::generic_category()});
    }
    return lock;
  }
  LaunchLock(LaunchLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  LaunchLock& operator=(LaunchLock&&) = delete;
  ~LaunchLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit LaunchLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The agent configuration's fields that `list` shows. The plan made the configuration, so a
// field that is missing or of another type is simply not shown.
Meta meta_for(LaunchPlan const& plan) {
  Meta m{.name = plan.name,
         .node_size = plan.size.name,
         // Whole seconds, as meta.json keeps it, so launch and list report the same time.
         .started_at = std::chrono::time_point_cast<std::chrono::seconds>(
             std::chrono::system_clock::now()),
         .serial_log = plan.serial_log,
         .qmp_socket = plan.qmp_socket,
         .pid_file = plan.pid_file};
  if (auto doc = json::parse(plan.agent_config); doc && doc->is_object()) {
    auto const& o = doc->as_object();
    auto text = [&o](std::string_view key) {
      auto const* v = o.if_contains(key);
      return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    m.owner = text("owner");
    m.cp = text("mode") == "cp-bootstrap";
    m.cp_url = text("cp_url");
    if (m.node_size.empty()) m.node_size = text("node_size");
  }
  // A TDX guest is one whose confidential-guest-support is a tdx-guest object.
  m.tdx = std::any_of(plan.qemu_argv.begin(), plan.qemu_argv.end(), [](std::string const& a) {
    return a.find("tdx-guest") != std::string::npos;
  });
  return m;
}

// The config drive: an ISO 9660 image labelled EE_CONFIG holding config.json, which the agent
// finds by its label. Joliet and Rock Ridge keep the file name as it is.
result<void> make_config_drive(LaunchPlan const& plan) {
  std::vector<std::string> argv;
  if (auto xorriso = detail::find_program("xorriso")) {
    argv = {xorriso->string(), "-as", "mkisofs"};
  } else if (auto genisoimage = detail::find_program("genisoimage")) {
    argv = {genisoimage->string()};
  } else {
    return Error(errc::tool_missing,
                 "the configuration needs a config drive, and neither xorriso nor genisoimage is "
                 "installed (apt-get install xorriso)");
  }
  auto staging = plan.config_drive;
  staging += ".d";
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directory(staging, ec);
  if (ec) return io_error("cannot create " + staging.string(), ec);
  if (auto w = write_file_atomic(staging / "config.json", plan.agent_config, 0600); !w) {
    return w.error();
  }
  if (!plan.config_drive_simulator.empty()) {
    // The simulator's PEM files and collateral (no subdirectories, no lock file).
    fs::create_directory(staging / "simulator", ec);
    for (fs::directory_iterator it(plan.config_drive_simulator, ec), end; !ec && it != end;
         it.increment(ec)) {
      if (it->is_regular_file() && it->path().filename() != ".lock") {
        fs::copy_file(it->path(), staging / "simulator" / it->path().filename(), ec);
        if (ec) break;
      }
    }
    if (ec) return io_error("cannot copy the simulator " + plan.config_drive_simulator.string(), ec);
  }
  auto const iso = plan.config_drive.string();
  for (std::string const a : {"-quiet", "-V", "EE_CONFIG", "-J", "-r", "-o"}) argv.push_back(a);
  argv.push_back(iso);
  argv.push_back(staging.string());
  auto made = ::ee::detail::run_command(argv, 60s);
  fs::remove_all(staging, ec);
  if (!made) return Error(errc::image_failed, "config drive: " + made.error().message());
  if (made->exit_status != 0) {
    return Error(errc::image_failed, "config drive: " + argv.front() + " exited with " +
                                         std::to_string(made->exit_status) + ": " +
                                         detail::output_tail(made->err));
  }
  // It carries the configuration, secrets included.
  fs::permissions(plan.config_drive, fs::perms::owner_read | fs::perms::owner_write,
                  fs::perm_options::replace, ec);
  if (ec) return io_error("cannot restrict " + iso, ec);
  return {};
}

// Starts QEMU (the plan's command line daemonises it) and returns once the daemon is set up:
// QEMU's parent process waits for that, and reports a failure on stderr with a non-zero exit.
result<void> start_qemu(LaunchPlan const& plan, Clock::time_point deadline) {
  auto started = ::ee::detail::run_command(plan.qemu_argv, std::max(left_until(deadline), 1ms),
                                            {}, kMaxQemuStderr);
  if (!started) {
    auto const& e = started.error();
    if (e == ::ee::errc::program_not_found) return Error(errc::tool_missing, e.message());
    if (e == ::ee::errc::command_timed_out) {
      return Error(errc::qmp_timeout, "QEMU did not finish starting in time: " + e.message());
    }
    return Error(errc::qemu_failed, e.message());
  }
  if (started->exit_status != 0) {
    auto err = detail::output_tail(started->err);
    return Error(errc::qemu_failed, "QEMU exited with " + std::to_string(started->exit_status) +
                                        (err.empty() ? std::string() : ": " + err));
  }
  return {};
}

// Waits for the daemon's QMP socket to answer query-status. Fails early when the process that
// wrote the pid file is gone.
result<pid_t> wait_for_qmp(LaunchPlan const& plan, Clock::time_point deadline) {
  std::string last = "no pid file yet";
  for (;;) {
    auto const pid = read_pid(plan.pid_file);
    if (pid) {
      if (!is_our_qemu(*pid, plan.qmp_socket)) {
        return Error(errc::qemu_failed, "QEMU (pid " + std::to_string(*pid) +
                                            ") exited right after starting; see `ee logs " +
                                            plan.name + "`");
      }
      auto const probe = std::clamp<std::chrono::milliseconds>(left_until(deadline), 1ms, 1s);
      auto status = detail::qmp_query_status(plan.qmp_socket, probe);
      if (status) return *pid;
      last = status.error().message();
    }
    if (Clock::now() >= deadline) {
      if (pid && is_our_qemu(*pid, plan.qmp_socket)) ::kill(*pid, SIGKILL);
      return Error(errc::qmp_timeout, "QEMU's QMP socket " + plan.qmp_socket.string() +
                                          " did not answer in time (" + last + ")");
    }
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace

result<VmInfo> launch(LaunchPlan const& plan, LaunchOptions const& options) {
  if (!valid_name(plan.name)) return bad_name(plan.name);
  if (plan.vm_dir.empty() || plan.qemu_argv.empty() || plan.pid_file.empty() ||
      plan.qmp_socket.empty() || plan.config_file.empty()) {
    return Error(errc::invalid_request,
                 "the plan lacks its VM directory, QEMU command, pid file, QMP socket or config");
  }
  std::error_code ec;
  fs::create_directories(plan.vm_dir, ec);
  if (ec) return io_error("cannot create " + plan.vm_dir.string(), ec);
  // The directory holds the configuration, secrets included.
  fs::permissions(plan.vm_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return io_error("cannot restrict " + plan.vm_dir.string(), ec);

  auto lock = LaunchLock::take(plan.vm_dir);
  if (!lock) return lock.error();
  // A QEMU of ours that is alive keeps its name, even when its QMP does not answer: starting
  // another on the same socket would orphan it.
  if (auto const pid = read_pid(plan.pid_file); pid && is_our_qemu(*pid, plan.qmp_socket)) {
    return Error(errc::vm_running, "VM " + plan.name + " is running (pid " +
                                       std::to_string(*pid) + "); `ee stop " + plan.name +
                                       "` first");
  }
  // What a stopped QEMU left behind would otherwise be taken for the new one's.
  fs::remove(plan.pid_file, ec);
  fs::remove(plan.qmp_socket, ec);

  if (auto w = write_file_atomic(plan.config_file, plan.agent_config, 0600); !w) return w.error();
  // meta.json is written before QEMU starts: a VM we started must always be one `ee list` and
  // `ee stop` can find, even when this process dies right after starting it.
  auto const meta = meta_for(plan);
  if (auto w = write_file_atomic(plan.vm_dir / kMetaFile, meta_json(meta), 0600); !w) {
    return w.error();
  }
  if (!plan.config_drive.empty()) {
    if (auto made = make_config_drive(plan); !made) return made.error();
  }

  log::info("launcher", "starting VM ", plan.name, ": ", plan.qemu_argv.front());
  auto const deadline = Clock::now() + options.qmp_timeout;
  if (auto started = start_qemu(plan, deadline); !started) return started.error();
  auto pid = wait_for_qmp(plan, deadline);
  if (!pid) return pid.error();
  return info_of(meta, Observed{.state = VmState::running, .pid = *pid}, plan.vm_dir);
}

result<std::vector<VmInfo>> list_vms(std::filesystem::path const& state_root) {
  std::vector<VmInfo> vms;
  std::error_code ec;
  if (!fs::exists(state_root, ec)) return vms;
  for (fs::directory_iterator it(state_root, ec), end; !ec && it != end; it.increment(ec)) {
    auto const& dir = it->path();
    std::error_code entry_ec;
    if (!it->is_directory(entry_ec) || !valid_name(dir.filename().string())) continue;
    if (!fs::exists(dir / kMetaFile, entry_ec)) continue;  // not a VM's directory
    auto const meta = meta_or_default(dir);
    vms.push_back(info_of(meta, observe(meta), dir));
  }
  if (ec) return io_error("cannot list " + state_root.string(), ec);
  std::sort(vms.begin(), vms.end(), [](auto const& a, auto const& b) { return a.name < b.name; });
  return vms;
}

result<void> stop_vm(std::filesystem::path const& state_root, std::string const& name,
                     std::chrono::milliseconds timeout) {
  if (!valid_name(name)) return bad_name(name);
  auto const dir = state_root / name;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Error(errc::vm_not_found, "no VM named " + name + " in " + state_root.string());
  }
  auto const meta = meta_or_default(dir);
  auto const pid = read_pid(meta.pid_file);
  if (pid && is_our_qemu(*pid, meta.qmp_socket)) {
    // Half the time for QEMU to quit as asked (it flushes and closes its files), half for
    // SIGTERM, then SIGKILL.
    auto const half = timeout / 2;
    auto const asked =
        detail::qmp_quit(meta.qmp_socket, std::min<std::chrono::milliseconds>(half, kQmpProbe));
    if (!asked) log::warn("launcher", "VM ", name, ": QMP quit: ", asked.error().message());
    if (!wait_gone(*pid, meta.qmp_socket, Clock::now() + half)) {
      log::warn("launcher", "VM ", name, " did not quit; sending SIGTERM");
      if (is_our_qemu(*pid, meta.qmp_socket)) ::kill(*pid, SIGTERM);
      if (!wait_gone(*pid, meta.qmp_socket, Clock::now() + (timeout - half))) {
        log::warn("launcher", "VM ", name, " ignored SIGTERM; sending SIGKILL");
        if (is_our_qemu(*pid, meta.qmp_socket)) ::kill(*pid, SIGKILL);
        if (!wait_gone(*pid, meta.qmp_socket, Clock::now() + kKillGrace)) {
          return Error(errc::qemu_failed, "VM " + name + " (pid " + std::to_string(*pid) +
                                              ") is still running after SIGKILL");
        }
      }
    }
  }
  fs::remove_all(dir, ec);
  if (ec) return io_error("cannot remove " + dir.string(), ec);
  log::info("launcher", "stopped VM ", name);
  return {};
}

// The serial log of the VM `name`, or vm_not_found / invalid_request.
result<fs::path> serial_log_path(fs::path const& state_root, std::string const& name) {
  if (!valid_name(name)) return bad_name(name);
  auto const dir = state_root / name;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Error(errc::vm_not_found, "no VM named " + name + " in " + state_root.string());
  }
  return meta_or_default(dir).serial_log;
}

result<LogChunk> read_serial_log_from(std::filesystem::path const& state_root,
                                      std::string const& name, std::uint64_t offset,
                                      std::size_t max_bytes) {
  auto path = serial_log_path(state_root, name);
  if (!path) return path.error();
  std::ifstream in(*path, std::ios::binary);
  if (!in) return LogChunk{.text = {}, .next_offset = offset};  // QEMU has not created it yet
  in.seekg(0, std::ios::end);
  auto const size = static_cast<std::uint64_t>(std::max<std::streamoff>(in.tellg(), 0));
  if (max_bytes == 0) return LogChunk{.text = {}, .next_offset = size};  // where the log ends now
  if (offset > size) offset = 0;  // the log was replaced (a new VM of the same name): start over
  auto const count = static_cast<std::size_t>(std::min<std::uint64_t>(size - offset, max_bytes));
  std::string text(count, '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(text.data(), static_cast<std::streamsize>(count));
  text.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  auto const next = offset + text.size();
  return LogChunk{.text = std::move(text), .next_offset = next};
}

result<std::string> read_serial_log(std::filesystem::path const& state_root,
                                    std::string const& name, std::optional<std::size_t> lines) {
  auto path_or = serial_log_path(state_root, name);
  if (!path_or) return path_or.error();
  auto const path = *path_or;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::string();  // QEMU has not created it yet
  in.seekg(0, std::ios::end);
  auto const size = static_cast<std::size_t>(std::max<std::streamoff>(in.tellg(), 0));
  if (lines && *lines == 0) return std::string();

  // Read the end of the file, a window that doubles until it holds the lines asked for (or the
  // bound): a log may be gigabytes long, and only its tail is wanted.
  std::size_t window = lines ? std::min<std::size_t>(64 * 1024, kMaxLogRead) : kMaxLogRead;
  for (;;) {
    window = std::min(window, size);
    std::string text(window, '\0');
    in.clear();
    in.seekg(static_cast<std::streamoff>(size - window));
    in.read(text.data(), static_cast<std::streamsize>(window));
    text.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
    bool const whole = window == size;
    if (lines) {
      // Count line ends back from the end; the last line may lack its newline.
      std::size_t found = 0;
      std::size_t pos = text.size();
      if (pos > 0 && text[pos - 1] == '\n') --pos;
      while (pos > 0) {
        auto const nl = text.rfind('\n', pos - 1);
        if (nl == std::string::npos) break;
        if (++found == *lines) return text.substr(nl + 1);
        pos = nl;
      }
    }
    if (whole) return text;
    if (!lines || window >= kMaxLogRead) {
      // Cut at the first line end so the text starts with a whole line.
      auto const nl = text.find('\n');
      return nl == std::string::npos ? text : text.substr(nl + 1);
    }
    window *= 2;
  }
}

}  // namespace ee::launcher

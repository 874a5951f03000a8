// The one reader of the agent's base configuration (config.hpp's read_boot_config): the config
// file, the config drive, the kernel command line, GCE metadata and Azure IMDS, in that order.
// The local sources come first because they are what the launcher wrote for this VM; the cloud
// metadata only when none holds one, so a VM on GCE or Azure needs no disk of ours.
#include <easyenclave/agent/config.hpp>

#include <easyenclave/agent/error.hpp>
#include <easyenclave/api/boot_config.hpp>
#include <easyenclave/api/error.hpp>
#include <easyenclave/block_on.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/file.hpp>
#include <easyenclave/http/https_client.hpp>

#include <algorithm>
#include <filesystem>

namespace ee::agent {
namespace {

namespace http_ns = boost::beast::http;

constexpr std::size_t kMaxConfigBytes = 256 * 1024;
constexpr std::size_t kMaxCmdlineBytes = 64 * 1024;

bool blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; });
}

// The metadata value at `url`: nullopt when the server is absent (no answer), says 404 or holds an
// empty value.
result<std::optional<std::string>> fetch_metadata(std::string const& url, std::string_view header,
                                                  std::string_view value,
                                                  std::chrono::milliseconds timeout,
                                                  std::string_view what) {
  http::HttpsOptions options;
  options.user_agent = "ee-agent";
  auto client = http::make_https_client(options);
  if (!client) return client.error().with_context(std::string(what));
  http::Request request{http_ns::verb::get, url, 11};
  request.set(header, value);
  http::RequestOptions send_options;
  send_options.timeout = timeout;
  send_options.max_response_bytes = kMaxConfigBytes * 2;
  auto response = block_on((*client)->send(std::move(request), send_options));
  // No answer: not on this cloud. Any status but 200: none there either; the address may be
  // another cloud's metadata server (GCE's answers 169.254.169.254 too, 403 without its header).
  if (!response || response->result_int() != 200) return std::optional<std::string>();
  if (blank(response->body())) return std::optional<std::string>();
  return std::optional<std::string>(std::move(response->body()));
}

}  // namespace

result<std::optional<BootConfigText>> read_boot_config(ConfigSources const& s) {
  using Found = std::optional<BootConfigText>;
  std::error_code ec;  // a path we cannot even stat counts as absent, as a missing one does
  if (!s.file_path.empty() && std::filesystem::exists(s.file_path, ec)) {
    auto text = read_file(s.file_path, kMaxConfigBytes);
    if (!text) return text.error();
    return Found(BootConfigText{std::move(*text), "file"});
  }
  if (!s.config_drive_path.empty()) {
    auto const path = std::filesystem::path(s.config_drive_path) / "config.json";
    if (std::filesystem::exists(path, ec)) {
      auto text = read_file(path, kMaxConfigBytes);
      if (!text) return text.error();
      return Found(BootConfigText{std::move(*text), "config-drive"});
    }
  }
  if (!s.cmdline_path.empty() && std::filesystem::exists(s.cmdline_path, ec)) {
    auto cmdline = read_file(s.cmdline_path, kMaxCmdlineBytes);
    if (!cmdline) return cmdline.error();
    auto boot = api::decode_boot_config(*cmdline);
    if (!boot) return boot.error().with_context("kernel command line " + s.cmdline_path);
    if (*boot) return Found(BootConfigText{std::move(**boot), "cmdline"});
  }
  if (!s.gce_metadata_url.empty()) {
    auto value = fetch_metadata(s.gce_metadata_url, "Metadata-Flavor", "Google",
                                s.metadata_timeout, "GCE metadata (ee-config)");
    if (!value) return value.error();
    if (*value) return Found(BootConfigText{std::move(**value), "gce"});
  }
  if (!s.azure_imds_url.empty()) {
    auto value = fetch_metadata(s.azure_imds_url, "Metadata", "true", s.metadata_timeout,
                                "Azure IMDS (userData)");
    if (!value) return value.error();
    if (*value) {
      std::string text = std::move(**value);
      text.erase(std::remove_if(text.begin(), text.end(),
                                [](char c) { return c == '\n' || c == '\r'; }),
                 text.end());
      auto bytes = base64_decode(text);
      if (!bytes) {
        return Error(api::errc::invalid_boot_config,
                     "Azure IMDS userData is not base64: " + bytes.error().message());
      }
      return Found(BootConfigText{std::string(bytes->begin(), bytes->end()), "azure"});
    }
  }
  return Found();
}

}  // namespace ee::agent

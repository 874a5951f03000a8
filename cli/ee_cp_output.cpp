// Printing for the control-plane verbs of `ee` (ee_cp_output.hpp).
#include "ee_cp_output.hpp"

#include <easyenclave/http/error.hpp>
#include <easyenclave/time.hpp>

#include <algorithm>
#include <iostream>
#include <ostream>

namespace ee::cli {

int exit_code_of(Error const& e) {
  switch (e.cond()) {
    case condition::invalid_input:
      return kExitUsage;
    case condition::unauthenticated:
    case condition::forbidden:
    case condition::not_found:
    case condition::conflict:
      return kExitRefused;
    default:
      return kExitUnreachable;
  }
}

namespace {

// What to do next, by the error's code first and its condition second.
std::string hint_for(Error const& e, std::string const& cp_url) {
  using client::errc;
  if (e == errc::cp_unauthenticated || e == errc::credentials_unavailable) {
    return "give a credential: --token, EE_TOKEN, `ee login` (the operator's admin token), or run in a "
           "GitHub Actions job with `permissions: id-token: write`";
  }
  if (e == errc::cp_forbidden) {
    return "this credential may not do that: admin routes take the admin token (`ee login`); publish and "
           "deploy take a GitHub Actions token of the owning repository";
  }
  if (e == errc::cp_not_found) {
    // The route named at the end of the message says which list to look in.
    auto const& m = e.detail();
    for (auto const& [route, verb] : {std::pair{"/admin/settings", "ee settings list"},
                                      {"/trusted-mrtds", "ee measurements list"},
                                      {"/deployments", "ee deployments list"},
                                      {"/apps", "ee apps list"},
                                      {"/agents", "ee agents list"}}) {
      if (m.find(route) != std::string::npos) return "check the name or id with `" + std::string(verb) + "`";
    }
    return "check the name or id with the matching `list` verb";
  }
  if (e == errc::cp_conflict) return "the control plane's state changed or the item exists; look with the `show` verb";
  if (e == errc::cp_refused_input) return "fix the value the message names (see the verb's --help)";
  if (e == errc::cp_unavailable) return "the control plane is busy or shutting down; retry in a few seconds";
  if (e == errc::cp_failed || e == errc::cp_answer_malformed) {
    return "the control plane failed; retry, or give its operator the request id above";
  }
  if (e.code().category() == make_error_code(http::errc::timeout).category()) {
    return "is the control plane at " + (cp_url.empty() ? std::string("--cp-url") : cp_url) +
           " running and reachable? set --cp-url or EE_CP_URL";
  }
  switch (e.cond()) {
    case condition::invalid_input:
      return "see `ee --help` and the verb's --help";
    case condition::forbidden:
    case condition::unauthenticated:
      return "the verification failed at the check named above; see docs/connect.md for what it protects against";
    case condition::not_found:
      return "check the name or id with the matching `list` verb";
    default:
      return "retry; if it persists, check the network and the control plane's health (`ee agents list`)";
  }
}

std::size_t width(std::string const& s) {
  // Columns count code points, not bytes (names are ASCII; measurements are hex).
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

int report_error(Error const& e, std::string const& cp_url) {
  std::cerr << "ee: " << e.message() << " (" << e.id() << ")\n";
  std::cerr << "hint: " << hint_for(e, cp_url) << "\n";
  return exit_code_of(e);
}

void print_table(std::ostream& out, std::vector<std::string> const& header,
                 std::vector<std::vector<std::string>> const& rows) {
  std::vector<std::size_t> widths(header.size(), 0);
  auto measure = [&widths](std::vector<std::string> const& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], width(row[i]));
  };
  measure(header);
  for (auto const& row : rows) measure(row);
  auto line = [&](std::vector<std::string> const& row) {
    std::string text;
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      text += row[i];
      if (i + 1 < row.size()) text += std::string(widths[i] - width(row[i]) + 2, ' ');
    }
    out << text << "\n";
  };
  line(header);
  for (auto const& row : rows) line(row);
}

void print_fields(std::ostream& out, std::vector<std::pair<std::string, std::string>> const& fields) {
  std::size_t w = 0;
  for (auto const& [k, v] : fields) w = std::max(w, k.size());
  for (auto const& [k, v] : fields) out << k << ":" << std::string(w - k.size() + 2, ' ') << v << "\n";
}

std::string when(std::chrono::system_clock::time_point t) {
  return t == std::chrono::system_clock::time_point{} ? "-" : format_time(t);
}

std::string ago(std::chrono::system_clock::time_point t) {
  if (t == std::chrono::system_clock::time_point{}) return "-";
  auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - t).count();
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s ago";
  if (s < 7200) return std::to_string(s / 60) + "m ago";
  if (s < 172800) return std::to_string(s / 3600) + "h ago";
  return std::to_string(s / 86400) + "d ago";
}

}  // namespace ee::cli

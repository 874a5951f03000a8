// Fuzzes what the control plane reads when people sign in: GitHub's answers to the token
// exchange, /user and /user/orgs (cp::parse_github_*), an OAuth state coming back in a callback
// (cp::OAuthStates::check), a Cookie header (cp::cookie_value), and a stored organisation list
// (registry::decode_github_accounts).
// Input: one mode byte (0 token answer, 1 user, 2 orgs, 3 state, 4 Cookie header, 5 stored orgs),
// then the bytes.
#include <easyenclave/cp/github_oauth.hpp>
#include <easyenclave/registry/types.hpp>

#include "cp/cookies.hpp"
#include "cp/oauth_states.hpp"
#include "fuzz_support.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using Clock = std::chrono::system_clock;
Clock::time_point const kNow{std::chrono::seconds{1750377600}};

bool is_login(std::string_view login) {
  return !login.empty() && login.size() <= 39 && login.front() != '-' &&
         std::all_of(login.begin(), login.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
         });
}

void account(ee::registry::GithubAccount const& a) {
  ee_fuzz::check(is_login(a.login), "a parsed login is not a lowercase GitHub login");
  ee_fuzz::check(!a.id.empty() && std::all_of(a.id.begin(), a.id.end(), [](char c) { return c >= '0' && c <= '9'; }),
                 "a parsed id is not decimal");
}

void token_answer(std::string_view text) {
  auto token = ee::cp::parse_github_token_answer(text);
  if (!token) return;
  ee_fuzz::check(!token->empty() && token->size() <= 255, "a token of a length GitHub never gives");
  ee_fuzz::check(std::all_of(token->begin(), token->end(),
                             [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                                 (c >= '0' && c <= '9') || c == '_'; }),
                 "a token that could break out of its header");
}

void user(std::string_view text) {
  if (auto u = ee::cp::parse_github_user(text)) account(*u);
}

void orgs(std::string_view text) {
  auto list = ee::cp::parse_github_orgs(text);
  if (!list) return;
  ee_fuzz::check(list->size() <= 1000, "more organisations than the bound");
  for (auto const& org : *list) account(org);
  // What is stored reads back the same.
  auto again = ee::registry::decode_github_accounts(ee::registry::encode_github_accounts(*list));
  ee_fuzz::check(again.has_value() && again->size() == list->size(), "stored organisations do not read back");
}

void state(std::string_view text) {
  ee::cp::OAuthStates::Key key{};
  key.fill(0x5a);
  ee::cp::OAuthStates const states(key, std::chrono::seconds(600));
  // Only the CP's own states pass, and an input state never equals a fresh one by chance.
  ee_fuzz::check(!states.check(text, text, kNow).has_value() || text.size() == 54, "a state of another length passed");
  auto const issued = states.issue(kNow).value();
  ee_fuzz::check(states.check(issued, issued, kNow).has_value(), "an issued state was refused");
  ee_fuzz::check(!states.check(issued, text, kNow).has_value() || text == issued, "another cookie was accepted");
}

void cookie(std::string_view text) {
  ee::http::Request request{boost::beast::http::verb::get, "/", 11};
  try {
    request.set(boost::beast::http::field::cookie, text);
  } catch (...) {
    return;  // Beast refuses a header value with a line break: never reaches the CP.
  }
  auto value = ee::cp::cookie_value(request, "ee_session");
  if (value) ee_fuzz::check(value->find(';') == std::string::npos, "a cookie value spans a separator");
}

void stored_orgs(std::string_view text) {
  auto list = ee::registry::decode_github_accounts(text);
  if (!list) return;
  for (auto const& a : *list) account(a);
  ee_fuzz::check(ee::registry::encode_github_accounts(*list) == text, "stored organisations do not round-trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  ee_fuzz::OpenSslErrorsCleared const queue_check;
  ee_fuzz::Selected in;
  if (!ee_fuzz::select(data, size, 6, in)) return 0;
  switch (in.mode) {
    case 0: token_answer(in.text()); break;
    case 1: user(in.text()); break;
    case 2: orgs(in.text()); break;
    case 3: state(in.text()); break;
    case 4: cookie(in.text()); break;
    default: stored_orgs(in.text()); break;
  }
  return 0;
}

// Fuzzes request signature verification (src/api/signing.cpp) as a CP or agent meets it: the raw
// bytes of a request are parsed as the server parses them (src/http/request_head.hpp), then
// X-EE-Timestamp and X-EE-Signature are parsed and checked against a fixed P-256 key at a fixed
// time, twice with one replay guard (the second must be refused as a replay if the first passed).
#include <easyenclave/api/signing.hpp>
#include <easyenclave/http/server.hpp>

#include "fuzz_support.hpp"
#include "http/request_head.hpp"

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

namespace {

namespace bhttp = boost::beast::http;
namespace inbound = ee::http::inbound;

ee::api::PublicKey const& key() {
  // The public half of fuzz/data/signing_key.pem, with which the corpus's requests were signed.
  static ee::api::PublicKey const k =
      ee::api::PublicKey::parse(ee_fuzz::data_file("signing_key.pub.pem")).value();
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)key();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  ee_fuzz::OpenSslErrorsCleared const queue_check;
  ee::http::ServerOptions const server;
  inbound::RequestParser parser;
  inbound::prepare_request_parser(parser, server);
  std::span<std::uint8_t const> rest(data, size);
  bool checked = false;
  while (!parser.is_done()) {
    if (parser.is_header_done() && !checked) {
      if (inbound::check_request_head(parser, server) != inbound::HeadVerdict::read_body) break;
      checked = true;
      parser.eager(true);
    }
    boost::beast::error_code ec;
    if (rest.empty()) {
      parser.put_eof(ec);
      if (ec) return 0;
      break;
    }
    auto const n = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    if (ec && ec != bhttp::error::need_more) return 0;
    if (ec == bhttp::error::need_more && n == 0) return 0;  // the input ends inside a token
    rest = rest.subspan(n);
  }
  if (!parser.is_done()) return 0;
  if (!checked && inbound::check_request_head(parser, server) != inbound::HeadVerdict::complete)
    return 0;
  auto const request = parser.release();
  // 2026-12-01T00:00:00Z; the corpus's requests were signed then.
  auto const now = ee::api::TimePoint{std::chrono::seconds{1796083200}};
  ee::api::ReplayGuard guard(16);
  ee::api::VerifyRequestOptions options;
  options.replay_guard = &guard;
  auto const first = ee::api::verify_request(request, key(), now, options);
  auto const second = ee::api::verify_request(request, key(), now, options);
  ee_fuzz::check(!first || !second, "a signed request was accepted twice by one replay guard");
  return 0;
}

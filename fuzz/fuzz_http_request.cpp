// Fuzzes how the HTTP server reads requests, without a socket: the bytes are what a client sent
// on one connection, read with Beast's request parser through the same functions the server uses
// (src/http/request_head.hpp: the parser's limits, the checks once the header block is in, the
// request id), request after request as keep-alive does, then what a handler reads of each
// request (path, query parameters) and the routing of its path.
// Input: one byte giving the read size (1-256 bytes per read, so requests split anywhere), then
// the bytes of the connection.
#include <easyenclave/http/router.hpp>
#include <easyenclave/http/server.hpp>

#include "fuzz_support.hpp"
#include "http/request_head.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace inbound = ee::http::inbound;

// A SyncReadStream over the input that hands out at most `chunk` bytes per read, as a slow client
// or the network would.
class ChunkedStream {
 public:
  ChunkedStream(std::span<std::uint8_t const> bytes, std::size_t chunk) : bytes_(bytes), chunk_(chunk) {}

  template <class MutableBufferSequence>
  std::size_t read_some(MutableBufferSequence const& buffers, beast::error_code& ec) {
    ec = {};
    if (bytes_.empty()) {
      ec = asio::error::eof;
      return 0;
    }
    auto const n = asio::buffer_copy(
        buffers, asio::buffer(bytes_.data(), std::min(chunk_, bytes_.size())));
    bytes_ = bytes_.subspan(n);
    return n;
  }
  template <class MutableBufferSequence>
  std::size_t read_some(MutableBufferSequence const& buffers) {
    beast::error_code ec;
    auto const n = read_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }

 private:
  std::span<std::uint8_t const> bytes_;
  std::size_t chunk_;
};

ee::http::Router const& router() {
  static ee::http::Router const r = [] {
    ee::http::Router x;
    ee::http::Handler const none;
    x.get("/health", none);
    x.get("/api/v1/attestation", none);
    x.post("/api/v1/agents/register", none);
    x.post("/api/v1/agents/{id}/heartbeat", none);
    x.get("/api/v1/apps/{name}/versions/{version}", none);
    x.del("/api/v1/agents/{id}", none);
    return x;
  }();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  if (size == 0) return 0;
  ChunkedStream stream(std::span(data + 1, size - 1), std::size_t{data[0]} + 1);
  ee::http::ServerOptions options;
  options.body_limit = 64 * 1024;  // smaller than the default, so the fuzzer can reach it
  options.header_limit = 4 * 1024;
  beast::flat_buffer buffer;
  for (int requests = 0; requests < 16; ++requests) {
    inbound::RequestParser parser;
    inbound::prepare_request_parser(parser, options);
    beast::error_code ec;
    bhttp::read_header(stream, buffer, parser, ec);
    if (ec) break;
    auto const request_id = inbound::request_id_for(parser.get());
    ee_fuzz::check(inbound::is_sane_request_id(request_id), "an insane request id was kept");
    auto const verdict = inbound::check_request_head(parser, options);
    if (verdict == inbound::HeadVerdict::missing_host ||
        verdict == inbound::HeadVerdict::body_too_large)
      break;  // the server answers and closes
    if (verdict == inbound::HeadVerdict::read_body) {
      bhttp::read(stream, buffer, parser, ec);
      if (ec) break;
      ee_fuzz::check(parser.get().body().size() <= options.body_limit, "body over the limit");
    }
    ee::http::Request const request = parser.release();
    ee::http::RequestContext const context{request, {}, request_id, {}};
    auto const path = context.path();
    (void)context.query("nonce");
    (void)context.query("");
    auto const match = router().match(request.method(), path);
    if (match.kind == ee::http::Router::MatchKind::found) {
      (void)match.params.get("id");
      (void)match.params.get("version");
    }
    if (!request.keep_alive()) break;
  }
  return 0;
}

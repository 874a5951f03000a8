#pragma once
// How the server reads the head of a request, kept out of server.cpp so that the socket-free
// parts (parser limits, the checks made once the header block is in, the request id) are one
// code path shared by the server and by fuzz/fuzz_http_request.cpp, which feeds raw bytes
// through them without a socket.
#include <easyenclave/http/server.hpp>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>
#include <string_view>

namespace ee::http::inbound {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

/// Sets the limits the server reads a header block with: `options.header_limit` (clamped to
/// 32 bits) and no body limit yet, so Content-Length is judged by `check_request_head` once the
/// whole header (and so the request id) is known.
void prepare_request_parser(RequestParser& parser, ServerOptions const& options);

/// What the server does once a header block has been read.
enum class HeadVerdict {
  complete,        ///< no body: dispatch
  read_body,       ///< read the body (the parser's body limit is now `options.body_limit`)
  missing_host,    ///< HTTP/1.1 without Host: 400 (RFC 9112 section 3.2)
  body_too_large,  ///< Content-Length above `options.body_limit`: 413 (RFC 9110 section 15.5.14)
};

/// Judges a parser whose header is done (`parser.is_header_done()`), and for `read_body` sets the
/// body limit for reading (chunked bodies are judged as they arrive).
HeadVerdict check_request_head(RequestParser& parser, ServerOptions const& options);

/// 1-128 characters of [A-Za-z0-9._-].
bool is_sane_request_id(std::string_view id) noexcept;
/// A fresh request id (a UUID, or a counter if the CSPRNG fails).
std::string make_request_id();
/// The client's `X-Request-Id` when it is sane, else a fresh one.
std::string request_id_for(boost::beast::http::fields const& fields);

}  // namespace ee::http::inbound

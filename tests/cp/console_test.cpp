// The web console's files (src/cp/console.hpp, src/cp/routes/console.cpp): the embedded table,
// If-None-Match parsing, the answers' headers, and over real HTTP against the harness that each
// file is served at exactly its path, revalidates to 304, leaves the API's routes alone, and
// that no other path (unknown, traversal, encoded) reaches a file. The pages themselves are
// tested in a browser by tests/python/test_console.py.
#include "cp/console.hpp"
#include "cp/cp_harness.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

namespace {

using ee::test::CpHarness;
using ee::test::HarnessOptions;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
namespace console = ee::cp::console;

std::string header(ee::http::Response const& r, std::string_view name) {
  auto const v = r[name];
  return std::string(v.data(), v.size());
}

// --- the embedded table ---------------------------------------------------------------------

TEST(ConsoleAssets, TheTableHasTheShellAndEveryFileOnceWithItsType) {
  auto const table = console::assets();
  ASSERT_GE(table.size(), 5u);
  std::set<std::string_view> paths;
  for (auto const& a : table) {
    EXPECT_TRUE(paths.insert(a.path).second) << "twice: " << a.path;
    EXPECT_TRUE(a.path == "/" || a.path.starts_with("/console/")) << a.path;
    EXPECT_FALSE(a.body.empty()) << a.path;
    // A strong ETag: quoted, 32 lowercase hex, no W/.
    ASSERT_EQ(a.etag.size(), 34u) << a.path;
    EXPECT_EQ(a.etag.front(), '"');
    EXPECT_EQ(a.etag.back(), '"');
    EXPECT_TRUE(std::all_of(a.etag.begin() + 1, a.etag.end() - 1,
                            [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
        << a.etag;
    auto const expected = a.path == "/"               ? "text/html; charset=utf-8"
                          : a.path.ends_with(".js")   ? "text/javascript; charset=utf-8"
                          : a.path.ends_with(".css")  ? "text/css; charset=utf-8"
                          : a.path.ends_with(".svg")  ? "image/svg+xml"
                                                      : "?";
    EXPECT_EQ(a.content_type, expected) << a.path;
  }
  ASSERT_NE(console::find("/"), nullptr);
  EXPECT_NE(console::find("/")->body.find("/console/main.js"), std::string_view::npos);
  ASSERT_NE(console::find("/console/main.js"), nullptr);
}

TEST(ConsoleAssets, FindIsAnExactLookupInTheTable) {
  for (auto const* path : {"", "/index.html", "/console", "/console/", "/console/main.js/", "/console//main.js",
                           "/console/../console/main.js", "/console/%6dain.js", "/CONSOLE/main.js",
                           "/console/main.js?x=1", "console/main.js", "/api/v1/agents", "/etc/passwd"}) {
    EXPECT_EQ(console::find(path), nullptr) << path;
  }
}

TEST(ConsoleAssets, NoFileHoldsInlineScriptOrStyleOrWritesHtml) {
  // The CSP forbids inline script and style; this keeps the files honest about it, and keeps
  // HTML parsing of data out of the scripts (values go through textContent / DOM nodes).
  for (auto const& a : console::assets()) {
    if (a.path == "/") {
      EXPECT_EQ(a.body.find("<style"), std::string_view::npos);
      EXPECT_EQ(a.body.find(" style="), std::string_view::npos);
      EXPECT_EQ(a.body.find(" onclick"), std::string_view::npos);
      std::size_t at = 0;
      while ((at = a.body.find("<script", at)) != std::string_view::npos) {
        auto const end = a.body.find('>', at);
        ASSERT_NE(end, std::string_view::npos);
        EXPECT_NE(a.body.substr(at, end - at).find(" src="), std::string_view::npos) << "inline script";
        at = end;
      }
    }
    if (a.path.ends_with(".js")) {
      for (auto const* sink : {".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                               "new Function", ".style."}) {
        EXPECT_EQ(a.body.find(sink), std::string_view::npos) << a.path << " uses " << sink;
      }
    }
  }
}

TEST(ConsoleAssets, NoScriptKeepsACredentialOrTalksToAnotherOrigin) {
  // The session is the CP's HttpOnly cookie: no script reads or stores a credential, sends the
  // cookie anywhere but the CP (`credentials: 'include'` would allow other origins), or names
  // another origin at all (connect-src 'self' would refuse it anyway).
  for (auto const& a : console::assets()) {
    if (!a.path.ends_with(".js")) continue;
    for (auto const* use : {"localStorage", "sessionStorage", "indexedDB", "document.cookie", "'include'",
                            "http://", "https://", "Authorization"}) {
      EXPECT_EQ(a.body.find(use), std::string_view::npos) << a.path << " uses " << use;
    }
  }
  // Signing in is the header's link to the CP's own /auth/github; signing out a POST to it.
  ASSERT_NE(console::find("/console/session.js"), nullptr);
  auto const session = console::find("/console/session.js")->body;
  EXPECT_NE(session.find("href: '/auth/github'"), std::string_view::npos);
  ASSERT_NE(console::find("/console/api.js"), nullptr);
  EXPECT_NE(console::find("/console/api.js")->body.find("'/admin/logout', { method: 'POST'"), std::string_view::npos);
  ASSERT_NE(console::find("/console/me.js"), nullptr);
}

// --- If-None-Match ----------------------------------------------------------------------------

TEST(ConsoleIfNoneMatch, MatchesByWeakComparisonInAList) {
  constexpr std::string_view etag = "\"0123abcd\"";
  EXPECT_TRUE(console::if_none_match("\"0123abcd\"", etag));
  EXPECT_TRUE(console::if_none_match("W/\"0123abcd\"", etag));
  EXPECT_TRUE(console::if_none_match("\"x\", \"0123abcd\"", etag));
  EXPECT_TRUE(console::if_none_match(" ,\"x\" ,\t W/\"0123abcd\" ,", etag));
  EXPECT_TRUE(console::if_none_match("*", etag));
  EXPECT_TRUE(console::if_none_match(" * ", etag));
  EXPECT_FALSE(console::if_none_match("", etag));
  EXPECT_FALSE(console::if_none_match("\"0123abce\"", etag));
  EXPECT_FALSE(console::if_none_match("0123abcd", etag));        // unquoted
  EXPECT_FALSE(console::if_none_match("\"0123abcd", etag));      // unterminated
  EXPECT_FALSE(console::if_none_match("w/\"0123abcd\"", etag));  // the prefix is case-sensitive
  EXPECT_FALSE(console::if_none_match("\"0123ABCD\"", etag));    // opaque tags compare exactly
  EXPECT_FALSE(console::if_none_match("*, \"0123abcd\"", etag));  // "*" stands alone
  EXPECT_FALSE(console::if_none_match("\"a\"x, \"0123abcd\"", etag));  // malformed before the match
  EXPECT_FALSE(console::if_none_match("\"a b\", \"0123abcd\"", etag));  // a space is not etagc
}

TEST(ConsoleIfNoneMatch, EveryPrefixOfAValidListIsReadWithinBounds) {
  // The truncation loop: no prefix reads past its end or matches a tag it cut.
  std::string const value = " W/\"aa\", \"0123abcd\" , *";
  for (std::size_t n = 0; n <= value.size(); ++n) {
    auto const prefix = std::string(value.substr(0, n));
    bool const whole_tag = prefix.find("\"0123abcd\"") != std::string::npos;
    EXPECT_EQ(console::if_none_match(prefix, "\"0123abcd\""), whole_tag) << prefix;
  }
}

// --- answers --------------------------------------------------------------------------------

ee::http::Request get(std::string target) { return ee::http::Request{bhttp::verb::get, std::move(target), 11}; }

void expect_security_headers(ee::http::Response const& r) {
  EXPECT_EQ(header(r, "Content-Security-Policy"), console::kContentSecurityPolicy);
  EXPECT_NE(header(r, "Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_NE(header(r, "Content-Security-Policy").find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(header(r, "Content-Security-Policy").find("unsafe-inline"), std::string::npos);
  EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header(r, "Referrer-Policy"), "no-referrer");
  EXPECT_EQ(header(r, "X-Frame-Options"), "DENY");
  EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
}

TEST(ConsoleRespond, SendsTheFileWithItsTypeETagAndSecurityHeaders) {
  auto const& asset = *console::find("/console/main.js");
  auto const r = console::respond(asset, get("/console/main.js"));
  EXPECT_EQ(r.result(), bhttp::status::ok);
  EXPECT_EQ(r.body(), asset.body);
  EXPECT_EQ(header(r, "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(header(r, "ETag"), asset.etag);
  expect_security_headers(r);
}

TEST(ConsoleRespond, AMatchingIfNoneMatchIs304WithoutABodyInAnyOfSeveralFields) {
  auto const& asset = *console::find("/");
  auto request = get("/");
  request.insert(bhttp::field::if_none_match, "\"other\"");
  request.insert(bhttp::field::if_none_match, "W/" + std::string(asset.etag));
  auto const r = console::respond(asset, request);
  EXPECT_EQ(r.result(), bhttp::status::not_modified);
  EXPECT_TRUE(r.body().empty());
  EXPECT_EQ(header(r, "ETag"), asset.etag);
  expect_security_headers(r);

  auto stale = get("/");
  stale.set(bhttp::field::if_none_match, "\"0000\"");
  EXPECT_EQ(console::respond(asset, stale).result(), bhttp::status::ok);
}

// --- over HTTP ------------------------------------------------------------------------------

TEST(ConsoleRoutes, EveryFileIsServedAtItsPathToAnyone) {
  CpHarness h;
  for (auto const& asset : console::assets()) {
    auto const r = h.call(bhttp::verb::get, std::string(asset.path));
    ASSERT_EQ(r.result(), bhttp::status::ok) << asset.path << ": " << r.body();
    EXPECT_EQ(r.body(), asset.body) << asset.path;
    EXPECT_EQ(header(r, "Content-Type"), asset.content_type) << asset.path;
    EXPECT_EQ(header(r, "ETag"), asset.etag) << asset.path;
    EXPECT_FALSE(header(r, "X-Request-Id").empty());
    expect_security_headers(r);

    auto const again =
        h.call(bhttp::verb::get, std::string(asset.path), "", {{"If-None-Match", std::string(asset.etag)}});
    EXPECT_EQ(again.result(), bhttp::status::not_modified) << asset.path;
    EXPECT_TRUE(again.body().empty());
    EXPECT_EQ(header(again, "ETag"), asset.etag);
  }
  // Declared like every route: open to anyone, listed in the CP's table.
  std::set<std::string> listed;
  for (auto const& route : h.cp().routes()) {
    if (route.pattern == "/" || route.pattern.starts_with("/console/")) {
      EXPECT_EQ(route.access, ee::cp::Access::anyone) << route.pattern;
      EXPECT_EQ(route.method, bhttp::verb::get) << route.pattern;
      listed.insert(route.pattern);
    }
  }
  EXPECT_EQ(listed.size(), console::assets().size());
}

TEST(ConsoleRoutes, OtherPathsAre404AndTheApiIsNotShadowed) {
  CpHarness h;
  for (auto const* path : {"/index.html", "/console", "/console/", "/console/nope.js", "/console/main.js/",
                           "/console//main.js", "/console/../console/main.js", "/console/%2e%2e/console/main.js",
                           "/console/..%2fconsole%2fmain.js", "/console/main.js%00", "/console/%2fetc%2fpasswd",
                           "/agents", "/apps/hello", "/etc/passwd"}) {
    auto const r = h.call(bhttp::verb::get, path);
    EXPECT_EQ(r.result(), bhttp::status::not_found) << path << ": " << r.body();
    EXPECT_EQ(header(r, "Content-Type"), "application/json") << path;
  }
  // A percent-encoded letter names the same route segment (the router decodes segments): the
  // same file, never another.
  auto const encoded = h.call(bhttp::verb::get, "/console/%6dain.js");
  EXPECT_EQ(encoded.result(), bhttp::status::ok);
  EXPECT_EQ(encoded.body(), console::find("/console/main.js")->body);
  // Another method is 405, as for every route.
  EXPECT_EQ(h.call(bhttp::verb::post, "/").result(), bhttp::status::method_not_allowed);
  // The API, health and metrics answer as before.
  auto const agents = h.call(bhttp::verb::get, "/api/v1/agents");
  ASSERT_EQ(agents.result(), bhttp::status::ok);
  EXPECT_TRUE(bj::parse(agents.body()).is_array());
  EXPECT_EQ(h.call(bhttp::verb::get, "/health").result(), bhttp::status::ok);
  EXPECT_EQ(h.call(bhttp::verb::get, "/metrics").result(), bhttp::status::unauthorized);
  EXPECT_EQ(header(agents, "Content-Security-Policy"), "");
}

TEST(ConsoleRoutes, ConsoleOffServesNoneOfThem) {
  CpHarness h(HarnessOptions{.customize = [](ee::cp::Options& o) { o.console = false; }});
  EXPECT_EQ(h.call(bhttp::verb::get, "/").result(), bhttp::status::not_found);
  EXPECT_EQ(h.call(bhttp::verb::get, "/console/main.js").result(), bhttp::status::not_found);
  for (auto const& route : h.cp().routes()) {
    EXPECT_FALSE(route.pattern == "/" || route.pattern.starts_with("/console/")) << route.pattern;
  }
  EXPECT_EQ(h.call(bhttp::verb::get, "/api/v1/agents").result(), bhttp::status::ok);
}

}  // namespace

// docs/api.md and docs/openapi.json describe exactly the routes the control plane serves: every
// (method, path) that ControlPlane::routes() lists under /api/v1 (plus /health at the root) has a
// "### METHOD /path" heading in api.md and an operation in openapi.json, and nothing else does.
#include <easyenclave/cp/access.hpp>
#include <easyenclave/cp/control_plane.hpp>

#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace bhttp = boost::beast::http;
namespace bj = boost::json;

using RouteSet = std::set<std::string>;  // "METHOD /path"

constexpr std::string_view kV1Prefix = "/api/v1/";
constexpr std::string_view kAliasPrefix = "/api/";

std::string route_name(std::string_view method, std::string_view path) {
  return std::string(method) + " " + std::string(path);
}

std::string read_source_file(std::string const& relative) {
  std::ifstream in(std::string(EE_SOURCE_DIR) + "/" + relative, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot open " << relative << " under " << EE_SOURCE_DIR;
    return {};
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// What the documents must cover: the canonical /api/v1 routes, the root /health and /metrics,
// and the sign-in routes, which are only at the root.
bool in_documented_scope(std::string_view path) {
  return path.starts_with(kV1Prefix) || path == "/health" || path == "/metrics" || path.starts_with("/auth/") ||
         path == "/admin/login" || path == "/admin/logout";
}

struct ServedRoutes {
  RouteSet all;
  RouteSet documented;
  std::map<std::string, ee::cp::Access> access;  // route name -> its declared rule
};

// Starts a default dev control plane once and keeps what it serves.
ServedRoutes const& served_routes() {
  static ServedRoutes const served = [] {
    ServedRoutes out;
    auto cp = ee::cp::ControlPlane::start(ee::cp::Options{.dev = true, .background_tasks = false});
    if (!cp) {
      ADD_FAILURE() << "control plane did not start: " << cp.error().message();
      return out;
    }
    for (auto const& [verb, pattern, access] : (*cp)->routes()) {
      auto const name = route_name(std::string_view(bhttp::to_string(verb)), pattern);
      out.all.insert(name);
      out.access[name] = access;
      if (in_documented_scope(pattern)) out.documented.insert(name);
    }
    (*cp)->stop();
    return out;
  }();
  return served;
}

std::string join(RouteSet const& routes) {
  std::string out;
  for (auto const& r : routes) out += "\n  " + r;
  return out;
}

RouteSet minus(RouteSet const& a, RouteSet const& b) {
  RouteSet out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

// Names every route on one side only; empty when the sets are equal.
std::string difference_report(RouteSet const& served, RouteSet const& documented,
                              std::string_view document) {
  std::string report;
  if (auto missing = minus(served, documented); !missing.empty()) {
    report += "served but missing from " + std::string(document) + ":" + join(missing) + "\n";
  }
  if (auto extra = minus(documented, served); !extra.empty()) {
    report += "in " + std::string(document) + " but not served:" + join(extra) + "\n";
  }
  return report;
}

bool is_http_method(std::string_view word) {
  if (word.empty() || !std::all_of(word.begin(), word.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return false;
  }
  return bhttp::string_to_verb(word) != bhttp::verb::unknown;
}

struct MarkdownRoutes {
  RouteSet routes;
  std::vector<std::string> duplicates;
  std::vector<std::string> malformed;
};

// Route headings are "### METHOD /path"; other "### " headings (prose subsections) have no
// second word starting with '/'. Lines inside ``` fences are skipped.
MarkdownRoutes markdown_routes(std::string const& text) {
  MarkdownRoutes out;
  std::istringstream lines(text);
  std::string line;
  bool in_fence = false;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.starts_with("```")) {
      in_fence = !in_fence;
      continue;
    }
    if (in_fence || !line.starts_with("### ")) continue;
    std::string_view const heading = std::string_view(line).substr(4);
    auto const space = heading.find(' ');
    if (space == std::string_view::npos) continue;
    auto const method = heading.substr(0, space);
    auto const path = heading.substr(space + 1);
    if (!path.starts_with('/')) continue;
    if (!is_http_method(method) || path.find_first_of(" \t") != std::string_view::npos) {
      out.malformed.push_back(line);
      continue;
    }
    if (!out.routes.insert(route_name(method, path)).second) out.duplicates.push_back(line);
  }
  return out;
}

bj::value load_openapi() {
  boost::system::error_code ec;
  auto doc = bj::parse(read_source_file("docs/openapi.json"), ec);
  EXPECT_FALSE(ec) << "docs/openapi.json is not valid JSON: " << ec.message();
  if (ec || !doc.is_object()) return bj::object{};
  return doc;
}

constexpr std::string_view kOperationKeys[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

bool is_operation_key(std::string_view key) {
  return std::find(std::begin(kOperationKeys), std::end(kOperationKeys), key) != std::end(kOperationKeys);
}

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

// Each operation of the document's "paths": route name -> (path template, operation, path item).
struct Operation {
  std::string path;
  bj::object const* operation = nullptr;
  bj::object const* path_item = nullptr;
};

std::map<std::string, Operation> openapi_operations(bj::value const& doc) {
  std::map<std::string, Operation> out;
  auto const* paths = doc.as_object().if_contains("paths");
  if (paths == nullptr || !paths->is_object()) {
    ADD_FAILURE() << "docs/openapi.json has no \"paths\" object";
    return out;
  }
  for (auto const& [path, item] : paths->as_object()) {
    if (!item.is_object()) {
      ADD_FAILURE() << "path item " << std::string_view(path) << " is not an object";
      continue;
    }
    for (auto const& [key, operation] : item.as_object()) {
      if (!is_operation_key(key)) continue;
      if (!operation.is_object()) {
        ADD_FAILURE() << std::string_view(key) << " " << std::string_view(path) << " is not an object";
        continue;
      }
      out[route_name(upper(key), path)] = Operation{std::string(path), &operation.as_object(), &item.as_object()};
    }
  }
  return out;
}

// Resolves a local "$ref" ("#/components/...") against the document; null when it does not.
bj::value const* resolve(bj::value const& doc, std::string_view ref) {
  if (!ref.starts_with("#")) return nullptr;
  boost::system::error_code ec;
  auto const* target = doc.find_pointer(ref.substr(1), ec);
  return ec ? nullptr : target;
}

// The {names} of a path template, in order.
std::set<std::string> template_params(std::string_view path) {
  std::set<std::string> out;
  for (std::size_t open = path.find('{'); open != std::string_view::npos; open = path.find('{', open + 1)) {
    auto const close = path.find('}', open);
    if (close == std::string_view::npos) break;
    out.emplace(path.substr(open + 1, close - open - 1));
  }
  return out;
}

TEST(ApiDocs, ControlPlaneServesRoutesToDocument) {
  auto const& served = served_routes();
  EXPECT_TRUE(served.documented.contains("GET /health"));
  EXPECT_TRUE(served.documented.contains("POST /api/v1/agents/register"));
}

TEST(ApiDocs, MarkdownRouteHeadingsMatchServedRoutes) {
  auto const parsed = markdown_routes(read_source_file("docs/api.md"));
  std::string problems;
  for (auto const& line : parsed.malformed) problems += "malformed route heading: " + line + "\n";
  for (auto const& line : parsed.duplicates) problems += "duplicate route heading: " + line + "\n";
  EXPECT_EQ(problems, "");
  EXPECT_EQ(difference_report(served_routes().documented, parsed.routes, "docs/api.md"), "");
}

TEST(ApiDocs, OpenApiPathsMatchServedRoutes) {
  auto const doc = load_openapi();
  RouteSet documented;
  for (auto const& [name, op] : openapi_operations(doc)) documented.insert(name);
  EXPECT_EQ(difference_report(served_routes().documented, documented, "docs/openapi.json"), "");
}

// The security requirement OpenAPI states for each access rule: alternatives, each a set of
// scheme names that go together.
std::set<std::set<std::string>> expected_security(ee::cp::Access access) {
  using ee::cp::Access;
  // A session goes as a bearer or as the cookie: two alternatives wherever sessions are taken.
  switch (access) {
    case Access::anyone: return {};
    case Access::agent_self: return {{"agentSignature", "agentTimestamp"}};
    case Access::github_workflow:
    case Access::publisher_of_app: return {{"githubOidc"}};
    case Access::owner_of_agent:
    case Access::github_identity: return {{"githubOidc"}, {"sessionToken"}, {"sessionCookie"}};
    case Access::owner_of_agent_or_admin:
    case Access::owner_of_token_or_admin: return {{"githubOidc"}, {"adminToken"}, {"sessionToken"}, {"sessionCookie"}};
    case Access::admin: return {{"adminToken"}, {"sessionToken"}, {"sessionCookie"}};
    case Access::person: return {{"sessionToken"}, {"sessionCookie"}};
    // Anyone (an empty alternative), or only the operator when creation is admin-only.
    case Access::account_creation:
      return {std::set<std::string>{}, {"adminToken"}, {"sessionToken"}, {"sessionCookie"}};
    case Access::account_self: return {{"apiKey"}, {"adminToken"}, {"sessionToken"}, {"sessionCookie"}};
    case Access::deployer: return {{"githubOidc"}, {"apiKey"}};
  }
  return {};
}

std::set<std::set<std::string>> stated_security(bj::object const& operation) {
  std::set<std::set<std::string>> out;
  auto const* security = operation.if_contains("security");
  if (security == nullptr || !security->is_array()) return out;
  for (auto const& alternative : security->as_array()) {
    std::set<std::string> schemes;
    if (alternative.is_object()) {
      for (auto const& [scheme, scopes] : alternative.as_object()) schemes.emplace(scheme);
    }
    out.insert(std::move(schemes));
  }
  return out;
}

TEST(ApiDocs, EveryOperationStatesTheAccessItsRouteDeclares) {
  auto const doc = load_openapi();
  auto const& served = served_routes();
  std::string problems;
  for (auto const& [name, op] : openapi_operations(doc)) {
    auto const declared = served.access.find(name);
    if (declared == served.access.end()) continue;  // reported by OpenApiPathsMatchServedRoutes
    auto const want = std::string(ee::cp::to_string(declared->second));
    auto const* stated = op.operation->if_contains("x-ee-access");
    if (stated == nullptr || !stated->is_string()) {
      problems += name + ": no x-ee-access (the route declares " + want + ")\n";
    } else if (stated->as_string() != want) {
      problems += name + ": x-ee-access is " + std::string(stated->as_string()) + ", the route declares " + want + "\n";
    }
    if (stated_security(*op.operation) != expected_security(declared->second)) {
      problems += name + ": its security requirement is not the one " + want + " takes\n";
    }
  }
  EXPECT_EQ(problems, "");
}

TEST(ApiDocs, EveryV1RouteHasItsApiAlias) {
  auto const& served = served_routes();
  RouteSet missing;
  for (auto const& name : served.documented) {
    auto const space = name.find(' ');
    auto const path = std::string_view(name).substr(space + 1);
    if (!path.starts_with(kV1Prefix)) continue;
    auto const alias = route_name(std::string_view(name).substr(0, space),
                                  std::string(kAliasPrefix) + std::string(path.substr(kV1Prefix.size())));
    if (!served.all.contains(alias)) missing.insert(alias);
  }
  EXPECT_EQ(join(missing), "") << "routes without their /api alias";
}

TEST(ApiDocs, OpenApiOperationsHaveUniqueOperationIds) {
  auto const doc = load_openapi();
  std::map<std::string, std::string> seen;  // operationId -> route
  std::string problems;
  for (auto const& [name, op] : openapi_operations(doc)) {
    auto const* id = op.operation->if_contains("operationId");
    if (id == nullptr || !id->is_string() || id->as_string().empty()) {
      problems += name + ": no operationId\n";
      continue;
    }
    std::string const text(id->as_string());
    if (auto [it, inserted] = seen.emplace(text, name); !inserted) {
      problems += name + ": operationId " + text + " already used by " + it->second + "\n";
    }
  }
  EXPECT_EQ(problems, "");
}

TEST(ApiDocs, OpenApiPathParametersMatchTheTemplates) {
  auto const doc = load_openapi();
  std::string problems;
  for (auto const& [name, op] : openapi_operations(doc)) {
    std::set<std::string> declared;
    for (auto const* holder : {op.path_item, op.operation}) {
      auto const* params = holder->if_contains("parameters");
      if (params == nullptr) continue;
      if (!params->is_array()) {
        problems += name + ": parameters is not an array\n";
        continue;
      }
      for (auto const& p : params->as_array()) {
        bj::value const* param = &p;
        if (p.is_object() && p.as_object().contains("$ref") && p.at("$ref").is_string()) {
          param = resolve(doc, p.at("$ref").as_string());
        }
        if (param == nullptr || !param->is_object()) {
          problems += name + ": a parameter is not an object or its $ref does not resolve\n";
          continue;
        }
        auto const& object = param->as_object();
        auto const* in = object.if_contains("in");
        auto const* pname = object.if_contains("name");
        if (in == nullptr || !in->is_string() || in->as_string() != "path") continue;
        if (pname == nullptr || !pname->is_string()) {
          problems += name + ": a path parameter has no name\n";
          continue;
        }
        auto const* required = object.if_contains("required");
        if (required == nullptr || !required->is_bool() || !required->as_bool()) {
          problems += name + ": path parameter " + std::string(pname->as_string()) + " is not required\n";
        }
        declared.emplace(pname->as_string());
      }
    }
    if (declared != template_params(op.path)) {
      std::string list;
      for (auto const& d : declared) list += " " + d;
      problems += name + ": declared path parameters {" + list + " } differ from the template\n";
    }
  }
  EXPECT_EQ(problems, "");
}

// Every local "$ref" in the document points at something.
void collect_unresolved(bj::value const& doc, bj::value const& node, std::string const& where,
                        std::vector<std::string>& out) {
  if (node.is_object()) {
    for (auto const& [key, child] : node.as_object()) {
      if (key == "$ref" && child.is_string() && resolve(doc, child.as_string()) == nullptr) {
        out.push_back(where + ": " + std::string(child.as_string()));
      }
      collect_unresolved(doc, child, where + "/" + std::string(key), out);
    }
  } else if (node.is_array()) {
    std::size_t i = 0;
    for (auto const& child : node.as_array()) collect_unresolved(doc, child, where + "/" + std::to_string(i++), out);
  }
}

TEST(ApiDocs, OpenApiReferencesResolve) {
  auto const doc = load_openapi();
  std::vector<std::string> unresolved;
  collect_unresolved(doc, doc, "#", unresolved);
  std::string report;
  for (auto const& u : unresolved) report += u + "\n";
  EXPECT_EQ(report, "");
}

TEST(ApiDocs, MarkdownHeadingParserSkipsProseAndFlagsMalformedRoutes) {
  auto const parsed = markdown_routes(
      "### Agent request signature\n"
      "### GET /api/v1/agents\r\n"
      "```\n### POST /api/v1/in-a-fence\n```\n"
      "### Get /api/v1/lowercase\n"
      "### GET /api/v1/agents\n");
  EXPECT_EQ(parsed.routes, RouteSet{"GET /api/v1/agents"});
  EXPECT_EQ(parsed.malformed, std::vector<std::string>{"### Get /api/v1/lowercase"});
  EXPECT_EQ(parsed.duplicates, std::vector<std::string>{"### GET /api/v1/agents"});
}

}  // namespace

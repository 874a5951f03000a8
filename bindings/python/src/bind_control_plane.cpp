// easyenclave._core.ControlPlaneClient: client::ControlPlaneClient with each answer handed to
// Python as the API's JSON (the library's to_json), which easyenclave/control_plane.py turns
// into dataclasses. Conversions only; the GIL is released around every network call.
#include <easyenclave/block_on.hpp>
#include <easyenclave/client/control_plane.hpp>
#include <easyenclave/client/settings.hpp>

#include "bind.hpp"
#include "convert.hpp"
#include "errors.hpp"
#include "gil.hpp"
#include "shared.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ee::python {
namespace py = pybind11;
using namespace pybind11::literals;

namespace {

class PyControlPlane {
 public:
  PyControlPlane(std::optional<std::string> url, std::optional<std::string> token, double timeout,
                 std::string audience) {
    auto resolved = client::resolve_cp_url(url.value_or(""), settings::process_environment());
    if (!resolved) throw_error(resolved.error());
    if (resolved->empty()) throw_error(Error(errc::missing_field, "url: not given and EE_CP_URL is not set"));
    if (timeout <= 0) throw_error(Error(errc::out_of_range, "timeout: must be positive seconds"));
    client::ControlPlaneOptions o;
    o.url = std::move(*resolved);
    o.request.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout * 1000));
    auto outcome = without_gil([&]() -> result<client::Credential> {
      auto http = shared_http_client();
      if (!http) return http.error();
      o.http = *http;
      // A given token is used as it is ("" for none); None: the credential `ee` would use
      // (EE_TOKEN, GitHub Actions, `ee login`).
      if (token && token->empty()) return client::Credential{};
      return block_on(client::resolve_credential(
          **http, {.argument = token.value_or(""), .env = settings::process_environment(), .audience = audience},
          o.request));
    });
    auto credential = unwrap(std::move(outcome));
    o.token = credential.token;
    source_ = std::string(client::to_string(credential.source));
    client_.emplace(std::move(o));
  }

  std::string url() const { return client_->options().url; }
  std::string const& credential_source() const { return source_; }

  // Runs `call` (an awaitable of result<T>) without the GIL and returns `json(value)`.
  template <class Call, class Json>
  std::string run(Call call, Json json) const {
    auto outcome = without_gil([&] { return block_on(call(*client_)); });
    if (!outcome) throw SystemError(outcome.error());
    return json(*outcome);
  }
  template <class Call>
  void run_void(Call call) const {
    auto outcome = without_gil([&] { return block_on(call(*client_)); });
    if (!outcome) throw SystemError(outcome.error());
  }

 private:
  std::optional<client::ControlPlaneClient> client_;
  std::string source_;
};

template <class T>
std::string one(T const& v) {
  return api::to_json(v);
}

}  // namespace

void register_control_plane(py::module_& m) {
  using CP = client::ControlPlaneClient;
  py::class_<PyControlPlane>(m, "ControlPlaneClient",
                             "The control plane's API, answers as JSON text. Use easyenclave.ControlPlane, which "
                             "returns dataclasses.")
      .def(py::init<std::optional<std::string>, std::optional<std::string>, double, std::string>(),
           "url"_a = py::none(), "token"_a = py::none(), "timeout"_a = 10.0, "audience"_a = "easyenclave")
      .def_property_readonly("url", &PyControlPlane::url)
      .def_property_readonly("credential_source", &PyControlPlane::credential_source)
      .def("health", [](PyControlPlane const& p) {
        return p.run([](CP const& c) { return c.health(); }, [](std::string const& s) { return s; });
      })
      .def("agents", [](PyControlPlane const& p, std::string status, std::string vm_name, std::string owner) {
        return p.run([&](CP const& c) { return c.agents({.status = status, .vm_name = vm_name, .owner = owner}); },
                     [](auto const& v) { return api::to_json(v); });
      }, "status"_a = "", "vm_name"_a = "", "owner"_a = "")
      .def("agent", [](PyControlPlane const& p, std::string id) {
        return p.run([&](CP const& c) { return c.agent(id); }, [](auto const& v) { return one(v); });
      })
      .def("agent_attestation", [](PyControlPlane const& p, std::string id) {
        return p.run([&](CP const& c) { return c.agent_attestation(id); }, [](auto const& v) { return one(v); });
      })
      .def("agent_logs", [](PyControlPlane const& p, std::string id, std::size_t lines) {
        return p.run([&](CP const& c) { return c.agent_logs(id, lines); },
                     [](auto const& v) { return client::to_json(v); });
      }, "id"_a, "lines"_a = 0)
      .def("undeploy", [](PyControlPlane const& p, std::string id) {
        return p.run([&](CP const& c) { return c.undeploy(id); }, [](auto const& v) { return one(v); });
      })
      .def("remove_agent", [](PyControlPlane const& p, std::string id) {
        p.run_void([&](CP const& c) { return c.remove_agent(id); });
      })
      .def("apps", [](PyControlPlane const& p) {
        return p.run([](CP const& c) { return c.apps(); }, [](auto const& v) { return api::to_json(v); });
      })
      .def("app", [](PyControlPlane const& p, std::string name) {
        return p.run([&](CP const& c) { return c.app(name); }, [](auto const& v) { return one(v); });
      })
      .def("publish", [](PyControlPlane const& p, std::string request_json) {
        auto request = unwrap(api::parse_publish_request(request_json));
        return p.run([&](CP const& c) { return c.publish(request); }, [](auto const& v) { return one(v); });
      })
      .def("add_version", [](PyControlPlane const& p, std::string app, std::string request_json) {
        auto request = unwrap(api::parse_version_request(request_json));
        return p.run([&](CP const& c) { return c.add_version(app, request); }, [](auto const& v) { return one(v); });
      })
      .def("deploy", [](PyControlPlane const& p, std::string request_json) {
        auto request = unwrap(api::parse_deploy_request(request_json));
        return p.run([&](CP const& c) { return c.deploy(request); }, [](auto const& v) { return one(v); });
      })
      .def("deployments", [](PyControlPlane const& p, std::string agent_id, std::string app_name, std::string status,
                             std::optional<std::size_t> limit) {
        return p.run([&](CP const& c) {
          return c.deployments({.agent_id = agent_id, .app_name = app_name, .status = status, .limit = limit,
                                .offset = 0});
        }, [](auto const& v) { return api::to_json(v); });
      }, "agent_id"_a = "", "app_name"_a = "", "status"_a = "", "limit"_a = py::none())
      .def("deployment", [](PyControlPlane const& p, std::string id) {
        return p.run([&](CP const& c) { return c.deployment(id); }, [](auto const& v) { return one(v); });
      })
      .def("wait", [](PyControlPlane const& p, std::string id, double timeout, double poll) {
        client::WaitOptions w;
        w.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout * 1000));
        w.poll = std::chrono::milliseconds(static_cast<std::int64_t>(poll * 1000));
        return p.run([&](CP const& c) { return client::wait_for_deployment(c, id, w); },
                     [](auto const& v) { return one(v); });
      }, "id"_a, "timeout"_a = 300.0, "poll"_a = 1.0)
      .def("resolve_verify_target", [](PyControlPlane const& p, std::string target) {
        return p.run([&](CP const& c) { return client::resolve_verify_target(c, target); },
                     [](client::VerifyTarget const& t) {
                       py::dict d("app"_a = t.app, "agent_id"_a = t.agent_id, "version"_a = t.version);
                       return py::module_::import("json").attr("dumps")(d).cast<std::string>();
                     });
      })
      .def("measurements", [](PyControlPlane const& p) {
        return p.run([](CP const& c) { return c.measurements(); }, [](auto const& v) { return api::to_json(v); });
      })
      .def("add_measurement", [](PyControlPlane const& p, std::string mrtd, std::string type, std::string node_size,
                                 std::string note) {
        return p.run([&](CP const& c) {
          return c.add_measurement({.mrtd = mrtd, .type = type, .node_size = node_size, .note = note});
        }, [](auto const& v) { return one(v); });
      }, "mrtd"_a, "type"_a = "agent", "node_size"_a = "", "note"_a = "")
      .def("remove_measurement", [](PyControlPlane const& p, std::string mrtd) {
        p.run_void([&](CP const& c) { return c.remove_measurement(mrtd); });
      })
      .def("settings", [](PyControlPlane const& p, std::string group) {
        return p.run([&](CP const& c) { return c.settings(group); }, [](auto const& v) { return client::to_json(v); });
      }, "group"_a = "")
      .def("setting", [](PyControlPlane const& p, std::string name) {
        return p.run([&](CP const& c) { return c.setting(name); }, [](auto const& v) { return client::to_json(v); });
      })
      .def("set_setting", [](PyControlPlane const& p, std::string name, std::string value) {
        return p.run([&](CP const& c) { return c.set_setting(name, value); },
                     [](auto const& v) { return client::to_json(v); });
      })
      .def("unset_setting", [](PyControlPlane const& p, std::string name) {
        return p.run([&](CP const& c) { return c.unset_setting(name); },
                     [](auto const& v) { return client::to_json(v); });
      });
}

}  // namespace ee::python

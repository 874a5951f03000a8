#include "cp/fake_agent_api.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/status.hpp>

#include <chrono>

namespace ee::test {
namespace {
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using Reply = asio::awaitable<result<http::Response>>;

// Waits while `flag` is set, until `stopping` is.
asio::awaitable<void> wait_while(std::atomic<bool> const& flag, std::atomic<bool> const& stopping) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (flag && !stopping) {
    timer.expires_after(std::chrono::milliseconds(20));
    (void)co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}
}  // namespace

std::unique_ptr<FakeAgentApi> FakeAgentApi::start() {
  std::unique_ptr<FakeAgentApi> fake(new FakeAgentApi());
  auto* self = fake.get();
  http::Router router;
  router.get("/api/health", [self](http::RequestContext&) -> Reply {
    ++self->requests_;
    ++self->health_calls_;
    co_await wait_while(self->hang_health_, self->stopping_);
    if (!self->healthy_) co_return http::json_response(bhttp::status::service_unavailable, R"({"status":"down"})");
    std::string body;
    {
      std::lock_guard lock(self->mutex_);
      if (!self->health_body_.empty()) {
        body = self->health_body_;
      } else {
        api::AgentHealth health;
        health.status = "ok";
        health.workload = self->workload_;
        body = api::to_json(health);
      }
    }
    co_return http::json_response(bhttp::status::ok, std::move(body));
  });
  router.post("/api/deploy", [self](http::RequestContext& ctx) -> Reply {
    ++self->requests_;
    ++self->deploy_calls_;
    if (auto r = self->check_signature(ctx); !r) co_return r.error();
    if (self->fail_deploys_) co_return http::json_response(bhttp::status::internal_server_error, R"({"code":"x"})");
    auto req = api::parse_agent_deploy_request(ctx.request.body());
    if (!req) co_return req.error();
    std::string answer;
    {
      std::lock_guard lock(self->mutex_);
      self->deploys_.push_back(*req);
      answer = self->deploy_body_;
    }
    co_await wait_while(self->hang_deploys_, self->stopping_);
    if (!answer.empty()) co_return http::json_response(bhttp::status::ok, std::move(answer));
    co_return http::json_response(bhttp::status::ok, api::to_json(api::AgentDeployResponse{req->deployment_id, "deploying"}));
  });
  router.post("/api/undeploy", [self](http::RequestContext& ctx) -> Reply {
    ++self->requests_;
    if (auto r = self->check_signature(ctx); !r) co_return r.error();
    auto req = api::parse_agent_undeploy_request(ctx.request.body());
    if (!req) co_return req.error();
    {
      std::lock_guard lock(self->mutex_);
      self->undeploys_.push_back(*req);
    }
    if (self->fail_undeploys_) co_return http::json_response(bhttp::status::internal_server_error, R"({"code":"x"})");
    co_return http::json_response(bhttp::status::ok, api::to_json(api::AgentDeployResponse{req->deployment_id, "stopped"}));
  });
  router.get("/api/logs", [self](http::RequestContext& ctx) -> Reply {
    ++self->requests_;
    if (auto r = self->check_signature(ctx); !r) co_return r.error();
    std::string logs;
    {
      std::lock_guard lock(self->mutex_);
      logs = self->logs_body_;
    }
    co_return http::json_response(bhttp::status::ok, std::move(logs));
  });
  router.get("/api/stats", [self](http::RequestContext& ctx) -> Reply {
    ++self->requests_;
    if (auto r = self->check_signature(ctx); !r) co_return r.error();
    std::string stats;
    {
      std::lock_guard lock(self->mutex_);
      stats = self->stats_body_;
    }
    co_return http::json_response(bhttp::status::ok, std::move(stats));
  });
  router.get("/api/metrics", [self](http::RequestContext& ctx) -> Reply {
    ++self->requests_;
    if (auto r = self->check_signature(ctx); !r) co_return r.error();
    http::Response out{bhttp::status::ok, 11};
    out.set(bhttp::field::content_type, "text/plain; version=0.0.4");
    {
      std::lock_guard lock(self->mutex_);
      out.body() = self->metrics_body_;
    }
    out.prepare_payload();
    co_return out;
  });
  fake->server_ = http::Server::start(std::move(router)).value();
  return fake;
}

FakeAgentApi::~FakeAgentApi() {
  stopping_ = true;
  if (server_) server_->stop();
}

void FakeAgentApi::set_workload(api::AgentWorkload workload) {
  std::lock_guard lock(mutex_);
  workload_ = std::move(workload);
}

void FakeAgentApi::set_health_body(std::string body) {
  std::lock_guard lock(mutex_);
  health_body_ = std::move(body);
}

std::string FakeAgentApi::url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

void FakeAgentApi::trust_cp_key(std::string const& base64_key) {
  std::lock_guard lock(mutex_);
  cp_key_ = api::PublicKey::parse(base64_key).value();
}

result<void> FakeAgentApi::check_signature(http::RequestContext const& ctx) {
  std::optional<api::PublicKey> key;
  {
    std::lock_guard lock(mutex_);
    key = cp_key_;
  }
  if (!key) return Error(api::errc::signature_invalid, "no CP key yet");
  auto r = api::verify_request(ctx.request, *key, std::chrono::system_clock::now());
  if (!r) ++rejected_;
  return r;
}

void FakeAgentApi::answer_deploys_with(std::string body) {
  std::lock_guard lock(mutex_);
  deploy_body_ = std::move(body);
}

void FakeAgentApi::answer_metrics_with(std::string body) {
  std::lock_guard lock(mutex_);
  metrics_body_ = std::move(body);
}

void FakeAgentApi::answer_stats_with(std::string body) {
  std::lock_guard lock(mutex_);
  stats_body_ = std::move(body);
}

void FakeAgentApi::answer_logs_with(std::string body) {
  std::lock_guard lock(mutex_);
  logs_body_ = std::move(body);
}

std::vector<api::AgentDeployRequest> FakeAgentApi::deploys() const {
  std::lock_guard lock(mutex_);
  return deploys_;
}

std::vector<api::AgentUndeployRequest> FakeAgentApi::undeploys() const {
  std::lock_guard lock(mutex_);
  return undeploys_;
}

}  // namespace ee::test

#include "support/fake_http_client.hpp"

#include <easyenclave/http/error.hpp>

#include <algorithm>

namespace ee::test {

void FakeHttpClient::on(Verb method, std::string path, unsigned status, std::string body,
                        Headers headers) {
  ee::http::Response response;
  response.version(11);
  response.result(status);
  for (auto const& [name, value] : headers) response.insert(name, value);
  response.body() = std::move(body);
  response.prepare_payload();
  add_step(method, std::move(path),
           [response = std::move(response)](
               ee::http::Request const&) -> result<ee::http::Response> { return response; });
}

void FakeHttpClient::on(Verb method, std::string path, Handler handler) {
  add_step(method, std::move(path), std::move(handler));
}

void FakeHttpClient::fail(Verb method, std::string path, ee::Error error) {
  add_step(method, std::move(path),
           [error = std::move(error)](ee::http::Request const&) -> result<ee::http::Response> {
             return error;
           });
}

void FakeHttpClient::add_step(Verb method, std::string path, Handler handler) {
  std::lock_guard lock(mutex_);
  scripts_[{method, std::move(path)}].steps.push_back(std::move(handler));
}

std::vector<ee::http::Request> FakeHttpClient::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::size_t FakeHttpClient::request_count() const {
  std::lock_guard lock(mutex_);
  return requests_.size();
}

boost::asio::awaitable<result<ee::http::Response>> FakeHttpClient::send(
    ee::http::Request request, ee::http::RequestOptions) {
  auto const path = path_of(request.target());
  Handler step;
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(request);
    auto it = scripts_.find({request.method(), path});
    if (it != scripts_.end() && !it->second.steps.empty()) {
      Script& script = it->second;
      step = script.steps[std::min(script.next, script.steps.size() - 1)];
      if (script.next < script.steps.size()) ++script.next;
    }
  }
  if (!step) {
    co_return Error(ee::http::errc::no_scripted_reply,
                    "no scripted reply for " + std::string(request.method_string()) + " " + path);
  }
  co_return step(request);
}

std::string FakeHttpClient::path_of(std::string_view target) {
  target = target.substr(0, std::min(target.find('?'), target.find('#')));
  if (auto scheme_end = target.find("://"); scheme_end != std::string_view::npos) {
    auto const slash = target.find('/', scheme_end + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  return std::string(target.empty() ? "/" : target);
}

}  // namespace ee::test

#pragma once
// Recording checks into a Report: a pass, a skip, or a failure that also becomes the error
// naming the check and what it expected.
#include <easyenclave/client/connect.hpp>

#include <string>
#include <utility>

namespace ee::client {

struct Recorder {
  Report& report;

  void pass(std::string name, std::string expected, std::string actual, std::string detail = {}) {
    report.checks.push_back(Check{std::move(name), true, false, std::move(expected),
                                  std::move(actual), std::move(detail)});
  }
  void skip(std::string name, std::string detail) {
    report.checks.push_back(Check{std::move(name), false, true, {}, {}, std::move(detail)});
  }
  /// Records the failure and returns the error that names it.
  Error fail(errc code, std::string name, std::string expected, std::string actual,
             std::string detail = {}) {
    std::string message = "check '" + name + "' failed: expected " + expected + ", got " + actual;
    if (!detail.empty()) message += " (" + detail + ")";
    report.checks.push_back(Check{std::move(name), false, false, std::move(expected),
                                  std::move(actual), std::move(detail)});
    return Error(code, std::move(message));
  }
};

}  // namespace ee::client

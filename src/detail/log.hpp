#pragma once
// The library's internal logging front end. detail::log::info("tdx", "parsed quote v", 4)
// streams its arguments into one line, only when the level is enabled, and hands it to the
// application's sink (easyenclave/log.hpp). Never pass tokens, keys or whole quotes.
#include <easyenclave/log.hpp>

#include <sstream>
#include <string>
#include <string_view>
#include <utility>

namespace ee::detail::log {

using ee::log::Level;

void emit(Level level, std::string_view component, std::string_view message);

template <class... Args>
void write(Level level, std::string_view component, Args&&... args) {
  if (!ee::log::enabled(level)) return;
  std::ostringstream line;
  (line << ... << std::forward<Args>(args));
  emit(level, component, line.str());
}

template <class... Args>
void trace(std::string_view component, Args&&... args) {
  write(Level::trace, component, std::forward<Args>(args)...);
}
template <class... Args>
void debug(std::string_view component, Args&&... args) {
  write(Level::debug, component, std::forward<Args>(args)...);
}
template <class... Args>
void info(std::string_view component, Args&&... args) {
  write(Level::info, component, std::forward<Args>(args)...);
}
template <class... Args>
void warn(std::string_view component, Args&&... args) {
  write(Level::warn, component, std::forward<Args>(args)...);
}
template <class... Args>
void error(std::string_view component, Args&&... args) {
  write(Level::error, component, std::forward<Args>(args)...);
}

}  // namespace ee::detail::log

#include <easyenclave/encoding.hpp>

#include "detail/encoding.hpp"

namespace ee {

std::string hex_encode(std::span<std::uint8_t const> bytes) { return detail::hex_encode(bytes); }
result<std::vector<std::uint8_t>> hex_decode(std::string_view text) { return detail::hex_decode(text); }
std::string base64_encode(std::span<std::uint8_t const> bytes) { return detail::base64_encode(bytes); }
result<std::vector<std::uint8_t>> base64_decode(std::string_view text) { return detail::base64_decode(text); }

}  // namespace ee

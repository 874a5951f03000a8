#pragma once
// Conversions between Python objects and the library's types, shared by the bind_*.cpp files:
// byte strings (bytes in, bytes out), fixed-size byte arrays given as bytes or hex, and times
// (aware datetimes or Unix timestamps in, aware UTC datetimes out). Every function here runs
// with the GIL held.
#include <easyenclave/error.hpp>

#include <pybind11/pybind11.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ee::python {

/// A read-only byte string taken from a Python argument. For `bytes` it views the object's
/// buffer and keeps a reference to it (bytes are immutable, so the view stays valid while the
/// GIL is released); for any other contiguous byte buffer (bytearray, memoryview) it holds a
/// copy, because another thread could resize that object while the GIL is released.
struct ByteString {
  std::span<std::uint8_t const> view{};
  std::vector<std::uint8_t> copy{};
  pybind11::object owner{};
};

/// Copies the contents of a C-contiguous buffer of single bytes (bytes, bytearray, memoryview)
/// into `out`; false, with no Python error set, for anything else.
bool copy_byte_buffer(pybind11::handle src, std::vector<std::uint8_t>& out);

/// `bytes` holding a copy of `data`.
pybind11::bytes to_bytes(std::span<std::uint8_t const> data);

/// A fixed-size value (measurement, report data, ...) given as bytes-like or as a hex string.
/// Throws ee::SystemError (InvalidInput: core.bad_hex, core.out_of_range) naming `what` when the
/// value is malformed or has another length, pybind11::type_error for other types.
std::vector<std::uint8_t> fixed_bytes(pybind11::handle value, std::size_t size,
                                      std::string_view what);

template <std::size_t N>
std::array<std::uint8_t, N> to_array(pybind11::handle value, std::string_view what) {
  auto const bytes = fixed_bytes(value, N, what);
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = bytes[i];
  return out;
}

/// `at` as a time point: an aware datetime, or a Unix timestamp (int or float, seconds). A naive
/// datetime, a bool or any other type raises TypeError.
std::chrono::system_clock::time_point to_time_point(pybind11::handle at, std::string_view what);
/// An aware UTC datetime (microsecond precision).
pybind11::object to_datetime(std::chrono::system_clock::time_point t);
/// As to_datetime, but None for the epoch, which the library uses for "not set".
pybind11::object to_datetime_or_none(std::chrono::system_clock::time_point t);

/// Throws `error` as ee::SystemError; the translator turns it into the matching Python class.
[[noreturn]] void throw_error(Error error);

}  // namespace ee::python

namespace pybind11::detail {

/// Accepts bytes, bytearray, memoryview and other C-contiguous buffers of single bytes.
template <>
struct type_caster<ee::python::ByteString> {
  PYBIND11_TYPE_CASTER(ee::python::ByteString, const_name("bytes"));

  bool load(handle src, bool /*convert*/);
};

}  // namespace pybind11::detail

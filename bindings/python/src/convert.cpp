#include "convert.hpp"

#include <easyenclave/encoding.hpp>

#include <cmath>
#include <string>
#include <utility>

namespace ee::python {
namespace py = pybind11;

namespace {

using Clock = std::chrono::system_clock;

std::string type_name(py::handle value) {
  return py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>();
}

}  // namespace

bool copy_byte_buffer(py::handle src, std::vector<std::uint8_t>& out) {
  if (!PyObject_CheckBuffer(src.ptr())) return false;
  Py_buffer view;
  if (PyObject_GetBuffer(src.ptr(), &view, PyBUF_C_CONTIGUOUS) != 0) {
    PyErr_Clear();
    return false;
  }
  bool const single_bytes = view.itemsize == 1;
  if (single_bytes) {
    auto const* first = static_cast<std::uint8_t const*>(view.buf);
    out.assign(first, first + view.len);
  }
  PyBuffer_Release(&view);
  return single_bytes;
}

py::bytes to_bytes(std::span<std::uint8_t const> data) {
  return py::bytes(reinterpret_cast<char const*>(data.data()), data.size());
}

void throw_error(Error error) { throw SystemError(std::move(error)); }

std::vector<std::uint8_t> fixed_bytes(py::handle value, std::size_t size, std::string_view what) {
  std::vector<std::uint8_t> bytes;
  if (py::isinstance<py::str>(value)) {
    auto decoded = hex_decode(value.cast<std::string>());
    if (!decoded) throw_error(decoded.error().with_context(what));
    bytes = std::move(*decoded);
  } else if (!copy_byte_buffer(value, bytes)) {
    throw py::type_error(std::string(what) + ": expected bytes or a hex string, got " +
                         type_name(value));
  }
  if (bytes.size() != size) {
    throw_error(Error(errc::out_of_range, std::string(what) + ": expected " + std::to_string(size) +
                                              " bytes, got " + std::to_string(bytes.size())));
  }
  return bytes;
}

Clock::time_point to_time_point(py::handle at, std::string_view what) {
  auto const datetime = py::module_::import("datetime");
  if (py::isinstance(at, datetime.attr("datetime"))) {
    if (at.attr("utcoffset")().is_none()) {
      throw py::type_error(std::string(what) +
                           ": naive datetime; pass an aware one (for example "
                           "datetime.now(timezone.utc)) or a Unix timestamp");
    }
    auto const utc = datetime.attr("timezone").attr("utc");
    auto const epoch = datetime.attr("datetime")(1970, 1, 1, py::arg("tzinfo") = utc);
    auto const one_us = datetime.attr("timedelta")(py::arg("microseconds") = 1);
    auto const micros = (at - epoch).attr("__floordiv__")(one_us).cast<long long>();
    return Clock::time_point(
        std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(micros)));
  }
  if (py::isinstance<py::bool_>(at)) {
    throw py::type_error(std::string(what) +
                         ": expected an aware datetime or a Unix timestamp, "
                         "got bool");
  }
  if (py::isinstance<py::int_>(at)) {
    return Clock::time_point(std::chrono::seconds(at.cast<long long>()));
  }
  if (py::isinstance<py::float_>(at)) {
    double const seconds = at.cast<double>();
    if (!std::isfinite(seconds)) throw py::value_error(std::string(what) + ": not a finite time");
    auto const micros = std::llround(seconds * 1e6);
    return Clock::time_point(
        std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(micros)));
  }
  throw py::type_error(std::string(what) +
                       ": expected an aware datetime or a Unix timestamp, got " + type_name(at));
}

py::object to_datetime(Clock::time_point t) {
  auto const datetime = py::module_::import("datetime");
  auto const utc = datetime.attr("timezone").attr("utc");
  auto const epoch = datetime.attr("datetime")(1970, 1, 1, py::arg("tzinfo") = utc);
  auto const micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  return epoch + datetime.attr("timedelta")(py::arg("microseconds") = micros);
}

py::object to_datetime_or_none(Clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return py::none();
  return to_datetime(t);
}

}  // namespace ee::python

namespace pybind11::detail {

bool type_caster<ee::python::ByteString>::load(handle src, bool /*convert*/) {
  if (!src) return false;
  if (PyBytes_Check(src.ptr())) {
    char* data = nullptr;
    Py_ssize_t size = 0;
    if (PyBytes_AsStringAndSize(src.ptr(), &data, &size) != 0) {
      PyErr_Clear();
      return false;
    }
    value.owner = reinterpret_borrow<object>(src);
    value.view = std::span<std::uint8_t const>(reinterpret_cast<std::uint8_t const*>(data),
                                               static_cast<std::size_t>(size));
    return true;
  }
  if (PyUnicode_Check(src.ptr())) return false;  // text is not bytes: refuse, do not encode
  if (!ee::python::copy_byte_buffer(src, value.copy)) return false;
  value.view = value.copy;
  return true;
}

}  // namespace pybind11::detail

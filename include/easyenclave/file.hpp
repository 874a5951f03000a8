#pragma once
/// @file Whole-file reads and crash-safe writes, for CLIs, configs and state directories.
#include <easyenclave/error.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace ee {

/// Reads the whole file.
/// @returns errc::io_error with the path and the OS reason in its message, or errc::out_of_range
///          when the file exceeds `max_bytes`. Never throws (except bad_alloc).
result<std::string> read_file(std::filesystem::path const& path, std::size_t max_bytes = 64 * 1024 * 1024);

/// Writes `content` to a temporary file beside `path`, flushes it to disk, then renames it over
/// `path`, so readers see the old or the new content, never a torn file. `mode` applies to the
/// new file (0600 for keys and tokens). @returns errc::io_error naming the path. Never throws.
result<void> write_file_atomic(std::filesystem::path const& path, std::span<std::uint8_t const> content,
                               unsigned mode = 0644);
result<void> write_file_atomic(std::filesystem::path const& path, std::string_view content,
                               unsigned mode = 0644);

}  // namespace ee

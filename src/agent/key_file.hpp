#pragma once
// The agent's key across restarts of its process (key_file.cpp): a PEM file in memory the host
// cannot read (a tmpfs or ramfs inside the TD), created 0600 and owned by the agent's user.
#include <easyenclave/api/signing.hpp>
#include <easyenclave/error.hpp>

#include <filesystem>

namespace ee::agent::detail {

/// The key in `path`, or a new key written there (O_CREAT|O_EXCL 0600 beside it, then renamed)
/// when the file does not exist. The file's directory is created (0700) when missing, and must
/// be on a tmpfs or ramfs unless `allow_disk`. An existing file must be a regular file (not a
/// link), owned by the effective user, with no access for group or others, and hold a P-256
/// private key in PEM.
/// @returns the key; agent::errc::key_file_refused naming the path and what is wrong with it
///          (never its content). Never throws (except bad_alloc).
result<api::SigningKey> load_or_create_key_file(std::filesystem::path const& path, bool allow_disk,
                                                bool& created);

}  // namespace ee::agent::detail

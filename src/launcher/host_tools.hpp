#pragma once
// Finding the host's programs (qemu, xorriso, skopeo, ...) and quoting what they said when they
// failed. Shared by the VM lifecycle and the OCI image preparation.
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace ee::launcher::detail {

/// `name` itself when it holds a '/', else the first executable `name` on PATH; nullopt when
/// there is none. Never throws (except bad_alloc).
std::optional<std::filesystem::path> find_program(std::string_view name);

/// The last `max_bytes` of a tool's output with surrounding white space trimmed, for an error's
/// detail: the end of stderr is where tools say what went wrong.
std::string output_tail(std::string_view text, std::size_t max_bytes = 2000);

}  // namespace ee::launcher::detail

#pragma once
// One tdx::Verifier per trust root for every connect() in the process, so the PCK chains,
// collateral and QE reports it has verified are not verified again on the next connection.
#include <easyenclave/tdx/verify.hpp>

#include <cstddef>

namespace ee::client {

/// The process's verifier for `root`. Entries are keyed by the root's SHA-256 fingerprint (the
/// digest of its exact DER bytes), so a verifier only ever trusts the root it was made with; a
/// quote under another root gets that root's own verifier. At most `kMaxCachedRoots` roots are
/// kept, the least recently used dropped first. Thread-safe.
tdx::Verifier verifier_for(tdx::TrustedRoot const& root);

inline constexpr std::size_t kMaxCachedRoots = 8;

}  // namespace ee::client

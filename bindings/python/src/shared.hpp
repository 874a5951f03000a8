#pragma once
// What every binding shares for the life of the process: one HTTPS client (its connection pools
// serve every connect() and collateral download) and one collateral fetcher per PCS/PCCS base
// URL (its cache, which honours nextUpdate, serves Collateral.from_pcs, verify_quote and
// connect alike). Deliberately never destroyed: daemon threads may still use them while the
// interpreter exits, and static destructors must not tear the HTTP client down under them.
// Callable without the GIL.
#include <easyenclave/error.hpp>
#include <easyenclave/http/client.hpp>
#include <easyenclave/tdx/fetcher.hpp>

#include <memory>
#include <string>

namespace ee::python {

result<std::shared_ptr<http::Client>> shared_http_client();

/// The fetcher for `base` ("" or trailing slashes allowed; "" is Intel PCS).
result<tdx::CollateralFetcher> shared_collateral_fetcher(std::string base);

}  // namespace ee::python

// Fuzzes the boot configuration decoder (src/api/boot_config.cpp): a whole kernel command line as
// the agent reads it from /proc/cmdline (the host writes it, so it is outside input to the TD):
// the kernel's splitting and quoting, the easyenclave.config / easyenclave.configz parameters,
// base64, zlib inflation with its bound, and strict JSON; then the agent's configuration parser
// on what it decodes, as load_agent_config does. What decodes must encode and decode back to
// itself. The same bytes as a serial console (the guest writes it, the host reads it while `ee
// launch --wait-registered` waits): the failure line stays bounded and printable.
#include <easyenclave/api/agent_config.hpp>
#include <easyenclave/api/boot_config.hpp>
#include <easyenclave/launcher/launcher.hpp>

#include "fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  auto const progress = ee::launcher::read_boot_progress(ee_fuzz::as_text(data, size));
  ee_fuzz::check(progress.failure.size() <= 512, "a console failure line over its bound");
  for (char c : progress.failure) ee_fuzz::check(c >= 0x20 && c < 0x7f, "an unprintable byte in a failure line");
  auto decoded = ee::api::decode_boot_config(ee_fuzz::as_text(data, size));
  if (!decoded || !*decoded) return 0;
  auto const& json = **decoded;
  ee_fuzz::check(json.size() <= ee::api::kBootConfigMaxJson, "decoded config over the bound");
  auto param = ee::api::encode_boot_config(json);
  ee_fuzz::check(param.has_value(), "a decoded config does not encode");
  auto again = ee::api::decode_boot_config(*param);
  ee_fuzz::check(again.has_value() && again->has_value() && **again == json,
                 "a boot config does not round-trip");
  std::vector<std::string> unknown;
  if (auto config = ee::api::parse_agent_config(json, unknown))
    (void)ee::api::validate_agent_config(*config);
  return 0;
}

#!/bin/sh
# Side by side: easyenclave's uncached full DCAP verification (tdx::verify, from
# bench_quote_verify --uncached) and dcap-qvl's one-shot verify (bench/dcap_qvl, Rust, ring
# backend) on the same quote, collateral and clock, one after the other in the same run; prints
# both rates, their ratio and the shared limit (OpenSSL ECDSA P-256 verifications/s / 9).
# A benchmark tool only: never part of the build or `make test`. Without a Rust toolchain it
# prints a skip message and exits 0.
#
# Usage: bench/dcap_qvl.sh [bench_quote_verify binary]   (default: build/ci/bench/bench_quote_verify)
# Environment: CARGO (default: cargo on PATH, else ~/.cargo/bin/cargo), DCAP_QVL_SECONDS (1).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
ee_bench=${1:-$root/build/ci/bench/bench_quote_verify}
cargo=${CARGO:-}
if [ -z "$cargo" ]; then
  if command -v cargo >/dev/null 2>&1; then cargo=cargo
  elif [ -x "$HOME/.cargo/bin/cargo" ]; then cargo=$HOME/.cargo/bin/cargo
  fi
fi
if [ -z "$cargo" ]; then
  echo "dcap_qvl.sh: skipped: no Rust toolchain (cargo) found"
  exit 0
fi
if [ ! -x "$ee_bench" ]; then
  echo "dcap_qvl.sh: $ee_bench not built (cmake --build build/ci --target bench_quote_verify)" >&2
  exit 2
fi

data=$root/tests/data/attestation
quote=$data/quotes/tdx_v4_dcapqvl.dat
collateral=$data/collateral/dcapqvl_tdx_b0c06f000000.json
now=1752919234  # inside the collateral window, as in bench_quote_verify

# Built into build/, never into the source tree (Cargo.lock is committed; --locked keeps it).
target=$root/build/dcap_qvl
CARGO_TARGET_DIR=$target nice "$cargo" build --release --locked --quiet \
  --manifest-path "$root/bench/dcap_qvl/Cargo.toml"

ee_out=$("$ee_bench" "$root/tests/data" --uncached)
echo "$ee_out"
qvl_out=$("$target/release/dcap_qvl_bench" "$quote" "$collateral" "$now" "${DCAP_QVL_SECONDS:-1}")
echo "$qvl_out" | sed 's/^/  /' 

ee_rate=$(echo "$ee_out" | awk '/verify full, uncached \(tdx::verify\)/ { for (i = 1; i < NF; ++i) if ($(i + 1) == "/s") print $i }')
ee_cpu=$(echo "$ee_out" | awk '/verify full, uncached, CPU time/ { for (i = 1; i < NF; ++i) if ($(i + 1) == "/s") print $i }')
limit=$(echo "$ee_out" | awk '/^limit for uncached/ { print $(NF - 1) }')
limit_cpu=$(echo "$ee_out" | awk '/^by CPU time: limit/ { print $5 }')
qvl_rate=$(echo "$qvl_out" | awk '/^dcap-qvl 0.7.1 verify/ { sub("/s$", "", $NF); print $NF }')
qvl_cpu=$(echo "$qvl_out" | awk '/^dcap-qvl verify by CPU time/ { sub("/s$", "", $NF); print $NF }')
awk -v ee="$ee_rate" -v qvl="$qvl_rate" -v limit="$limit" \
    -v ee_cpu="$ee_cpu" -v qvl_cpu="$qvl_cpu" -v limit_cpu="$limit_cpu" 'BEGIN {
  printf "\nby CPU time (the fair comparison on a shared machine):\n"
  printf "  easyenclave tdx::verify %.0f/s, dcap-qvl %.0f/s: ratio %.2f\n", ee_cpu, qvl_cpu, ee_cpu / qvl_cpu
  printf "  limit (OpenSSL ECDSA / 9) %.0f/s: easyenclave %.2f of it, dcap-qvl %.2f\n", limit_cpu, ee_cpu / limit_cpu, qvl_cpu / limit_cpu
  printf "by wall clock:\n"
  printf "  easyenclave tdx::verify %.0f/s, dcap-qvl %.0f/s: ratio %.2f\n", ee, qvl, ee / qvl
  printf "  limit (OpenSSL ECDSA / 9) %.0f/s: easyenclave %.2f of it, dcap-qvl %.2f\n", limit, ee / limit, qvl / limit
}'

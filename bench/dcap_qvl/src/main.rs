//! dcap-qvl's uncached verification (`dcap_qvl::verify`: the one-shot API, everything parsed and
//! checked per call) of one quote with its collateral at a fixed clock, in a loop for about one
//! second; prints verifications per second. Every verification must end "UpToDate" or the
//! program exits non-zero, like bench_quote_verify. Also prints ring's raw ECDSA P-256
//! verifications per second (a key and signature made once, the message the quote's signed
//! bytes): the crypto dcap-qvl runs on, so ring ECDSA / 9 is dcap-qvl's own limit.
//!
//! Usage: dcap_qvl_bench QUOTE COLLATERAL_JSON NOW_UNIX_SECONDS [SECONDS]
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use std::time::{Duration, Instant};

/// The process's CPU time in seconds (single-threaded: this thread's). On a loaded machine a
/// program gets a varying share of a core; two programs run one after the other compare fairly
/// only by the CPU time they used.
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Calls `op` in batches of 16 until `budget` of CPU time is used; returns calls per CPU second.
fn cpu_rate(budget: Duration, mut op: impl FnMut()) -> f64 {
    let start = cpu_seconds();
    let mut count: u64 = 0;
    let mut used = 0.0;
    while used < budget.as_secs_f64() {
        for _ in 0..16 {
            op();
        }
        count += 16;
        used = cpu_seconds() - start;
    }
    count as f64 / used
}

/// Calls `op` in batches of 16 for `budget`; returns calls per second.
fn rate(budget: Duration, mut op: impl FnMut()) -> (u64, f64) {
    for _ in 0..16 {
        op(); // warm-up: page faults, allocator
    }
    let start = Instant::now();
    let mut count: u64 = 0;
    while start.elapsed() < budget {
        for _ in 0..16 {
            op();
        }
        count += 16;
    }
    (count, count as f64 / start.elapsed().as_secs_f64())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: {} QUOTE COLLATERAL_JSON NOW [SECONDS]", args[0]);
        std::process::exit(2);
    }
    let quote = std::fs::read(&args[1]).expect("read the quote");
    let json = std::fs::read(&args[2]).expect("read the collateral");
    // The bundle is dcap-qvl's own QuoteCollateralV3 serialisation (tests/data/attestation
    // copies dcap-qvl's sample file unchanged), so it deserialises directly.
    let collateral: dcap_qvl::QuoteCollateralV3 =
        serde_json::from_slice(&json).expect("collateral is a QuoteCollateralV3");
    let now: u64 = args[3].parse().expect("NOW is unix seconds");
    let budget = Duration::from_secs_f64(args.get(4).map_or(1.0, |s| s.parse().expect("SECONDS")));

    let check = |quote: &[u8]| {
        let report = dcap_qvl::verify::verify(quote, &collateral, now).unwrap_or_else(|e| {
            eprintln!("dcap-qvl rejected the quote: {e:#}");
            std::process::exit(1);
        });
        if report.status != "UpToDate" {
            eprintln!("dcap-qvl verdict {} (expected UpToDate)", report.status);
            std::process::exit(1);
        }
    };
    let (count, per_second) = rate(budget, || check(std::hint::black_box(&quote)));
    println!(
        "dcap-qvl 0.7.1 verify (ring), uncached: {count} verifications in {:.2} s = {per_second:.0}/s",
        count as f64 / per_second
    );

    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .expect("generate a P-256 key");
    let key = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("load the P-256 key");
    let message = &quote[..quote.len().min(632)]; // header + TD report: what the quote signs
    let sig = key.sign(&rng, message).expect("sign");
    let public = UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, key.public_key().as_ref().to_vec());
    let (_, ecdsa) = rate(budget / 2, || {
        if public.verify(std::hint::black_box(message), sig.as_ref()).is_err() {
            eprintln!("ring rejected its own signature");
            std::process::exit(1);
        }
    });
    println!("ring ECDSA P-256 verify: {ecdsa:.0}/s (/ 9 = {:.0}/s)", ecdsa / 9.0);

    let per_cpu_second = cpu_rate(budget, || check(std::hint::black_box(&quote)));
    println!("dcap-qvl verify by CPU time: {per_cpu_second:.0}/s");
}

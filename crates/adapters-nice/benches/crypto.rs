//! NICE's crypto steps, one request and one result: `cargo xtask bench` gathers the rows into the
//! crypto table of `docs/PERFORMANCE.md`.
//!
//! `cargo bench -p bonin-adapters-nice --bench crypto -- [--budget-ms MS]`
//!
//! Each case runs in five batches sized to take about `MS` milliseconds in all (default 1500 under
//! `cargo bench`, 5 under `cargo test`); the row is the median batch's time per call. Prints one
//! Markdown row per case: case, time per operation, iterations.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a bench prints its rows

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use bonin_adapters_nice::crypto;

/// `cargo bench` passes `--bench`; `cargo test` (which runs bench targets too) does not.
fn budget() -> Result<Duration, String> {
    let mut bench = false;
    let mut millis = std::env::var("BONIN_BENCH_BUDGET_MS").ok();
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "--bench" => bench = true,
            "--budget-ms" => millis = Some(argv.next().ok_or("--budget-ms needs a number")?),
            _ => {} // test-harness flags and filters from `cargo test`
        }
    }
    match millis {
        Some(text) => text.parse().map(Duration::from_millis).map_err(|_| format!("bad budget {text:?}")),
        None => Ok(Duration::from_millis(if bench { 1500 } else { 5 })),
    }
}

fn human(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns >= 1_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else if ns >= 1_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{ns} ns")
    }
}

/// Runs `f` in batches for about `budget` and prints the median batch's time per call.
fn measure(name: &str, budget: Duration, mut f: impl FnMut()) {
    f(); // warm-up
    let probe = Instant::now();
    f();
    let one = probe.elapsed().max(Duration::from_nanos(50));
    let batch = u32::try_from(((budget.as_nanos() / 7) / one.as_nanos()).clamp(1, 1_000_000)).unwrap_or(1);
    let mut samples = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..batch {
            f();
        }
        samples.push(started.elapsed() / batch);
    }
    samples.sort();
    println!("| {name} | {} | {} |", human(samples[2]), u64::from(batch) * 5);
}

fn bench(budget: Duration) -> Result<(), String> {
    let plaintext = br#"{"requestno":"vf0000000000000000000000000a","returnurl":"https://id.example/v1/verifications/vf0000000000000000000000000a/return","sitecode":"Q0cyMzI=","methodtype":"post","popupyn":"Y"}"#;
    measure("NICE derive keys + AES-128-CBC + HMAC (request)", budget, || {
        let keys = crypto::derive_session_keys(
            "20260101120000",
            "vf0000000000000000000000000a",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        );
        let enc = keys.encrypt(plaintext).unwrap_or_default();
        std::hint::black_box(keys.integrity_value(&enc));
    });
    let keys = crypto::derive_session_keys(
        "20260101120000",
        "vf0000000000000000000000000a",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    let result = r#"{"resultcode":"0000","requestno":"vf0000000000000000000000000a","enctime":"20260101120100","sitecode":"Q0cyMzI=","responseno":"ABCDEF0123456789ABCDEF01","authtype":"M","name":"홍길동","utf8_name":"%ED%99%8D%EA%B8%B8%EB%8F%99","birthdate":"19900215","gender":"1","nationalinfo":"0","mobileco":"1","mobileno":"01012345678","ci":"CF/1vXJ4c4gxspHOjBpoB7qS9ROYgF9ooDlX0ztSIuE/RXVQavz4YhfMXqwY+WtJEDTZ475JNWxkakU7/YvpkAAA","di":"6261494DDB406F50CAA58DD52CFA93A735FDE90ED0D977992DCDA10D673FC2B3"}"#;
    let (euc_kr, _, _) = encoding_rs::EUC_KR.encode(result);
    let enc = keys.encrypt(&euc_kr).map_err(|e| e.to_string())?;
    let mac = keys.integrity_value(&enc);
    measure("NICE verify HMAC + AES-128-CBC + EUC-KR decode (result)", budget, || {
        keys.verify_integrity(&enc, &mac).ok();
        let plain = keys.decrypt(&enc).unwrap_or_default();
        std::hint::black_box(encoding_rs::EUC_KR.decode_without_bom_handling_and_without_replacement(&plain));
    });
    Ok(())
}

fn main() -> ExitCode {
    match budget().and_then(bench) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("crypto: {message}");
            ExitCode::FAILURE
        }
    }
}

//! `bonin-bench`, run by `cargo xtask bench [--quick]`: measurements behind every performance
//! statement in `docs/PERFORMANCE.md`.
//!
//! - `bonin serve` as a process ([`service`]) and whole flows through it for every registered
//!   provider with a window ([`flows`]).
//! - The bench targets of the crates: every `crates/*/benches/floor.rs` (a minimal client doing a
//!   provider's raw exchanges, the floor beside bonin's flows) and every `crates/*/benches/crypto.rs`
//!   (crypto microbenchmarks). Each prints Markdown table rows (lines starting with `|`); anything
//!   else a crypto bench prints is a note appended after the crypto table.
//!
//! The full run is a release build of this driver (`cargo run --release -p bonin-bench`): it
//! builds `bonin` in release, runs the bench targets with `cargo bench` (release) and writes
//! `docs/PERFORMANCE.md`; `--quick` runs every case with tiny counts in the debug build, the bench
//! targets through `cargo test`, and writes nothing, so the harness cannot rot.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command line prints

mod flows;
mod service;

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::Duration,
};

use crate::flows::FlowRow;

/// The workspace root (this package is `tools/bench`).
pub(crate) fn project_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().nth(2).map_or(manifest.clone(), Path::to_path_buf)
}

pub(crate) fn human(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns >= 1_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else if ns >= 1_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{ns} ns")
    }
}

/// Reads back what [`human`] wrote.
pub(crate) fn parse_human(text: &str) -> Option<Duration> {
    let (number, unit) = text.trim().split_once(' ')?;
    let number: f64 = number.parse().ok()?;
    let nanos = match unit {
        "ms" => number * 1e6,
        "µs" => number * 1e3,
        "ns" => number,
        _ => return None,
    };
    (nanos.is_finite() && nanos >= 0.0).then(|| Duration::from_secs_f64(nanos / 1e9))
}

/// The packages with a `benches/<name>.rs`, by package name, in directory order.
fn packages_with_bench(name: &str) -> Vec<String> {
    let mut dirs: Vec<_> = fs::read_dir(project_root().join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|dir| dir.join(format!("benches/{name}.rs")).is_file())
        .collect();
    dirs.sort();
    dirs.iter()
        .filter_map(|dir| {
            let manifest = fs::read_to_string(dir.join("Cargo.toml")).ok()?;
            let package = manifest.lines().find_map(|line| line.trim().strip_prefix("name = "))?;
            Some(package.trim_matches('"').to_owned())
        })
        .collect()
}

/// What the bench targets named `name` printed: their table rows, and everything else.
struct BenchOutput {
    rows: Vec<String>,
    notes: String,
}

/// Runs every `crates/*/benches/<name>.rs` with `args`: each with `cargo bench` (release) in the
/// full run; all at once with `cargo test` in the quick run, which reuses the debug build CI's
/// tests made.
fn run_bench_targets(name: &str, quick: bool, args: &[String]) -> Result<BenchOutput, String> {
    let packages = packages_with_bench(name);
    if packages.is_empty() {
        return Err(format!("no crate has benches/{name}.rs"));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let invocations: Vec<Vec<String>> = if quick {
        vec![["test", "-q", "--workspace", "--all-features", "--bench", name, "--"].map(String::from).to_vec()]
    } else {
        packages
            .iter()
            .map(|package| ["bench", "-q", "-p", package, "--bench", name, "--"].map(String::from).to_vec())
            .collect()
    };
    let mut output = BenchOutput { rows: Vec::new(), notes: String::new() };
    for mut invocation in invocations {
        invocation.extend(args.iter().cloned());
        println!("==> cargo {}", invocation.join(" "));
        let run = Command::new(&cargo)
            .args(&invocation)
            .current_dir(project_root())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        if !run.status.success() {
            return Err(format!("`cargo {}` failed ({})", invocation.join(" "), run.status));
        }
        for line in String::from_utf8_lossy(&run.stdout).lines() {
            if line.trim_start().starts_with('|') {
                output.rows.push(line.trim().to_owned());
            } else {
                output.notes.push_str(line);
                output.notes.push('\n');
            }
        }
    }
    output.notes = output.notes.trim().to_owned();
    Ok(output)
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn openssl_reference() -> String {
    match command_output("openssl", &["speed", "-seconds", "2", "rsa2048"]) {
        Some(text) => {
            text.lines().filter(|l| l.starts_with("rsa") || l.contains("sign/s")).collect::<Vec<_>>().join("\n")
        }
        None => "openssl not available".into(),
    }
}

fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let rustc = command_output("rustc", &["--version"]).unwrap_or_default();
    format!("{cores} cores, {cpu}; {rustc}")
}

fn service_table(service: &crate::service::ServiceFigures) -> String {
    let mut table = format!(
        "| measurement | result |\n|---|---|\n\
         | cold start, sandbox profile, to `/readyz` = 200 | {} |\n\
         | resident memory per pending verification, memory store ({} pending) | {:.0} bytes |\n\
         | resident memory per pending verification, SQLite store ({} pending) | {:.0} bytes |\n\
         | SQLite file size per pending verification | {:.0} bytes |\n",
        human(service.cold_start),
        service.pending,
        service.memory_bytes_per_pending,
        service.pending,
        service.sqlite_bytes_per_pending,
        service.sqlite_file_bytes_per_pending,
    );
    if let Some(tokens) = &service.tokens {
        let _ = write!(
            table,
            "| `{p}` token fetches (token-cache misses) for {n} window starts | {} |\n\
             | `{p}` token requests answered from the cache for {n} window starts | {} |\n",
            tokens.fetches,
            tokens.hits,
            p = tokens.provider,
            n = tokens.starts,
        );
    }
    table
}

/// The whole run; `quick`: tiny counts, nothing written.
fn run(quick: bool) -> Result<(), String> {
    let service = crate::service::measure(quick)?;
    let service_table = service_table(&service);
    println!("{service_table}");
    let plan = crate::flows::plan(quick);
    let bin = crate::service::binary(!quick)?;
    let mut flow_rows = crate::flows::measure(quick, &bin)?;
    let plan_arg = plan.iter().map(|(c, n)| format!("{c}:{n}")).collect::<Vec<_>>().join(",");
    let floor = run_bench_targets("floor", quick, &["--plan".into(), plan_arg])?;
    for line in &floor.rows {
        flow_rows.push(FlowRow::parse(line).ok_or_else(|| format!("a floor bench printed an odd row: {line}"))?);
    }
    let flows = crate::flows::render(&flow_rows);
    println!("{flows}");
    let budget = if quick { "20" } else { "1500" };
    let crypto = run_bench_targets("crypto", quick, &["--budget-ms".into(), budget.into()])?;
    let mut crypto_table = String::from("| case | time per operation | iterations |\n|---|---|---|\n");
    for row in &crypto.rows {
        let _ = writeln!(crypto_table, "{row}");
    }
    println!("{crypto_table}\n{}", crypto.notes);
    if quick {
        println!("bench --quick: every case ran; nothing written");
        return Ok(());
    }
    let reference = openssl_reference();
    let tokens = match &service.tokens {
        Some(tokens) => format!(
            " The token economy is read from `/metrics` (`bonin_token_cache_*_total`) after window starts of \
             `{}`, the first registered provider with a window whose client holds a token.",
            tokens.provider
        ),
        None => String::new(),
    };
    let doc = format!(
        "# Performance\n\n\
         Every figure here was produced by one run of `cargo xtask bench` (release build) and is rewritten \
         by the next; no test asserts a time.\n\n\
         Machine: {}.\n\n\
         ## Whole flows, and the raw floor\n\n\
         Each flow, for every registered provider with a window: start through the REST API, the simulated \
         window played as a persona (`POST /_sandbox/play`), the return landing, the identity read; for \
         every provider with app approval: start, the approval in the simulated app (`/_sandbox/play`), \
         reads until bonin has polled it, the identity read (such a flow's CPU is mostly its simulator's \
         RSA private-key operations on the session keys). `bonin` \
         rows charge the CPU time of the `bonin serve` process, which in its sandbox profile runs the \
         simulators in process (no separate `bonin sandbox` process). `floor` rows come from the adapter \
         crates' `benches/floor.rs`: a minimal client doing the same provider exchanges with plain reqwest \
         and the crypto (no service, no store) against the same simulator started in its own process, \
         charged with that process's CPU time; both sides therefore include the simulator's work. \
         PostgreSQL and Redis rows appear when `BONIN_TEST_POSTGRES_URL` / `BONIN_TEST_REDIS_URL` are set.\n\n\
         {flows}\n\
         ## The service as a process\n\n\
         `bonin serve` (release build) started by the bench; pending verifications are OTP sessions of \
         `{}` (the first registered provider with the OTP method) started through the REST API and not \
         yet sent; memory is the growth of the process's resident set while they were created.{tokens}\n\n\
         {service_table}\n\
         ## Crypto\n\n\
         The adapter crates' `benches/crypto.rs`; median time per operation over five batches.\n\n\
         {crypto_table}\n\
         Reference, `openssl speed -seconds 2 rsa2048` on the same machine:\n\n```\n{reference}\n```\n\n{}\n",
        machine(),
        service.pending_provider,
        crypto.notes,
    );
    fs::write(project_root().join("docs/PERFORMANCE.md"), doc)
        .map_err(|e| format!("writing docs/PERFORMANCE.md: {e}"))?;
    println!("wrote docs/PERFORMANCE.md");
    Ok(())
}

const USAGE: &str = "usage: bonin-bench [--quick]  (run it as `cargo xtask bench [--quick]`)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => run(false),
        ["--quick"] => run(true),
        _ => Err(format!("unknown arguments {args:?}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bonin-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_back_as_written() {
        for nanos in [0, 850, 232_100, 2_670_000, 1_229_060_000] {
            let d = Duration::from_nanos(nanos);
            assert_eq!(parse_human(&human(d)).map(human), Some(human(d)));
        }
        assert_eq!(parse_human("3 weeks"), None);
    }

    #[test]
    fn a_floor_row_parses() {
        let row = FlowRow::parse("| floor · acme · c=64 | 2000 | 10331 | 6.08 ms | 10.31 ms | 105.0 µs |");
        let row = row.map(|r| (r.label, r.flows, human(r.p50), human(r.cpu_per_flow)));
        assert_eq!(row, Some(("floor · acme · c=64".to_owned(), 2000, "6.08 ms".to_owned(), "105.0 µs".to_owned())));
    }
}

//! Repository automation: `cargo xtask <codegen [--check] | tidy | ci | release | msrv | bench | fuzz>`.
//! `release` reaches crates.io for the publish dry run unless `CARGO_NET_OFFLINE=true`.
//!
//! Lean on purpose: xtask depends on no bonin crate and no runtime (only `serde_json`, to read
//! `cargo metadata`), so building it compiles none of the product: `cargo xtask tidy` compiles
//! xtask alone. What needs the product runs as cargo commands in the workspace's own builds: the
//! generated documents are a test of bonin-app (`crates/app/tests/generated.rs`, which `codegen`
//! runs with the features of CI's test build, so after `cargo xtask ci` nothing is rebuilt), the
//! bench is `tools/bench`.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command line prints

mod bench;
mod ci;
mod codegen;
mod fuzz;
mod release;
mod tidy;

use std::{path::PathBuf, process::ExitCode};

/// The workspace root (xtask lives one level below it).
pub(crate) fn project_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

const USAGE: &str = "usage: cargo xtask <command>

commands:
  codegen [--check]  regenerate docs/openapi.json, docs/CONFIG.md, docs/ERRORS.md (--check: fail if any is
                     stale); both run bonin-app's test `generated`, which every `cargo test` also runs
  tidy               check repository rules (dependency direction, no printing in libraries, ...)
  ci                 everything CI runs: fmt, tidy, clippy -D warnings, all tests (the generated files are
                     checked there), doc tests, docs, the examples, the default build without simulators,
                     release checks, msrv, bench --quick
                     (the tests need node and npm for a provider's npm SDK check; BONIN_SKIP_NODE=1 skips it)
  release            release checks: packages, publish dry run, cargo deny, each feature alone (cargo hack)
  msrv               cargo check with the toolchain rust-version names
  bench [--quick]    run tools/bench for docs/PERFORMANCE.md (release build; --quick: a debug smoke run that
                     writes nothing)
  fuzz [--cases N]   the parser property tests in release, N cases each (default: a million in all)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["codegen"] => codegen::run(codegen::Mode::Write),
        ["codegen", "--check"] => codegen::run(codegen::Mode::Check),
        ["tidy"] => tidy::run_all(),
        ["ci"] => ci::run(),
        ["release"] => release::run(),
        ["msrv"] => release::msrv(),
        ["bench"] => bench::run(false),
        ["bench", "--quick"] => bench::run(true),
        ["fuzz", rest @ ..] => fuzz::run(rest),
        [] | ["-h" | "--help" | "help"] => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => Err(format!("unknown arguments {args:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

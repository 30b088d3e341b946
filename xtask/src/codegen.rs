//! `cargo xtask codegen [--check]`: the generated documents (`docs/openapi.json`, `docs/CONFIG.md`,
//! `docs/ERRORS.md`) are produced and checked by bonin-app's test `crates/app/tests/generated.rs`,
//! so xtask compiles none of the product. `--check` runs that test (it fails naming the stale
//! files); without it the test runs with `BONIN_UPDATE_GENERATED=1` and rewrites them.
//!
//! The test also runs in every `cargo test`, which is how `cargo xtask ci` checks the files.

use std::process::Command;

use crate::project_root;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Write,
    Check,
}

/// The `cargo test` that generates: the same features as CI's test run, so after `cargo xtask ci`
/// (or `cargo test --workspace --all-features`) nothing needs building.
pub(crate) fn test_args() -> [&'static str; 7] {
    ["test", "--workspace", "--all-features", "--locked", "--test", "generated", "--quiet"]
}

pub(crate) fn run(mode: Mode) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(test_args()).current_dir(project_root());
    if mode == Mode::Write {
        command.env("BONIN_UPDATE_GENERATED", "1").args(["--", "--nocapture"]);
    } else {
        command.env_remove("BONIN_UPDATE_GENERATED");
    }
    println!(
        "==> cargo {}{}",
        test_args().join(" "),
        if mode == Mode::Write { " (BONIN_UPDATE_GENERATED=1)" } else { "" }
    );
    let status = command.status().map_err(|e| format!("could not run cargo: {e}"))?;
    match (status.success(), mode) {
        (true, _) => Ok(()),
        (false, Mode::Check) => {
            Err("the generated-files test failed (see above); if files are stale, run `cargo xtask codegen`".into())
        }
        (false, Mode::Write) => Err(format!("generating failed ({status})")),
    }
}

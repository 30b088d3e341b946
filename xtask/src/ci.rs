//! `cargo xtask ci`: what CI runs, in order, stopping at the first failure.

use std::process::Command;

use crate::{project_root, tidy};

fn cargo(args: &[&str]) -> Result<(), String> {
    cargo_with_env(args, &[])
}

fn cargo_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("\n==> cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(project_root())
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`cargo {}` failed ({status})", args.join(" "))) }
}

pub(crate) fn run() -> Result<(), String> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    println!("\n==> tidy");
    tidy::run_all()?;
    cargo(&["clippy", "--workspace", "--all-targets", "--all-features", "--locked", "--", "-D", "warnings"])?;
    // Includes bonin-app's test `generated`: the generated documents are checked here (what
    // `cargo xtask codegen --check` runs on its own).
    cargo(&["test", "--workspace", "--all-targets", "--all-features", "--locked"])?;
    cargo(&["test", "--workspace", "--doc", "--all-features", "--locked"])?;
    cargo_with_env(
        &["doc", "--workspace", "--no-deps", "--all-features", "--locked"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    for example in examples()? {
        cargo(&["run", "--quiet", "--locked", "-p", "bonin-examples", "--example", &example])?;
    }
    // Alone, so that its build has exactly the features docs/EMBEDDING.md shows an embedder.
    cargo(&["run", "--quiet", "--locked", "-p", "bonin-example-minimal"])?;
    // The default `bonin` (no simulators) refuses the sandbox profile and says what to do.
    cargo(&["test", "--locked", "-p", "bonin-app", "--test", "without_sandbox"])?;
    println!("\n==> release checks");
    crate::release::run()?;
    println!("\n==> msrv");
    crate::release::msrv()?;
    println!("\n==> bench --quick");
    crate::bench::run(true)?;
    println!("\nci: all checks passed");
    Ok(())
}

/// Every example of `examples/Cargo.toml` (its `[[example]]` names).
fn examples() -> Result<Vec<String>, String> {
    let manifest = std::fs::read_to_string(crate::project_root().join("examples/Cargo.toml"))
        .map_err(|e| format!("examples/Cargo.toml: {e}"))?;
    let mut names = Vec::new();
    let mut in_example = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_example = line == "[[example]]";
        } else if in_example && let Some(name) = line.strip_prefix("name = ") {
            names.push(name.trim_matches('"').to_owned());
        }
    }
    if names.is_empty() {
        return Err("examples/Cargo.toml lists no [[example]]".into());
    }
    Ok(names)
}

//! `cargo xtask bench [--quick]`: runs the benchmark driver `bonin-bench` (`tools/bench`), which
//! writes `docs/PERFORMANCE.md`. The full run is a release build; `--quick` (CI's smoke run, which
//! writes nothing) stays in the debug build.

use std::process::Command;

use crate::project_root;

pub(crate) fn run(quick: bool) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let args: &[&str] = if quick {
        &["run", "-q", "--locked", "-p", "bonin-bench", "--", "--quick"]
    } else {
        &["run", "--release", "-q", "--locked", "-p", "bonin-bench"]
    };
    println!("==> cargo {}", args.join(" "));
    let status = Command::new(cargo)
        .args(args)
        .current_dir(project_root())
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("the bench failed ({status})")) }
}

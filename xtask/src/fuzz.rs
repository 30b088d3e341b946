//! `cargo xtask fuzz [--cases N]`: the property tests of every parser of outside input
//! (`crates/*/tests/prop_parsers.rs`) as a long campaign: a release build, `N` cases per property
//! (by default enough for a million in all), and the count each property reports it actually ran.
//!
//! Each property runs through the harness in `bonin_sandbox::fuzz` (cargo feature `fuzz`), which
//! appends `<crate> <property> <cases> <ok|FAILED>` to the file named by `BONIN_FUZZ_REPORT`; the
//! total printed is the sum of those lines, not a product of settings.

use std::{collections::BTreeMap, fs, process::Command};

use crate::project_root;

/// The crates with a `tests/prop_parsers.rs`, by package name.
fn packages() -> Vec<String> {
    let mut packages: Vec<String> = fs::read_dir(project_root().join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|dir| dir.join("tests/prop_parsers.rs").is_file())
        .filter_map(|dir| {
            let manifest = fs::read_to_string(dir.join("Cargo.toml")).ok()?;
            let name = manifest.lines().find_map(|line| line.trim().strip_prefix("name = "))?;
            Some(name.trim_matches('"').to_owned())
        })
        .collect();
    packages.sort();
    packages
}

/// Cases across all properties that a campaign should reach.
const GOAL: u64 = 1_000_000;

fn cargo_test_args(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["test", "--release", "--locked", "--all-features"].map(String::from).to_vec();
    for package in packages() {
        args.extend(["-p".to_owned(), package]);
    }
    args.extend(["--test", "prop_parsers", "--"].map(String::from));
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(project_root());
    command
}

/// Builds the test binaries and lists their properties (the tests named `prop_*`), each with how
/// many crates have one of that name.
fn properties() -> Result<BTreeMap<String, usize>, String> {
    println!("==> building the property tests (release)");
    let output = cargo()
        .args(cargo_test_args(&["--list", "--format", "terse"]))
        .output()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "listing the property tests failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut properties = BTreeMap::new();
    for name in String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .filter(|name| name.starts_with("prop_"))
    {
        *properties.entry(name.to_owned()).or_insert(0) += 1;
    }
    Ok(properties)
}

/// One line of the report.
struct Ran {
    package: String,
    property: String,
    cases: u64,
    passed: bool,
}

fn read_report(text: &str) -> Result<Vec<Ran>, String> {
    text.lines()
        .map(|line| {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next().map(str::parse::<u64>), parts.next()) {
                (Some(package), Some(property), Some(Ok(cases)), Some(result)) => Ok(Ran {
                    package: package.to_owned(),
                    property: property.to_owned(),
                    cases,
                    passed: result == "ok",
                }),
                _ => Err(format!("unreadable fuzz report line: {line}")),
            }
        })
        .collect()
}

pub(crate) fn run(args: &[&str]) -> Result<(), String> {
    let requested = match args {
        [] => None,
        ["--cases", n] => Some(
            n.parse::<u64>()
                .ok()
                .filter(|n| *n > 0 && *n <= u64::from(u32::MAX))
                .ok_or_else(|| format!("--cases needs a whole number from 1 to {}, not {n:?}", u32::MAX))?,
        ),
        _ => return Err("usage: cargo xtask fuzz [--cases N]".into()),
    };
    let properties = properties()?;
    if properties.is_empty() {
        return Err("no property tests (prop_*) found".into());
    }
    let count = properties.values().sum::<usize>() as u64;
    let cases = requested.unwrap_or_else(|| GOAL.div_ceil(count));
    let report = project_root().join("target").join("fuzz-report.txt");
    if report.exists() {
        fs::remove_file(&report).map_err(|e| format!("could not remove {}: {e}", report.display()))?;
    }
    println!("==> {count} properties × {cases} cases (release)");
    let started = std::time::Instant::now();
    let status = cargo()
        .args(cargo_test_args(&[]))
        .env("BONIN_FUZZ_CASES", cases.to_string())
        .env("BONIN_FUZZ_REPORT", &report)
        .env("RUST_BACKTRACE", "0")
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    let text = fs::read_to_string(&report).unwrap_or_default();
    let ran = read_report(&text)?;
    let fuzzed = packages();
    if let Some(stray) = ran.iter().find(|r| !fuzzed.contains(&r.package)) {
        return Err(format!("{} reported {}, but it is not one of the fuzzed crates", stray.package, stray.property));
    }
    println!("\n{:<26} {:<44} {:>12}  result", "crate", "property", "cases");
    for r in &ran {
        let result = if r.passed { "ok" } else { "FAILED" };
        println!("{:<26} {:<44} {:>12}  {result}", r.package, r.property, r.cases);
    }
    let total: u64 = ran.iter().map(|r| r.cases).sum();
    let silent: Vec<&str> = properties
        .iter()
        .filter(|(name, listed)| ran.iter().filter(|r| &r.property == *name).count() < **listed)
        .map(|(name, _)| name.as_str())
        .collect();
    let failed = ran.iter().filter(|r| !r.passed).count();
    let passed = status.success() && failed == 0 && silent.is_empty();
    println!(
        "\nfuzz: {total} cases across {} properties in {:.0?}: {}",
        ran.len(),
        started.elapsed(),
        if passed { "all passed" } else { "FAILED" }
    );
    if total < GOAL {
        println!("fuzz: below the {GOAL}-case goal of a campaign; raise --cases");
    }
    if passed {
        Ok(())
    } else if !silent.is_empty() {
        Err(format!("{failed} properties failed; {} reported nothing: {}", silent.len(), silent.join(", ")))
    } else {
        Err(format!("{failed} properties failed (cargo test: {status})"))
    }
}

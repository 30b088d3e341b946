//! The release checks: everything publishing the crates needs, short of the upload.
//!
//! 1. The members with `publish = false` are exactly [`UNPUBLISHED`]; every other member is
//!    published, so a new crate is checked as one until it says otherwise.
//! 2. `cargo package --list` of each published crate holds its manifest, `src/lib.rs`, its
//!    `README.md` and both license files (`LICENSE-MIT` and `LICENSE-APACHE` are symlinks to the
//!    root's, which `cargo package` follows).
//! 3. `cargo package` of all of them together, verified: each `.crate` is unpacked and built with
//!    all its features, alone, against the other bonin crates as packaged (cargo's local overlay
//!    registry) and the rest from crates.io. This catches a file outside the crate or left out of
//!    the package, a dependency without a version, and a manifest that does not survive
//!    normalization. Offline: the lockfile comes from the registry index cargo already has.
//! 4. `cargo publish --dry-run` of the same set, which also asks crates.io about each crate. It needs
//!    the registry, so it is skipped, and says so, when `CARGO_NET_OFFLINE` is true.
//! 5. `cargo deny check licenses bans sources` (`deny.toml`). The advisories check needs the RustSec
//!    database from the network and is left to `cargo deny check advisories` where it is reachable
//!    (docs/RELEASING.md).
//! 6. `cargo hack check --each-feature` over the published crates and [`ALSO_FEATURE_CHECKED`]:
//!    each feature alone, no default features, and the defaults, for libraries and binaries.
//!    Without `--no-dev-deps`, which would rewrite the members' `Cargo.toml` while it runs: under
//!    resolver 3 dev-dependencies take no part in the features of a build without tests, so the
//!    result is the same.
//!
//! [`msrv`], apart: the workspace built with the toolchain `rust-version` names (docs/MSRV.md).
//!
//! Limits: no check builds a crate against the bonin crates as they are on crates.io (nothing is
//! published yet), and the dry run does not prove that the names are still free there. Each crate
//! is packaged only within the set: on its own, a crate whose bonin dependencies are not on
//! crates.io cannot be resolved, so the set is what `cargo publish` must be given.

use std::{collections::BTreeSet, fs, path::PathBuf, process::Command};

use serde_json::Value;

use crate::project_root;

/// The members that are not published, each saying why next to its `publish = false`.
const UNPUBLISHED: &[&str] =
    &["bonin-app", "bonin-sandbox", "bonin-examples", "bonin-example-minimal", "bonin-bench", "xtask"];

/// Unpublished, but its features are checked one by one like a published crate's: the service.
const ALSO_FEATURE_CHECKED: &[&str] = &["bonin-app"];

/// What every published crate's package must hold.
const REQUIRED_FILES: &[&str] = &["Cargo.toml", "src/lib.rs", "README.md", "LICENSE-MIT", "LICENSE-APACHE"];

/// Pinned tool versions, as `.ci/run` installs them.
const TOOLS: &[(&str, &str)] = &[("deny", "cargo-deny@0.20.2"), ("hack", "cargo-hack@0.6.46")];

/// The target directory of the package builds, apart from the workspace's: see
/// [`forget_previous_packages`].
const PACKAGE_TARGET_DIR: &str = "target/release-check";

pub(crate) fn run() -> Result<(), String> {
    for (subcommand, package) in TOOLS {
        if cargo_output(&[subcommand, "--version"]).is_err() {
            return Err(format!("`cargo {subcommand}` is missing: cargo install --locked {package}"));
        }
    }
    println!("\n==> published crates");
    let published = published_crates()?;
    for krate in &published {
        package_holds_required_files(krate)?;
    }
    let published: Vec<&str> = published.iter().map(String::as_str).collect();
    forget_previous_packages(&published)?;
    let selected: Vec<&str> = published.iter().flat_map(|krate| ["-p", *krate]).collect();
    let mut package =
        vec!["package", "--allow-dirty", "--locked", "--offline", "--all-features", "--target-dir", PACKAGE_TARGET_DIR];
    package.extend(&selected);
    cargo(&package)?;
    if offline() {
        println!("\n==> cargo publish --dry-run: skipped, CARGO_NET_OFFLINE is set (it asks crates.io)");
    } else {
        let mut publish = vec![
            "publish",
            "--dry-run",
            "--no-verify",
            "--allow-dirty",
            "--locked",
            "--target-dir",
            PACKAGE_TARGET_DIR,
        ];
        publish.extend(&selected);
        cargo(&publish)?;
    }
    cargo(&["deny", "--frozen", "check", "licenses", "bans", "sources"])?;
    let mut hack = vec!["hack", "check", "--each-feature", "--locked"];
    hack.extend(&selected);
    hack.extend(ALSO_FEATURE_CHECKED.iter().flat_map(|krate| ["-p", *krate]));
    cargo(&hack)?;
    println!("\nrelease: all checks passed");
    Ok(())
}

/// `cargo check` of every library and binary, all features, with the toolchain `rust-version`
/// declares (`rustup toolchain install <version> --profile minimal`; `.ci/run` does), in
/// `target/msrv`. Tests are left to clippy's `incompatible_msrv` lint on the current toolchain,
/// which refuses any standard-library item newer than `rust-version` in every target.
pub(crate) fn msrv() -> Result<(), String> {
    let manifest = fs::read_to_string(project_root().join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?;
    let version = rust_version(&manifest).ok_or("Cargo.toml declares no [workspace.package] rust-version")?;
    let args =
        ["run", version, "cargo", "check", "--workspace", "--all-features", "--locked", "--target-dir", "target/msrv"];
    println!("\n==> rustup {}", args.join(" "));
    let status = Command::new("rustup")
        .args(args)
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .env_remove("CARGO")
        .current_dir(project_root())
        .status()
        .map_err(|e| format!("could not run rustup: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "the workspace does not build with Rust {version}, its rust-version ({status}); \
             is the toolchain installed? rustup toolchain install {version} --profile minimal"
        ))
    }
}

/// The `rust-version` of `[workspace.package]`.
fn rust_version(manifest: &str) -> Option<&str> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
        } else if in_package && let Some(value) = line.strip_prefix("rust-version = ") {
            return Some(value.trim_matches('"'));
        }
    }
    None
}

/// Whether cargo is told to stay off the network.
fn offline() -> bool {
    std::env::var("CARGO_NET_OFFLINE").is_ok_and(|v| v == "true" || v == "1")
}

/// The published members, after checking that the unpublished ones are exactly [`UNPUBLISHED`].
fn published_crates() -> Result<Vec<String>, String> {
    let metadata: Value =
        serde_json::from_str(&cargo_output(&["metadata", "--format-version", "1", "--no-deps", "--locked"])?)
            .map_err(|e| format!("cargo metadata output: {e}"))?;
    let (published, unpublished) = split_by_publish(&metadata);
    let expected: BTreeSet<&str> = UNPUBLISHED.iter().copied().collect();
    if unpublished != expected {
        return Err(format!(
            "the members with `publish = false` are {unpublished:?}, release::UNPUBLISHED says {expected:?}. \
             A crate is published (with a README and the license files) or internal (`publish = false`, \
             a comment saying why, and its name in UNPUBLISHED)"
        ));
    }
    if published.is_empty() {
        return Err("no member is published".into());
    }
    Ok(published.into_iter().map(str::to_owned).collect())
}

/// The members without and with `publish = false` (which cargo reports as an empty registry list).
fn split_by_publish(metadata: &Value) -> (BTreeSet<&str>, BTreeSet<&str>) {
    let mut published = BTreeSet::new();
    let mut unpublished = BTreeSet::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let Some(name) = package["name"].as_str() else { continue };
        if package["publish"].as_array().is_some_and(Vec::is_empty) {
            unpublished.insert(name);
        } else {
            published.insert(name);
        }
    }
    (published, unpublished)
}

fn package_holds_required_files(krate: &str) -> Result<(), String> {
    let listing = cargo_output(&["package", "--list", "--allow-dirty", "--locked", "-p", krate])?;
    let missing = missing_files(&listing);
    if missing.is_empty() {
        println!("{krate}: {} files, {} among them", listing.lines().count(), REQUIRED_FILES.join(", "));
        Ok(())
    } else {
        Err(format!("the package of {krate} lacks {missing:?}"))
    }
}

/// [`REQUIRED_FILES`] absent from a `cargo package --list` output.
fn missing_files(listing: &str) -> Vec<&'static str> {
    let files: BTreeSet<&str> = listing.lines().map(str::trim).collect();
    REQUIRED_FILES.iter().copied().filter(|f| !files.contains(f)).collect()
}

/// `cargo package` verifies a crate against its bonin dependencies unpacked from a local registry
/// into `$CARGO_HOME/registry/src/-<hash>/`, and cargo takes an unpacked registry crate, and what it
/// built from it, to be unchanging: a second run would build against the first run's sources. So
/// those unpacked copies go first, and so do the builds of the crates in [`PACKAGE_TARGET_DIR`].
fn forget_previous_packages(crates: &[&str]) -> Result<(), String> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    // Local registries unpack into directories without a host name: `-<hash>`.
    let local_registries = fs::read_dir(cargo_home.join("registry/src"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with('-'));
    for registry in local_registries {
        for unpacked in fs::read_dir(registry.path()).into_iter().flatten().flatten() {
            if is_unpacked_copy_of(&unpacked.file_name().to_string_lossy(), crates) {
                fs::remove_dir_all(unpacked.path())
                    .map_err(|e| format!("removing {}: {e}", unpacked.path().display()))?;
            }
        }
    }
    let mut clean = vec!["clean", "--quiet", "--target-dir", PACKAGE_TARGET_DIR];
    clean.extend(crates.iter().flat_map(|krate| ["-p", *krate]));
    cargo_output(&clean).map(drop)
}

/// Whether a directory name is `<crate>-<version>` for one of `crates`.
fn is_unpacked_copy_of(dir: &str, crates: &[&str]) -> bool {
    crates.iter().any(|krate| {
        dir.strip_prefix(krate)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
    })
}

fn cargo_command() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(project_root());
    command
}

fn cargo(args: &[&str]) -> Result<(), String> {
    println!("\n==> cargo {}", args.join(" "));
    let status = cargo_command().args(args).status().map_err(|e| format!("could not run cargo: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`cargo {}` failed ({status})", args.join(" "))) }
}

fn cargo_output(args: &[&str]) -> Result<String, String> {
    let output = cargo_command().args(args).output().map_err(|e| format!("could not run cargo: {e}"))?;
    if output.status.success() {
        String::from_utf8(output.stdout).map_err(|e| format!("`cargo {}` printed non-UTF-8: {e}", args.join(" ")))
    } else {
        Err(format!("`cargo {}` failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_without_its_license_files_is_caught() {
        let listing = "Cargo.toml\nCargo.toml.orig\nREADME.md\nsrc/lib.rs\n";
        assert_eq!(missing_files(listing), ["LICENSE-MIT", "LICENSE-APACHE"]);
        assert!(missing_files(&format!("{listing}LICENSE-MIT\nLICENSE-APACHE\n")).is_empty());
    }

    #[test]
    fn publish_false_is_an_empty_registry_list() {
        let metadata = serde_json::json!({"packages": [
            {"name": "bonin-domain", "publish": null},
            {"name": "bonin-sandbox", "publish": []},
            {"name": "elsewhere", "publish": ["my-registry"]},
        ]});
        let (published, unpublished) = split_by_publish(&metadata);
        assert_eq!(published, BTreeSet::from(["bonin-domain", "elsewhere"]));
        assert_eq!(unpublished, BTreeSet::from(["bonin-sandbox"]));
    }

    #[test]
    fn only_unpacked_copies_of_the_crates_named_are_forgotten() {
        let crates = ["bonin-domain", "bonin-adapters-http"];
        assert!(is_unpacked_copy_of("bonin-domain-0.1.0", &crates));
        assert!(is_unpacked_copy_of("bonin-adapters-http-12.0.0-rc.1", &crates));
        assert!(!is_unpacked_copy_of("bonin-domain-extra-0.1.0", &crates));
        assert!(!is_unpacked_copy_of("bonin-adapters-0.1.0", &crates));
        assert!(!is_unpacked_copy_of("serde-1.0.0", &crates));
    }

    #[test]
    fn the_declared_rust_version_is_read_from_the_workspace_package() {
        let manifest =
            "[package]\nrust-version = \"1.70\"\n[workspace.package]\nedition = \"2024\"\nrust-version = \"1.88\"\n";
        assert_eq!(rust_version(manifest), Some("1.88"));
        assert_eq!(rust_version("[workspace.package]\nedition = \"2024\"\n"), None);
    }

    #[test]
    fn the_feature_checked_unpublished_crates_are_unpublished() {
        for krate in ALSO_FEATURE_CHECKED {
            assert!(UNPUBLISHED.contains(krate), "{krate} is published, so its features are checked anyway");
        }
    }
}

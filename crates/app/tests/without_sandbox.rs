//! A `bonin` built without the simulators (no cargo feature `sandbox`, the default build) asked for
//! them: no configuration, `profile = "sandbox"`, `bonin sandbox`, `bonin verify`. Each is refused
//! with a message naming the feature and the production alternative, not a panic.
//!
//! Runs in `cargo test -p bonin-app` (default features); `cargo xtask ci` runs it that way too.
#![cfg(not(feature = "sandbox"))]

use std::process::Command;

/// Runs `bonin args…` in an empty directory with nothing but `env` configured.
fn bonin(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("bonin-no-sandbox-{}-{}", std::process::id(), args.join("-")));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let output = Command::new(env!("CARGO_BIN_EXE_bonin"))
        .args(args)
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("running bonin: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn assert_refused_clearly((code, stderr): (Option<i32>, String), what: &str) {
    assert!(matches!(code, Some(2 | 3)), "{what}: exit code {code:?}, stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{what} panicked: {stderr}");
    for needed in ["cargo feature `sandbox`", "--features sandbox", "profile = \"production\""] {
        assert!(stderr.contains(needed), "{what}: the message lacks {needed}: {stderr}");
    }
}

#[test]
fn serve_with_no_configuration_names_the_feature_and_production() {
    let refused = bonin(&["serve"], &[]);
    assert!(refused.1.contains("`profile` (from built-in default)"), "{}", refused.1);
    assert_refused_clearly(refused, "serve with no configuration");
}

#[test]
fn serve_with_the_sandbox_profile_set_is_refused_at_that_setting() {
    let refused = bonin(&["serve"], &[("BONIN_PROFILE", "sandbox")]);
    assert!(refused.1.contains("environment variable BONIN_PROFILE"), "{}", refused.1);
    assert_refused_clearly(refused, "serve with BONIN_PROFILE=sandbox");
}

#[test]
fn the_sandbox_command_is_refused() {
    assert_refused_clearly(bonin(&["sandbox"], &[]), "bonin sandbox");
}

#[test]
fn the_verify_command_is_refused() {
    assert_refused_clearly(bonin(&["verify", "--provider", "nice"], &[]), "bonin verify");
}

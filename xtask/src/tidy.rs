//! Repository rules. Each is a function returning the problems it finds, run by `cargo xtask tidy`
//! and, as a `#[test]`, by `cargo test`, so drift fails the test suite.

use std::{
    collections::{BTreeSet, HashMap},
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

use crate::project_root;

/// Crates that do I/O or bring a runtime; `bonin-domain` must not reach any of them.
const IO_CRATES: &[&str] = &[
    "reqwest",
    "hyper",
    "hyper-util",
    "h2",
    "axum",
    "tower",
    "tower-http",
    "sqlx",
    "redis",
    "rusqlite",
    "libsqlite3-sys",
    "tokio-postgres",
    "postgres",
    "deadpool",
    "mio",
    "socket2",
];

/// The `tokio` features `bonin-domain` may enable (synchronisation primitives, no runtime).
const DOMAIN_TOKIO_FEATURES: &[&str] = &["sync"];

/// Which bonin crates each bonin crate may depend on (normal dependencies; dev-dependencies are free).
fn allowed_bonin_deps(package: &str) -> Option<&'static [&'static str]> {
    Some(match package {
        "bonin-domain" => &[],
        "bonin-adapters-http" | "bonin-adapters-store" | "bonin-sandbox" => &["bonin-domain"],
        p if p.starts_with("bonin-adapters-") => &["bonin-domain", "bonin-adapters-http"],
        _ => return None, // bonin-app and xtask may depend on anything
    })
}

pub(crate) fn run_all() -> Result<(), String> {
    let metadata = cargo_metadata()?;
    let mut problems = dependency_direction(&metadata);
    problems.extend(domain_closure_is_pure(&cargo_tree(&["-p", "bonin-domain", "--edges", "normal"])?));
    problems.extend(package_names(&metadata));
    problems.extend(no_printing_in_libraries(&project_root()));
    problems.extend(unsafe_code_forbidden(&project_root()));
    problems.extend(dependencies_pinned_in_workspace(&project_root()));
    problems.extend(one_version_per_pinned_crate(&project_root(), &workspace_tree()?));
    problems.extend(providers_stay_in_their_crates(&project_root()));
    problems.extend(embedding_lines_match_the_minimal_example(&project_root()));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("tidy found {} problem(s):\n  - {}", problems.len(), problems.join("\n  - ")))
    }
}

fn cargo_metadata() -> Result<Value, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(project_root())
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata output: {e}"))
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

fn workspace_packages(metadata: &Value) -> Vec<&Value> {
    let members: BTreeSet<&str> =
        metadata["workspace_members"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    metadata["packages"].as_array().into_iter().flatten().filter(|p| members.contains(str_of(p, "id"))).collect()
}

fn is_normal(dep: &Value) -> bool {
    dep.get("kind").is_none_or(Value::is_null)
}

/// DESIGN.md's dependency rules, over `cargo metadata` output.
pub(crate) fn dependency_direction(metadata: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for package in workspace_packages(metadata) {
        let name = str_of(package, "name");
        let deps = package["dependencies"].as_array().into_iter().flatten().filter(|d| is_normal(d));
        for dep in deps {
            let dep_name = str_of(dep, "name");
            if dep_name.starts_with("bonin-")
                && let Some(allowed) = allowed_bonin_deps(name)
                && !allowed.contains(&dep_name)
            {
                problems.push(format!("{name} must not depend on {dep_name} (see docs/ARCHITECTURE.md)"));
            }
            if name == "bonin-domain" {
                if IO_CRATES.contains(&dep_name) {
                    problems.push(format!("bonin-domain must stay pure but depends on {dep_name}"));
                }
                if dep_name == "tokio" {
                    let features: Vec<&str> =
                        dep["features"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                    let defaults = dep["uses_default_features"].as_bool().unwrap_or(true);
                    if defaults || features.iter().any(|f| !DOMAIN_TOKIO_FEATURES.contains(f)) {
                        problems.push(format!(
                            "bonin-domain may use tokio only for {DOMAIN_TOKIO_FEATURES:?} (no default features), found {features:?}"
                        ));
                    }
                }
            }
        }
    }
    problems
}

/// `cargo tree` lines (`name vX.Y.Z ...`) for the host platform, features resolved for `packages`.
fn cargo_tree(args: &[&str]) -> Result<Vec<(String, String)>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["tree", "--locked", "--prefix", "none", "--format", "{p}"])
        .args(args)
        .current_dir(project_root())
        .output()
        .map_err(|e| format!("could not run cargo tree: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo tree failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let name = parts.next()?;
            let version = parts.next()?.trim_start_matches('v');
            Some((name.to_owned(), version.to_owned()))
        })
        .collect())
}

/// Everything `bonin-domain` pulls in as a normal dependency, with features resolved for the domain
/// alone: no I/O crate anywhere.
pub(crate) fn domain_closure_is_pure(tree: &[(String, String)]) -> Vec<String> {
    tree.iter()
        .filter(|(name, _)| IO_CRATES.contains(&name.as_str()))
        .map(|(name, _)| format!("bonin-domain reaches the I/O crate {name} through its dependencies"))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn package_names(metadata: &Value) -> Vec<String> {
    workspace_packages(metadata)
        .into_iter()
        .map(|p| str_of(p, "name"))
        .filter(|n| *n != "xtask" && !n.starts_with("bonin-"))
        .map(|n| format!("package {n} must be named bonin-*"))
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The members outside `crates/`: xtask, and every package under `examples/` and `tools/` (a
/// directory with a `Cargo.toml`; `tools/` also holds checks in other languages).
fn other_member_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![root.join("xtask"), root.join("examples")];
    for parent in ["examples", "tools"] {
        let mut found: Vec<PathBuf> = fs::read_dir(root.join(parent))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("Cargo.toml").is_file())
            .collect();
        found.sort();
        dirs.extend(found);
    }
    dirs
}

fn crate_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(root.join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The most files outside its own code that may name a provider (its id in the domain, the
/// registration, and the features and workspace pins in two manifests).
pub(crate) const PROVIDER_FILE_BUDGET: usize = 4;

/// The providers: the `<name>` of every `crates/adapters-<name>` that is not shared machinery.
fn provider_names(root: &Path) -> Vec<String> {
    crate_dirs(root)
        .iter()
        .filter_map(|dir| dir.file_name()?.to_str()?.strip_prefix("adapters-").map(str::to_owned))
        .filter(|name| !matches!(name.as_str(), "http" | "store"))
        .collect()
}

/// Whether `path` is `provider`'s own: its adapter crate, the simulators (`crates/sandbox`), and
/// the checks against the provider's own published artifacts (`tools/<name>-*`,
/// `xtask/src/<name>_*.rs`). Tests and examples exist to name providers and are not counted.
fn is_own(root: &Path, path: &Path, provider: &str) -> bool {
    let Ok(relative) = path.strip_prefix(root) else { return true };
    let text = relative.to_string_lossy().replace('\\', "/");
    text.starts_with(&format!("crates/adapters-{provider}/"))
        || text.starts_with("crates/sandbox/")
        || text.starts_with(&format!("tools/{provider}-"))
        || text.starts_with(&format!("xtask/src/{provider}_"))
        || text.starts_with("examples/")
        || text.contains("/tests/")
}

/// The code of a Rust file or manifest without its comments (whole-line `//` and `#` comments,
/// doc comments included): what the rule counts is code that names a provider, not prose.
fn code_of(path: &Path, text: &str) -> String {
    let comment = if path.extension().is_some_and(|e| e == "toml") { "#" } else { "//" };
    text.lines().filter(|line| !line.trim_start().starts_with(comment)).collect::<Vec<_>>().join("\n")
}

/// Whether `code` names `provider` (case-insensitively, not inside a longer word before it).
fn names_provider(code: &str, provider: &str) -> bool {
    let code = code.to_ascii_lowercase();
    code.match_indices(provider).any(|(at, _)| !code[..at].chars().next_back().is_some_and(|c| c.is_ascii_alphabetic()))
}

/// A provider lives in its own crates plus a registration: outside its own code (see [`is_own`]),
/// at most [`PROVIDER_FILE_BUDGET`] files of product code (`crates/*/src`, `xtask/src`, the Rust
/// tools such as `tools/bench/src`, the manifests) name it.
pub(crate) fn providers_stay_in_their_crates(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let tools = other_member_dirs(root).into_iter().filter(|dir| dir.starts_with(root.join("tools")));
    for dir in crate_dirs(root).into_iter().chain([root.join("xtask")]).chain(tools) {
        rust_files(&dir.join("src"), &mut files);
        files.push(dir.join("Cargo.toml"));
    }
    files.push(root.join("Cargo.toml"));
    let sources: Vec<(PathBuf, String)> = files
        .into_iter()
        .filter_map(|path| {
            let text = fs::read_to_string(&path).ok()?;
            let code = code_of(&path, &text);
            Some((path, code))
        })
        .collect();
    let mut problems = Vec::new();
    for provider in provider_names(root) {
        let naming: Vec<String> = sources
            .iter()
            .filter(|(path, code)| !is_own(root, path, &provider) && names_provider(code, &provider))
            .map(|(path, _)| path.strip_prefix(root).unwrap_or(path).display().to_string())
            .collect();
        if naming.len() > PROVIDER_FILE_BUDGET {
            problems.push(format!(
                "{provider} is named in {} files outside its own code (at most {PROVIDER_FILE_BUDGET}): {}",
                naming.len(),
                naming.join(", ")
            ));
        }
    }
    problems
}

fn is_binary_source(path: &Path) -> bool {
    path.ends_with("src/main.rs") || path.components().any(|c| c.as_os_str() == "bin")
}

/// Test-support modules, compiled only into test builds, where a skipped check must be visible in
/// the test output.
fn is_test_support(path: &Path) -> bool {
    path.ends_with("adapters-store/src/conformance.rs")
}

/// Libraries log through `tracing`; only binaries print.
pub(crate) fn no_printing_in_libraries(root: &Path) -> Vec<String> {
    const MACROS: &[&str] = &["println!(", "print!(", "eprintln!(", "eprint!(", "dbg!("];
    let mut problems = Vec::new();
    for dir in crate_dirs(root) {
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        for file in files.into_iter().filter(|f| !is_binary_source(f) && !is_test_support(f)) {
            let text = fs::read_to_string(&file).unwrap_or_default();
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                if let Some(m) = MACROS.iter().find(|m| code.contains(**m)) {
                    problems.push(format!("{}:{}: `{m}` in a library crate; use tracing", file.display(), n + 1));
                }
            }
        }
    }
    problems
}

/// Every crate root says `#![forbid(unsafe_code)]`.
pub(crate) fn unsafe_code_forbidden(root: &Path) -> Vec<String> {
    let roots: Vec<PathBuf> = crate_dirs(root)
        .iter()
        .chain(&other_member_dirs(root))
        .flat_map(|d| [d.join("src/lib.rs"), d.join("src/main.rs")])
        .collect();
    roots
        .into_iter()
        .filter(|p| p.exists())
        .filter(|p| !fs::read_to_string(p).unwrap_or_default().contains("#![forbid(unsafe_code)]"))
        .map(|p| format!("{} lacks #![forbid(unsafe_code)]", p.display()))
        .collect()
}

/// Every dependency of every member is pinned once, in `[workspace.dependencies]`.
pub(crate) fn dependencies_pinned_in_workspace(root: &Path) -> Vec<String> {
    let manifests: Vec<PathBuf> =
        crate_dirs(root).iter().chain(&other_member_dirs(root)).map(|d| d.join("Cargo.toml")).collect();
    let mut problems = Vec::new();
    for manifest in manifests {
        let text = fs::read_to_string(&manifest).unwrap_or_default();
        let mut in_deps = false;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with('[') {
                in_deps = line.ends_with("dependencies]");
                continue;
            }
            if !in_deps || line.is_empty() || line.starts_with('#') {
                continue;
            }
            let pinned = line.contains("workspace = true")
                || line.contains(".workspace = true")
                || line.contains("path = \".\"");
            if !pinned {
                problems.push(format!(
                    "{}:{}: pin this dependency in the root [workspace.dependencies] and use `workspace = true`",
                    manifest.display(),
                    n + 1
                ));
            }
        }
    }
    problems
}

/// A dependency as a manifest line states it: its name, the features it turns on, and whether it
/// keeps the crate's default features.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dependency {
    name: String,
    features: BTreeSet<String>,
    default_features: bool,
    workspace: bool,
}

/// One single-line dependency entry: `name = "1"`, `name.workspace = true` or
/// `name = { version = "1", workspace = true, default-features = false, features = ["a"] }`.
fn parse_dependency(line: &str) -> Option<Dependency> {
    let (key, spec) = line.split_once('=')?;
    let (key, spec) = (key.trim(), spec.trim());
    if let Some(name) = key.strip_suffix(".workspace") {
        return Some(Dependency {
            name: name.to_owned(),
            features: BTreeSet::new(),
            default_features: true,
            workspace: true,
        });
    }
    let mut features = BTreeSet::new();
    if let Some((_, list)) = spec.split_once("features = [") {
        let list = list.split(']').next().unwrap_or("");
        features.extend(list.split(',').map(|f| f.trim().trim_matches('"').to_owned()).filter(|f| !f.is_empty()));
    }
    Some(Dependency {
        name: key.to_owned(),
        features,
        default_features: !spec.contains("default-features = false"),
        workspace: spec.contains("workspace = true"),
    })
}

/// The entries of the `[header]` table of a manifest (comments and blank lines skipped).
fn table_entries(manifest: &str, header: &str) -> Vec<Dependency> {
    let mut inside = false;
    let mut entries = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == header;
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            entries.extend(parse_dependency(line));
        }
    }
    entries
}

/// The first ```` ```toml ```` block of a Markdown text that starts with `[dependencies]`.
fn toml_dependencies_block(markdown: &str) -> Option<String> {
    let start = markdown.find("```toml\n[dependencies]\n")? + "```toml\n".len();
    let block = &markdown[start..];
    Some(block[..block.find("```")?].to_owned())
}

/// docs/EMBEDDING.md shows the `Cargo.toml` lines of an embedder, and `examples/minimal` (which CI
/// runs) is built with exactly those: the same crates with the same features, and for the bonin
/// crates the same choice of default features. The example names them through the workspace pins,
/// whose features and `default-features` count as its own. External crates are pinned without
/// default features as a rule, so only their features are compared (tokio has no default ones).
pub(crate) fn embedding_lines_match_the_minimal_example(root: &Path) -> Vec<String> {
    let read = |path: &str| fs::read_to_string(root.join(path)).unwrap_or_default();
    let Some(block) = toml_dependencies_block(&read("docs/EMBEDDING.md")) else {
        return vec!["docs/EMBEDDING.md shows no ```toml block starting with [dependencies]".to_owned()];
    };
    let shown = table_entries(&block, "[dependencies]");
    let pins = table_entries(&read("Cargo.toml"), "[workspace.dependencies]");
    let built: Vec<Dependency> = table_entries(&read("examples/minimal/Cargo.toml"), "[dependencies]")
        .into_iter()
        .map(|mut dep| {
            if dep.workspace
                && let Some(pin) = pins.iter().find(|pin| pin.name == dep.name)
            {
                dep.features.extend(pin.features.iter().cloned());
                dep.default_features &= pin.default_features;
            }
            dep
        })
        .collect();
    if built.is_empty() {
        return vec!["examples/minimal/Cargo.toml has no [dependencies]".to_owned()];
    }
    let mut problems = Vec::new();
    for dep in &shown {
        match built.iter().find(|b| b.name == dep.name) {
            None => problems.push(format!("docs/EMBEDDING.md shows {} but examples/minimal does not use it", dep.name)),
            Some(b) if b.features != dep.features => problems.push(format!(
                "{}: docs/EMBEDDING.md shows features {:?}, examples/minimal builds with {:?}",
                dep.name, dep.features, b.features
            )),
            Some(b) if dep.name.starts_with("bonin-") && b.default_features != dep.default_features => {
                problems.push(format!(
                    "{}: docs/EMBEDDING.md shows default features {}, examples/minimal builds with them {}",
                    dep.name,
                    if dep.default_features { "on" } else { "off" },
                    if b.default_features { "on" } else { "off" },
                ));
            }
            Some(_) => {}
        }
    }
    for dep in built.iter().filter(|b| !shown.iter().any(|d| d.name == b.name)) {
        problems.push(format!("examples/minimal depends on {}, which docs/EMBEDDING.md does not show", dep.name));
    }
    problems
}

/// Duplicates that no pin of ours can remove, each with the reason. Revisit when the named crates
/// move.
const FORCED_DUPLICATES: &[(&str, &str)] =
    &[("base64", "postgres-protocol 0.6 needs base64 0.22; hyper-util (reqwest's client-proxy) needs 0.23")];

fn workspace_tree() -> Result<Vec<(String, String)>, String> {
    cargo_tree(&["--workspace", "--all-features", "--edges", "normal,build,dev"])
}

/// Each external crate pinned in `[workspace.dependencies]` is built in exactly one version for the
/// host platform (`tree` from `cargo tree --workspace`).
pub(crate) fn one_version_per_pinned_crate(root: &Path, tree: &[(String, String)]) -> Vec<String> {
    let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let mut versions: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for (name, version) in tree {
        versions.entry(name).or_default().insert(version);
    }
    let mut in_pins = false;
    let mut problems = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_pins = line == "[workspace.dependencies]";
            continue;
        }
        if !in_pins || line.is_empty() || line.starts_with('#') || line.contains("path =") {
            continue;
        }
        let Some(crate_name) = line.split(['=', ' ']).next() else { continue };
        match versions.get(crate_name) {
            Some(found) if found.len() > 1 && FORCED_DUPLICATES.iter().any(|(name, _)| *name == crate_name) => {}
            Some(found) if found.len() > 1 => problems.push(format!(
                "{crate_name} is built in several versions {found:?}; align the pin with what the other crates need"
            )),
            None => problems.push(format!("{crate_name} is pinned but nothing uses it")),
            _ => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_clean(problems: Vec<String>) {
        assert!(problems.is_empty(), "tidy problems:\n{}", problems.join("\n"));
    }

    #[test]
    fn providers_stay_in_their_crates_here() {
        assert_clean(providers_stay_in_their_crates(&project_root()));
    }

    #[test]
    fn a_provider_is_found_in_code_but_not_in_comments_or_longer_words() {
        let path = Path::new("x.rs");
        assert!(names_provider(&code_of(path, "let p = ProviderId::Acme;"), "acme"));
        assert!(!names_provider(&code_of(path, "/// ACME's window\n// acme\nlet a = 1;"), "acme"));
        assert!(!names_provider(&code_of(path, "let service = 1;"), "vice"));
        assert!(names_provider(&code_of(Path::new("Cargo.toml"), "# acme\nacme = []"), "acme"));
        assert!(!names_provider(&code_of(Path::new("Cargo.toml"), "# acme only"), "acme"));
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn the_budget_catches_a_provider_spread_over_the_host() {
        let root = std::env::temp_dir().join(format!("bonin-tidy-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for dir in ["crates/adapters-acme/src", "crates/app/src", "xtask/src"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        fs::write(root.join("crates/adapters-acme/src/lib.rs"), "pub struct Acme;").unwrap();
        for n in 0..PROVIDER_FILE_BUDGET {
            fs::write(root.join(format!("crates/app/src/f{n}.rs")), "use acme::Acme;").unwrap();
        }
        assert_clean(providers_stay_in_their_crates(&root));
        fs::create_dir_all(root.join("tools/bench/src")).unwrap();
        fs::write(root.join("tools/bench/Cargo.toml"), "[package]").unwrap();
        fs::write(root.join("tools/bench/src/main.rs"), "let id = \"acme\";").unwrap();
        let problems = providers_stay_in_their_crates(&root);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("tools/bench/src/main.rs"), "{problems:?}");
        // The provider's own tools (`tools/<provider>-*`) are its own code.
        fs::remove_dir_all(root.join("tools/bench")).unwrap();
        fs::create_dir_all(root.join("tools/acme-sdk/src")).unwrap();
        fs::write(root.join("tools/acme-sdk/Cargo.toml"), "[package]").unwrap();
        fs::write(root.join("tools/acme-sdk/src/main.rs"), "let id = \"acme\";").unwrap();
        assert_clean(providers_stay_in_their_crates(&root));
        fs::write(root.join("xtask/src/bench.rs"), "let id = \"acme\";").unwrap();
        let problems = providers_stay_in_their_crates(&root);
        let _ = fs::remove_dir_all(&root);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("xtask/src/bench.rs"), "{problems:?}");
    }

    #[test]
    fn dependency_direction_holds() {
        assert_clean(dependency_direction(&cargo_metadata().unwrap()));
        assert_clean(domain_closure_is_pure(&cargo_tree(&["-p", "bonin-domain", "--edges", "normal"]).unwrap()));
    }

    #[test]
    fn packages_are_named_bonin() {
        assert_clean(package_names(&cargo_metadata().unwrap()));
    }

    #[test]
    fn libraries_do_not_print() {
        assert_clean(no_printing_in_libraries(&project_root()));
    }

    #[test]
    fn unsafe_code_is_forbidden_everywhere() {
        assert_clean(unsafe_code_forbidden(&project_root()));
    }

    #[test]
    fn dependencies_are_pinned_once() {
        assert_clean(dependencies_pinned_in_workspace(&project_root()));
        assert_clean(one_version_per_pinned_crate(&project_root(), &workspace_tree().unwrap()));
    }

    /// The rule itself must catch a violation: inject reqwest (and a runtime tokio) into the domain
    /// and an adapter into the sandbox in real metadata.
    #[test]
    fn dependency_direction_catches_violations() {
        let mut metadata = cargo_metadata().unwrap();
        let members: Vec<String> =
            metadata["workspace_members"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
        for package in metadata["packages"].as_array_mut().unwrap() {
            if !members.iter().any(|m| m == package["id"].as_str().unwrap()) {
                continue;
            }
            let name = package_name(package).to_owned();
            let deps = package["dependencies"].as_array_mut().unwrap();
            match name.as_str() {
                "bonin-domain" => {
                    deps.push(serde_json::json!({"name": "reqwest", "kind": null, "features": [], "uses_default_features": true}));
                    for dep in deps.iter_mut().filter(|d| d["name"] == "tokio") {
                        dep["features"] = serde_json::json!(["sync", "rt-multi-thread"]);
                    }
                }
                "bonin-sandbox" => {
                    deps.push(serde_json::json!({"name": "bonin-adapters-acme", "kind": null, "features": []}))
                }
                _ => {}
            }
        }
        let problems = dependency_direction(&metadata);
        assert!(
            problems.iter().any(|p| p.contains("bonin-domain must stay pure but depends on reqwest")),
            "{problems:?}"
        );
        assert!(problems.iter().any(|p| p.contains("tokio only")), "{problems:?}");
        assert!(
            problems.iter().any(|p| p.contains("bonin-sandbox must not depend on bonin-adapters-acme")),
            "{problems:?}"
        );
        let tree = vec![("time".to_owned(), "0.3.0".to_owned()), ("hyper".to_owned(), "1.0.0".to_owned())];
        assert_eq!(domain_closure_is_pure(&tree).len(), 1);
    }

    #[test]
    fn embedding_lines_match_the_minimal_example_here() {
        assert_clean(embedding_lines_match_the_minimal_example(&project_root()));
    }

    /// The rule catches a feature, a default and a crate that drifted, on copies of the real files.
    #[test]
    fn embedding_lines_that_drift_are_caught() {
        let real = project_root();
        let root = std::env::temp_dir().join(format!("bonin-tidy-embedding-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("docs")).unwrap();
        fs::create_dir_all(root.join("examples/minimal")).unwrap();
        let doc = fs::read_to_string(real.join("docs/EMBEDDING.md")).unwrap();
        let example = fs::read_to_string(real.join("examples/minimal/Cargo.toml")).unwrap();
        fs::copy(real.join("Cargo.toml"), root.join("Cargo.toml")).unwrap();
        let check = |doc: &str, example: &str| {
            fs::write(root.join("docs/EMBEDDING.md"), doc).unwrap();
            fs::write(root.join("examples/minimal/Cargo.toml"), example).unwrap();
            embedding_lines_match_the_minimal_example(&root)
        };
        assert_clean(check(&doc, &example));
        let problems = check(&doc.replacen("features = [\"sqlite\"]", "features = [\"postgres\"]", 1), &example);
        assert!(problems.iter().any(|p| p.contains("bonin-adapters-store")), "{problems:?}");
        let problems = check(&doc.replacen("default-features = false, ", "", 1), &example);
        assert!(problems.iter().any(|p| p.contains("default features on")), "{problems:?}");
        let problems = check(&doc, &example.replace("[dependencies]\n", "[dependencies]\nserde.workspace = true\n"));
        assert!(problems.iter().any(|p| p.contains("depends on serde")), "{problems:?}");
        // The adapter's line left out of the page.
        let adapter = doc.lines().find(|l| l.starts_with("bonin-adapters-") && !l.contains("-store")).unwrap();
        let problems = check(&doc.replacen(&format!("{adapter}\n"), "", 1), &example);
        let name = adapter.split(' ').next().unwrap();
        assert!(problems.iter().any(|p| p.contains(&format!("depends on {name}"))), "{problems:?}");
        let _ = fs::remove_dir_all(&root);
    }

    fn package_name(package: &Value) -> &str {
        package["name"].as_str().unwrap_or("")
    }
}

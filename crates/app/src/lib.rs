//! bonin as a service: configuration, wiring of adapters and stores, the REST API and the `bonin`
//! command line. This crate is the only one that knows every provider.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The commands `bonin` understands, with a one-line description and whether this build has them.
pub const COMMANDS: [(&str, &str, bool); 6] = [
    ("serve", "run the REST API (sandbox profile when there is no config)", false),
    ("sandbox", "run the provider simulators alone on fixed loopback ports", false),
    ("verify", "run a whole sandbox verification in the terminal", false),
    ("token", "issue or inspect a provider token with the configured credentials", false),
    ("config", "print the effective configuration, secrets redacted, with provenance", false),
    ("keyfile", "unlock and check a mobileOK key file without printing secrets", false),
];

/// The error codes a REST client can receive, for `bonin --help`.
pub fn error_codes() -> impl Iterator<Item = &'static str> {
    bonin_domain::ErrorCode::ALL.into_iter().map(bonin_domain::ErrorCode::as_str)
}

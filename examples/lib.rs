//! Shared pieces of the examples: playing the end user in the simulated provider windows.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

use bonin_domain::{CallbackParams, Launch};

/// Plays the user in the sandbox window a `launch` opens and returns what the provider would send
/// back. `request_info` is what the mobileOK SDK would fetch from bonin.
pub fn play_user(
    sandbox: &bonin_app::wiring::Sandbox,
    launch: &Launch,
    request_info: Option<&str>,
    persona: &str,
) -> Result<CallbackParams, String> {
    let played =
        bonin_sandbox::play::window(&sandbox.players(), launch, request_info, persona).map_err(|e| e.to_string())?;
    Ok(played.callback)
}

/// `홍길동` → `홍*동`: what an example may print of a name.
pub fn mask(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    match chars.len() {
        0..=2 => "*".repeat(chars.len()),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

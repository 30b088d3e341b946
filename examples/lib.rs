//! Shared pieces of the examples: playing the end user in the simulated provider windows.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

use bonin_domain::{CallbackParams, CallbackTransport, Launch};

/// Plays the user in the sandbox window a `launch` opens and returns what the provider would send
/// back. `request_info` is what the mobileOK SDK would fetch from bonin.
pub fn play_user(
    sandbox: &bonin_app::wiring::Sandbox,
    launch: &Launch,
    request_info: Option<&str>,
    persona: &str,
) -> Result<CallbackParams, String> {
    match launch {
        Launch::Form(form) => {
            let fields: Vec<(String, String)> = form.fields.iter().map(|f| (f.name.clone(), f.value.clone())).collect();
            let callback = sandbox
                .nice
                .complete_window(&fields, persona, &bonin_sandbox::nice::ResultOverrides::default())
                .map_err(|e| e.to_string())?;
            let transport = if callback.method == "post" { CallbackTransport::Post } else { CallbackTransport::Get };
            Ok(CallbackParams::from_pairs(transport, callback.params))
        }
        Launch::Mobileok(_) => {
            let info = request_info.ok_or("the mobileOK window needs the request info")?;
            let delivery = sandbox.mobileok.complete_window(info, Some(persona)).map_err(|e| e.to_string())?;
            Ok(CallbackParams::from_pairs(CallbackTransport::Post, [("data".to_owned(), delivery.data)]))
        }
        Launch::Iamport(launch) => {
            let params = serde_json::to_value(&launch.params).map_err(|e| e.to_string())?;
            let outcome = sandbox
                .portone
                .complete_v1_window(&launch.merchant_code, &params, Some(persona))
                .map_err(|e| e.to_string())?;
            Ok(CallbackParams::from_pairs(CallbackTransport::Get, outcome.query_pairs()))
        }
        Launch::Portone(launch) => {
            let params = serde_json::to_value(&launch.params).map_err(|e| e.to_string())?;
            let outcome = sandbox.portone.complete_v2_window(&params, Some(persona)).map_err(|e| e.to_string())?;
            Ok(CallbackParams::from_pairs(CallbackTransport::Get, outcome.query_pairs()))
        }
        _ => Err("this launch kind has no simulator".into()),
    }
}

/// `홍길동` → `홍*동`: what an example may print of a name.
pub fn mask(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    match chars.len() {
        0..=2 => "*".repeat(chars.len()),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

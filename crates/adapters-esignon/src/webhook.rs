//! The Export API callback: eSignon posts progress to the URL given at start, with the static
//! `authorization` value given at start. That value is the only authenticity check eSignon offers
//! (there is no signature), so it is compared in constant time and must be long and random.
//!
//! eSignon's documents disagree on where that value travels and on the body's shape, so both are
//! read: the value in the HTTP `Authorization` header or in the JSON `header.authorization` of the
//! legacy envelope; the body as the legacy `{header: {api_name: "export"}, body: {wfuid, status, …}}`
//! or flat (`{workflow_id, client_id, status?, …}`). A status bonin does not know is kept verbatim,
//! and a body with no status is accepted: answering such a callback with an error would only lose
//! the event.
//!
//! Call order: read the raw body and the `Authorization` header → [`receive_export`] → act on the
//! [`ExportCallback`] (read the workflow with `status` before trusting URLs in it). In embed mode,
//! [`ExportCallback::next_signer`] is the next signer's own link: hand it to that signer only.

use std::fmt;

use aws_lc_rs::{constant_time, digest};
use bonin_domain::{ExposeSecret, SecretString, WorkflowStatus};
use serde_json::Value;

use crate::client::{status_of, text};

/// Why a callback was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Neither the `Authorization` header nor the body's `header.authorization` is the configured
    /// value.
    #[error("the callback's authorization is missing or wrong")]
    Unauthorized,
    /// The body is not JSON.
    #[error("the callback body is not JSON")]
    NotJson,
    /// The body is neither an Export API envelope (`header.api_name` `export` with a `body`) nor a
    /// flat callback (`workflow_id`).
    #[error("the callback is not an eSignon Export API callback")]
    NotExport,
    /// The workflow id (`body.wfuid` or `workflow_id`) is missing or not an id.
    #[error("the callback has no usable workflow id")]
    MissingWorkflowId,
}

/// The next signer's own link, from an embed-mode callback. Both values are secret: the link signs
/// as that signer, and the address is personal data.
#[derive(Clone)]
#[non_exhaustive]
pub struct NextSigner {
    /// The signing page (`play_url`).
    pub signing_url: SecretString,
    /// Who it is for, as given at start: an email or a mobile number (`next_play_user`).
    pub address: Option<SecretString>,
}

impl fmt::Debug for NextSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NextSigner")
            .field("signing_url", &"<redacted>")
            .field("address", &self.address.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl PartialEq for NextSigner {
    fn eq(&self, other: &Self) -> bool {
        self.signing_url.expose_secret() == other.signing_url.expose_secret()
            && self.address.as_ref().map(ExposeSecret::expose_secret)
                == other.address.as_ref().map(ExposeSecret::expose_secret)
    }
}

impl Eq for NextSigner {}

/// A checked callback. Signer details in the body (names, email, opinion) are not kept, except the
/// next signer's link and address in embed mode.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportCallback {
    /// eSignon's workflow id.
    pub workflow_id: String,
    /// The status after the step, unknown ones verbatim; `None` when the body has none.
    pub status: Option<WorkflowStatus>,
    /// `CF` (approved) or `RT` (rejected), when a signer acted.
    pub work_type: Option<String>,
    /// The step.
    pub action_id: Option<String>,
    /// When (`workdatetime`, UTC, as eSignon wrote it).
    pub at: Option<String>,
    /// The next signer's own link (embed mode, while in progress).
    pub next_signer: Option<NextSigner>,
    /// The signed PDF, on completion (embed mode).
    pub download_url: Option<String>,
    /// The audit certificate, on completion (embed mode).
    pub certificate_url: Option<String>,
}

impl ExportCallback {
    /// The status as a short label safe for logs: the known names, an unknown status only if it
    /// looks like a status word (letters, digits, `_`, `-`; at most 40), else `other`.
    pub fn status_label(&self) -> String {
        match &self.status {
            None => "none".into(),
            Some(WorkflowStatus::InProgress) => "in_progress".into(),
            Some(WorkflowStatus::Completed) => "completed".into(),
            Some(WorkflowStatus::Cancelled) => "cancelled".into(),
            Some(WorkflowStatus::Disposed) => "disposed".into(),
            Some(WorkflowStatus::Deleted) => "deleted".into(),
            Some(WorkflowStatus::Other(word))
                if !word.is_empty()
                    && word.len() <= 40
                    && word.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')) =>
            {
                word.to_ascii_lowercase()
            }
            Some(_) => "other".into(),
        }
    }
}

impl fmt::Debug for ExportCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportCallback")
            .field("workflow_id", &self.workflow_id)
            .field("status", &self.status_label())
            .field("work_type", &self.work_type)
            .field("next_signer", &self.next_signer.is_some())
            .finish_non_exhaustive()
    }
}

/// Whether `presented` (an `Authorization` value) is the configured callback authorization.
/// Comparing digests keeps the comparison constant-time whatever the lengths.
pub fn authorization_matches(expected: &SecretString, presented: Option<&str>) -> bool {
    let Some(presented) = presented else { return false };
    let presented = digest::digest(&digest::SHA256, presented.trim().as_bytes());
    let wanted = digest::digest(&digest::SHA256, expected.expose_secret().as_bytes());
    constant_time::verify_slices_are_equal(presented.as_ref(), wanted.as_ref()).is_ok()
}

/// A workflow id as eSignon writes them (a number, sometimes as a string).
fn workflow_id(value: &Value, key: &str) -> Option<String> {
    text(value, key)
        .filter(|id| id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')))
}

/// The first of `keys` present.
fn first(value: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| text(value, key))
}

/// Checks the authorization (the `Authorization` header, else the body's `header.authorization`)
/// against `expected` in constant time, then reads the legacy or the flat body.
pub fn receive_export(
    expected: &SecretString,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<ExportCallback, ExportError> {
    let value: Option<Value> = serde_json::from_slice(body).ok();
    let in_body = value.as_ref().and_then(|v| v.pointer("/header/authorization")).and_then(Value::as_str);
    // Evaluated both, so the time taken does not say which one matched.
    let (by_header, by_body) =
        (authorization_matches(expected, authorization), authorization_matches(expected, in_body));
    if !(by_header || by_body) {
        return Err(ExportError::Unauthorized);
    }
    let value = value.ok_or(ExportError::NotJson)?;
    let (fields, id) = match value.get("body").filter(|b| b.is_object()) {
        Some(body) => {
            if value.pointer("/header/api_name").and_then(Value::as_str) != Some("export") {
                return Err(ExportError::NotExport);
            }
            (body, workflow_id(body, "wfuid"))
        }
        None if value.get("workflow_id").is_some() => (&value, workflow_id(&value, "workflow_id")),
        None => return Err(ExportError::NotExport),
    };
    let workflow_id = id.ok_or(ExportError::MissingWorkflowId)?;
    let status = first(fields, &["status", "workflow_status"]).map(|s| status_of(&s));
    let next_signer = first(fields, &["play_url", "playing_url"]).map(|url| NextSigner {
        signing_url: SecretString::from(url),
        address: first(fields, &["next_play_user"]).map(SecretString::from),
    });
    Ok(ExportCallback {
        workflow_id,
        status,
        work_type: first(fields, &["worktype", "work_type"]),
        action_id: first(fields, &["actionid", "action_id"]),
        at: first(fields, &["workdatetime", "work_datetime"]),
        next_signer,
        download_url: first(fields, &["download_url"]),
        certificate_url: first(fields, &["cert_url", "certificate_url"]),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SECRET: &str = "callback-authorization-0123456789";

    #[test]
    fn only_the_configured_authorization_and_an_export_body_pass() {
        let secret = SecretString::from(SECRET);
        let body = br#"{"header":{"api_name":"export","session_id":"","request_code":""},
            "body":{"wfuid":"12584","status":"Complete","worktype":"CF","actionid":"2","workdatetime":"2020-01-31 04:23:28.0","useremail":"a@b.example","opinion":"ok"}}"#;
        let callback = receive_export(&secret, Some(SECRET), body).unwrap();
        assert_eq!((callback.workflow_id.as_str(), &callback.status), ("12584", &Some(WorkflowStatus::Completed)));
        assert!(!format!("{callback:?}").contains("a@b.example"));
        assert_eq!(receive_export(&secret, None, body), Err(ExportError::Unauthorized));
        assert_eq!(
            receive_export(&secret, Some("callback-authorization-012345678"), body),
            Err(ExportError::Unauthorized)
        );
        assert_eq!(receive_export(&secret, Some(&format!("esignon {SECRET}")), body), Err(ExportError::Unauthorized));
        let ok = Some(SECRET);
        assert_eq!(receive_export(&secret, ok, b"<xml/>"), Err(ExportError::NotJson));
        assert_eq!(
            receive_export(&secret, None, b"<xml/>"),
            Err(ExportError::Unauthorized),
            "nothing is read unauthorized"
        );
        assert_eq!(
            receive_export(&secret, ok, br#"{"body":{"wfuid":"1","status":"Playing"}}"#),
            Err(ExportError::NotExport)
        );
        assert_eq!(receive_export(&secret, ok, br#"{"status":"Playing"}"#), Err(ExportError::NotExport));
        assert_eq!(
            receive_export(&secret, ok, br#"{"header":{"api_name":"export"},"body":{"status":"Playing"}}"#),
            Err(ExportError::MissingWorkflowId)
        );
        assert_eq!(
            receive_export(&secret, ok, br#"{"header":{"api_name":"export"},"body":{"wfuid":"a@b.example"}}"#),
            Err(ExportError::MissingWorkflowId)
        );
    }

    #[test]
    fn the_authorization_may_travel_in_the_json_header() {
        let secret = SecretString::from(SECRET);
        let body = format!(
            r#"{{"header":{{"api_name":"export","request_code":"x","authorization":"{SECRET}"}},"body":{{"wfuid":"7","status":"Playing"}}}}"#
        );
        let callback = receive_export(&secret, None, body.as_bytes()).unwrap();
        assert_eq!(callback.status, Some(WorkflowStatus::InProgress));
        // A wrong HTTP header does not spoil a right JSON one, nor the reverse.
        assert!(receive_export(&secret, Some("something-else"), body.as_bytes()).is_ok());
        let wrong = body.replace(SECRET, "callback-authorization-wrong");
        assert_eq!(receive_export(&secret, None, wrong.as_bytes()), Err(ExportError::Unauthorized));
        assert!(receive_export(&secret, Some(SECRET), wrong.as_bytes()).is_ok());
    }

    #[test]
    fn flat_bodies_unknown_statuses_and_embed_links_are_read() {
        let secret = SecretString::from(SECRET);
        let flat = br#"{"workflow_id":12584,"client_id":"eSignon API","status":"Playing","play_url":"https://docs.esignon.net/api/c/sign?token=t2","next_play_user":"01055556666"}"#;
        let callback = receive_export(&secret, Some(SECRET), flat).unwrap();
        assert_eq!(callback.workflow_id, "12584");
        let next = callback.next_signer.clone().unwrap();
        assert_eq!(next.signing_url.expose_secret(), "https://docs.esignon.net/api/c/sign?token=t2");
        assert_eq!(next.address.as_ref().map(ExposeSecret::expose_secret), Some("01055556666"));
        let debug = format!("{callback:?}");
        assert!(!debug.contains("token=t2") && !debug.contains("01055556666"), "{debug}");
        let unknown = br#"{"header":{"api_name":"export"},"body":{"wfuid":"1","status":"Rejected"}}"#;
        let callback = receive_export(&secret, Some(SECRET), unknown).unwrap();
        assert_eq!(callback.status, Some(WorkflowStatus::Other("Rejected".into())));
        assert_eq!(callback.status_label(), "rejected");
        let none = br#"{"header":{"api_name":"export"},"body":{"wfuid":"1","worktype":"CF"}}"#;
        assert_eq!(receive_export(&secret, Some(SECRET), none).unwrap().status, None);
        let personal = br#"{"workflow_id":"1","status":"hong@shop.example"}"#;
        let callback = receive_export(&secret, Some(SECRET), personal).unwrap();
        assert_eq!(callback.status, Some(WorkflowStatus::Other("hong@shop.example".into())), "kept verbatim");
        assert_eq!(callback.status_label(), "other", "but never logged");
        assert!(!format!("{callback:?}").contains("hong@"));
    }
}

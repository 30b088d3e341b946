//! The Export API callback: eSignon posts progress to the URL given at start, with the static
//! `Authorization` value given at start. That value is the only authenticity check eSignon offers
//! (there is no signature), so it is compared in constant time and must be long and random.
//!
//! Call order: read the raw body and the `Authorization` header → [`receive_export`] → act on the
//! [`ExportCallback`] (read the workflow with `status` before trusting URLs in it).

use std::fmt;

use aws_lc_rs::{constant_time, digest};
use bonin_domain::{ExposeSecret, SecretString, WorkflowStatus};
use serde_json::Value;

use crate::client::text;

/// Why a callback was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The `Authorization` header is missing or is not the configured value.
    #[error("the callback's Authorization header is missing or wrong")]
    Unauthorized,
    /// The body is not JSON.
    #[error("the callback body is not JSON")]
    NotJson,
    /// The body is not an Export API callback (`header.api_name` must be `export`).
    #[error("the callback is not an eSignon Export API callback (header.api_name)")]
    NotExport,
    /// `body.wfuid` is missing.
    #[error("the callback has no workflow id (body.wfuid)")]
    MissingWorkflowId,
    /// `body.status` is not `Playing`, `Complete` or `Canceled`.
    #[error("the callback's status is not Playing, Complete or Canceled")]
    UnknownStatus,
}

/// A checked callback. Signer details in the body (email, opinion) are not kept.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportCallback {
    /// eSignon's workflow id.
    pub workflow_id: String,
    /// The status after the step.
    pub status: WorkflowStatus,
    /// `CF` (approved) or `RT` (rejected), when a signer acted.
    pub work_type: Option<String>,
    /// The step.
    pub action_id: Option<String>,
    /// When (`workdatetime`, UTC, as eSignon wrote it).
    pub at: Option<String>,
    /// The signed PDF, on completion (embed mode).
    pub download_url: Option<String>,
    /// The audit certificate, on completion (embed mode).
    pub certificate_url: Option<String>,
}

impl fmt::Debug for ExportCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportCallback")
            .field("workflow_id", &self.workflow_id)
            .field("status", &self.status)
            .field("work_type", &self.work_type)
            .finish_non_exhaustive()
    }
}

/// Checks the `Authorization` header against `expected` (constant time) and reads the legacy body.
pub fn receive_export(
    expected: &SecretString,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<ExportCallback, ExportError> {
    // Comparing digests keeps the comparison constant-time whatever the lengths.
    let presented = digest::digest(&digest::SHA256, authorization.unwrap_or_default().trim().as_bytes());
    let wanted = digest::digest(&digest::SHA256, expected.expose_secret().as_bytes());
    if authorization.is_none() || constant_time::verify_slices_are_equal(presented.as_ref(), wanted.as_ref()).is_err() {
        return Err(ExportError::Unauthorized);
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| ExportError::NotJson)?;
    if value.pointer("/header/api_name").and_then(Value::as_str) != Some("export") {
        return Err(ExportError::NotExport);
    }
    let body = value.get("body").ok_or(ExportError::MissingWorkflowId)?;
    let workflow_id = text(body, "wfuid").ok_or(ExportError::MissingWorkflowId)?;
    let status = match text(body, "status").as_deref() {
        Some("Playing") => WorkflowStatus::InProgress,
        Some("Complete") => WorkflowStatus::Completed,
        Some("Canceled") => WorkflowStatus::Cancelled,
        _ => return Err(ExportError::UnknownStatus),
    };
    Ok(ExportCallback {
        workflow_id,
        status,
        work_type: text(body, "worktype"),
        action_id: text(body, "actionid"),
        at: text(body, "workdatetime"),
        download_url: text(body, "download_url"),
        certificate_url: text(body, "cert_url"),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_the_configured_authorization_and_a_legacy_body_pass() {
        let secret = SecretString::from("callback-authorization-0123456789");
        let body = br#"{"header":{"api_name":"export","session_id":"","request_code":""},
            "body":{"wfuid":"12584","status":"Complete","worktype":"CF","actionid":"2","workdatetime":"2020-01-31 04:23:28.0","useremail":"a@b.example","opinion":"ok"}}"#;
        let callback = receive_export(&secret, Some("callback-authorization-0123456789"), body).unwrap();
        assert_eq!((callback.workflow_id.as_str(), &callback.status), ("12584", &WorkflowStatus::Completed));
        assert!(!format!("{callback:?}").contains("a@b.example"));
        assert_eq!(receive_export(&secret, None, body), Err(ExportError::Unauthorized));
        assert_eq!(
            receive_export(&secret, Some("callback-authorization-012345678"), body),
            Err(ExportError::Unauthorized)
        );
        assert_eq!(
            receive_export(&secret, Some("esignon callback-authorization-0123456789"), body),
            Err(ExportError::Unauthorized)
        );
        let ok = Some("callback-authorization-0123456789");
        assert_eq!(receive_export(&secret, ok, b"<xml/>"), Err(ExportError::NotJson));
        assert_eq!(
            receive_export(&secret, ok, br#"{"body":{"wfuid":"1","status":"Playing"}}"#),
            Err(ExportError::NotExport)
        );
        assert_eq!(
            receive_export(&secret, ok, br#"{"header":{"api_name":"export"},"body":{"status":"Playing"}}"#),
            Err(ExportError::MissingWorkflowId)
        );
        assert_eq!(
            receive_export(
                &secret,
                ok,
                br#"{"header":{"api_name":"export"},"body":{"wfuid":"1","status":"Exploded"}}"#
            ),
            Err(ExportError::UnknownStatus)
        );
    }
}

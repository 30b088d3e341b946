//! E-signature workflows (eSignon): a contract started from a template, signed by its signers in
//! order, read back, cancelled, reminded.
//!
//! Call order: [`SigningWorkflows::start`] → hand [`WorkflowStarted::signing_url`] to the first
//! signer (or let the provider mail them) → [`SigningWorkflows::status`] (or the provider's
//! callback) until [`WorkflowStatus::Completed`] → download from [`WorkflowInfo::download_url`].
//! [`SigningWorkflows::cancel`] and [`SigningWorkflows::remind`] at any time while in progress.
//!
//! The provider holds the workflow; adapters keep nothing per workflow.

use std::fmt;

use async_trait::async_trait;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::{Email, Error, Name, PhoneNumber, ProviderId, Timestamp};

/// One signer, in signing order. Reached by email, or by mobile number when there is no email.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signer {
    /// Name shown to the other parties.
    pub name: Name,
    /// Email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// Mobile number (used for delivery when there is no email, and for phone identity checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneNumber>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("email", &self.email.is_some())
            .field("phone", &self.phone.is_some())
            .finish_non_exhaustive()
    }
}

/// Where the provider reports progress (eSignon's "Export API"): a URL and the static value it puts
/// in the callback's `Authorization` header.
#[derive(Clone)]
pub struct ExportTarget {
    /// The receiving URL.
    pub url: String,
    /// The static authorization value (secret).
    pub authorization: SecretString,
}

impl fmt::Debug for ExportTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportTarget").field("url", &self.url).field("authorization", &"<redacted>").finish()
    }
}

/// What a workflow is started with.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SigningRequest {
    /// The provider's template id.
    pub template_id: String,
    /// The document's name.
    pub workflow_name: String,
    /// Signers in order (the template's steps).
    pub signers: Vec<Signer>,
    /// Values for the template's fields, by field name (may hold personal data: never logged).
    pub fields: Vec<(String, String)>,
    /// The signing deadline (a calendar date in KST).
    pub expires_on: Option<Date>,
    /// Progress callbacks.
    pub export: Option<ExportTarget>,
}

impl SigningRequest {
    /// A request with no fields, no deadline and no callbacks.
    pub fn new(template_id: impl Into<String>, workflow_name: impl Into<String>, signers: Vec<Signer>) -> Self {
        Self {
            template_id: template_id.into(),
            workflow_name: workflow_name.into(),
            signers,
            fields: Vec::new(),
            expires_on: None,
            export: None,
        }
    }

    /// Sets the field values.
    pub fn with_fields(mut self, fields: Vec<(String, String)>) -> Self {
        self.fields = fields;
        self
    }

    /// Sets the deadline.
    pub fn with_expires_on(mut self, expires_on: Option<Date>) -> Self {
        self.expires_on = expires_on;
        self
    }

    /// Sets the callback target.
    pub fn with_export(mut self, export: Option<ExportTarget>) -> Self {
        self.export = export;
        self
    }
}

/// Where a workflow stands. Statuses a provider adds later are kept in [`WorkflowStatus::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WorkflowStatus {
    /// Waiting for signatures.
    InProgress,
    /// Every signer signed.
    Completed,
    /// Cancelled before completion.
    Cancelled,
    /// A completed document was disposed of.
    Disposed,
    /// A cancelled document was deleted.
    Deleted,
    /// A status bonin does not know, verbatim.
    Other(String),
}

/// A started workflow.
#[derive(Clone)]
#[non_exhaustive]
pub struct WorkflowStarted {
    /// The provider's workflow id.
    pub provider_workflow_id: String,
    /// The first signer's page (carries a signing token: hand it only to that signer).
    pub signing_url: Option<SecretString>,
}

impl WorkflowStarted {
    /// A started workflow.
    pub fn new(provider_workflow_id: impl Into<String>, signing_url: Option<SecretString>) -> Self {
        Self { provider_workflow_id: provider_workflow_id.into(), signing_url }
    }
}

impl fmt::Debug for WorkflowStarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowStarted")
            .field("provider_workflow_id", &self.provider_workflow_id)
            .field("signing_url", &self.signing_url.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// One step in a workflow's history (`step_code` verbatim, e.g. `SIGN_COMPLETE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowEvent {
    /// The provider's step code.
    pub step_code: String,
    /// When, as the provider wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// A workflow as read back.
#[derive(Clone)]
#[non_exhaustive]
pub struct WorkflowInfo {
    /// The provider.
    pub provider: ProviderId,
    /// The provider's workflow id.
    pub provider_workflow_id: String,
    /// The status.
    pub status: WorkflowStatus,
    /// The document's name.
    pub name: Option<String>,
    /// The signed PDF, once completed.
    pub download_url: Option<String>,
    /// The audit certificate, once completed.
    pub certificate_url: Option<String>,
    /// History, oldest first.
    pub history: Vec<WorkflowEvent>,
    /// When it was read.
    pub read_at: Timestamp,
}

impl WorkflowInfo {
    /// A record with no URLs and no history.
    pub fn new(
        provider: ProviderId,
        provider_workflow_id: impl Into<String>,
        status: WorkflowStatus,
        read_at: Timestamp,
    ) -> Self {
        Self {
            provider,
            provider_workflow_id: provider_workflow_id.into(),
            status,
            name: None,
            download_url: None,
            certificate_url: None,
            history: Vec::new(),
            read_at,
        }
    }
}

impl fmt::Debug for WorkflowInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowInfo")
            .field("provider", &self.provider)
            .field("provider_workflow_id", &self.provider_workflow_id)
            .field("status", &self.status)
            .field("download_url", &self.download_url.is_some())
            .field("history", &self.history.len())
            .finish_non_exhaustive()
    }
}

/// How a workflow is ended early or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelCommand {
    /// Cancel a workflow in progress.
    Cancel,
    /// Dispose of a completed document, with the reason.
    Dispose {
        /// Why.
        reason: String,
    },
    /// Delete a cancelled document.
    Delete,
}

/// The e-signature workflow calls of a provider.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SigningWorkflows: Send + Sync {
    /// Which provider this is.
    fn provider(&self) -> ProviderId;

    /// Starts a workflow from a template. Not idempotent: never retried automatically.
    async fn start(&self, request: &SigningRequest) -> Result<WorkflowStarted, Error>;

    /// Reads a workflow.
    async fn status(&self, provider_workflow_id: &str) -> Result<WorkflowInfo, Error>;

    /// Cancels, disposes of or deletes a workflow.
    async fn cancel(&self, provider_workflow_id: &str, command: CancelCommand) -> Result<(), Error>;

    /// Sends the current signer a reminder.
    async fn remind(&self, provider_workflow_id: &str) -> Result<(), Error>;
}

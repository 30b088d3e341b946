//! The e-signature endpoints (eSignon), beside the verification API.
//!
//! | method, path | auth | what |
//! |---|---|---|
//! | `POST /v1/signing` | API key | start a contract from a template |
//! | `GET /v1/signing/{id}` | API key | status, history, download URLs once completed |
//! | `POST /v1/signing/{id}/cancel` | API key | cancel (or dispose of, or delete) |
//! | `POST /v1/signing/{id}/remind` | API key | remind the current signer |
//! | `POST /v1/signing/events` | eSignon's static authorization | progress callbacks |
//!
//! bonin keeps no signing state: the provider holds the workflow, and `id` names it
//! (`esignon-<workflow id>`).
//!
//! Signing links. By default eSignon sends each signer their own link by mail or KakaoTalk, and the
//! start answers none: the link eSignon's start answer carries belongs to the API member, not to a
//! signer. In embed mode (`providers.esignon.embed`) eSignon sends nothing; the start answers the
//! first signer's own link (`signers[0].signing_url`, also `signing_url`), and each later signer's
//! link arrives with eSignon's progress callback.
//!
//! Callbacks are answered `200` whenever their authorization holds, whatever status they report (an
//! unknown one is kept): an error answer would only make the event lost. With `events.endpoints`
//! set, each is forwarded to the host as a `signing.<status>` event (ids and status only) through
//! the store's outbox; when the store cannot take it, the callback is answered `503` instead, so
//! the provider sends it again.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::post,
};
use bonin_domain::{
    CancelCommand, Email, Error, ExportTarget, Name, PhoneNumber, SecretString, Signer, SigningRequest,
    SigningWorkflows, WorkflowInfo, WorkflowStatus,
};
use serde::{Deserialize, Serialize};

use bonin_adapters_http::provider::{SigningEvent, SigningEvents};

use crate::{api::JsonBody, problem::ApiError};

/// What the signing endpoints need.
#[derive(Clone)]
pub struct SigningApi {
    /// The provider.
    pub workflows: Arc<dyn SigningWorkflows>,
    /// Where the provider reports progress (bonin's `/v1/signing/events`), when configured.
    pub events: Option<(ExportTarget, Arc<dyn SigningEvents>)>,
    /// Embed mode: bonin hands out only the first signer's link, so a start with several signers
    /// is refused (the later signers' links arrive in eSignon's callbacks, which `bonin serve` does
    /// not relay, and the workflow would wait for them forever).
    pub first_link_only: bool,
    /// Where progress is forwarded to the host as `signing.*` events (`events.endpoints` set).
    pub outbox: Option<crate::events::SigningEventSink>,
}

impl std::fmt::Debug for SigningApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningApi")
            .field("provider", &self.workflows.provider())
            .field("events", &self.events.as_ref().map(|(target, _)| target))
            .field("outbox", &self.outbox.is_some())
            .finish()
    }
}

/// One signer in `POST /v1/signing`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerBody {
    name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

/// `POST /v1/signing` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartSigningBody {
    template_id: String,
    workflow_name: String,
    signers: Vec<SignerBody>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
    #[serde(default)]
    expires_on: Option<String>,
}

/// `POST /v1/signing/{id}/cancel` body (optional; `cancel` when absent).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// One signer's own link, by signing order.
#[derive(Debug, Serialize)]
struct SignerLinkBody {
    order: u32,
    signing_url: String,
}

#[derive(Debug, Serialize)]
struct EventBody {
    step_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
}

/// A signing workflow as the API shows it.
#[derive(Debug, Serialize)]
struct SigningBody {
    id: String,
    provider: bonin_domain::ProviderId,
    provider_workflow_id: String,
    status: String,
    /// The first signer's own page (embed mode, start only): `signers[0].signing_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_url: Option<String>,
    /// The signers' own links bonin holds (embed mode, start only: the first signer's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    signers: Vec<SignerLinkBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    download_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    history: Vec<EventBody>,
}

fn status_name(status: &WorkflowStatus) -> String {
    match status {
        WorkflowStatus::InProgress => "in_progress".into(),
        WorkflowStatus::Completed => "completed".into(),
        WorkflowStatus::Cancelled => "cancelled".into(),
        WorkflowStatus::Disposed => "disposed".into(),
        WorkflowStatus::Deleted => "deleted".into(),
        WorkflowStatus::Other(other) => other.to_ascii_lowercase(),
        _ => "unknown".into(),
    }
}

fn public_id(api: &SigningApi, workflow_id: &str) -> String {
    format!("{}-{workflow_id}", api.workflows.provider())
}

fn workflow_id<'a>(api: &SigningApi, id: &'a str) -> Result<&'a str, ApiError> {
    let prefix = format!("{}-", api.workflows.provider());
    id.strip_prefix(&prefix).filter(|w| !w.is_empty()).ok_or(ApiError::Domain(Error::NotFound))
}

fn body_of(api: &SigningApi, info: WorkflowInfo) -> SigningBody {
    SigningBody {
        id: public_id(api, &info.provider_workflow_id),
        provider: info.provider,
        status: status_name(&info.status),
        provider_workflow_id: info.provider_workflow_id,
        signing_url: None,
        signers: Vec::new(),
        name: info.name,
        download_url: info.download_url,
        certificate_url: info.certificate_url,
        history: info.history.into_iter().map(|e| EventBody { step_code: e.step_code, at: e.at }).collect(),
    }
}

fn signer_of(body: SignerBody) -> Result<Signer, Error> {
    Ok(Signer {
        name: Name::new(body.name)?,
        email: body.email.filter(|e| !e.trim().is_empty()).map(Email::new).transpose()?,
        phone: body.phone.filter(|p| !p.trim().is_empty()).map(PhoneNumber::new).transpose()?,
    })
}

async fn start(
    State(api): State<SigningApi>,
    JsonBody(body): JsonBody<StartSigningBody>,
) -> Result<Response, ApiError> {
    let signers = body.signers.into_iter().map(signer_of).collect::<Result<Vec<_>, _>>()?;
    if api.first_link_only && signers.len() > 1 {
        return Err(Error::invalid_input(
            "signers",
            "in embed mode bonin serve hands out the first signer's link only (later signers' links arrive in \
             the provider's callbacks, which it does not relay): start with one signer, or let the provider send the links",
        )
        .into());
    }
    let expires_on = body
        .expires_on
        .map(|d| time::Date::parse(&d, time::macros::format_description!("[year]-[month]-[day]")))
        .transpose()
        .map_err(|_| Error::invalid_input("expires_on", "expected YYYY-MM-DD"))?;
    let request = SigningRequest::new(body.template_id, body.workflow_name, signers)
        .with_fields(body.fields.into_iter().collect())
        .with_expires_on(expires_on)
        .with_export(api.events.as_ref().map(|(target, _)| target.clone()));
    let started = api.workflows.start(&request).await?;
    tracing::info!(provider = %api.workflows.provider(), workflow_id = %started.provider_workflow_id,
        first_signer_link = started.signing_url.is_some(), "signing started");
    // The adapter answers a link only when it is the first signer's own (eSignon's embed mode).
    let signing_url = started.signing_url.as_ref().map(|u| bonin_domain::ExposeSecret::expose_secret(u).to_owned());
    let signers =
        signing_url.iter().map(|url| SignerLinkBody { order: 1, signing_url: url.clone() }).collect::<Vec<_>>();
    let body = SigningBody {
        id: public_id(&api, &started.provider_workflow_id),
        provider: api.workflows.provider(),
        provider_workflow_id: started.provider_workflow_id,
        status: status_name(&WorkflowStatus::InProgress),
        signing_url,
        signers,
        name: None,
        download_url: None,
        certificate_url: None,
        history: Vec::new(),
    };
    Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

async fn read(State(api): State<SigningApi>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let info = api.workflows.status(workflow_id(&api, &id)?).await?;
    Ok(Json(body_of(&api, info)).into_response())
}

async fn cancel(State(api): State<SigningApi>, Path(id): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let workflow = workflow_id(&api, &id)?;
    let body: CancelBody = if body.is_empty() {
        CancelBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| ApiError::Body {
            status: StatusCode::BAD_REQUEST,
            detail: "the body is not {command?, reason?}".into(),
        })?
    };
    let command = match body.command.as_deref().unwrap_or("cancel") {
        "cancel" => CancelCommand::Cancel,
        "delete" => CancelCommand::Delete,
        "dispose" => CancelCommand::Dispose { reason: body.reason.unwrap_or_default() },
        _ => return Err(Error::invalid_input("command", "expected cancel, dispose or delete").into()),
    };
    api.workflows.cancel(workflow, command).await?;
    tracing::info!(provider = %api.workflows.provider(), workflow_id = %workflow, "signing cancelled");
    let info = api.workflows.status(workflow).await?;
    Ok(Json(body_of(&api, info)).into_response())
}

async fn remind(State(api): State<SigningApi>, Path(id): Path<String>) -> Result<Response, ApiError> {
    api.workflows.remind(workflow_id(&api, &id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn events(State(api): State<SigningApi>, headers: HeaderMap, body: Bytes) -> Response {
    let Some((_, events)) = &api.events else {
        return ApiError::Body { status: StatusCode::NOT_FOUND, detail: "no callback is configured".into() }
            .into_response();
    };
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match events.receive(authorization, &body) {
        SigningEvent::Accepted { workflow_id, status, unrelayed_link } => {
            // The status only as a label: an unknown one is kept by the adapter, never logged raw.
            tracing::info!(provider = %api.workflows.provider(), workflow_id = %workflow_id,
                status = %status, "signing progress reported");
            if unrelayed_link {
                tracing::warn!(provider = %api.workflows.provider(), workflow_id = %workflow_id,
                    "embed mode: the provider handed over the next signer's link, which bonin serve does not relay; \
                     use embed mode with one-signer templates, or let the provider send the links");
            }
            // Forwarded to the host as `signing.<status>` (ids and status only) when events are on.
            if let Some(outbox) = &api.outbox
                && let Err(error) = outbox.progressed(api.workflows.provider().as_str(), &workflow_id, &status).await
            {
                // Not stored: an error answer, so the provider sends the callback again.
                tracing::warn!(provider = %api.workflows.provider(), workflow_id = %workflow_id,
                    code = error.code().as_str(), "a signing event could not be stored");
                return crate::problem::ApiError::from(error).into_response();
            }
            // 200 whatever the status: anything else and the event would be lost.
            StatusCode::OK.into_response()
        }
        SigningEvent::Unauthorized => ApiError::Unauthorized.into_response(),
        // The right authorization, but a body in a shape bonin does not read: answered 200 (an
        // error answer only loses the event) and reported.
        SigningEvent::Unreadable(problem) => {
            tracing::warn!(provider = %api.workflows.provider(), problem = %problem,
                "an authorized signing callback could not be read; answered 200 so the provider does not keep it");
            StatusCode::OK.into_response()
        }
        SigningEvent::Malformed(problem) => {
            ApiError::Body { status: StatusCode::BAD_REQUEST, detail: problem }.into_response()
        }
        _ => ApiError::Body { status: StatusCode::BAD_REQUEST, detail: "unreadable callback".into() }.into_response(),
    }
}

/// The signing routes: the API-key ones behind `require_api_key`, the callback open (it carries its
/// own authorization).
pub(crate) fn routes(api: SigningApi, api_keys: Arc<Vec<SecretString>>) -> Router {
    let protected = Router::new()
        .route("/v1/signing", post(start))
        .route("/v1/signing/{id}", axum::routing::get(read))
        .route("/v1/signing/{id}/cancel", post(cancel))
        .route("/v1/signing/{id}/remind", post(remind))
        .route_layer(middleware::from_fn_with_state(api_keys, crate::api::require_api_key));
    protected.merge(Router::new().route("/v1/signing/events", post(events))).with_state(api)
}

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
use utoipa::ToSchema;

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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Signer)]
pub struct SignerBody {
    name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

/// `POST /v1/signing` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SigningStartRequest, example = json!({"template_id": "171", "workflow_name": "Employment contract", "signers": [{"name": "홍길동", "email": "hong@example.com"}]}))]
pub struct StartSigningBody {
    template_id: String,
    /// None of `' " \ / : | < > . ?`.
    #[schema(max_length = 128)]
    workflow_name: String,
    #[schema(min_items = 1)]
    signers: Vec<SignerBody>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
    #[serde(default)]
    #[schema(format = Date)]
    expires_on: Option<String>,
}

/// `POST /v1/signing/{id}/cancel` body (optional; `cancel` when absent).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SigningCancelRequest)]
pub struct CancelBody {
    /// `cancel` (default), `dispose` or `delete`.
    #[serde(default)]
    #[schema(value_type = Option<CancelCommandSchema>)]
    command: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// What `POST /v1/signing/{id}/cancel` does.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = CancelCommand)]
#[allow(dead_code)] // Describes the commands `cancel` reads.
enum CancelCommandSchema {
    Cancel,
    Dispose,
    Delete,
}

/// One signer's own link, by signing order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SignerLink)]
struct SignerLinkBody {
    #[schema(minimum = 1)]
    order: u32,
    signing_url: String,
}

/// One step of a workflow's history.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SigningEvent)]
struct EventBody {
    step_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    at: Option<String>,
}

/// A signing workflow as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Signing)]
struct SigningBody {
    id: String,
    #[schema(value_type = String)]
    provider: bonin_domain::ProviderId,
    provider_workflow_id: String,
    /// in_progress, completed, cancelled, disposed, deleted, or the provider's own word.
    status: String,
    /// start only, embed mode only (the provider's `embed` setting): the first signer's own
    /// signing page, the same as `signers[0].signing_url`; hand it to that signer only. Absent
    /// otherwise: the provider sends each signer their own link by mail or KakaoTalk.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    signing_url: Option<String>,
    /// start only, embed mode only: the signers' own links bonin holds, by signing order (the
    /// first signer's; each later signer's link arrives with the provider's progress callback).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    signers: Vec<SignerLinkBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    download_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
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

/// Start an e-signature workflow from a template
#[utoipa::path(post, path = "/v1/signing", operation_id = "startSigning", tag = "signing",
    security(("apiKey" = [])), request_body = StartSigningBody,
    responses((status = 201, description = "started", body = SigningBody,
        links(("GetSigning" = (operation_id = "getSigning", parameters(("id" = "$response.body#/id")))),
              ("CancelSigning" = (operation_id = "cancelSigning", parameters(("id" = "$response.body#/id")))),
              ("RemindSigner" = (operation_id = "remindSigner", parameters(("id" = "$response.body#/id")))))),
        crate::openapi::BodyProblems))]
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

/// Status, history and download URLs of a workflow
#[utoipa::path(get, path = "/v1/signing/{id}", operation_id = "getSigning", tag = "signing",
    security(("apiKey" = [])), params(("id" = String, Path, description = "The workflow's id.")),
    responses((status = 200, description = "the workflow", body = SigningBody), crate::openapi::KeyProblems))]
async fn read(State(api): State<SigningApi>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let info = api.workflows.status(workflow_id(&api, &id)?).await?;
    Ok(Json(body_of(&api, info)).into_response())
}

/// Cancel (or dispose of, or delete) a workflow
#[utoipa::path(post, path = "/v1/signing/{id}/cancel", operation_id = "cancelSigning", tag = "signing",
    security(("apiKey" = [])), params(("id" = String, Path, description = "The workflow's id.")), request_body(content = Option<CancelBody>, description = "optional: `cancel` when absent"),
    responses((status = 200, description = "the workflow after the change", body = SigningBody), crate::openapi::KeyProblems))]
async fn cancel(State(api): State<SigningApi>, Path(id): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let workflow = workflow_id(&api, &id)?;
    // No body, or JSON `null`, is a plain cancel (the document makes the body optional).
    let body: CancelBody = if body.is_empty() {
        CancelBody::default()
    } else {
        // An object (or `null`); serde would also read a struct from an array.
        let refused =
            || ApiError::Body { status: StatusCode::BAD_REQUEST, detail: "the body is not {command?, reason?}".into() };
        match serde_json::from_slice::<serde_json::Value>(&body).map_err(|_| refused())? {
            serde_json::Value::Null => CancelBody::default(),
            value @ serde_json::Value::Object(_) => serde_json::from_value(value).map_err(|_| refused())?,
            _ => return Err(refused()),
        }
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

/// Remind the current signer
#[utoipa::path(post, path = "/v1/signing/{id}/remind", operation_id = "remindSigner", tag = "signing",
    security(("apiKey" = [])), params(("id" = String, Path, description = "The workflow's id.")),
    responses((status = 204, description = "reminded"), crate::openapi::KeyProblems))]
async fn remind(State(api): State<SigningApi>, Path(id): Path<String>) -> Result<Response, ApiError> {
    api.workflows.remind(workflow_id(&api, &id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The signing provider's progress callbacks, checked against its configured authorization (`webhook_authorization`)
///
/// The provider reads the authorization (the Authorization header, or where its callbacks carry
/// it) and the body. Any status, an unknown one included, is accepted with 200; an authorized body
/// in a shape bonin does not read is also answered 200 and reported.
#[utoipa::path(post, path = "/v1/signing/events", operation_id = "receiveSigningEvent", tag = "signing",
    request_body(content = inline(Object), description = "the provider's callback as it sends it"),
    responses((status = 200, description = "accepted"), crate::openapi::EventProblems))]
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
                && let Err(error) =
                    outbox.progressed(api.workflows.provider().as_str(), &workflow_id, &status, &body).await
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

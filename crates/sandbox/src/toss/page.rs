//! The "Toss app": the `authUrl` page a person approves or refuses in, and the same acts as control
//! endpoints for tests and scripts.

use std::fmt;

use axum::{
    Form, Json,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{AUTH_PAGE_PATH, TOSS_TEST_PERSON, TossSimulator, TossStatus, toss_personas};
use crate::window_page::{AuthenticateForm, escape, page};

/// Why the app could not act on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlError {
    /// No request with that `txId` (or page code).
    UnknownTx,
    /// No persona with that key.
    UnknownPersona,
    /// A `USER_PERSONAL` request approved by someone other than its subject.
    NotTheSubject,
    /// Already approved.
    AlreadyCompleted,
    /// Already refused.
    AlreadyRefused,
    /// Past the request's TTL.
    Expired,
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnknownTx => "no such request",
            Self::UnknownPersona => "unknown persona",
            Self::NotTheSubject => "the request names another person",
            Self::AlreadyCompleted => "the request is already completed",
            Self::AlreadyRefused => "the request was refused",
            Self::Expired => "the request has expired",
        })
    }
}

impl ControlError {
    fn status(self) -> StatusCode {
        match self {
            Self::UnknownTx => StatusCode::NOT_FOUND,
            Self::UnknownPersona => StatusCode::BAD_REQUEST,
            Self::NotTheSubject => StatusCode::FORBIDDEN,
            Self::AlreadyCompleted | Self::AlreadyRefused | Self::Expired => StatusCode::CONFLICT,
        }
    }

    /// What the app tells the person.
    fn message(self) -> &'static str {
        match self {
            Self::UnknownTx => "유효하지 않은 인증 요청입니다.",
            Self::UnknownPersona => "테스트 사용자를 선택하세요.",
            Self::NotTheSubject => "요청한 고객 정보와 토스 사용자 정보가 일치하지 않습니다.",
            Self::AlreadyCompleted => "이미 인증이 완료된 요청입니다.",
            Self::AlreadyRefused => "취소된 인증 요청입니다.",
            Self::Expired => "인증 요청 시간이 만료되었습니다.",
        }
    }
}

const TITLE: &str = "토스 본인확인 (sandbox)";

fn message_page(status: StatusCode, id: &str, text: &str) -> Response {
    let mut response = page(TITLE, &format!(r#"<p id="{id}">{}</p>"#, escape(text)));
    *response.status_mut() = status;
    response
}

impl TossSimulator {
    fn tx_of_page(&self, code: &str) -> Option<String> {
        self.lock().pages.get(code).cloned()
    }

    /// The approve / refuse form of an open request.
    fn form_page(&self, code: &str, tx_id: &str, error: Option<ControlError>) -> Response {
        let subject = self.lock().txs.get(tx_id).and_then(|tx| tx.subject);
        let preselected = subject.unwrap_or(&TOSS_TEST_PERSON).key;
        let choices: String = toss_personas()
            .map(|p| {
                format!(
                    r#"<label><input type="radio" name="persona" value="{key}"{checked}> {name} · {birth}</label>"#,
                    key = escape(p.key),
                    checked = if p.key == preselected { " checked" } else { "" },
                    name = escape(p.name),
                    birth = escape(p.birth_date),
                )
            })
            .collect();
        let error_html =
            error.map(|e| format!(r#"<p id="error" role="alert">{}</p>"#, escape(e.message()))).unwrap_or_default();
        let mut response = page(
            TITLE,
            &format!(
                r#"<p>Simulated Toss app. Choose who is signed in to Toss and approve or refuse.</p>{error_html}
<form method="post" action="{AUTH_PAGE_PATH}"><input type="hidden" name="window" value="{code}">{choices}
<button id="approve" type="submit">인증하기</button> <button id="refuse" type="submit" name="cancel" value="1">취소</button></form>"#,
                code = escape(code),
            ),
        );
        if let Some(error) = error {
            *response.status_mut() = error.status();
        }
        response
    }

    fn done_page(&self, tx_id: &str) -> Response {
        let return_url = self.lock().txs.get(tx_id).and_then(|tx| tx.request_url.clone());
        let back = return_url
            .map(|url| format!(r#" <a id="return" href="{}">돌아가기</a>"#, escape(&url)))
            .unwrap_or_default();
        page(TITLE, &format!(r#"<p id="completed">인증이 완료되었습니다. 창을 닫아 주세요.{back}</p>"#))
    }
}

#[derive(Deserialize)]
pub(super) struct PageQuery {
    #[serde(default)]
    code: String,
}

/// `GET /_sandbox/toss/auth?code=`: the person opens the request (`IN_PROGRESS`).
pub(super) async fn show(State(sim): State<TossSimulator>, Query(query): Query<PageQuery>) -> Response {
    let Some(tx_id) = sim.tx_of_page(&query.code) else {
        return message_page(StatusCode::NOT_FOUND, "error", ControlError::UnknownTx.message());
    };
    match sim.open(&tx_id) {
        Ok(_) => sim.form_page(&query.code, &tx_id, None),
        Err(ControlError::AlreadyCompleted) => sim.done_page(&tx_id),
        Err(error) => message_page(error.status(), "closed", error.message()),
    }
}

/// `POST /_sandbox/toss/auth` (`window` = page code, `persona`, `cancel`): approve or refuse.
pub(super) async fn submit(State(sim): State<TossSimulator>, Form(form): Form<AuthenticateForm>) -> Response {
    let Some(tx_id) = sim.tx_of_page(&form.window) else {
        return message_page(StatusCode::NOT_FOUND, "error", ControlError::UnknownTx.message());
    };
    if form.cancel.is_some() {
        return match sim.refuse(&tx_id) {
            Ok(_) => message_page(StatusCode::OK, "refused", "인증을 취소했습니다. 창을 닫아 주세요."),
            Err(error) => message_page(error.status(), "closed", error.message()),
        };
    }
    let persona = Some(form.persona.trim()).filter(|p| !p.is_empty());
    match sim.approve(&tx_id, persona) {
        Ok(_) => sim.done_page(&tx_id),
        Err(error @ (ControlError::UnknownPersona | ControlError::NotTheSubject)) => {
            sim.form_page(&form.window, &tx_id, Some(error))
        }
        Err(error) => message_page(error.status(), "closed", error.message()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ControlRequest {
    tx_id: String,
    #[serde(default)]
    persona: Option<String>,
}

fn control_answer(tx_id: &str, outcome: Result<TossStatus, ControlError>, extra: Option<(&str, String)>) -> Response {
    match outcome {
        Ok(status) => {
            let mut body = json!({"txId": tx_id, "status": status.as_str()});
            if let Some((name, value)) = extra {
                body[name] = json!(value);
            }
            Json(body).into_response()
        }
        Err(error) => (error.status(), Json(json!({"error": error.to_string()}))).into_response(),
    }
}

/// `POST /_sandbox/toss/approve {"txId", "persona"?}`.
pub(super) async fn approve_api(State(sim): State<TossSimulator>, Json(request): Json<ControlRequest>) -> Response {
    control_answer(&request.tx_id, sim.approve(&request.tx_id, request.persona.as_deref()), None)
}

/// `POST /_sandbox/toss/refuse {"txId"}`.
pub(super) async fn refuse_api(State(sim): State<TossSimulator>, Json(request): Json<ControlRequest>) -> Response {
    control_answer(&request.tx_id, sim.refuse(&request.tx_id), None)
}

/// `POST /_sandbox/toss/open {"txId"}` → `{"txId", "status", "pageUrl"}`.
pub(super) async fn open_api(
    State(sim): State<TossSimulator>,
    headers: HeaderMap,
    Json(request): Json<ControlRequest>,
) -> Response {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
    let page_url = sim.page_path(&request.tx_id).map(|path| format!("http://{host}{path}"));
    let outcome = sim.open(&request.tx_id);
    control_answer(&request.tx_id, outcome, page_url.map(|url| ("pageUrl", url)))
}

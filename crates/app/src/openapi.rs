//! The OpenAPI 3.1 description of the REST API, built here next to the router (a test checks that
//! every route is described) and written to `docs/openapi.json` by `cargo xtask codegen`.

use serde_json::{Value, json};

fn problem_responses(codes: &[u16]) -> Value {
    let mut map = serde_json::Map::new();
    for code in codes {
        map.insert(
            code.to_string(),
            json!({"description": "problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}),
        );
    }
    Value::Object(map)
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

fn verification_ok(status: &str) -> Value {
    json!({status: {"description": "the verification", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Verification"}}}}})
}

fn id_param() -> Value {
    json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}])
}

fn json_body(schema: &str) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

/// What each verification provider of this build can do: one schema per provider naming the
/// methods it offers (`anyOf` in `StartRequest`).
fn provider_methods() -> Vec<Value> {
    crate::providers::registered()
        .iter()
        .filter(|p| p.capabilities().verifies())
        .map(|p| {
            json!({"properties": {"provider": {"const": p.id().as_str()},
                "method": {"enum": p.capabilities().methods()}}, "required": ["provider"],
                "description": p.about()})
        })
        .collect()
}

/// The launch kinds: a form, and every registered provider's browser launchers.
fn launch_kinds() -> Vec<&'static str> {
    let mut kinds = vec!["form"];
    for provider in crate::providers::registered() {
        kinds.extend(provider.launchers().iter().map(|l| l.kind));
    }
    kinds
}

/// The document: the REST API of this build (its providers, and `/v1/signing` when one of them
/// signs).
pub fn document() -> Value {
    let mut document = full_document();
    let signs = crate::providers::registered().iter().any(|p| p.capabilities().signing);
    if !signs && let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        paths.retain(|path, _| !path.starts_with("/v1/signing"));
    }
    document
}

fn full_document() -> Value {
    let verifying: Vec<&'static str> = crate::providers::verifying().iter().map(|p| p.as_str()).collect();
    let start_cases: Vec<Value> =
        std::iter::once(json!({"not": {"required": ["provider"]}})).chain(provider_methods()).collect();
    let secured = json!([{"apiKey": []}]);
    let errors = [400, 401, 403, 404, 409, 410, 413, 422, 429, 500, 502, 503];
    json!({
        "openapi": "3.1.0",
        "info": {"title": "bonin", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Mobile identity verification (휴대폰 본인확인) behind one API."},
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Problem": {"type": "object", "required": ["type", "title", "status", "code"], "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                    "detail": {"type": "string"}, "code": {"type": "string", "enum": bonin_domain::ErrorCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()},
                    "provider_code": {"type": "string"}}},
                "StartRequest": {"type": "object", "required": ["method"], "additionalProperties": false,
                    "description": "Without `provider`, `verification.default_provider` is used. Each provider offers only some methods; a method it lacks is refused (invalid_input).",
                    "anyOf": start_cases,
                    "properties": {
                    "provider": {"type": "string", "enum": verifying},
                    "method": {"type": "string", "enum": ["window", "otp", "app"]},
                    "return_url": {"type": "string", "format": "uri"},
                    "purpose": {"type": "string", "enum": ["sign_up", "change_info", "find_id", "find_password", "identity_check", "adult_check", "purchase", "other"]},
                    "display": {"type": "string", "enum": ["popup", "page"]},
                    "min_age": {"type": "integer", "minimum": 0, "maximum": 255,
                        "description": "Checked by bonin against the verified birth date for every provider (age_restricted), and passed to providers that enforce it in their window."},
                    "prefill": {"type": "object", "additionalProperties": false,
                        "description": "The person's details, for windows that can be filled in with them (where the provider's window takes them: some fix name and phone, others only pre-fill). They reach the launch, which the user's own browser sees. Compare the verified identity with what you expect where it matters.",
                        "properties": {"name": {"type": "string"}, "phone": {"type": "string"},
                            "birth_date": {"type": "string", "format": "date"}, "carrier": {"$ref": "#/components/schemas/Carrier"}}},
                    "custom_data": {"type": "string", "description": "The merchant's own data kept with the provider's record, where the provider keeps such data (JSON text)."}}},
                "CompleteRequest": {"type": "object", "required": ["params"], "properties": {
                    "params": {"type": "object", "additionalProperties": {"type": "string"}}}},
                "OtpSendRequest": {"type": "object", "required": ["name", "phone", "birth_date", "gender", "nationality", "carrier"], "properties": {
                    "name": {"type": "string"}, "phone": {"type": "string"}, "birth_date": {"type": "string", "format": "date"},
                    "gender": {"type": "string", "enum": ["male", "female"]}, "nationality": {"type": "string", "enum": ["domestic", "foreign"]},
                    "carrier": {"$ref": "#/components/schemas/Carrier"},
                    "auth_type": {"type": "string", "enum": ["sms", "lms", "pass", "app"]},
                    "client_ip": {"type": "string"}}},
                "ConfirmRequest": {"type": "object", "properties": {"code": {"type": "string"}}},
                "Carrier": {"type": "string", "enum": ["skt", "kt", "lgu", "skt_mvno", "kt_mvno", "lgu_mvno"]},
                "Identity": {"type": "object", "required": ["provider", "verified_at"], "properties": {
                    "name": {"type": "string"}, "birth_date": {"type": "string", "format": "date"},
                    "gender": {"type": "string", "enum": ["male", "female"]}, "nationality": {"type": "string", "enum": ["domestic", "foreign"]},
                    "phone": {"type": "string"}, "carrier": {"$ref": "#/components/schemas/Carrier"},
                    "ci": {"type": "string"}, "di": {"type": "string"}, "provider": {"type": "string"},
                    "provider_tx_id": {"type": "string"}, "verified_at": {"type": "string", "format": "date-time"},
                    "evidence": {"type": "string", "description": "The provider's signed proof of the verification as it came (opaque; e.g. Base64 PKCS#7), where the provider gives one."}}},
                "Launch": {"type": "object", "required": ["kind"], "properties": {
                    "kind": {"type": "string", "enum": launch_kinds()}},
                    "additionalProperties": true},
                "Verification": {"type": "object", "required": ["id", "provider", "method", "status", "expires_at"], "properties": {
                    "id": {"type": "string"}, "provider": {"type": "string"}, "method": {"type": "string", "enum": ["window", "otp", "app"]},
                    "status": {"type": "string", "enum": ["pending", "otp_sent", "verified", "failed", "expired"]},
                    "expires_at": {"type": "string", "format": "date-time"},
                    "launch": {"$ref": "#/components/schemas/Launch"},
                    "identity": {"$ref": "#/components/schemas/Identity"},
                    "error": {"type": "object", "properties": {"code": {"type": "string"}, "provider_code": {"type": "string"}}},
                    "otp_attempts_left": {"type": "integer"},
                    "app_state": {"type": "string", "enum": ["requested", "in_progress", "completed"],
                        "description": "app method only: where the approval stands at the provider. Reading the verification polls the provider (at most every 2 s across all readers); bonin also polls in the background."}}},
                "SigningStartRequest": {"type": "object", "required": ["template_id", "workflow_name", "signers"], "additionalProperties": false, "properties": {
                    "template_id": {"type": "string"},
                    "workflow_name": {"type": "string", "maxLength": 128, "description": "none of ' \" \\ / : | < > . ?"},
                    "signers": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
                        "name": {"type": "string"}, "email": {"type": "string"}, "phone": {"type": "string"}}}},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                    "expires_on": {"type": "string", "format": "date"}}},
                "SigningCancelRequest": {"type": "object", "additionalProperties": false, "properties": {
                    "command": {"type": "string", "enum": ["cancel", "dispose", "delete"]}, "reason": {"type": "string"}}},
                "Signing": {"type": "object", "required": ["id", "provider", "provider_workflow_id", "status"], "properties": {
                    "id": {"type": "string"}, "provider": {"type": "string"}, "provider_workflow_id": {"type": "string"},
                    "status": {"type": "string", "description": "in_progress, completed, cancelled, disposed, deleted, or the provider's own word"},
                    "signing_url": {"type": "string", "description": "start only, embed mode only (the provider's `embed` setting): the first signer's own signing page, the same as signers[0].signing_url; hand it to that signer only. Absent otherwise: the provider sends each signer their own link by mail or KakaoTalk"},
                    "signers": {"type": "array", "description": "start only, embed mode only: the signers' own links bonin holds, by signing order (the first signer's; each later signer's link arrives with the provider's progress callback)",
                        "items": {"type": "object", "required": ["order", "signing_url"], "properties": {"order": {"type": "integer", "minimum": 1}, "signing_url": {"type": "string"}}}},
                    "name": {"type": "string"}, "download_url": {"type": "string"}, "certificate_url": {"type": "string"},
                    "history": {"type": "array", "items": {"type": "object", "properties": {"step_code": {"type": "string"}, "at": {"type": "string"}}}}}}
            }
        },
        "paths": {
            "/v1/verifications": {"post": {"summary": "Start a verification", "security": secured,
                "requestBody": json_body("StartRequest"), "responses": with(verification_ok("201"), problem_responses(&errors))}},
            "/v1/verifications/{id}": {"get": {"summary": "Status, and the identity the first time it is read", "security": secured,
                "parameters": id_param(), "responses": with(verification_ok("200"), problem_responses(&errors))}},
            "/v1/verifications/{id}/return": {
                "get": {"summary": "Browser landing for the provider's redirect", "parameters": id_param(),
                    "responses": {"200": {"description": "popup page"}, "303": {"description": "back to return_url with verification_id and status"}, "404": {"description": "unknown verification"}}},
                "post": {"summary": "Browser landing for the provider's post-back", "parameters": id_param(),
                    "responses": {"200": {"description": "popup page"}, "303": {"description": "back to return_url with verification_id and status"}, "404": {"description": "unknown verification"}}}},
            "/v1/verifications/{id}/launch": {
                "get": {"summary": "Data a provider's browser SDK fetches (the request it posts to the provider)", "parameters": id_param(),
                    "responses": with(json!({"200": {"description": "provider-defined JSON"}}), problem_responses(&[404, 409, 410]))},
                "post": {"summary": "Data a provider's browser SDK fetches (the request it posts to the provider)", "parameters": id_param(),
                    "responses": with(json!({"200": {"description": "provider-defined JSON"}}), problem_responses(&[404, 409, 410]))}},
            "/v1/verifications/{id}/complete": {"post": {"summary": "Server-to-server completion with the callback parameters", "security": secured,
                "parameters": id_param(), "requestBody": json_body("CompleteRequest"), "responses": with(verification_ok("200"), problem_responses(&errors))}},
            "/v1/verifications/{id}/otp": {"post": {"summary": "Send the OTP", "security": secured,
                "parameters": id_param(), "requestBody": json_body("OtpSendRequest"), "responses": with(verification_ok("200"), problem_responses(&errors))}},
            "/v1/verifications/{id}/confirm": {"post": {"summary": "Confirm the OTP", "security": secured,
                "parameters": id_param(), "requestBody": json_body("ConfirmRequest"), "responses": with(verification_ok("200"), problem_responses(&errors))}},
            "/v1/verifications/{id}/resend": {"post": {"summary": "Send the OTP again", "security": secured,
                "parameters": id_param(), "responses": with(verification_ok("200"), problem_responses(&errors))}},
            "/v1/signing": {"post": {"summary": "Start an e-signature workflow from a template", "security": secured,
                "requestBody": json_body("SigningStartRequest"), "responses": with(json!({"201": {"description": "started", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Signing"}}}}}), problem_responses(&errors))}},
            "/v1/signing/{id}": {"get": {"summary": "Status, history and download URLs of a workflow", "security": secured,
                "parameters": id_param(), "responses": with(json!({"200": {"description": "the workflow", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Signing"}}}}}), problem_responses(&errors))}},
            "/v1/signing/{id}/cancel": {"post": {"summary": "Cancel (or dispose of, or delete) a workflow", "security": secured,
                "parameters": id_param(), "requestBody": {"required": false, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SigningCancelRequest"}}}},
                "responses": with(json!({"200": {"description": "the workflow after the change", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Signing"}}}}}), problem_responses(&errors))}},
            "/v1/signing/{id}/remind": {"post": {"summary": "Remind the current signer", "security": secured,
                "parameters": id_param(), "responses": with(json!({"204": {"description": "reminded"}}), problem_responses(&errors))}},
            "/v1/signing/events": {"post": {"summary": "The signing provider's progress callbacks, checked against its configured authorization (`webhook_authorization`)",
                "description": "The provider reads the authorization (the Authorization header, or where its callbacks carry it) and the body. Any status, an unknown one included, is accepted with 200; an authorized body in a shape bonin does not read is also answered 200 and reported.",
                "responses": with(json!({"200": {"description": "accepted"}}), problem_responses(&[400, 401, 404]))}},
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}},
            "/readyz": {"get": {"summary": "Readiness (the session store answers)", "responses": with(json!({"200": {"description": "ready"}}), problem_responses(&[503]))}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text exposition"}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}}
        }
    })
}

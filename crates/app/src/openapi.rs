//! The OpenAPI 3.1 description of the REST API, generated with utoipa from the handlers'
//! `#[utoipa::path]` attributes and the request and response types (a test checks that every route
//! is described) and written to `docs/openapi.json` by `cargo xtask codegen`.
//!
//! The document is per build: the provider lists, what each provider can do (`StartRequest`'s
//! `if`/`then` chain) and the launch shapes (`Launch`, a `oneOf` by `kind`: `form` and each registered
//! provider's launchers, typed by the schema each launcher brings) come from the provider registry,
//! and `/v1/signing` is described only when a provider of the build signs.
//!
//! The domain types the API shows are described here by schema types of the app's own (the domain
//! crate stays free of frameworks); tests check that their values are the ones the domain reads
//! and writes, and that every response of a sandbox flow matches its schema.

use std::{borrow::Cow, collections::BTreeMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{
    IntoResponses, OpenApi, PartialSchema, ToSchema,
    openapi::{
        ContentBuilder, ObjectBuilder, RefOr, ResponseBuilder, Type,
        response::Response,
        schema::{Schema, SchemaType},
    },
};

/// The header a request id travels in (see [`crate::access`]).
const REQUEST_ID: &str = "x-request-id";

/// The operations `POST /v1/verifications`' answer links to, by the verification's `id`.
pub const VERIFICATION_LINKS: [(&str, &str); 6] = [
    ("GetVerification", "getVerification"),
    ("CompleteVerification", "completeVerification"),
    ("SendOtp", "sendOtp"),
    ("ConfirmOtp", "confirmOtp"),
    ("ResendOtp", "resendOtp"),
    ("GetLaunchData", "getLaunchData"),
];

#[derive(OpenApi)]
#[openapi(
    info(title = "bonin", description = "Mobile identity verification (휴대폰 본인확인) behind one API."),
    paths(
        crate::api::start,
        crate::api::read,
        crate::api::complete,
        crate::api::otp_send,
        crate::api::otp_confirm,
        crate::api::otp_resend,
        crate::api::landing_get,
        crate::api::landing_post,
        crate::api::launch,
        crate::signing::start,
        crate::signing::read,
        crate::signing::cancel,
        crate::signing::remind,
        crate::signing::events,
        crate::api::healthz,
        crate::api::readyz,
        crate::api::metrics,
        crate::api::openapi,
    ),
    components(schemas(Problem, ErrorCodeSchema)),
    tags(
        (name = "verifications", description = "Identity verification: start, the provider's window or OTP or app approval, the result."),
        (name = "signing", description = "E-signature workflows (when a signing provider is in the build)."),
        (name = "operations", description = "Health, readiness, metrics and this document."),
    ),
)]
struct ApiDoc;

/// The document: the REST API of this build (its providers, and `/v1/signing` when one of them
/// signs).
pub fn document() -> Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    per_build(&mut document);
    let signs = crate::providers::registered().iter().any(|p| p.capabilities().signing);
    if !signs && let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        paths.retain(|path, _| !path.starts_with("/v1/signing"));
    }
    document
}

/// Adds `rule` to `schema`'s `allOf` (where the rules beside its own properties go).
fn add_rule(schema: &mut Value, rule: Value) {
    if let Some(all) = schema.as_object_mut().and_then(|s| s.entry("allOf").or_insert_with(|| json!([])).as_array_mut())
    {
        all.push(rule);
    }
}

/// Which optional routes a running server answers (see [`served`]).
#[derive(Debug, Clone, Copy)]
pub struct Served {
    /// `/healthz`, `/readyz` and `/metrics` are on the API's port (no `server.admin_bind`).
    pub ops: bool,
    /// `/v1/signing` is configured.
    pub signing: bool,
    /// `verification.default_provider`, which a start without `provider` uses.
    pub default_provider: Option<bonin_domain::ProviderId>,
}

/// The operations routes, which `server.admin_bind` moves to their own listener.
const OPS_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The document a running server serves at `/openapi.json`: [`document`] without the routes it
/// does not answer (the operations routes when `server.admin_bind` moved them, `/v1/signing`
/// when no signing provider is configured), and with the methods a start without `provider` may
/// ask for (the configured default provider's).
pub fn served(served: Served) -> Value {
    let mut document = document();
    if let Some(default) = served.default_provider.and_then(crate::providers::find) {
        // Absent or `null` alike: not a provider named.
        add_rule(
            &mut document["components"]["schemas"]["StartRequest"],
            json!({"if": {"not": {"required": ["provider"], "properties": {"provider": {"type": "string"}}}},
            "then": {"properties": {"method": {"enum": default.capabilities().methods()}}},
            "description": format!("Without `provider`: {}, this server's default provider.", default.id())}),
        );
    }
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        paths.retain(|path, _| {
            (served.ops || !OPS_PATHS.contains(&path.as_str())) && (served.signing || !path.starts_with("/v1/signing"))
        });
    }
    document
}

/// What the derive cannot say: the build's providers and launch shapes, the API key scheme, the
/// request id on every operation and answer, and `POST` beside `GET` for the launch data.
fn per_build(document: &mut Value) {
    let components = &mut document["components"];
    components["securitySchemes"] = json!({"apiKey": {"type": "http", "scheme": "bearer",
        "description": "A key from `server.api_keys`, as `Authorization: Bearer <key>`. A sandbox without keys accepts calls without one (loopback only)."}});
    components["parameters"] = json!({"RequestId": {"name": REQUEST_ID, "in": "header", "required": false,
        "description": "The caller's id for this request: kept when it is 1–64 characters of `[A-Za-z0-9._:-]`, replaced otherwise; answered in `x-request-id` and logged with the request.",
        // Any value is accepted (one that does not fit is replaced, never refused), so the schema
        // does not restrict it.
        "schema": {"type": "string"}}});
    components["headers"] = json!({"RequestId": {"description": "The request's id: the caller's when acceptable, else one bonin made (32 hex digits).",
        "required": true, "schema": {"type": "string"}}});
    if let (Some(start), Value::Object(chain)) =
        (components["schemas"]["StartRequest"].as_object_mut(), provider_methods())
    {
        start.extend(chain);
    }
    components["schemas"]["Launch"] = launch_schema();
    components["schemas"]["FormLaunch"]["properties"]["kind"] = json!({"type": "string", "const": "form"});
    // The example's provider: one of this build's.
    if let Some(provider) = crate::providers::verifying().first()
        && let Some(example) = components["schemas"]["Verification"]["example"].as_object_mut()
    {
        example.insert("provider".into(), json!(provider.as_str()));
    }
    for (name, schema) in launcher_schemas() {
        components["schemas"][name] = schema;
    }
    constrain(&mut components["schemas"]);
    if let Some(tags) = document.get_mut("tags").and_then(Value::as_array_mut) {
        tags.push(json!({"name": "browser", "description": "`bonin.js`, the browser half, and its TypeScript declarations (open, cacheable; `docs/BROWSER.md`)."}));
    }
    let any_route = serde_json::to_value(problems(&ANY_ROUTE)).unwrap_or_default();
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, operation) in browser_paths() {
        let mut operation = operation;
        if let (Some(responses), Some(problems)) = (operation["responses"].as_object_mut(), any_route.as_object()) {
            responses.extend(problems.clone());
        }
        paths.insert(path, json!({"get": operation}));
    }
    if let Some(launch) = paths.get_mut("/v1/verifications/{id}/launch").and_then(Value::as_object_mut)
        && let Some(get) = launch.get("get").cloned()
    {
        let mut post = get;
        post["operationId"] = json!("postLaunchData");
        post["summary"] = json!("The data a provider's browser SDK fetches, by POST (as some SDKs send it)");
        launch.insert("post".into(), post);
    }
    for operation in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|p| p.values_mut()) {
        let parameters = operation.as_object_mut().map(|o| o.entry("parameters").or_insert_with(|| json!([])));
        if let Some(Value::Array(parameters)) = parameters {
            parameters.push(json!({"$ref": "#/components/parameters/RequestId"}));
        }
        let responses =
            operation.get_mut("responses").and_then(Value::as_object_mut).into_iter().flat_map(|r| r.values_mut());
        for response in responses {
            response["headers"][REQUEST_ID] = json!({"$ref": "#/components/headers/RequestId"});
        }
    }
}

/// A name (`bonin_domain::Name`): at most 100 characters, not blank, no control characters.
const NAME: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";
/// A Korean mobile number, digits only (`bonin_domain::PhoneNumber` also drops dashes and spaces).
const PHONE: &str = "^01[0-9]{8,9}$";
/// A one-time code (`bonin_domain::OtpCode`).
const OTP_CODE: &str = "^[0-9]{4,8}$";
/// An email address (`bonin_domain::Email`): one `@`, a dot in the domain, no spaces.
const EMAIL: &str =
    r"^[^@\s\u0000-\u001f\u007f-\u009f]+@[^@\s\u0000-\u001f\u007f-\u009f]*\.[^@\s\u0000-\u001f\u007f-\u009f]*$";
/// An eSignon workflow name: not blank, none of `' " \ / : | < > . ?` (as the adapter checks).
const WORKFLOW_NAME: &str = r#"^[^'"\\/:|<>.?]*[^\s\u0085'"\\/:|<>.?][^'"\\/:|<>.?]*$"#;
/// Not blank: a character that is not white space (`\u0085` named, as ECMAScript's `\s` lacks it).
const NOT_BLANK: &str = r"[^\s\u0085]";
/// An absolute `http(s)` URL (its origin must also be allowed, which configuration decides).
const HTTP_URL: &str = "^https?://[^/?#@\\s]+([/?#][^\\s]*)?$";

/// What the request types' own checks require, stated where a JSON Schema can state it, so that
/// a generated client or a fuzzer sending schema-valid data is not refused by a rule the document
/// did not give. (What only configuration or the provider decides — allowed return origins,
/// templates, whether a person exists — stays in the descriptions.)
fn constrain(schemas: &mut Value) {
    let string = |pattern: &str, max: Option<u64>| {
        let mut schema = json!({"type": "string", "pattern": pattern});
        if let Some(max) = max {
            schema["maxLength"] = json!(max);
        }
        schema
    };
    let mut set = |schema: &str, field: &str, constraint: Value| {
        let property = &mut schemas[schema]["properties"][field];
        let Some(property) = property.as_object_mut() else { return };
        let nullable = property.get("type").and_then(Value::as_array).is_some_and(|t| t.contains(&json!("null")));
        if let Some(extra) = constraint.as_object() {
            property.extend(extra.clone());
        }
        if nullable {
            property.insert("type".into(), json!(["string", "null"]));
        }
    };
    for schema in ["OtpSendRequest", "Prefill"] {
        set(schema, "name", string(NAME, Some(100)));
        set(schema, "phone", string(PHONE, None));
    }
    set("Signer", "name", string(NAME, Some(100)));
    set("Signer", "phone", string(PHONE, None));
    set("Signer", "email", string(EMAIL, Some(254)));
    set("ConfirmRequest", "code", string(OTP_CODE, None));
    set("SigningStartRequest", "workflow_name", string(WORKFLOW_NAME, Some(128)));
    set("SigningStartRequest", "template_id", string(NOT_BLANK, None));
    set("SigningStartRequest", "fields", json!({"propertyNames": {"pattern": NOT_BLANK}}));
    set("StartRequest", "return_url", string(HTTP_URL, None));
    // Every signer is reached by email or phone.
    if let Some(signer) = schemas["Signer"].as_object_mut() {
        signer.insert(
            "anyOf".into(),
            json!([
                {"required": ["email"], "properties": {"email": {"type": "string"}}},
                {"required": ["phone"], "properties": {"phone": {"type": "string"}}},
            ]),
        );
    }
    // A window verification needs its return URL.
    add_rule(
        &mut schemas["StartRequest"],
        json!({"if": {"properties": {"method": {"const": "window"}}, "required": ["method"]},
            "then": {"required": ["return_url"], "properties": {"return_url": {"type": "string"}}}}),
    );
    // Disposing of a document needs a reason.
    if let Some(cancel) = schemas["SigningCancelRequest"].as_object_mut() {
        cancel.insert("if".into(), json!({"properties": {"command": {"const": "dispose"}}, "required": ["command"]}));
        cancel.insert(
            "then".into(),
            json!({"required": ["reason"],
            "properties": {"reason": {"type": "string", "pattern": NOT_BLANK}}}),
        );
    }
    // Rust's `IpAddr`: an IPv4 or IPv6 address, nothing else.
    if let Some(ip) = schemas["OtpSendRequest"]["properties"]["client_ip"].as_object_mut() {
        ip.remove("format");
        ip.remove("type");
        ip.insert(
            "anyOf".into(),
            json!([{"type": "string", "format": "ipv4"}, {"type": "string", "format": "ipv6"}, {"type": "null"}]),
        );
    }
}

/// `GET /bonin.js`, `GET /bonin.<hash>.js` (this build's) and `GET /bonin.d.ts`
/// (see [`crate::browser_js`]).
fn browser_paths() -> Vec<(String, Value)> {
    let script = crate::browser_js::script();
    let if_none_match = json!({"name": "if-none-match", "in": "header", "required": false,
        "description": "An `ETag` this answered before: `304` while it is current.", "schema": {"type": "string"}});
    let text = |media: &str| json!({media: {"schema": {"type": "string"}}});
    let header =
        |description: &str| json!({"description": description, "required": true, "schema": {"type": "string"}});
    let script_answer = |immutable: bool| {
        json!({
            "200": {"description": if immutable { "The script; cacheable for a year (the URL names its content)" } else { "The running version's script; revalidate (`no-cache`)" },
                "content": text("text/javascript"),
                "headers": {
                    "bonin-integrity": header("Its Subresource Integrity value (`sha384-…`), for `<script integrity>`."),
                    "bonin-script": header("Its content-addressed path, `/bonin.<hash>.js`."),
                    "etag": header("The integrity value, quoted."),
                    "cache-control": header(if immutable { "`public, max-age=31536000, immutable`" } else { "`no-cache`" }),
                }},
            "304": {"description": "Not modified (`If-None-Match` named the current ETag)"},
        })
    };
    let operation = |id: &str, summary: &str, responses: Value| {
        json!({"operationId": id, "summary": summary, "tags": ["browser"],
            "parameters": [if_none_match.clone()], "responses": responses})
    };
    vec![
        ("/bonin.js".into(), operation("getBoninJs", "bonin.js, the running version", script_answer(false))),
        (
            script.path.clone(),
            operation(
                "getBoninJsImmutable",
                "bonin.js by its content-addressed path (this build's; `bonin-script` names it)",
                script_answer(true),
            ),
        ),
        (
            "/bonin.d.ts".into(),
            operation(
                "getBoninDeclarations",
                "The TypeScript declarations of `window.Bonin`",
                json!({
                    "200": {"description": "The declarations (`no-cache`, with an ETag)",
                        "content": text("application/typescript"),
                        "headers": {"etag": header("Their digest, quoted.")}},
                    "304": {"description": "Not modified (`If-None-Match` named the current ETag)"},
                }),
            ),
        ),
    ]
}

/// What each verification provider of this build can do, as one `if`/`then`/`else` chain: with
/// `provider` P, `method` is one P offers. Conditionals rather than an `anyOf` of cases, so that
/// client generators still see one request type (they ignore conditionals; validators and
/// Schemathesis apply them).
fn provider_methods() -> Value {
    let providers: Vec<_> = crate::providers::registered().iter().filter(|p| p.capabilities().verifies()).collect();
    providers.iter().rev().fold(json!({}), |otherwise, p| {
        let mut case = json!({
            "if": {"properties": {"provider": {"const": p.id().as_str()}}, "required": ["provider"]},
            "then": {"properties": {"method": {"enum": p.capabilities().methods()}}, "description": p.about()}});
        if otherwise != json!({}) {
            case["else"] = otherwise;
        }
        case
    })
}

/// The schema name of a launch kind's shape: `acme` → `AcmeLaunch`.
fn launch_schema_name(kind: &str) -> String {
    let mut name = String::new();
    for part in kind.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        name.extend(chars.next().map(|c| c.to_ascii_uppercase()));
        name.push_str(chars.as_str());
    }
    name + "Launch"
}

/// Every registered launcher's shape: `kind` and `script_url`, then the fields its schema names
/// (any object when the launcher brings no schema).
fn launcher_schemas() -> Vec<(String, Value)> {
    let mut schemas = Vec::new();
    for launcher in crate::providers::registered().iter().flat_map(|p| p.launchers()) {
        let own: Value = launcher.schema.and_then(|text| serde_json::from_str(text).ok()).unwrap_or_else(|| json!({}));
        let mut properties = Map::new();
        properties.insert("kind".into(), json!({"type": "string", "const": launcher.kind}));
        properties.insert(
            "script_url".into(),
            json!({"type": "string", "description": "The provider's browser SDK to load."}),
        );
        if let Some(fields) = own.get("properties").and_then(Value::as_object) {
            properties.extend(fields.clone());
        }
        let mut required = vec![json!("kind"), json!("script_url")];
        required.extend(own.get("required").and_then(Value::as_array).cloned().unwrap_or_default());
        let mut schema = json!({"type": "object", "required": required, "properties": properties});
        if let Some(description) = own.get("description") {
            schema["description"] = description.clone();
        }
        schemas.push((launch_schema_name(launcher.kind), schema));
    }
    schemas
}

/// `Launch`: a `oneOf` discriminated by `kind` over `form` and every registered launcher.
fn launch_schema() -> Value {
    let mut mapping = Map::new();
    mapping.insert("form".into(), json!("#/components/schemas/FormLaunch"));
    for launcher in crate::providers::registered().iter().flat_map(|p| p.launchers()) {
        mapping
            .insert(launcher.kind.into(), json!(format!("#/components/schemas/{}", launch_schema_name(launcher.kind))));
    }
    let one_of: Vec<Value> = mapping.values().map(|r| json!({"$ref": r})).collect();
    json!({"description": "What the browser needs to open the provider's UI, by `kind` (`bonin.js` opens every kind of the build).",
        "oneOf": one_of, "discriminator": {"propertyName": "kind", "mapping": mapping}})
}

/// The problem answers (RFC 9457) with these statuses.
fn problems(statuses: &[u16]) -> BTreeMap<String, RefOr<Response>> {
    statuses
        .iter()
        .map(|status| {
            let content = ContentBuilder::new()
                .schema(Some(RefOr::<Schema>::Ref(utoipa::openapi::Ref::from_schema_name("Problem"))))
                .build();
            let description = match status {
                400 => "invalid_request: the request was refused; nothing was changed",
                401 => "unauthorized: missing or invalid API key",
                403 => "age_restricted, or a keyless sandbox addressed by a foreign host name",
                404 => "not_found",
                409 => "already_completed, attempts_exhausted, or wrong_step (the step does not fit the verification's method or status)",
                410 => "expired",
                413 => "the body is larger than server.body_limit",
                415 => "the body is not sent as application/json",
                422 => "integrity_mismatch or provider_rejected",
                429 => "rate_limited: try again after Retry-After seconds",
                500 => "misconfigured, or an internal error",
                502 => "provider_indeterminate: the step may have happened; read the status",
                503 => "provider_unavailable: nothing was processed; retry with backoff",
                _ => "problem",
            };
            let mut response =
                ResponseBuilder::new().description(description).content("application/problem+json", content);
            if *status == 429 {
                response = response.header(
                    "retry-after",
                    utoipa::openapi::header::HeaderBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1))))
                        .description(Some("Seconds to wait."))
                        .build(),
                );
            }
            (status.to_string(), RefOr::T(response.build()))
        })
        .collect()
}

/// Problems every route can answer: a keyless sandbox addressed by a foreign name (403), a panic
/// (500), the request time limit (502).
const ANY_ROUTE: [u16; 3] = [403, 500, 502];

macro_rules! problem_set {
    ($(#[$doc:meta])* $name:ident: $($status:literal),*) => {
        $(#[$doc])*
        pub(crate) struct $name;
        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                let mut statuses: Vec<u16> = ANY_ROUTE.to_vec();
                statuses.extend([$($status),*]);
                problems(&statuses)
            }
        }
    };
}

problem_set!(
    /// A route behind the API key that reads a JSON body and may reach a provider.
    BodyProblems: 400, 401, 404, 409, 410, 413, 415, 422, 429, 503
);
problem_set!(
    /// A route behind the API key without a body that may reach a provider.
    KeyProblems: 400, 401, 404, 409, 410, 413, 422, 429, 503
);
problem_set!(
    /// The open launch-data route.
    LaunchProblems: 400, 404, 409, 410, 422, 429, 503
);
problem_set!(
    /// The open landing (its own refusals are HTML pages).
    LandingProblems: 429
);
problem_set!(
    /// The signing provider's callbacks (503: the forwarded event could not be stored, so the
    /// provider should send the callback again).
    EventProblems: 400, 401, 404, 413, 503
);
problem_set!(
    /// The operations routes.
    OpsProblems: 503
);

/// The landing's answer to a page's script that asked for JSON (`Accept: application/json`, as
/// `bonin.js` does when it hands over an SDK's result), in popup display.
#[derive(Debug, ToSchema)]
#[schema(example = json!({"verification_id": "vfhq3tzk5m2xw7rbn4c6dpyaue", "status": "verified", "error": null}))]
#[allow(dead_code)] // Describes what the landing writes.
pub(crate) struct LandingOutcome {
    /// The verification's id.
    verification_id: String,
    /// Where the verification stands after the provider's answer.
    status: Status,
    /// Why completing failed (`null` when it did not).
    #[schema(value_type = Option<ErrorCodeSchema>)]
    error: Option<String>,
}

/// An RFC 9457 problem (`application/problem+json`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"type": "urn:bonin:error:not_found", "title": "The verification does not exist or was purged after its retention time.", "status": 404, "detail": "not found", "code": "not_found"}))]
pub(crate) struct Problem {
    /// `urn:bonin:error:<code>`.
    r#type: String,
    /// What the caller should do.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What was wrong (a fixed sentence; never a body, personal data or a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    detail: Option<String>,
    /// The stable code.
    #[schema(value_type = ErrorCodeSchema)]
    code: String,
    /// The provider's own code, verbatim (`provider_rejected`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    provider_code: Option<String>,
}

/// The stable error codes (`ErrorCode::ALL`).
#[derive(Debug)]
pub(crate) struct ErrorCodeSchema;

impl PartialSchema for ErrorCodeSchema {
    fn schema() -> RefOr<Schema> {
        string_enum(bonin_domain::ErrorCode::ALL.iter().map(|c| c.as_str()), "A stable error code.")
    }
}

impl ToSchema for ErrorCodeSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

fn string_enum<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .enum_values(Some(values.into_iter().map(str::to_owned)))
        .description(Some(description))
        .into()
}

/// A verification provider of this build.
#[derive(Debug)]
pub(crate) struct VerificationProvider;

impl PartialSchema for VerificationProvider {
    fn schema() -> RefOr<Schema> {
        let verifying = crate::providers::verifying();
        string_enum(verifying.iter().map(|p| p.as_str()), "A verification provider of this build.")
    }
}

impl ToSchema for VerificationProvider {}

/// `launch`: replaced in [`document`] by the build's `oneOf`.
#[derive(Debug)]
pub(crate) struct Launch;

impl PartialSchema for Launch {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().into()
    }
}

impl ToSchema for Launch {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((FormLaunch::name().into(), FormLaunch::schema()));
        <FormLaunch as ToSchema>::schemas(schemas);
    }
}

/// `kind: form`: submit an HTML form (hidden fields, in order) to the provider's window.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)] // Describes what `bonin_domain::FormLaunch` writes.
pub(crate) struct FormLaunch {
    #[schema(value_type = String)]
    kind: &'static str,
    /// The form's `action`.
    action: String,
    /// The form's `method`.
    method: FormMethod,
    /// Hidden fields, in order.
    fields: Vec<FormField>,
}

/// A form launch's HTTP method.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FormMethod {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

/// One hidden form field.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)] // Describes what `bonin_domain::FormField` writes.
pub(crate) struct FormField {
    name: String,
    value: String,
}

/// The schema types of the domain's enums: the same values, as the domain reads and writes them
/// (a test round-trips each through the domain type).
macro_rules! mirror_enum {
    ($(#[$doc:meta])* $name:ident => $domain:path { $($variant:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub(crate) enum $name { $(#[allow(missing_docs)] $variant),* }
        impl $name {
            #[cfg(test)]
            const ALL: &[Self] = &[$(Self::$variant),*];
        }
    };
}

mirror_enum!(
    /// How the person verifies: a provider window, a code sent to the phone, approval in an app.
    Method => bonin_domain::Method { Window, Otp, App }
);
mirror_enum!(
    /// Where the verification stands.
    Status => bonin_domain::Status { Pending, OtpSent, Verified, Failed, Expired }
);
mirror_enum!(
    /// Why the person verifies (providers show or use it).
    Purpose => bonin_domain::Purpose { SignUp, ChangeInfo, FindId, FindPassword, IdentityCheck, AdultCheck, Purchase, Other }
);
mirror_enum!(
    /// How the window opens: in a popup (default) or as the whole page.
    Display => bonin_domain::Display { Popup, Page }
);
mirror_enum!(
    /// Gender.
    Gender => bonin_domain::Gender { Male, Female }
);
mirror_enum!(
    /// Nationality.
    Nationality => bonin_domain::Nationality { Domestic, Foreign }
);
mirror_enum!(
    /// Mobile carrier.
    Carrier => bonin_domain::Carrier { Skt, Kt, Lgu, SktMvno, KtMvno, LguMvno }
);
mirror_enum!(
    /// How the code reaches the person (`sms` when absent).
    OtpChannel => bonin_domain::OtpChannel { Sms, Lms, Pass, App }
);
mirror_enum!(
    /// app method only: where the approval stands at the provider.
    AppState => bonin_domain::AppState { Requested, InProgress, Completed }
);

/// The person's details, for windows that can be filled in with them.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Prefill)]
#[allow(dead_code)] // Describes what `bonin_domain::Prefill` reads.
pub(crate) struct PrefillSchema {
    #[schema(value_type = String)]
    name: Option<String>,
    #[schema(value_type = String)]
    phone: Option<String>,
    #[schema(value_type = String, format = Date)]
    birth_date: Option<String>,
    #[schema(value_type = Carrier)]
    carrier: Option<Carrier>,
}

/// A verified identity. Fields the provider's contract does not deliver are absent, never `""`.
#[derive(Debug, ToSchema)]
#[schema(as = Identity)]
#[allow(dead_code)] // Describes what `bonin_domain::VerifiedIdentity` writes.
pub(crate) struct IdentitySchema {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, format = Date)]
    birth_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Gender)]
    gender: Option<Gender>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Nationality)]
    nationality: Option<Nationality>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Carrier)]
    carrier: Option<Carrier>,
    /// Connecting information (연계정보).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    ci: Option<String>,
    /// Duplication information (중복가입확인정보).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    di: Option<String>,
    provider: VerificationProvider,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    provider_tx_id: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    verified_at: String,
    /// The provider's signed proof of the verification as it came (opaque; e.g. Base64 PKCS#7),
    /// where the provider gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    evidence: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<M: Serialize, D: serde::de::DeserializeOwned + Serialize>(values: &[M]) {
        for value in values {
            let wire = serde_json::to_value(value).unwrap();
            let domain: D = serde_json::from_value(wire.clone()).unwrap_or_else(|e| panic!("{wire}: {e}"));
            assert_eq!(serde_json::to_value(domain).unwrap(), wire);
        }
    }

    #[test]
    fn every_described_enum_value_is_one_the_domain_reads_and_writes() {
        round_trips::<Method, bonin_domain::Method>(Method::ALL);
        round_trips::<Status, bonin_domain::Status>(Status::ALL);
        round_trips::<Purpose, bonin_domain::Purpose>(Purpose::ALL);
        round_trips::<Display, bonin_domain::Display>(Display::ALL);
        round_trips::<Gender, bonin_domain::Gender>(Gender::ALL);
        round_trips::<Nationality, bonin_domain::Nationality>(Nationality::ALL);
        round_trips::<Carrier, bonin_domain::Carrier>(Carrier::ALL);
        round_trips::<OtpChannel, bonin_domain::OtpChannel>(OtpChannel::ALL);
        round_trips::<AppState, bonin_domain::AppState>(AppState::ALL);
        round_trips::<FormMethod, bonin_domain::FormMethod>(&[FormMethod::Get, FormMethod::Post]);
    }

    #[test]
    fn launch_schema_names_are_pascal_case() {
        assert_eq!(launch_schema_name("acme"), "AcmeLaunch");
        assert_eq!(launch_schema_name("acme_v2"), "AcmeV2Launch");
    }

    #[test]
    fn operation_ids_are_unique_and_every_link_names_one() {
        let document = document();
        let mut ids = Vec::new();
        for path in document["paths"].as_object().unwrap().values() {
            for operation in path.as_object().unwrap().values() {
                ids.push(operation["operationId"].as_str().unwrap().to_owned());
            }
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
        let links = &document["paths"]["/v1/verifications"]["post"]["responses"]["201"]["links"];
        for (name, operation) in VERIFICATION_LINKS {
            assert_eq!(links[name]["operationId"], operation);
            assert!(ids.iter().any(|id| id == operation), "{operation}");
        }
    }
}

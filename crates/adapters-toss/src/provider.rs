//! Toss as a registered provider ([`Toss`]) and as an [`AppVerifier`]: the person approves in the
//! Toss app (or Toss's web page), bonin polls the status and reads the result once it completed.

use std::sync::Arc;

use async_trait::async_trait;
use bonin_adapters_http::provider::{Built, Capabilities, Endpoint, Launcher, Parts, Profile, Provider, Setting};
use bonin_domain::{
    AppPoll, AppRequest, AppStart, AppState, AppVerifier, Completion, Error, Evidence, Launch, ProviderId, ProviderKey,
    ProviderState, ScriptLaunch, Verification,
};
use serde_json::json;

use crate::{TossClient, TossConfig, TossRequest, TossResult, TossStatus};

/// Toss 본인확인 (tosscert): approval in the Toss app, then polling.
#[derive(Debug, Clone, Copy, Default)]
pub struct Toss;

/// The launch kind of a Toss approval.
pub const LAUNCH_KIND: &str = "toss";

/// Toss's web helper script (`TossCert()`) \[C2\], named in the launch for pages that use it.
pub const SCRIPT_URL: &str = "https://cdn.toss.im/cert/v1";

const SETTINGS: &[Setting] = &[
    Setting::required("client_id", "OAuth client id from Toss (`test_…` for Toss's public test credentials)."),
    Setting::secret("client_secret", "OAuth client secret (secret)."),
    Setting::with_default(
        "oauth_base",
        "\"https://oauth2.cert.toss.im\"",
        "OAuth host (`POST /token`). The simulator in the sandbox profile unless set.",
    ),
    Setting::with_default(
        "api_base",
        "\"https://cert.toss.im\"",
        "API host. The simulator in the sandbox profile unless set (set both hosts together: the simulator's key fits only its own).",
    ),
    Setting::with_default(
        "path_family",
        "\"auth_id\"",
        "`auth_id` (`/api/v2/sign/user/auth/id/*`, 본인확인) or `auth` (`/api/v2/sign/user/auth/*`): which family a contract gets is not published.",
    ),
    Setting::required(
        "public_key_base64",
        "Toss's RSA public key (Base64 SubjectPublicKeyInfo DER) from Toss's SDK (`TossCertSessionGenerator.publicKey`); required in production. The simulator's in the sandbox profile.",
    ),
    Setting::with_default(
        "trigger_type",
        "\"APP_SCHEME\"",
        "How a request naming the person reaches them: `APP_SCHEME` (the page opens the app) or `PUSH` (a push to their phone).",
    ),
    Setting::with_default(
        "request_url",
        "—",
        "`requestUrl`: where the Toss app sends the person back (an https URL or an app scheme); the verification's `return_url` when unset.",
    ),
    Setting::with_default(
        "timeout_secs",
        "30",
        "Time limit per Toss call; at most 30, so that a status read and a result read (up to three calls) fit in one 120-second poll.",
    ),
];

impl Provider for Toss {
    type Config = TossConfig;

    fn id(&self) -> ProviderId {
        ProviderId::Toss
    }

    fn about(&self) -> &'static str {
        "Toss 본인확인 (tosscert): the person approves in the Toss app (a push, an app switch, or Toss's web page) and bonin polls for the result; no callback. No phone number or carrier comes back."
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_app()
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn validate(&self, config: &TossConfig, profile: Profile) -> Result<(), Error> {
        match profile {
            Profile::Production => config.validate_for_production(),
            _ => config.validate(),
        }
    }

    fn endpoints(&self, config: &TossConfig) -> Vec<Endpoint> {
        vec![Endpoint::new("oauth_base", &config.oauth_base), Endpoint::new("api_base", &config.api_base)]
    }

    fn build(&self, config: TossConfig, parts: Parts) -> Result<Built, Error> {
        let client = Arc::new(match parts.shared_tokens {
            Some(shared) => TossClient::with_shared_tokens(config, parts.http, parts.clock, parts.rng, shared)?,
            None => TossClient::new(config, parts.http, parts.clock, parts.rng)?,
        });
        Ok(Built::new().with_app(client.clone()).with_tokens(client.clone()).with_client(client))
    }

    fn launchers(&self) -> &'static [Launcher] {
        LAUNCHERS
    }
}

/// The fields of a `toss` launch (what [`AppVerifier::request`] writes; `null` where Toss gave
/// none).
const LAUNCH_SCHEMA: &str = r#"{
  "description": "Toss 본인확인: open auth_url (web) or the app URIs; bonin polls for the result.",
  "properties": {
    "tx_id": {"type": "string", "description": "Toss's transaction id."},
    "auth_url": {"type": ["string", "null"], "description": "The web page that asks the person to approve in the Toss app."},
    "app_scheme": {"type": ["string", "null"]},
    "android_app_uri": {"type": ["string", "null"]},
    "ios_app_uri": {"type": ["string", "null"]}
  },
  "required": ["tx_id", "auth_url", "app_scheme", "android_app_uri", "ios_app_uri"]
}"#;
/// Opens Toss's page in the popup (or, page display, in this page), then follows the approval with
/// the host page's `poll` option: Toss calls no landing, so only bonin's server learns the outcome.
/// Without `auth_url` it opens `app_scheme` (the Toss app, on a phone); with neither it rejects
/// with `unsupported_launch` and navigates nowhere (and `ctx.navigate` refuses a script or data
/// address with `unsafe_launch`; the adapter already refuses such links from Toss). In an app, `app_scheme` / `android_app_uri` /
/// `ios_app_uri` open the Toss app directly.
const LAUNCHERS: &[Launcher] = &[Launcher {
    kind: LAUNCH_KIND,
    schema: Some(LAUNCH_SCHEMA),
    script: r#"function (launch, ctx) {
    var target = typeof launch.auth_url === "string" && launch.auth_url ? launch.auth_url
      : typeof launch.app_scheme === "string" && launch.app_scheme ? launch.app_scheme : null;
    if (!target) { ctx.reject("unsupported_launch", "Toss gave neither a page nor an app address to open"); return; }
    // Page display moves this page to Toss's (and nothing follows); to the app, the page stays.
    if (ctx.navigate(target) && (ctx.window || target !== launch.auth_url)) { ctx.follow(); }
  }"#,
}];

#[async_trait]
impl AppVerifier for TossClient {
    fn provider(&self) -> ProviderId {
        TossClient::provider(self)
    }

    async fn request(&self, request: &AppRequest) -> Result<AppStart, Error> {
        let mut toss = match &request.subject {
            Some(subject) => {
                TossRequest::user_personal(subject.name.clone(), subject.phone.clone(), subject.birth_date)
            }
            None => TossRequest::user_none(),
        };
        if self.config().request_url.is_none()
            && let Some(url) = &request.return_url
        {
            toss = toss.with_request_url(url.clone());
        }
        let launch = TossClient::request(self, &toss).await?;
        let tx_id = launch.tx_id.as_str().to_owned();
        let fields = json!({
            "tx_id": tx_id,
            "auth_url": launch.auth_url,
            "app_scheme": launch.app_scheme,
            "android_app_uri": launch.android_app_uri,
            "ios_app_uri": launch.ios_app_uri,
        });
        let script = ScriptLaunch::new(LAUNCH_KIND, SCRIPT_URL, &fields)?;
        let key = ProviderKey::new(AppVerifier::provider(self), tx_id.clone());
        Ok(AppStart::new(Launch::Script(script), Some(key), ProviderState::new(tx_id)))
    }

    async fn poll(&self, session: &Verification) -> Result<AppPoll, Error> {
        // Never longer than the poll's lease: a poll that outlived it could race another one for
        // Toss's two result reads.
        let deadline = tokio::time::Instant::now() + self.poll_time_limit();
        match tokio::time::timeout_at(deadline, self.poll_now(session, deadline)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::Indeterminate {
                dependency: bonin_domain::Dependency::Provider(AppVerifier::provider(self)),
                reason: "the Toss poll took longer than its time limit".into(),
            }),
        }
    }
}

impl TossClient {
    async fn poll_now(&self, session: &Verification, deadline: tokio::time::Instant) -> Result<AppPoll, Error> {
        let tx_id = session
            .provider_state()
            .map(|state| state.expose().to_owned())
            .ok_or_else(|| Error::integrity("the session holds no Toss transaction"))?;
        let status = match self.status(&tx_id).await {
            Ok(status) => status,
            // Toss does not know the transaction (or it is another client's): nothing will change.
            Err(Error::Rejected { code, .. }) if code == crate::codes::UNKNOWN_TRANSACTION => {
                return Ok(AppPoll::Refused { provider_code: code });
            }
            Err(error) => return Err(error),
        };
        match status {
            TossStatus::Requested => Ok(AppPoll::Waiting(AppState::Requested)),
            TossStatus::InProgress => Ok(AppPoll::Waiting(AppState::InProgress)),
            TossStatus::Expired => Ok(AppPoll::Expired),
            // A status bonin does not know is reported and waited on: only a result ends it.
            TossStatus::Other(status) => {
                let shown: String = status.chars().filter(char::is_ascii_alphanumeric).take(24).collect();
                tracing::warn!(provider = %AppVerifier::provider(self), status = %shown, "Toss reported an unknown status");
                Ok(AppPoll::Waiting(AppState::InProgress))
            }
            // Toss hands a result over at most twice: a read the poll's limit could cut would
            // spend one for nothing. With too little time left, the next poll reads it.
            TossStatus::Completed
                if deadline.saturating_duration_since(tokio::time::Instant::now()) < self.result_read_budget() =>
            {
                tracing::info!(
                    provider = %AppVerifier::provider(self),
                    "Toss reports the approval complete; too little of this poll is left to read the result, the next poll reads it"
                );
                Ok(AppPoll::Waiting(AppState::InProgress))
            }
            // COMPLETED is not final by itself: the result decides.
            TossStatus::Completed => match self.result(&tx_id).await {
                // Any refusal of a completed transaction's result is final (the read limit, the
                // 60-minute window, an unknown transaction, a code bonin does not know): reading
                // again cannot succeed.
                Err(Error::Rejected { code, .. }) => Ok(AppPoll::Refused { provider_code: code }),
                Err(error) => Err(error),
                Ok(TossResult::NotCompleted) => Ok(AppPoll::Waiting(AppState::InProgress)),
                Ok(TossResult::Completed(identity)) => {
                    if identity.tx_id.as_str() != tx_id {
                        return Err(Error::integrity("a result for another Toss transaction"));
                    }
                    let mut verified = identity.to_verified(AppVerifier::provider(self), self.clock().now());
                    verified.evidence = identity.signature.as_ref().map(|s| Evidence::new(s.expose()));
                    Ok(AppPoll::Completed(Box::new(Completion::new(verified))))
                }
            },
        }
    }
}

//! One provider, described: what each adapter crate registers with a host such as `bonin serve`.
//!
//! A [`Provider`] is the whole of what a host needs to offer a provider without naming it: its id,
//! what it can do ([`Capabilities`]), its configuration section as a typed struct with every key
//! documented ([`Setting`], secrets marked), the rules that section must meet in each
//! [`Profile`] (endpoints included, see [`Provider::endpoints`]), and how to build the ports from
//! that section and the parts every provider shares ([`Parts`] → [`Built`]).
//!
//! The host's order of calls:
//!
//! 1. deserialize the provider's section (`[providers.<id>]`) into [`Provider::Config`];
//! 2. [`Provider::validate`] it for the profile, and check every [`Provider::endpoints`] URL
//!    (production: `https://` only, never loopback);
//! 3. [`Provider::build`] it with one [`HttpClient`] made for the provider, the clock, the random
//!    source and, where tokens are shared across instances, the shared token store;
//! 4. register the [`Built`] ports with the verification service (window, OTP) or the signing API.
//!
//! ```
//! use bonin_adapters_http::provider::{Capabilities, Setting};
//! // A provider that opens a window and sends codes, and documents its one key.
//! const CAPABILITIES: Capabilities = Capabilities::NONE.with_window().with_otp();
//! const SETTINGS: &[Setting] = &[Setting::secret("client_secret", "The client secret.")];
//! assert!(CAPABILITIES.window && CAPABILITIES.otp && !CAPABILITIES.signing);
//! assert!(SETTINGS[0].secret);
//! ```

use std::{any::Any, fmt, path::Path, sync::Arc};

use async_trait::async_trait;
use bonin_domain::{
    AppVerifier, Clock, Error, ExportTarget, OtpVerifier, ProviderId, Rng, SecretString, SharedTokens,
    SigningWorkflows, Token, TokenCacheStats, WindowVerifier,
};
use serde::de::DeserializeOwned;

use crate::HttpClient;

/// What a provider can do. A host refuses a method the provider lacks with a clear error, and
/// describes only what each provider can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Capabilities {
    /// A window the person completes in the browser (`method = "window"`).
    pub window: bool,
    /// A code sent to the phone and confirmed through the API (`method = "otp"`).
    pub otp: bool,
    /// Approval in the provider's app, the result fetched by polling (no callback).
    pub app: bool,
    /// E-signature workflows (`/v1/signing`), not identity verification.
    pub signing: bool,
}

impl Capabilities {
    /// Nothing.
    pub const NONE: Self = Self { window: false, otp: false, app: false, signing: false };

    /// With the window method.
    pub const fn with_window(mut self) -> Self {
        self.window = true;
        self
    }

    /// With the OTP method.
    pub const fn with_otp(mut self) -> Self {
        self.otp = true;
        self
    }

    /// With app approval and polling.
    pub const fn with_app(mut self) -> Self {
        self.app = true;
        self
    }

    /// With e-signature workflows.
    pub const fn with_signing(mut self) -> Self {
        self.signing = true;
        self
    }

    /// Whether the provider verifies identities (any of window, OTP, app).
    pub const fn verifies(&self) -> bool {
        self.window || self.otp || self.app
    }

    /// The verification methods, as the API names them.
    pub fn methods(&self) -> Vec<&'static str> {
        [(self.window, "window"), (self.otp, "otp"), (self.app, "app")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect()
    }
}

/// One documented key of a provider's section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The key within the section (`client_id` for `providers.<id>.client_id`).
    pub key: &'static str,
    /// The default as TOML, or `—` when the key has none.
    pub default: &'static str,
    /// What it does.
    pub about: &'static str,
    /// Whether the value is a secret: never printed, never repeated in an error.
    pub secret: bool,
}

impl Setting {
    /// A required key without a default.
    pub const fn required(key: &'static str, about: &'static str) -> Self {
        Self { key, default: "—", about, secret: false }
    }

    /// A key with a default.
    pub const fn with_default(key: &'static str, default: &'static str, about: &'static str) -> Self {
        Self { key, default, about, secret: false }
    }

    /// A secret key without a default.
    pub const fn secret(key: &'static str, about: &'static str) -> Self {
        Self { key, default: "—", about, secret: true }
    }
}

/// Which rules a section is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Profile {
    /// Simulators stand in unless endpoints are set; test credentials are fine.
    Sandbox,
    /// Real providers only.
    Production,
}

/// A provider URL the host checks (production: `https://`, never loopback; a keyless sandbox:
/// loopback only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The key within the section (`api_base`).
    pub key: &'static str,
    /// The configured URL.
    pub url: String,
}

impl Endpoint {
    /// An endpoint.
    pub fn new(key: &'static str, url: impl Into<String>) -> Self {
        Self { key, url: url.into() }
    }
}

/// What every provider is built from, besides its own section.
#[derive(Clone)]
#[non_exhaustive]
pub struct Parts {
    /// An HTTP client made for this provider (its id labels logs and metrics).
    pub http: HttpClient,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The random source.
    pub rng: Arc<dyn Rng>,
    /// Tokens shared by every instance, when the store shares them (`store.share_tokens`).
    pub shared_tokens: Option<Arc<dyn SharedTokens>>,
    /// The host's public base URL, without a trailing slash.
    pub public_url: String,
}

impl Parts {
    /// The parts, without shared tokens.
    pub fn new(http: HttpClient, clock: Arc<dyn Clock>, rng: Arc<dyn Rng>, public_url: impl Into<String>) -> Self {
        Self { http, clock, rng, shared_tokens: None, public_url: public_url.into() }
    }

    /// With tokens shared across instances.
    pub fn with_shared_tokens(mut self, shared: Option<Arc<dyn SharedTokens>>) -> Self {
        self.shared_tokens = shared;
        self
    }
}

impl fmt::Debug for Parts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parts")
            .field("provider", &self.http.provider())
            .field("shared_tokens", &self.shared_tokens.is_some())
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// A token a provider holds, for `bonin token` and the token metrics.
#[async_trait]
pub trait TokenHolder: Send + Sync {
    /// The current token (fetched if none is held).
    async fn current_token(&self) -> Result<HeldToken, Error>;
    /// The token cache's counters.
    fn token_stats(&self) -> TokenCacheStats;
}

/// A token and what is known of its life. `Debug` leaves the token out.
#[non_exhaustive]
pub struct HeldToken {
    /// The token (a secret).
    pub token: Token,
    /// How long such tokens live, in words (`NICE tokens live about 50 years`).
    pub lifetime: String,
}

impl HeldToken {
    /// A token and its life in words.
    pub fn new(token: Token, lifetime: impl Into<String>) -> Self {
        Self { token, lifetime: lifetime.into() }
    }
}

impl fmt::Debug for HeldToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeldToken").field("lifetime", &self.lifetime).finish_non_exhaustive()
    }
}

/// What a provider's callback to the signing API turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigningEvent {
    /// Authorized and read.
    Accepted {
        /// The provider's workflow id.
        workflow_id: String,
        /// The status as a label safe to log (an unknown status is kept by the adapter).
        status: String,
        /// The callback handed over a later signer's link, which the host does not relay.
        unrelayed_link: bool,
    },
    /// The authorization is missing or wrong.
    Unauthorized,
    /// Authorized, but in a shape the adapter cannot read: answer 200 (an error answer only loses
    /// the event) and report it.
    Unreadable(String),
    /// Not authorized and unreadable.
    Malformed(String),
}

/// Reads a signing provider's progress callbacks.
pub trait SigningEvents: Send + Sync {
    /// Checks and reads one callback: the `Authorization` header and the body.
    fn receive(&self, authorization: Option<&str>, body: &[u8]) -> SigningEvent;
}

/// A signing provider's ports.
#[derive(Clone)]
#[non_exhaustive]
pub struct SigningPorts {
    /// Start, status, cancel, remind.
    pub workflows: Arc<dyn SigningWorkflows>,
    /// Where the provider reports progress, when configured, and how such reports are read.
    pub events: Option<(ExportTarget, Arc<dyn SigningEvents>)>,
    /// The host hands out only the first signer's link: a start with several signers is refused.
    pub first_link_only: bool,
}

impl SigningPorts {
    /// Workflows without callbacks.
    pub fn new(workflows: Arc<dyn SigningWorkflows>) -> Self {
        Self { workflows, events: None, first_link_only: false }
    }

    /// With progress callbacks.
    pub fn with_events(mut self, target: ExportTarget, events: Arc<dyn SigningEvents>) -> Self {
        self.events = Some((target, events));
        self
    }

    /// Only the first signer's link is handed out.
    pub fn first_link_only(mut self, only: bool) -> Self {
        self.first_link_only = only;
        self
    }
}

impl fmt::Debug for SigningPorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningPorts")
            .field("provider", &self.workflows.provider())
            .field("events", &self.events.as_ref().map(|(target, _)| target))
            .field("first_link_only", &self.first_link_only)
            .finish()
    }
}

/// The ports a provider built, and its client for hosts that want it directly.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Built {
    /// The window method.
    pub window: Option<Arc<dyn WindowVerifier>>,
    /// The OTP method.
    pub otp: Option<Arc<dyn OtpVerifier>>,
    /// Approval in the provider's app, polled.
    pub app: Option<Arc<dyn AppVerifier>>,
    /// E-signature workflows.
    pub signing: Option<SigningPorts>,
    /// The token it holds, if it holds one.
    pub tokens: Option<Arc<dyn TokenHolder>>,
    /// The concrete client (`Arc<NiceClient>`, …), for [`Built::client`].
    pub client: Option<Arc<dyn Any + Send + Sync>>,
}

impl Built {
    /// Nothing built yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// With the window method.
    pub fn with_window(mut self, window: Arc<dyn WindowVerifier>) -> Self {
        self.window = Some(window);
        self
    }

    /// With the OTP method.
    pub fn with_otp(mut self, otp: Arc<dyn OtpVerifier>) -> Self {
        self.otp = Some(otp);
        self
    }

    /// With app approval.
    pub fn with_app(mut self, app: Arc<dyn AppVerifier>) -> Self {
        self.app = Some(app);
        self
    }

    /// With signing workflows.
    pub fn with_signing(mut self, signing: SigningPorts) -> Self {
        self.signing = Some(signing);
        self
    }

    /// With a held token.
    pub fn with_tokens(mut self, tokens: Arc<dyn TokenHolder>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// With the concrete client.
    pub fn with_client<C: Send + Sync + 'static>(mut self, client: Arc<C>) -> Self {
        self.client = Some(client);
        self
    }

    /// The concrete client, if it is a `C`.
    pub fn client<C: Send + Sync + 'static>(&self) -> Option<Arc<C>> {
        self.client.clone().and_then(|client| client.downcast::<C>().ok())
    }
}

impl fmt::Debug for Built {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Built")
            .field("window", &self.window.is_some())
            .field("otp", &self.otp.is_some())
            .field("app", &self.app.is_some())
            .field("signing", &self.signing)
            .field("tokens", &self.tokens.is_some())
            .finish_non_exhaustive()
    }
}

/// A provider, as its adapter crate registers it.
///
/// Implementations are unit structs (`bonin_adapters_nice::Nice`); the host keeps a list of them
/// and never names a provider otherwise.
pub trait Provider: Send + Sync + 'static {
    /// The typed `[providers.<id>]` section.
    type Config: DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static;

    /// The id: the section name and the `provider` value of the API.
    fn id(&self) -> ProviderId;

    /// One line on what the provider is, for generated docs.
    fn about(&self) -> &'static str;

    /// What it can do.
    fn capabilities(&self) -> Capabilities;

    /// Every key of its section, documented.
    fn settings(&self) -> &'static [Setting];

    /// Checks a section for a profile; the error names the key where it can.
    fn validate(&self, config: &Self::Config, profile: Profile) -> Result<(), Error>;

    /// The URLs it would call or send browsers to.
    fn endpoints(&self, config: &Self::Config) -> Vec<Endpoint>;

    /// Builds its ports.
    fn build(&self, config: Self::Config, parts: Parts) -> Result<Built, Error>;

    /// The browser code that opens its launches (none: it launches with a plain form, or not in a
    /// browser at all).
    fn launchers(&self) -> &'static [Launcher] {
        &[]
    }

    /// Reads a key file the provider issues (unlocked with `password`) and describes it, one line
    /// per fact, secrets left out; `None` when the provider issues none.
    fn inspect_key_file(&self, path: &Path, password: &SecretString) -> Option<Result<Vec<String>, Error>> {
        let _ = (path, password);
        None
    }
}

/// Opens one launch kind in the browser: a part of `bonin.js`, which calls it with the launch and
/// a context once the person asked to verify.
///
/// `script` is a JavaScript function expression `function (launch, ctx) { … }` that may return a
/// Promise (a rejection fails the verification's Promise with its `code`). The context:
///
/// | member | what |
/// |---|---|
/// | `ctx.display` | `"popup"` or `"page"` |
/// | `ctx.window` | popup display: the window `bonin.js` already opened (blank, same origin, so the launcher may set its `name` to the one the provider's SDK opens its popup under); page display: `null` |
/// | `ctx.verification` | the verification (`id`, `provider`, `method`, …) |
/// | `ctx.loadScript(url)` | loads the provider's SDK once; a Promise |
/// | `ctx.navigate(url)` | moves `ctx.window` (page display: the page) to `url`; refuses `javascript:`, `data:` and other non-web addresses (rejects `unsafe_launch`, answers `false`) |
/// | `ctx.land(url, params, providerResult?)` | hands an SDK's answer to bonin's landing (`url`, with `params` as its query) and resolves with what the landing answers |
/// | `ctx.callbackName(fn)` | a global function name an SDK can call back by |
/// | `ctx.follow()` | an approval in an app: follows it with the host page's `poll` option, else resolves `pending` |
/// | `ctx.resolve(body, providerResult?)`, `ctx.reject(code, message)` | ends the verification's Promise |
///
/// The landing of a popup posts the outcome to the opener itself, so a launcher whose provider
/// comes back to bonin's landing inside `ctx.window` needs no more than to open it there. The
/// `form` kind is opened by `bonin.js` itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launcher {
    /// The launch's `kind`.
    pub kind: &'static str,
    /// The JavaScript function expression (see above).
    pub script: &'static str,
    /// The JSON Schema (as JSON text) of the launch's own fields, beside `kind` and `script_url`:
    /// an object schema with `properties` and `required`. A host describes the launch by it (the
    /// REST API's `Launch` is a `oneOf` by `kind`); `None` describes it as any object.
    pub schema: Option<&'static str>,
}

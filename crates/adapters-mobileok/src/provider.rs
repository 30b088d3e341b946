//! mobileOK as a registered provider ([`Mobileok`]).

use std::{path::Path, sync::Arc};

use bonin_adapters_http::provider::{Built, Capabilities, Endpoint, Launcher, Parts, Profile, Provider, Setting};
use bonin_domain::{Error, ProviderId, SecretString};

use crate::{KeyFile, MobileokClient, MobileokConfig};

/// mobileOK (Dream Security) 본인확인: the 표준창 window (its browser SDK) and OTP.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mobileok;

const SETTINGS: &[Setting] = &[
    Setting {
        key: "key_file",
        default: "—",
        about: "Path of `mok_keyInfo.dat` (separate files for dev and prod).",
        secret: false,
    },
    Setting {
        key: "key_file_base64",
        default: "—",
        about: "The key file as Base64, for containers (secret); used when `key_file` is absent.",
        secret: true,
    },
    Setting { key: "key_password", default: "—", about: "The key file's password (secret).", secret: true },
    Setting {
        key: "site_url",
        default: "—",
        about: "The `siteUrl` registered with Dream for the 본인확인-API, sent exactly as configured. Required: the bare host (as Dream's samples register it) or the `https://` URL; production refuses a plain `http://` one. In the sandbox profile, when the simulator stands in, bonin's public URL unless set.",
        secret: false,
    },
    Setting {
        key: "api_base",
        default: "\"https://cert-dir.mobile-ok.com\"",
        about: "본인확인-API host (dev: `https://scert-dir.mobile-ok.com`). The simulator in the sandbox profile unless set.",
        secret: false,
    },
    Setting {
        key: "window_base",
        default: "\"https://cert.mobile-ok.com\"",
        about: "표준창 host (dev: `https://scert.mobile-ok.com`). The simulator in the sandbox profile unless set.",
        secret: false,
    },
    Setting {
        key: "crypto",
        default: "\"v1\"",
        about: "`encryptReqClientInfo` generation: `v1` (client private key) or `v2` (needs a key file with `ServerPublicKey`). Also picks the token endpoint unless `token_endpoint` is set.",
        secret: false,
    },
    Setting {
        key: "token_endpoint",
        default: "the one paired with `crypto`",
        about: "The 본인확인-API token call: `v2` (`/agent/v2/token/get`, the one Dream's guide lists) or `v1` (`/agent/v1/token/get`, used by the v1.0.x vendor libraries). Which request crypto each accepts is not published; unset, it follows `crypto` (the known pairings: v1 with v1, v2 with v2).",
        secret: false,
    },
    Setting {
        key: "usage_code",
        default: "\"01005\"",
        about: "`usageCode` when a request gives no purpose.",
        secret: false,
    },
];

impl Provider for Mobileok {
    type Config = MobileokConfig;

    fn id(&self) -> ProviderId {
        ProviderId::Mobileok
    }

    fn about(&self) -> &'static str {
        "mobileOK (Dream Security) 본인확인: the 표준창 window through its browser SDK, and OTP by SMS, LMS or PASS."
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_window().with_otp()
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn validate(&self, config: &MobileokConfig, profile: Profile) -> Result<(), Error> {
        match profile {
            Profile::Production => config.validate_for_production(),
            _ => config.validate(),
        }
    }

    fn endpoints(&self, config: &MobileokConfig) -> Vec<Endpoint> {
        vec![Endpoint::new("api_base", &config.api_base), Endpoint::new("window_base", &config.window_base)]
    }

    fn build(&self, config: MobileokConfig, parts: Parts) -> Result<Built, Error> {
        let client = Arc::new(MobileokClient::new(config, parts.http, parts.clock, parts.rng)?);
        Ok(Built::new().with_window(client.clone()).with_otp(client.clone()).with_client(client))
    }

    fn launchers(&self) -> &'static [Launcher] {
        LAUNCHERS
    }

    fn inspect_key_file(&self, path: &Path, password: &SecretString) -> Option<Result<Vec<String>, Error>> {
        Some(KeyFile::from_path(path, password).map(|key_file| {
            let generations = if key_file.has_server_public_key() {
                "present: crypto = \"v1\" or \"v2\""
            } else {
                "absent: crypto = \"v1\" only"
            };
            vec![
                format!("ServiceId          {}", key_file.service_id()),
                format!("ClientPrivateKey   RSA-{} (PKCS#8)", key_file.client_key_bits()),
                format!("ServerPublicKey    {generations}"),
            ]
        }))
    }
}

/// The fields of a `mobileok` launch ([`crate::MobileokLaunch`]).
const LAUNCH_SCHEMA: &str = r#"{
  "description": "mobileOK's 표준창: load the SDK, then MOBILEOK.process(request_url, …).",
  "properties": {"request_url": {"type": "string", "description": "The URL the SDK posts to; it answers the MOKReqClientInfo JSON."}},
  "required": ["request_url"]
}"#;
/// The 표준창 SDK: load it, then `MOBILEOK.process(request_url, deviceType, callback)`; the SDK
/// fetches the request from bonin's launch URL. Popup (`WB`): the SDK opens its window under the
/// name `mobileok_window` (here: the window already open) and hands the return URL's body, bonin's
/// JSON outcome, to the callback as a string; an SDK error (`resultCode`: cancelled, window closed)
/// arrives there instead.
/// Page (`MB`): the SDK moves the page and the landing sends it on.
const LAUNCHERS: &[Launcher] = &[Launcher {
    kind: "mobileok",
    schema: Some(LAUNCH_SCHEMA),
    script: r#"function (launch, ctx) {
    return ctx.loadScript(launch.script_url).then(function () {
      if (!ctx.window) { window.MOBILEOK.process(launch.request_url, "MB", ""); return; }
      ctx.window.name = "mobileok_window";
      window.MOBILEOK.process(launch.request_url, "WB", ctx.callbackName(function (payload) {
        var body = null;
        try { body = JSON.parse(payload); } catch (ignored) { body = null; }
        if (body && body.verification_id) { ctx.resolve(body); }
        else { ctx.reject("provider_error", "mobileOK ended the window" + (body && body.resultCode ? " (" + body.resultCode + ")" : "")); }
      }));
    });
  }"#,
}];

//! PortOne as registered providers: [`PortoneV1`] (iamport) and [`PortoneV2`].

use std::sync::Arc;

use async_trait::async_trait;
use bonin_adapters_http::provider::{
    Built, Capabilities, Endpoint, HeldToken, Launcher, Parts, Profile, Provider, Setting, TokenHolder,
};
use bonin_domain::{Error, ProviderId, TokenCacheStats};

use crate::{PortoneV1Client, PortoneV1Config, PortoneV2Client, PortoneV2Config};

/// PortOne V1 (iamport) certifications: `IMP.certification` in the browser, or OTP by the REST API.
#[derive(Debug, Clone, Copy, Default)]
pub struct PortoneV1;

/// PortOne V2 identity verifications: `PortOne.requestIdentityVerification` in the browser, or OTP.
#[derive(Debug, Clone, Copy, Default)]
pub struct PortoneV2;

const V1_SETTINGS: &[Setting] = &[
    Setting { key: "imp_key", default: "—", about: "PortOne V1 REST API key (`imp_key`).", secret: false },
    Setting { key: "imp_secret", default: "—", about: "PortOne V1 REST API secret (secret).", secret: true },
    Setting {
        key: "merchant_code",
        default: "—",
        about: "가맹점 식별코드 for `IMP.init` (`imp########`).",
        secret: false,
    },
    Setting {
        key: "channel_key",
        default: "—",
        about: "Channel key of the identity-verification channel (Danal, KCP v2, KG Inicis); or set `pg`.",
        secret: false,
    },
    Setting {
        key: "pg",
        default: "—",
        about: "Deprecated `pg` (`danal.{CPID}`) when no channel key is used.",
        secret: false,
    },
    Setting {
        key: "api_base",
        default: "\"https://api.iamport.kr\"",
        about: "V1 REST host (static IP: `https://static-api.iamport.kr`). The simulator in the sandbox profile unless set.",
        secret: false,
    },
    Setting {
        key: "script_url",
        default: "\"https://cdn.iamport.kr/v1/iamport.js\"",
        about: "iamport.js. The simulator's stand-in in the sandbox profile unless set.",
        secret: false,
    },
    Setting { key: "tier", default: "—", about: "Sub-merchant tier code (`Tier` header).", secret: false },
    Setting {
        key: "delete_after_read",
        default: "true",
        about: "Delete the certification at PortOne once bonin has stored the verified result, so personal data does not linger there (never before: a store error would otherwise lose the result).",
        secret: false,
    },
    Setting {
        key: "company",
        default: "—",
        about: "The service's name or domain (`company`), named in the OTP SMS and shown in the `IMP.certification` window (PortOne's own name when unset; KISA's ePrivacy Clean service lists verifications under it).",
        secret: false,
    },
    Setting {
        key: "pg_provider",
        default: "`danal` (or the prefix of `pg`)",
        about: "The PG behind the channel: `danal`, `kcp_v2` or `inicis_unified`. `kcp_v2` adds KCP's required `verification_method` and `bypass.kcpV2` to OTP requests (and needs `channel_key`); an unknown value is treated like `danal`.",
        secret: false,
    },
    Setting {
        key: "kcp_media_type",
        default: "\"MC01\"",
        about: "KCP `media_type` of OTP requests through a `kcp_v2` channel: `MC01` (PC) or `MC02` (mobile).",
        secret: false,
    },
    Setting {
        key: "kcp_web_siteid",
        default: "—",
        about: "KCP `web_siteid`, the site id KCP derives the DI with (KCP's own when unset).",
        secret: false,
    },
    Setting {
        key: "kcp_sms_message",
        default: "—",
        about: "KCP `cp_sms_msg`: the OTP SMS text, with `[000000]` where the code goes (KCP's text when unset).",
        secret: false,
    },
    Setting {
        key: "kcp_callback",
        default: "—",
        about: "KCP `cp_callback`: the number the OTP SMS comes from (KCP's when unset; not 070/060).",
        secret: false,
    },
    Setting {
        key: "kcp_bypass_as_json_string",
        default: "false",
        about: "Send KCP's `bypass` as JSON text instead of an object. PortOne's V1 schema calls `bypass` a JSON string while its KCP guide posts an object; bonin follows the guide unless this is set.",
        secret: false,
    },
    Setting { key: "timeout_secs", default: "30", about: "Time limit per V1 call.", secret: false },
];

const V2_SETTINGS: &[Setting] = &[
    Setting {
        key: "api_secret",
        default: "—",
        about: "PortOne V2 API secret, sent as `Authorization: PortOne …` (secret).",
        secret: true,
    },
    Setting { key: "store_id", default: "—", about: "V2 store id (`store-…`).", secret: false },
    Setting {
        key: "channel_key",
        default: "—",
        about: "Channel key of the V2 identity-verification channel.",
        secret: false,
    },
    Setting {
        key: "api_base",
        default: "\"https://api.portone.io\"",
        about: "V2 REST host. The simulator in the sandbox profile unless set.",
        secret: false,
    },
    Setting {
        key: "script_url",
        default: "\"https://cdn.portone.io/v2/browser-sdk.js\"",
        about: "The V2 browser SDK. The simulator's stand-in in the sandbox profile unless set.",
        secret: false,
    },
    Setting {
        key: "window_type_pc",
        default: "—",
        about: "`windowType.pc` (`POPUP`, `IFRAME`), upper-cased as the SDK spells it; the PG's default when unset.",
        secret: false,
    },
    Setting {
        key: "window_type_mobile",
        default: "—",
        about: "`windowType.mobile` (`REDIRECTION`, `POPUP`), upper-cased as the SDK spells it; the PG's default when unset.",
        secret: false,
    },
    Setting {
        key: "company",
        default: "—",
        about: "The service's URL or name, sent to Danal as `CPTITLE` in the window and OTP sends (Danal shows PortOne's name when unset).",
        secret: false,
    },
    Setting {
        key: "pg_provider",
        default: "\"danal\"",
        about: "The PG behind `channel_key`: `danal`, `kcp_v2` or `inicis_unified`. Each gets only its own `bypass`: Danal `AGELIMIT`/`CPTITLE`/`IsCarrier`, KCP `kcpV2` (with the required `media_type` on sends); an unknown value is treated like `danal`.",
        secret: false,
    },
    Setting {
        key: "kcp_media_type",
        default: "\"MC01\"",
        about: "KCP `media_type` of OTP sends through a `kcp_v2` channel: `MC01` (PC) or `MC02` (mobile).",
        secret: false,
    },
    Setting {
        key: "kcp_web_siteid",
        default: "—",
        about: "KCP `web_siteid`, the site id KCP derives the DI with, in the window and OTP sends (KCP's own when unset).",
        secret: false,
    },
    Setting {
        key: "kcp_sms_message",
        default: "—",
        about: "KCP `cp_sms_msg`: the OTP SMS text, with `[000000]` where the code goes (KCP's text when unset).",
        secret: false,
    },
    Setting {
        key: "kcp_callback",
        default: "—",
        about: "KCP `cp_callback`: the number the OTP SMS comes from (KCP's when unset; not 070/060).",
        secret: false,
    },
    Setting {
        key: "timeout_secs",
        default: "60",
        about: "Read timeout per V2 call; PortOne asks for at least 60 s. POSTs carry an `Idempotency-Key`, so one retried after a timeout is replayed, not repeated.",
        secret: false,
    },
];

impl Provider for PortoneV1 {
    type Config = PortoneV1Config;

    fn id(&self) -> ProviderId {
        ProviderId::PortoneV1
    }

    fn about(&self) -> &'static str {
        "PortOne V1 (iamport) certifications: the channel's window through iamport.js, or OTP through the REST API."
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_window().with_otp()
    }

    fn settings(&self) -> &'static [Setting] {
        V1_SETTINGS
    }

    fn validate(&self, config: &PortoneV1Config, _profile: Profile) -> Result<(), Error> {
        config.validate()
    }

    fn endpoints(&self, config: &PortoneV1Config) -> Vec<Endpoint> {
        vec![Endpoint::new("api_base", &config.api_base), Endpoint::new("script_url", &config.script_url)]
    }

    fn build(&self, config: PortoneV1Config, parts: Parts) -> Result<Built, Error> {
        let client = Arc::new(match parts.shared_tokens {
            Some(shared) => PortoneV1Client::with_shared_tokens(config, parts.http, parts.clock, shared)?,
            None => PortoneV1Client::new(config, parts.http, parts.clock)?,
        });
        Ok(Built::new()
            .with_window(client.clone())
            .with_otp(client.clone())
            .with_tokens(client.clone())
            .with_client(client))
    }

    fn launchers(&self) -> &'static [Launcher] {
        V1_LAUNCHERS
    }
}

/// The fields of an `iamport` launch ([`crate::IamportLaunch`]).
const V1_LAUNCH_SCHEMA: &str = r#"{
  "description": "PortOne V1: load iamport.js, IMP.init(merchant_code), then IMP.certification(params, …).",
  "properties": {
    "merchant_code": {"type": "string", "description": "The merchant code IMP.init takes."},
    "params": {"type": "object", "description": "IMP.certification's parameters.", "required": ["merchant_uid"],
      "properties": {
        "merchant_uid": {"type": "string"}, "channelKey": {"type": "string"}, "pg": {"type": "string"},
        "m_redirect_url": {"type": "string"}, "min_age": {"type": "integer", "minimum": 0}, "popup": {"type": "boolean"},
        "name": {"type": "string"}, "phone": {"type": "string"}, "carrier": {"type": "string"}, "company": {"type": "string"}
      }}
  },
  "required": ["merchant_code", "params"]
}"#;
/// iamport.js: `IMP.init(merchant_code)`, then `IMP.certification(params, callback)`. Popup: the
/// window opens under the name `portone_window` (here: the window already open), without
/// `m_redirect_url` so iamport answers the callback, whose `rsp` goes to bonin's landing. Page:
/// iamport redirects to `m_redirect_url`, or (a desktop browser) answers the callback, whose `rsp`
/// the page carries there itself.
const V1_LAUNCHERS: &[Launcher] = &[Launcher {
    kind: "iamport",
    schema: Some(V1_LAUNCH_SCHEMA),
    script: r#"function (launch, ctx) {
    var keys = ["imp_uid", "merchant_uid", "success", "error_code", "error_msg"];
    var landing = launch.params.m_redirect_url;
    return ctx.loadScript(launch.script_url).then(function () {
      window.IMP.init(launch.merchant_code);
      if (!ctx.window) {
        window.IMP.certification(launch.params, function (rsp) {
          var back = new URL(landing);
          keys.forEach(function (k) { if (rsp[k] !== undefined && rsp[k] !== null) { back.searchParams.set(k, String(rsp[k])); } });
          location.href = back.toString();
        });
        return;
      }
      ctx.window.name = "portone_window";
      var params = {};
      Object.keys(launch.params).forEach(function (k) { if (k !== "m_redirect_url") { params[k] = launch.params[k]; } });
      params.popup = true;
      window.IMP.certification(params, function (rsp) {
        var query = {};
        keys.forEach(function (k) { query[k] = rsp[k]; });
        ctx.land(landing, query, rsp);
      });
    });
  }"#,
}];

/// The fields of a `portone` launch ([`crate::PortoneLaunch`]).
const V2_LAUNCH_SCHEMA: &str = r#"{
  "description": "PortOne V2: load the browser SDK, then PortOne.requestIdentityVerification(params).",
  "properties": {
    "params": {"type": "object", "description": "requestIdentityVerification's parameters.",
      "required": ["storeId", "identityVerificationId", "channelKey"],
      "properties": {
        "storeId": {"type": "string"}, "identityVerificationId": {"type": "string"}, "channelKey": {"type": "string"},
        "customer": {"type": "object"}, "redirectUrl": {"type": "string"}, "forceRedirect": {"type": "boolean"},
        "windowType": {"type": "object"}, "customData": {"type": "string"}, "bypass": {"type": "object"}
      }}
  },
  "required": ["params"]
}"#;
/// The PortOne browser SDK: `PortOne.requestIdentityVerification(params)`. Page: `forceRedirect`
/// sends the page to the landing. Popup: without `forceRedirect` the SDK opens its window (under
/// the name `portone_window`: here the window already open) and resolves its Promise with the
/// result, which goes to bonin's landing and rides along as `provider_result`.
const V2_LAUNCHERS: &[Launcher] = &[Launcher {
    kind: "portone",
    schema: Some(V2_LAUNCH_SCHEMA),
    script: r#"function (launch, ctx) {
    return ctx.loadScript(launch.script_url).then(function () {
      if (!ctx.window) { return window.PortOne.requestIdentityVerification(launch.params); }
      ctx.window.name = "portone_window";
      var params = {};
      Object.keys(launch.params).forEach(function (k) { if (k !== "forceRedirect") { params[k] = launch.params[k]; } });
      return window.PortOne.requestIdentityVerification(params).then(function (rsp) {
        var query = {};
        Object.keys(rsp || {}).forEach(function (k) { query[k] = rsp[k]; });
        return ctx.land(launch.params.redirectUrl, query, rsp);
      });
    });
  }"#,
}];

#[async_trait]
impl TokenHolder for PortoneV1Client {
    async fn current_token(&self) -> Result<HeldToken, Error> {
        Ok(HeldToken::new(self.access_token().await?, "PortOne tokens live 30 minutes and are shared per API key"))
    }

    fn token_stats(&self) -> TokenCacheStats {
        PortoneV1Client::token_stats(self)
    }
}

impl Provider for PortoneV2 {
    type Config = PortoneV2Config;

    fn id(&self) -> ProviderId {
        ProviderId::PortoneV2
    }

    fn about(&self) -> &'static str {
        "PortOne V2 identity verifications: the channel's window through the PortOne browser SDK, or OTP through the REST API. No token: every call carries the API secret."
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_window().with_otp()
    }

    fn settings(&self) -> &'static [Setting] {
        V2_SETTINGS
    }

    fn validate(&self, config: &PortoneV2Config, _profile: Profile) -> Result<(), Error> {
        config.validate()
    }

    fn endpoints(&self, config: &PortoneV2Config) -> Vec<Endpoint> {
        vec![Endpoint::new("api_base", &config.api_base), Endpoint::new("script_url", &config.script_url)]
    }

    fn build(&self, config: PortoneV2Config, parts: Parts) -> Result<Built, Error> {
        let client = Arc::new(PortoneV2Client::new(config, parts.http, parts.clock)?);
        Ok(Built::new().with_window(client.clone()).with_otp(client.clone()).with_client(client))
    }

    fn launchers(&self) -> &'static [Launcher] {
        V2_LAUNCHERS
    }
}

//! NICE as a registered provider ([`Nice`]).

use std::sync::Arc;

use async_trait::async_trait;
use bonin_adapters_http::provider::{
    Built, Capabilities, Endpoint, HeldToken, Parts, Profile, Provider, Setting, TokenHolder,
};
use bonin_domain::{Error, ProviderId, TokenCacheStats};

use crate::{NiceClient, NiceConfig};

/// NICE평가정보 본인확인 (API 방식): the 표준창 window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nice;

const SETTINGS: &[Setting] = &[
    Setting { key: "client_id", default: "—", about: "NICE API portal client id.", secret: false },
    Setting { key: "client_secret", default: "—", about: "NICE client secret (secret).", secret: true },
    Setting {
        key: "product_id",
        default: "\"2101979031\"",
        about: "`ProductID` header (본인확인 통합형).",
        secret: false,
    },
    Setting {
        key: "api_base",
        default: "\"https://svc.niceapi.co.kr:22001\"",
        about: "Token and crypto-token API base. In the sandbox profile it points at the simulator unless set.",
        secret: false,
    },
    Setting {
        key: "window_url",
        default: "\"https://nice.checkplus.co.kr/CheckPlusSafeModel/service.cb\"",
        about: "표준창 entry. In the sandbox profile it points at the simulator unless set.",
        secret: false,
    },
    Setting {
        key: "access_token",
        default: "—",
        about: "A pre-issued institution access token (secret); replaced automatically if NICE rejects it.",
        secret: true,
    },
    Setting {
        key: "auth_type",
        default: "—",
        about: "Fixes the window's method: `M`, `C`, `X`, `U`, `F` or `S`.",
        secret: false,
    },
    Setting {
        key: "callback_method",
        default: "\"post\"",
        about: "`methodtype`: how NICE returns the result (`get` or `post`); both are accepted either way.",
        secret: false,
    },
    Setting {
        key: "window_form_method",
        default: "\"get\"",
        about: "How the browser submits the launch form to NICE.",
        secret: false,
    },
    Setting {
        key: "revoke_scheme",
        default: "\"basic\"",
        about: "Authorization scheme of the token revoke call (`basic` or `bearer`; NICE does not document which).",
        secret: false,
    },
    Setting {
        key: "app_return_schemes",
        default: "[]",
        about: "App schemes (`myapp`) an embedder's NICE return URL may use besides http(s), comma-separated in the environment; such windows are answered by GET. Empty: web URLs only.",
        secret: false,
    },
    Setting {
        key: "site_code",
        default: "—",
        about: "The site code of the NICE contract, if known: a result's `sitecode` must be the crypto token's `site_code` (as issued or Base64-decoded) or this.",
        secret: false,
    },
];

impl Provider for Nice {
    type Config = NiceConfig;

    fn id(&self) -> ProviderId {
        ProviderId::Nice
    }

    fn about(&self) -> &'static str {
        "NICE평가정보 본인확인 (API 방식): the 표준창 window, opened by a form post."
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_window()
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn validate(&self, config: &NiceConfig, _profile: Profile) -> Result<(), Error> {
        config.validate()
    }

    fn endpoints(&self, config: &NiceConfig) -> Vec<Endpoint> {
        vec![Endpoint::new("api_base", &config.api_base), Endpoint::new("window_url", &config.window_url)]
    }

    fn build(&self, config: NiceConfig, parts: Parts) -> Result<Built, Error> {
        let client = Arc::new(match parts.shared_tokens {
            Some(shared) => NiceClient::with_shared_tokens(config, parts.http, parts.clock, shared)?,
            None => NiceClient::new(config, parts.http, parts.clock)?,
        });
        Ok(Built::new().with_window(client.clone()).with_tokens(client.clone()).with_client(client))
    }
}

#[async_trait]
impl TokenHolder for NiceClient {
    async fn current_token(&self) -> Result<HeldToken, Error> {
        Ok(HeldToken::new(self.access_token().await?, "NICE tokens live about 50 years"))
    }

    fn token_stats(&self) -> TokenCacheStats {
        NiceClient::token_stats(self)
    }
}

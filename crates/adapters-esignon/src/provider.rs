//! eSignon as a registered provider ([`Esignon`]).

use std::sync::Arc;

use async_trait::async_trait;
use bonin_adapters_http::provider::{
    Built, Capabilities, Endpoint, HeldToken, Parts, Profile, Provider, Setting, SigningEvent, SigningEvents,
    SigningPorts, TokenHolder,
};
use bonin_domain::{Error, ExportTarget, ExposeSecret, KST, ProviderId, SecretString, TokenCacheStats};

use crate::{EsignonClient, EsignonConfig, ExportError, authorization_matches, receive_export};

/// eSignon: e-signature workflows from templates, behind an issued login token.
#[derive(Debug, Clone, Copy, Default)]
pub struct Esignon;

/// The path of the host's signing callback endpoint, under its public URL.
pub const EVENTS_PATH: &str = "/v1/signing/events";

/// The shortest `webhook_authorization` accepted: it is the only check on eSignon's callbacks.
pub const MIN_WEBHOOK_AUTHORIZATION: usize = 24;

const SETTINGS: &[Setting] = &[
    Setting {
        key: "company_id",
        default: "—",
        about: "eSignon company id (설정 > 회사프로필), not the company name.",
        secret: false,
    },
    Setting {
        key: "email",
        default: "—",
        about: "Login email of the member the API acts as (starts and cancels documents).",
        secret: false,
    },
    Setting { key: "password", default: "—", about: "That member's password (secret).", secret: true },
    Setting {
        key: "client_id",
        default: "—",
        about: "Obsolete per-company client id: accepted so old configurations load, never sent.",
        secret: false,
    },
    Setting {
        key: "api_base",
        default: "\"https://docs.esignon.net\"",
        about: "eSignon API host (there is no sandbox host). The simulator in the sandbox profile unless set.",
        secret: false,
    },
    Setting {
        key: "lang",
        default: "\"ko\"",
        about: "`ko`, `en` or `ja`: eSignon's messages and the signers' mails.",
        secret: false,
    },
    Setting {
        key: "webhook_authorization",
        default: "—",
        about: "Static value (≥ 24 characters) eSignon must send with progress callbacks to `/v1/signing/events` (in the `Authorization` header or the JSON `header.authorization`); when set, workflows started through bonin report there (secret).",
        secret: true,
    },
    Setting {
        key: "embed",
        default: "false",
        about: "eSignon's embed mode: eSignon sends the signers no mail or KakaoTalk; `POST /v1/signing` answers the first signer's own link, and each later signer's link arrives only with eSignon's callback (which `bonin serve` does not relay: suits one-signer templates). Needs `webhook_authorization`. Off: eSignon sends each signer their link.",
        secret: false,
    },
    Setting { key: "timeout_secs", default: "30", about: "Time limit per eSignon call.", secret: false },
    Setting {
        key: "token_margin_secs",
        default: "86400",
        about: "How long before the login token's end it is replaced (tokens live at most 30 days).",
        secret: false,
    },
];

impl Provider for Esignon {
    type Config = EsignonConfig;

    fn id(&self) -> ProviderId {
        ProviderId::Esignon
    }

    fn about(&self) -> &'static str {
        "eSignon e-signature workflows (`/v1/signing`): start from a template, status, cancel, remind, progress callbacks."
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_signing()
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn validate(&self, config: &EsignonConfig, _profile: Profile) -> Result<(), Error> {
        config.validate()?;
        if let Some(value) = &config.webhook_authorization
            && value.expose_secret().len() < MIN_WEBHOOK_AUTHORIZATION
        {
            return Err(Error::misconfigured(
                "providers.esignon.webhook_authorization must be at least 24 characters: it is the only check on eSignon's callbacks",
            ));
        }
        if config.embed && config.webhook_authorization.is_none() {
            return Err(Error::misconfigured(
                "providers.esignon.embed needs providers.esignon.webhook_authorization: in embed mode the signers' links arrive only with eSignon's callbacks",
            ));
        }
        Ok(())
    }

    fn endpoints(&self, config: &EsignonConfig) -> Vec<Endpoint> {
        vec![Endpoint::new("api_base", &config.api_base)]
    }

    fn build(&self, config: EsignonConfig, parts: Parts) -> Result<Built, Error> {
        let first_link_only = config.embed;
        let authorization = config.webhook_authorization.clone();
        let client = Arc::new(match parts.shared_tokens {
            Some(shared) => EsignonClient::with_shared_tokens(config, parts.http, parts.clock, shared)?,
            None => EsignonClient::new(config, parts.http, parts.clock)?,
        });
        let mut signing = SigningPorts::new(client.clone()).first_link_only(first_link_only);
        if let Some(authorization) = authorization {
            let target = ExportTarget {
                url: format!("{}{EVENTS_PATH}", parts.public_url),
                authorization: authorization.clone(),
            };
            signing = signing.with_events(target, Arc::new(ExportReceiver { authorization }));
        }
        Ok(Built::new().with_signing(signing).with_tokens(client.clone()).with_client(client))
    }
}

/// Reads eSignon's progress callbacks against the configured authorization.
struct ExportReceiver {
    authorization: SecretString,
}

impl SigningEvents for ExportReceiver {
    fn receive(&self, authorization: Option<&str>, body: &[u8]) -> SigningEvent {
        match receive_export(&self.authorization, authorization, body) {
            Ok(callback) => SigningEvent::Accepted {
                workflow_id: callback.workflow_id.clone(),
                status: callback.status_label(),
                unrelayed_link: callback.next_signer.is_some(),
            },
            Err(ExportError::Unauthorized) => SigningEvent::Unauthorized,
            // The HTTP header carried the right authorization, but the body is in a shape bonin
            // does not read.
            Err(error) if authorization_matches(&self.authorization, authorization) => {
                SigningEvent::Unreadable(error.to_string())
            }
            Err(error) => SigningEvent::Malformed(error.to_string()),
        }
    }
}

#[async_trait]
impl TokenHolder for EsignonClient {
    async fn current_token(&self) -> Result<HeldToken, Error> {
        let token = self.access_token().await?;
        let lifetime = match self.token_expiry() {
            Some(expiry) => format!(
                "expires {} KST{}",
                expiry
                    .expires_at
                    .to_offset(KST)
                    .format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"))
                    .unwrap_or_default(),
                if expiry.from_expire_date { "" } else { " (expire_date unreadable: login + 30 days assumed)" }
            ),
            None => "expiry unknown (the token came from another instance)".to_owned(),
        };
        Ok(HeldToken::new(token, lifetime))
    }

    fn token_stats(&self) -> TokenCacheStats {
        EsignonClient::token_stats(self)
    }
}

//! What V1 and V2 share: JSON field readers, carrier names, path encoding, stored-state helpers.

use bonin_domain::{Carrier, Dependency, Error, ProviderId, ProviderState, Timestamp, Verification};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

pub(crate) use bonin_adapters_http::encode_component as encode;

pub(crate) fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key) {
        Some(Value::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn state_error(provider: ProviderId) -> Error {
    Error::Indeterminate {
        dependency: Dependency::Store,
        reason: format!("the stored {provider} session state could not be read").into(),
    }
}

pub(crate) fn read_state<T: DeserializeOwned>(provider: ProviderId, session: &Verification) -> Result<T, Error> {
    let state = session.provider_state().ok_or(Error::AlreadyCompleted)?;
    serde_json::from_str(state.expose()).map_err(|_| state_error(provider))
}

pub(crate) fn write_state<T: Serialize>(provider: ProviderId, state: &T) -> Result<ProviderState, Error> {
    serde_json::to_string(state).map(ProviderState::new).map_err(|_| state_error(provider))
}

/// A time PortOne reported, in UTC, if it is one bonin can store and show (RFC 3339 needs a
/// four-digit year; a verification before 1970 is not one).
pub(crate) fn storable_time(at: Timestamp) -> Option<Timestamp> {
    at.checked_to_offset(time::UtcOffset::UTC).filter(|t| (1970..=9999).contains(&t.year()))
}

/// The carrier as PortOne spells it: `LGT` in V1, `LGU` in V2.
pub(crate) fn carrier_name(carrier: Carrier, lg: &str) -> String {
    let base = match carrier {
        Carrier::Skt | Carrier::SktMvno => "SKT",
        Carrier::Kt | Carrier::KtMvno => "KT",
        _ => lg,
    };
    if carrier.is_mvno() { format!("{base}_MVNO") } else { base.to_owned() }
}

/// The carrier as Danal's window names it (V1 `IMP.certification`'s `carrier`, V2
/// `bypass.danal.IsCarrier`): `SKT`, `KTF`, `LGT`, and `MVNO` for every MVNO.
pub(crate) fn danal_carrier(carrier: Carrier) -> &'static str {
    if carrier.is_mvno() {
        return "MVNO";
    }
    match carrier.network() {
        Carrier::Skt => "SKT",
        Carrier::Kt => "KTF",
        _ => "LGT",
    }
}

/// KCP's `bypass` of an OTP request (`{"kcpV2": {...}}`, V1 and V2 alike): the media type and
/// the settings that are configured.
pub(crate) fn kcp_otp_bypass(
    media_type: &str,
    web_siteid: Option<&str>,
    sms_message: Option<&str>,
    callback: Option<&str>,
) -> Value {
    let mut kcp = serde_json::Map::new();
    kcp.insert("media_type".into(), media_type.into());
    for (key, value) in [("web_siteid", web_siteid), ("cp_sms_msg", sms_message), ("cp_callback", callback)] {
        if let Some(value) = value {
            kcp.insert(key.into(), value.into());
        }
    }
    serde_json::json!({"kcpV2": kcp})
}

/// Reads `SKT`, `KT`, `LGT`/`LGU` and their `_MVNO` forms (both generations' spellings).
pub(crate) fn parse_carrier(name: &str) -> Option<Carrier> {
    Some(match name.trim().to_ascii_uppercase().as_str() {
        "SKT" => Carrier::Skt,
        "KT" | "KTF" => Carrier::Kt,
        "LGT" | "LGU" => Carrier::Lgu,
        "SKT_MVNO" => Carrier::SktMvno,
        "KT_MVNO" => Carrier::KtMvno,
        "LGT_MVNO" | "LGU_MVNO" => Carrier::LguMvno,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn carriers_round_trip_in_both_spellings() {
        for carrier in [Carrier::Skt, Carrier::Kt, Carrier::Lgu, Carrier::SktMvno, Carrier::KtMvno, Carrier::LguMvno] {
            assert_eq!(parse_carrier(&carrier_name(carrier, "LGT")), Some(carrier));
            assert_eq!(parse_carrier(&carrier_name(carrier, "LGU")), Some(carrier));
        }
        assert_eq!(carrier_name(Carrier::LguMvno, "LGT"), "LGT_MVNO");
        assert_eq!(carrier_name(Carrier::Lgu, "LGU"), "LGU");
        assert_eq!(parse_carrier("MVNO"), None);
        let danal: Vec<_> = [Carrier::Skt, Carrier::Kt, Carrier::Lgu, Carrier::SktMvno, Carrier::LguMvno]
            .into_iter()
            .map(danal_carrier)
            .collect();
        assert_eq!(danal, ["SKT", "KTF", "LGT", "MVNO", "MVNO"]);
    }
}

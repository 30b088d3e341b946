//! What the browser needs to open a PortOne window: iamport.js `IMP.certification` (V1) and the
//! browser SDK's `requestIdentityVerification` (V2), as the domain's script launches of kinds
//! [`IamportLaunch::KIND`] and [`PortoneLaunch::KIND`].

use std::fmt;

use bonin_domain::{Error, Launch, Name, PhoneNumber, ScriptLaunch};
use serde::{Deserialize, Serialize};

/// `IMP.certification` parameters (PortOne V1): load iamport.js, call `IMP.init(merchant_code)`
/// then `IMP.certification(params)`.
///
/// It travels as [`Launch::Script`] of kind [`IamportLaunch::KIND`]; read it back with
/// [`IamportLaunch::from_launch`] (or `ScriptLaunch::fields_as::<IamportLaunch>()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamportLaunch {
    /// iamport.js.
    pub script_url: String,
    /// `IMP.init` argument (가맹점 식별코드).
    pub merchant_code: String,
    /// The `IMP.certification` parameter object.
    pub params: IamportParams,
}

/// The `IMP.certification` parameter object. `Debug` leaves out the personal fields' values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamportParams {
    /// bonin's verification id.
    pub merchant_uid: String,
    /// V2-console channel key, if configured.
    #[serde(default, rename = "channelKey", skip_serializing_if = "Option::is_none")]
    pub channel_key: Option<String>,
    /// Deprecated `pg` (e.g. `danal`), if configured instead of a channel key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg: Option<String>,
    /// Where mobile redirect mode returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m_redirect_url: Option<String>,
    /// Minimum age (Danal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_age: Option<u8>,
    /// Popup mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub popup: Option<bool>,
    /// The name the window shows filled in (Danal), from [`Prefill`](bonin_domain::Prefill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// The number the window shows filled in (Danal), from [`Prefill`](bonin_domain::Prefill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneNumber>,
    /// The carrier the window offers (Danal): `SKT`, `KTF`, `LGT` or `MVNO`, from [`Prefill`](bonin_domain::Prefill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// The service's name or domain, shown to the person and reported to KISA's ePrivacy Clean
    /// service (PortOne shows its own name when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
}

impl fmt::Debug for IamportParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamportParams")
            .field("merchant_uid", &self.merchant_uid)
            .field("channel_key", &self.channel_key)
            .field("pg", &self.pg)
            .field("m_redirect_url", &self.m_redirect_url)
            .field("min_age", &self.min_age)
            .field("popup", &self.popup)
            .field("name", &self.name)
            .field("phone", &self.phone)
            .field("carrier", &self.carrier.as_ref().map(|_| "<redacted>"))
            .field("company", &self.company)
            .finish()
    }
}

/// `PortOne.requestIdentityVerification` parameters (PortOne V2): load the browser SDK and call
/// `PortOne.requestIdentityVerification(params)`.
///
/// It travels as [`Launch::Script`] of kind [`PortoneLaunch::KIND`]; read it back with
/// [`PortoneLaunch::from_launch`] (or `ScriptLaunch::fields_as::<PortoneLaunch>()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortoneLaunch {
    /// The browser SDK.
    pub script_url: String,
    /// The parameter object.
    pub params: PortoneParams,
}

/// The `requestIdentityVerification` parameter object, shaped as `@portone/browser-sdk`'s
/// `IdentityVerificationRequest` (checked against its type definitions by `cargo xtask
/// portone-sdk`). `Debug` leaves out the personal fields' values and `customData`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortoneParams {
    /// Store id.
    pub store_id: String,
    /// bonin's verification id.
    pub identity_verification_id: String,
    /// Channel key.
    pub channel_key: String,
    /// What the window shows filled in (or fixes), from [`Prefill`](bonin_domain::Prefill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<PortoneCustomer>,
    /// Where the result is sent by redirect (mobile always; desktop with `force_redirect`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// `forceRedirect`: on desktop the SDK resolves its Promise with the result instead of
    /// redirecting unless this is `true` (it needs `redirect_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_redirect: Option<bool>,
    /// `{ pc, mobile }` window types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_type: Option<PortoneWindowType>,
    /// The caller's JSON text, kept by PortOne with the record (`customData`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
    /// `bypass`: values the SDK hands to one PG as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass: Option<PortoneBypass>,
}

impl fmt::Debug for PortoneParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortoneParams")
            .field("store_id", &self.store_id)
            .field("identity_verification_id", &self.identity_verification_id)
            .field("channel_key", &self.channel_key)
            .field("customer", &self.customer)
            .field("redirect_url", &self.redirect_url)
            .field("force_redirect", &self.force_redirect)
            .field("window_type", &self.window_type)
            .field("custom_data", &self.custom_data.as_ref().map(|_| "<set>"))
            .field("bypass", &self.bypass)
            .finish()
    }
}

/// `customer` of a V2 window: the [`Prefill`](bonin_domain::Prefill) as PortOne's `Customer` spells it (`fullName`,
/// digits-only `phoneNumber`, birth date split into `"1990"`, `"07"`, `"25"`). `Debug` shows only
/// which fields are set.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortoneCustomer {
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<Name>,
    /// Mobile number, digits only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<PhoneNumber>,
    /// Year of birth (`"1990"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_year: Option<String>,
    /// Month of birth (`"07"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_month: Option<String>,
    /// Day of birth (`"25"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_day: Option<String>,
}

impl fmt::Debug for PortoneCustomer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortoneCustomer")
            .field("full_name", &self.full_name)
            .field("phone_number", &self.phone_number)
            .field("birth_date", &self.birth_year.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// PortOne V2 window types (`IFRAME`, `POPUP`, `REDIRECTION`, `UI`); PortOne picks the PG's
/// default for one that is not set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortoneWindowType {
    /// Desktop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pc: Option<String>,
    /// Mobile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
}

/// `bypass` of a V2 window, by PG: what the browser SDK's `IdentityVerificationBypass` takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortoneBypass {
    /// Danal's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub danal: Option<DanalBypass>,
    /// KCP's parameters.
    #[serde(default, rename = "kcpV2", skip_serializing_if = "Option::is_none")]
    pub kcp_v2: Option<KcpV2Bypass>,
}

/// Danal's window parameters. `Debug` leaves out the carrier.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DanalBypass {
    /// `AGELIMIT`: the minimum age (in full years) Danal lets through.
    #[serde(default, rename = "AGELIMIT", skip_serializing_if = "Option::is_none")]
    pub age_limit: Option<u32>,
    /// `CPTITLE`: the service's URL or name (Danal shows PortOne's name when unset).
    #[serde(default, rename = "CPTITLE", skip_serializing_if = "Option::is_none")]
    pub cp_title: Option<String>,
    /// `IsCarrier`: the carriers the window offers, `;`-separated (`SKT`, `KTF`, `LGT`, `MVNO`).
    #[serde(default, rename = "IsCarrier", skip_serializing_if = "Option::is_none")]
    pub is_carrier: Option<String>,
}

impl fmt::Debug for DanalBypass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DanalBypass")
            .field("age_limit", &self.age_limit)
            .field("cp_title", &self.cp_title)
            .field("is_carrier", &self.is_carrier.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// KCP's window parameters (the browser SDK takes only this one; `media_type` and the SMS settings
/// belong to the REST API's send).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KcpV2Bypass {
    /// `web_siteid`: the site id KCP derives the DI with (KCP's own when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_siteid: Option<String>,
}

impl IamportLaunch {
    /// The `kind` of an iamport.js launch on the wire.
    pub const KIND: &'static str = "iamport";

    /// The launch the browser opens.
    pub fn to_launch(&self) -> Result<Launch, Error> {
        #[derive(Serialize)]
        struct Fields<'a> {
            merchant_code: &'a str,
            params: &'a IamportParams,
        }
        let fields = Fields { merchant_code: &self.merchant_code, params: &self.params };
        ScriptLaunch::new(Self::KIND, self.script_url.clone(), &fields).map(Launch::Script)
    }

    /// The iamport.js launch `launch` is, if it is one; a launch of this kind without its fields
    /// is `InvalidInput`.
    pub fn from_launch(launch: &Launch) -> Result<Option<Self>, Error> {
        match launch {
            Launch::Script(script) if script.kind() == Self::KIND => script.fields_as().map(Some),
            _ => Ok(None),
        }
    }
}

impl PortoneLaunch {
    /// The `kind` of a PortOne V2 browser-SDK launch on the wire.
    pub const KIND: &'static str = "portone";

    /// The launch the browser opens.
    pub fn to_launch(&self) -> Result<Launch, Error> {
        #[derive(Serialize)]
        struct Fields<'a> {
            params: &'a PortoneParams,
        }
        ScriptLaunch::new(Self::KIND, self.script_url.clone(), &Fields { params: &self.params }).map(Launch::Script)
    }

    /// The PortOne V2 launch `launch` is, if it is one; a launch of this kind without its fields
    /// is `InvalidInput`.
    pub fn from_launch(launch: &Launch) -> Result<Option<Self>, Error> {
        match launch {
            Launch::Script(script) if script.kind() == Self::KIND => script.fields_as().map(Some),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// What the REST API answered for each launch before launches were open.
    const IAMPORT: &str = r#"{"kind":"iamport","script_url":"https://cdn.iamport.kr/v1/iamport.js","merchant_code":"imp12345678","params":{"merchant_uid":"vf0123456789abcdefghjkmnpq","channelKey":"channel-key-1","pg":"danal","m_redirect_url":"https://id.example/v1/verifications/vf0123456789abcdefghjkmnpq/return","min_age":19,"popup":true,"name":"홍길동","phone":"01012345678","carrier":"KTF","company":"shop.example"}}"#;
    const PORTONE: &str = r#"{"kind":"portone","script_url":"https://cdn.portone.io/v2/browser-sdk.js","params":{"storeId":"store-1","identityVerificationId":"vf0123456789abcdefghjkmnpq","channelKey":"channel-key-2","customer":{"fullName":"홍길동","phoneNumber":"01012345678","birthYear":"1990","birthMonth":"02","birthDay":"15"},"redirectUrl":"https://id.example/v1/verifications/vf0123456789abcdefghjkmnpq/return","forceRedirect":true,"windowType":{"pc":"POPUP","mobile":"REDIRECTION"},"customData":"{\"member\":\"m-77\"}","bypass":{"danal":{"AGELIMIT":19,"CPTITLE":"shop.example","IsCarrier":"SKT;KTF"},"kcpV2":{"web_siteid":"J1234567890"}}}}"#;

    fn value(text: &str) -> serde_json::Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn portone_launches_keep_personal_fields_out_of_debug_output() {
        let customer = PortoneCustomer {
            full_name: Some(Name::new("홍길동").unwrap()),
            phone_number: Some(PhoneNumber::new("01012345678").unwrap()),
            birth_year: Some("1990".into()),
            birth_month: Some("02".into()),
            birth_day: Some("15".into()),
        };
        let danal = DanalBypass { age_limit: Some(19), cp_title: None, is_carrier: Some("KTF".into()) };
        let v2 = PortoneParams {
            store_id: "store-1".into(),
            identity_verification_id: "vf1".into(),
            channel_key: "channel".into(),
            customer: Some(customer),
            redirect_url: None,
            force_redirect: Some(true),
            window_type: None,
            custom_data: Some(r#"{"member":"m-secret-77"}"#.into()),
            bypass: Some(PortoneBypass { danal: Some(danal), kcp_v2: None }),
        };
        let v1 = IamportParams {
            merchant_uid: "vf1".into(),
            channel_key: None,
            pg: None,
            m_redirect_url: None,
            min_age: None,
            popup: None,
            name: Some(Name::new("홍길동").unwrap()),
            phone: Some(PhoneNumber::new("01012345678").unwrap()),
            carrier: Some("KTF".into()),
            company: Some("shop.example".into()),
        };
        let text = format!("{v2:?} {v1:?}");
        for value in ["홍길동", "01012345678", "1990", "KTF", "m-secret-77"] {
            assert!(!text.contains(value), "{value} in {text}");
        }
        assert!(text.contains("age_limit: Some(19)") && text.contains("shop.example"), "{text}");
    }

    #[test]
    fn launches_write_the_wire_objects_they_always_had_and_read_back() {
        let v1 = IamportLaunch::from_launch(&serde_json::from_str(IAMPORT).unwrap()).unwrap().unwrap();
        assert_eq!(v1.params.name.as_ref().map(Name::expose), Some("홍길동"));
        assert_eq!(v1.params.min_age, Some(19));
        let written = v1.to_launch().unwrap();
        assert_eq!(value(&serde_json::to_string(&written).unwrap()), value(IAMPORT));
        assert_eq!(PortoneLaunch::from_launch(&written).unwrap(), None, "another kind");

        let v2 = PortoneLaunch::from_launch(&serde_json::from_str(PORTONE).unwrap()).unwrap().unwrap();
        assert_eq!(v2.params.bypass.as_ref().and_then(|b| b.danal.as_ref()).and_then(|d| d.age_limit), Some(19));
        let written = v2.to_launch().unwrap();
        assert_eq!(value(&serde_json::to_string(&written).unwrap()), value(PORTONE));
        assert_eq!(IamportLaunch::from_launch(&written).unwrap(), None, "another kind");
    }
}

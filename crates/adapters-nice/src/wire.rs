//! NICE messages exactly as on the wire.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `dataHeader` of every reply.
#[derive(Debug, Deserialize)]
pub(crate) struct DataHeader {
    #[serde(rename = "GW_RSLT_CD", default)]
    pub gw_rslt_cd: String,
    #[serde(rename = "GW_RSLT_MSG", default)]
    pub gw_rslt_msg: Option<String>,
}

/// Every reply: `dataBody` is an object on success and `""` on gateway errors, so it is read as a
/// raw value first.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    #[serde(rename = "dataHeader")]
    pub header: DataHeader,
    #[serde(rename = "dataBody", default)]
    pub body: Value,
}

/// NICE sends some numbers as floats (`3600.0`, `1.576983049E9`).
fn lenient_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64().ok_or_else(|| serde::de::Error::custom("not a number")),
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| serde::de::Error::custom("not a number")),
        _ => Err(serde::de::Error::custom("not a number")),
    }
}

/// E1 `dataBody`.
#[derive(Deserialize)]
pub(crate) struct AccessTokenBody {
    pub access_token: String,
    #[serde(deserialize_with = "lenient_seconds")]
    pub expires_in: f64,
}

/// E2 `dataBody`.
#[derive(Deserialize)]
pub(crate) struct RevokeBody {
    /// The string `"true"` or `"false"`.
    pub result: Value,
}

/// E3 request.
#[derive(Serialize)]
pub(crate) struct CryptoTokenRequest<'a> {
    #[serde(rename = "dataHeader")]
    pub header: CryptoTokenRequestHeader,
    #[serde(rename = "dataBody")]
    pub body: CryptoTokenRequestBody<'a>,
}

#[derive(Serialize)]
pub(crate) struct CryptoTokenRequestHeader {
    #[serde(rename = "CNTY_CD")]
    pub cnty_cd: &'static str,
}

#[derive(Serialize)]
pub(crate) struct CryptoTokenRequestBody<'a> {
    pub req_dtim: &'a str,
    pub req_no: &'a str,
    pub enc_mode: &'static str,
}

/// E3 `dataBody` layers, read in order.
#[derive(Deserialize)]
pub(crate) struct CryptoTokenBody {
    #[serde(default)]
    pub rsp_cd: String,
    #[serde(default)]
    pub res_msg: Option<String>,
    #[serde(default)]
    pub result_cd: Option<String>,
    #[serde(default)]
    pub site_code: Option<String>,
    #[serde(default)]
    pub token_version_id: Option<String>,
    #[serde(default)]
    pub token_val: Option<String>,
    #[serde(default, deserialize_with = "lenient_optional_seconds")]
    pub period: Option<f64>,
}

fn lenient_optional_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    lenient_seconds(d).map(Some)
}

/// The plaintext of `enc_data` sent to the window. Field names as NICE spells them.
#[derive(Serialize)]
pub(crate) struct WindowRequestPlaintext<'a> {
    pub requestno: &'a str,
    pub returnurl: &'a str,
    pub sitecode: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authtype: Option<&'a str>,
    /// Carrier preselection; NICE spells the request field `mobilceco`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobilceco: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub methodtype: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub popupyn: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receivedata: Option<&'a str>,
}

/// The decrypted result. Holds personal data: no `Debug`.
#[derive(Deserialize)]
pub(crate) struct ResultPlaintext {
    pub resultcode: String,
    pub requestno: String,
    #[serde(default)]
    pub enctime: Option<String>,
    #[serde(default)]
    pub sitecode: Option<String>,
    #[serde(default)]
    pub responseno: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub utf8_name: Option<String>,
    #[serde(default)]
    pub birthdate: Option<String>,
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub nationalinfo: Option<String>,
    #[serde(default)]
    pub mobileco: Option<String>,
    #[serde(default)]
    pub mobileno: Option<String>,
    #[serde(default)]
    pub ci: Option<String>,
    #[serde(default)]
    pub di: Option<String>,
}

//! The normalized result of a verification, whichever provider produced it.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{BirthDate, Ci, Di, Error, Name, PhoneNumber, Timestamp};

/// A provider bonin can talk to. The same ids name config sections and `provider` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProviderId {
    /// NICE평가정보 본인확인 (API 방식).
    Nice,
    /// mobileOK (Dream Security) 본인확인.
    Mobileok,
    /// PortOne V1 (iamport) certifications.
    PortoneV1,
    /// PortOne V2 identity verifications.
    PortoneV2,
    /// eSignon e-signature API.
    Esignon,
    /// Toss 본인확인 (tosscert): approve in the Toss app, then poll.
    Toss,
}

impl ProviderId {
    /// Every provider, in a stable order.
    pub const ALL: [ProviderId; 6] =
        [Self::Nice, Self::Mobileok, Self::PortoneV1, Self::PortoneV2, Self::Esignon, Self::Toss];

    /// The id as used in config and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Nice => "nice",
            Self::Mobileok => "mobileok",
            Self::PortoneV1 => "portone_v1",
            Self::PortoneV2 => "portone_v2",
            Self::Esignon => "esignon",
            Self::Toss => "toss",
        }
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            Error::invalid_input(
                "provider",
                "unknown provider (expected nice, mobileok, portone_v1, portone_v2, esignon or toss)",
            )
        })
    }
}

/// Gender as reported by the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// Male.
    Male,
    /// Female.
    Female,
}

/// Whether the person is a Korean national (내국인) or a foreigner (외국인).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Nationality {
    /// 내국인.
    Domestic,
    /// 외국인.
    Foreign,
}

/// The mobile carrier of the verified phone, MVNOs (알뜰폰) distinguished by their host network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Carrier {
    /// SK Telecom.
    Skt,
    /// KT.
    Kt,
    /// LG U+.
    Lgu,
    /// An MVNO on SK Telecom's network.
    SktMvno,
    /// An MVNO on KT's network.
    KtMvno,
    /// An MVNO on LG U+'s network.
    LguMvno,
}

impl Carrier {
    /// Whether this is an MVNO (알뜰폰).
    pub const fn is_mvno(self) -> bool {
        matches!(self, Self::SktMvno | Self::KtMvno | Self::LguMvno)
    }

    /// The network the carrier runs on (an MVNO's host).
    pub const fn network(self) -> Carrier {
        match self {
            Self::Skt | Self::SktMvno => Self::Skt,
            Self::Kt | Self::KtMvno => Self::Kt,
            Self::Lgu | Self::LguMvno => Self::Lgu,
        }
    }
}

/// A provider's own id for the transaction (NICE `responseno`, mobileOK `txId`, PortOne `imp_uid`, …).
/// Not personal data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderTxId(String);

impl ProviderTxId {
    /// Wraps a non-empty id.
    pub fn new(value: impl Into<String>) -> Result<Self, Error> {
        let value = value.into();
        if value.is_empty() {
            return Err(Error::invalid_input("provider_tx_id", "must not be empty"));
        }
        Ok(Self(value))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The normalized identity a verification produces.
///
/// Every field a provider contract may leave out is an `Option`: `None` when the provider did not
/// deliver it, never an empty string (the newtypes refuse empty values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VerifiedIdentity {
    /// The person's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// Date of birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<BirthDate>,
    /// Gender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    /// Domestic or foreign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<Nationality>,
    /// The verified mobile number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneNumber>,
    /// The carrier of that number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<Carrier>,
    /// 연계정보.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<Ci>,
    /// 중복가입확인정보.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub di: Option<Di>,
    /// Which provider verified the person.
    pub provider: ProviderId,
    /// The provider's transaction id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_tx_id: Option<ProviderTxId>,
    /// When the provider (or bonin, if the provider gives no time) verified the person.
    #[serde(with = "time::serde::rfc3339")]
    pub verified_at: Timestamp,
    /// The provider's signed proof of the verification, kept as it came (opaque, e.g. a PKCS#7
    /// SignedData in Base64), for the service to archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// A provider's signed proof of a verification, opaque. `Debug` shows its length only: it may
/// carry the person's data.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Evidence(String);

impl Evidence {
    /// Evidence as the provider handed it over.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The evidence, for archiving.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Evidence(<{} bytes>)", self.0.len())
    }
}

impl VerifiedIdentity {
    /// An identity with only the provider and time set; adapters fill in what their contract delivers.
    pub fn new(provider: ProviderId, verified_at: Timestamp) -> Self {
        Self {
            name: None,
            birth_date: None,
            gender: None,
            nationality: None,
            phone: None,
            carrier: None,
            ci: None,
            di: None,
            provider,
            provider_tx_id: None,
            verified_at,
            evidence: None,
        }
    }
}

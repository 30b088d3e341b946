//! The person a result read returns: `personalData` decrypted under the read's own session, into
//! the domain's masked types, plus the evidence Toss signs.

use std::fmt;

use bonin_domain::{
    BirthDate, Ci, Di, Error, Gender, Name, Nationality, ProviderId, ProviderTxId, Timestamp, VerifiedIdentity,
};
use serde_json::Value;

use crate::{
    TossSession,
    wire::{member, parse_time},
};

/// `ageGroup`: derived by Toss from the birth date.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgeGroup {
    /// `ADULT`.
    Adult,
    /// `MINOR`.
    Minor,
    /// A value bonin does not know, verbatim.
    Other(String),
}

impl fmt::Debug for AgeGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AgeGroup(<redacted>)")
    }
}

impl AgeGroup {
    fn parse(word: &str) -> Self {
        match word {
            "ADULT" => Self::Adult,
            "MINOR" => Self::Minor,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// `signature`: the PKCS#7 SignedData the person made with their Toss certificate (Base64 DER).
/// Keep it with the `txId` as evidence; it is opaque to bonin, never logged, and `Debug` shows its
/// length only.
#[derive(Clone, PartialEq, Eq)]
pub struct TossSignature(String);

impl TossSignature {
    /// The Base64 text, for the one place that stores it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TossSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TossSignature(<{} chars>)", self.0.len())
    }
}

/// What a completed result read returns. Toss sends **no phone and no carrier** \[S\]. Every field
/// Toss may leave out is an `Option`; `Debug` masks the personal data as the domain types do.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TossIdentity {
    /// `txId`.
    pub tx_id: ProviderTxId,
    /// `personalData.name`.
    pub name: Option<Name>,
    /// `personalData.birthday` (`YYYYMMDD`).
    pub birth_date: Option<BirthDate>,
    /// `personalData.gender` (`MALE` / `FEMALE`).
    pub gender: Option<Gender>,
    /// `personalData.nationality` (`LOCAL` / `FOREIGNER`).
    pub nationality: Option<Nationality>,
    /// `personalData.ci`.
    pub ci: Option<Ci>,
    /// `personalData.di`.
    pub di: Option<Di>,
    /// `personalData.ageGroup`.
    pub age_group: Option<AgeGroup>,
    /// `signature`: evidence to keep with the `txId`.
    pub signature: Option<TossSignature>,
    /// `completedDt`.
    pub completed_at: Option<Timestamp>,
    /// `requestedDt`.
    pub requested_at: Option<Timestamp>,
}

impl fmt::Debug for TossIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = |present: bool| if present { "<redacted>" } else { "None" };
        f.debug_struct("TossIdentity")
            .field("tx_id", &self.tx_id)
            .field("name", &self.name)
            .field("birth_date", &self.birth_date)
            .field("gender", &masked(self.gender.is_some()))
            .field("nationality", &masked(self.nationality.is_some()))
            .field("ci", &self.ci)
            .field("di", &self.di)
            .field("age_group", &self.age_group)
            .field("signature", &self.signature)
            .field("completed_at", &self.completed_at)
            .field("requested_at", &self.requested_at)
            .finish()
    }
}

/// One encrypted `personalData` member, opened and read into `T`. Absent or `null` is `None`; a
/// value not sealed under this session is an integrity failure; one that opens but does not read is
/// a protocol error naming the field, never the value.
fn open<T>(
    data: &Value,
    key: &'static str,
    session: &TossSession,
    provider: ProviderId,
    read: impl FnOnce(String) -> Option<T>,
) -> Result<Option<T>, Error> {
    let Some(sealed) = member(data, key) else { return Ok(None) };
    let plain = session.decrypt(&sealed).map_err(Error::from)?;
    read(plain)
        .map(Some)
        .ok_or_else(|| Error::protocol(provider, format!("result: personalData.{key} is not readable")))
}

impl TossIdentity {
    /// Reads a result read's `success` for `tx_id`, decrypting `personalData` with `session` (the
    /// one whose `sessionKey` went with this read). A `txId` other than the one asked about is an
    /// integrity failure, as is a field sealed under another session.
    pub fn from_success(
        success: &Value,
        tx_id: &str,
        session: &TossSession,
        provider: ProviderId,
    ) -> Result<Self, Error> {
        if let Some(answered) = member(success, "txId")
            && answered != tx_id
        {
            return Err(Error::integrity("Toss answered the result of another txId"));
        }
        if let Some(status) = member(success, "status")
            && status != "COMPLETED"
        {
            return Err(Error::protocol(provider, "result: status is not COMPLETED"));
        }
        let data = success
            .get("personalData")
            .filter(|d| d.is_object())
            .ok_or_else(|| Error::protocol(provider, "result: personalData missing"))?;
        let tx_id = ProviderTxId::new(tx_id)?;
        Ok(Self {
            tx_id,
            name: open(data, "name", session, provider, |v| Name::new(v).ok())?,
            birth_date: open(data, "birthday", session, provider, |v| {
                (v.len() == 8).then(|| BirthDate::parse(&v).ok()).flatten()
            })?,
            gender: open(data, "gender", session, provider, |v| match v.as_str() {
                "MALE" => Some(Gender::Male),
                "FEMALE" => Some(Gender::Female),
                _ => None,
            })?,
            nationality: open(data, "nationality", session, provider, |v| match v.as_str() {
                "LOCAL" => Some(Nationality::Domestic),
                "FOREIGNER" => Some(Nationality::Foreign),
                _ => None,
            })?,
            ci: open(data, "ci", session, provider, |v| Ci::new(v).ok())?,
            di: open(data, "di", session, provider, |v| Di::new(v).ok())?,
            age_group: open(data, "ageGroup", session, provider, |v| Some(AgeGroup::parse(&v)))?,
            signature: member(success, "signature").map(TossSignature),
            completed_at: member(success, "completedDt").and_then(|t| parse_time(&t)),
            requested_at: member(success, "requestedDt").and_then(|t| parse_time(&t)),
        })
    }

    /// The normalized identity: `verified_at` is `completedDt`, else `now`; phone and carrier are
    /// `None` (Toss does not send them).
    pub fn to_verified(&self, provider: ProviderId, now: Timestamp) -> VerifiedIdentity {
        let mut identity = VerifiedIdentity::new(provider, self.completed_at.unwrap_or(now));
        identity.name = self.name.clone();
        identity.birth_date = self.birth_date;
        identity.gender = self.gender;
        identity.nationality = self.nationality;
        identity.ci = self.ci.clone();
        identity.di = self.di.clone();
        identity.provider_tx_id = Some(self.tx_id.clone());
        identity
    }
}

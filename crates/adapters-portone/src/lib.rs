//! PortOne (포트원) 본인인증 for bonin: V1 ("iamport", including Danal) certifications and V2
//! identity verifications, each as a window flow and a server-driven OTP flow, plus a Standard
//! Webhooks verifier for PortOne's payment webhooks.
//!
//! PortOne has no identity-verification sandbox and no identity-verification webhook: the result is
//! always read back from PortOne's API after the browser returns. Tests run against
//! `bonin-sandbox`'s PortOne simulator.
//!
//! # V1 ([`PortoneV1Client`])
//!
//! Every call carries one shared access token from `POST /users/getToken`, cached with its
//! server-relative lifetime (`expired_at − now`) and refreshed only in its last minute (getToken
//! returns the same token before that); a 401 forces one refresh and one retry. Window: `start` →
//! `iamport` launch (`IMP.init(merchant_code)`, `IMP.certification(params)`, `merchant_uid` = the
//! verification id, `m_redirect_url` = the return URL) → the browser comes back with `imp_uid` →
//! `complete` reads `GET /certifications/{imp_uid}` and requires `certified` and our
//! `merchant_uid`. Anything short of that the landing brings (an uncertified record, no record) is
//! `Unconfirmed` and leaves the verification open: whoever knows a pending id can create such a
//! record. The window shows the caller's prefill (`name`, `phone`, `carrier` as Danal names it)
//! and the configured `company`. OTP: `send` (`otp/request`) → `confirm` (`otp/confirm/{imp_uid}`);
//! V1 has no resend. Either way, the delete at PortOne (`delete_after_read`) is handed back as
//! `Completion::after_commit` work and runs only once bonin has stored the result.
//!
//! # V2 ([`PortoneV2Client`])
//!
//! `Authorization: PortOne <secret>` on every call, 60 s read timeout by default. Window: `start` →
//! `portone` launch (`PortOne.requestIdentityVerification`, `identityVerificationId` = the
//! verification id, `forceRedirect: true` so a desktop browser comes back to the landing too,
//! the caller's prefill as `customer`, its `custom_data` as `customData`, and per PG its own
//! `bypass`, e.g. `min_age` as Danal's `AGELIMIT`) → `complete` reads
//! `GET /identity-verifications/{id}` and requires `VERIFIED`; `FAILED` ends the verification, a
//! browser's failure `code` while PortOne still says `READY` is `Unconfirmed`.
//! OTP: `send` → `confirm` (→ `resend`), each with an `Idempotency-Key` derived from the session, so
//! a call retried after a timeout is replayed by PortOne, not repeated.
//!
//! # PGs
//!
//! `pg_provider` names the PG behind the channel (Danal by default). A KCP channel (`kcp_v2`) gets
//! what KCP requires on OTP requests, in both generations: `bypass.kcpV2.media_type` (and, in V1,
//! `verification_method`), plus the KCP settings that are configured.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod common;
mod config;
mod launch;
mod provider;
mod v1;
mod v2;
mod webhook;

pub use config::{PortoneV1Config, PortoneV2Config};
pub use launch::{
    DanalBypass, IamportLaunch, IamportParams, KcpV2Bypass, PortoneBypass, PortoneCustomer, PortoneLaunch,
    PortoneParams, PortoneWindowType,
};
pub use provider::{PortoneV1, PortoneV2};
pub use v1::{Certification, Envelope, PortoneV1Client, V1Error};
pub use v2::{IdentityVerification, PortoneV2Client, V2Error, V2ErrorType, idempotency_key};
pub use webhook::{TOLERANCE_SECS, WebhookError, WebhookVerifier};

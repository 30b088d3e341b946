//! The `errorCode`s the simulator answers with, in one table.
//!
//! Toss publishes three (`CE1000`, `CE3100`, `CE3102`); the `SIM…` codes are this simulator's own,
//! for refusals a real server surely makes but whose code is not public. They are chosen so tests
//! can tell the cases apart; an adapter must keep them as unknown provider codes.

/// The access token is missing, malformed, unknown or expired (Toss).
pub const INVALID_TOKEN: &str = "CE1000";
/// No such request for this client (Toss): unknown `txId`, another client's, or another path family's.
pub const NO_SUCH_REQUEST: &str = "CE3100";
/// The request is not completed (Toss): requested, in progress, refused or expired.
pub const NOT_COMPLETED: &str = "CE3102";

/// The body is not what the endpoint takes: not JSON or not `application/json`, a required field
/// missing or malformed, a field the request type does not take.
pub const INVALID_REQUEST: &str = "SIM4000";
/// The `sessionKey` is malformed or does not open under the server's key.
pub const BAD_SESSION_KEY: &str = "SIM4001";
/// An encrypted field does not open under the request's session, or names another session.
pub const BAD_ENCRYPTED_FIELD: &str = "SIM4002";
/// The `sessionKey`'s session was already used (the request's, or an earlier result read's).
pub const SESSION_REUSED: &str = "SIM4003";
/// The `USER_PERSONAL` subject (name, phone, birthday) matches no Toss user.
pub const NO_SUCH_USER: &str = "SIM4040";
/// The result was already read the maximum number of times.
pub const READ_LIMIT: &str = "SIM4100";
/// The result can no longer be read: its window after completion has passed.
pub const RESULT_WINDOW_PASSED: &str = "SIM4101";

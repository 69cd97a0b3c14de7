//! The few cryptographic formats Vox speaks, in one place so each is written once:
//!
//! - [`jwt`]: compact JWTs, RS256 (Vonage's API tokens, Google's service-account grant) and
//!   the parts HS256 needs (Vonage's webhooks).
//! - [`seal`]: secrets the database keeps (webhook signing secrets, tools' request headers),
//!   sealed with AES-256-GCM under a configured key (and keys for other purposes derived
//!   from it).
//! - [`link`]: temporary links that open without a token, HMAC-SHA256 over path and expiry.
//!
//! No I/O and no clock: callers pass the time in.

pub mod jwt;
pub mod link;
pub mod seal;

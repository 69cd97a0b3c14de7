//! The few cryptographic formats Vox speaks, in one place so each is written once:
//!
//! - [`jwt`]: compact JWTs, RS256 (Vonage's API tokens, Google's service-account grant) and
//!   the parts HS256 needs (Vonage's webhooks).
//!
//! No I/O and no clock: callers pass the time in.

pub mod jwt;

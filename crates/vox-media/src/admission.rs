//! Who may open a media stream, before it costs a call slot: the peer's address against
//! `media.trusted_sources`, and a cap on streams one address holds open before their `start`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use ipnet::IpNet;

/// The peer's address as the listener saw it (`None` when the server was not told: then
/// nothing about it is trusted). IPv4 peers of a dual-stack listener come as IPv4.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_canonical()),
        ))
    }
}

/// Networks whose streams may name a file agent without a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedSources(Vec<IpNet>);

impl TrustedSources {
    /// Parses CIDR networks or single addresses; the error names the entry.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|e| {
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map(|n| n.trunc())
                    .map_err(|_| {
                        format!(
                            "media.trusted_sources: {e:?} is not a network (CIDR like \"10.0.0.0/8\") or an address"
                        )
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Loopback only: `vox sim`, the demo and a local proxy.
    pub fn loopback() -> Self {
        Self::parse(&["127.0.0.0/8".into(), "::1/128".into()]).expect("valid networks")
    }

    /// Whether `peer` is inside one of the networks (an unknown peer never is).
    pub fn contains(&self, peer: Option<IpAddr>) -> bool {
        peer.is_some_and(|ip| self.0.iter().any(|n| n.contains(&ip.to_canonical())))
    }
}

/// Streams each address holds open before their `start` (none hold a call slot yet).
#[derive(Debug, Clone, Default)]
pub(crate) struct PendingBySource {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One pending stream; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct PendingSlot {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: Option<IpAddr>,
}

impl PendingBySource {
    /// A place for a stream from `peer`, or `None` when it already holds `cap`.
    pub(crate) fn try_take(&self, peer: Option<IpAddr>, cap: usize) -> Option<PendingSlot> {
        let key = peer.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(key).or_default();
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(PendingSlot {
            counts: self.counts.clone(),
            ip: Some(key),
        })
    }
}

impl PendingSlot {
    /// Frees the place now (the stream sent its `start`).
    pub(crate) fn release(mut self) {
        self.free();
    }

    fn free(&mut self) {
        let Some(ip) = self.ip.take() else { return };
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&ip);
            }
        }
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        self.free();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("ip"))
    }

    #[test]
    fn trusted_sources_match_networks_and_mapped_addresses() {
        let t = TrustedSources::parse(&["10.1.0.0/16".into(), "192.0.2.7".into()]).expect("ok");
        assert!(t.contains(ip("10.1.200.3")));
        assert!(!t.contains(ip("10.2.0.1")));
        assert!(t.contains(ip("192.0.2.7")));
        assert!(!t.contains(ip("192.0.2.8")));
        assert!(
            t.contains(ip("::ffff:10.1.0.9")),
            "IPv4 seen by a dual-stack listener"
        );
        assert!(!t.contains(None), "an unknown peer is not trusted");
        let lo = TrustedSources::loopback();
        assert!(lo.contains(ip("127.0.0.2")) && lo.contains(ip("::1")));
        assert!(!lo.contains(ip("192.168.1.1")));
        let e = TrustedSources::parse(&["10.0.0.0/33".into()]).expect_err("bad prefix");
        assert!(e.contains("10.0.0.0/33"), "{e}");
    }

    #[test]
    fn pending_streams_are_capped_per_address_and_freed() {
        let p = PendingBySource::default();
        let a = p.try_take(ip("192.0.2.1"), 2).expect("first");
        let _b = p.try_take(ip("192.0.2.1"), 2).expect("second");
        assert!(
            p.try_take(ip("192.0.2.1"), 2).is_none(),
            "third from one address"
        );
        assert!(p.try_take(ip("192.0.2.2"), 2).is_some(), "another address");
        a.release();
        assert!(p.try_take(ip("192.0.2.1"), 2).is_some(), "freed by release");
    }
}

//! `[webrtc]`, as written in the configuration file.

use std::net::IpAddr;
use std::time::Duration;

use crate::WebRtcConfig;

/// Browser calls' settings (see config/default.toml for each key's meaning).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebRtcSettings {
    /// Serve browser calls (`POST /whip/...`).
    pub enabled: bool,
    /// The address the UDP socket binds.
    pub bind_ip: String,
    /// The UDP ports to try, lowest first; the first free one serves every call.
    pub port_min: u16,
    /// The last port to try.
    pub port_max: u16,
    /// The address browsers send to, when it is not `bind_ip` (1:1 NAT). Empty: `bind_ip`.
    pub public_ip: String,
    /// Packets (20 ms each) the jitter buffer holds behind a gap before giving it up.
    pub jitter_packets: usize,
    /// Opus encoder complexity, 0-10.
    pub opus_complexity: i32,
    /// A browser that has not connected this long after its offer is dropped (s).
    pub connect_timeout_secs: u64,
}

impl WebRtcSettings {
    /// What is wrong with it, naming the key.
    pub fn check(&self) -> Result<(), String> {
        self.config().map(|_| ())
    }

    /// The endpoint's settings, or what is wrong, naming the key.
    pub fn config(&self) -> Result<WebRtcConfig, String> {
        let bind_ip: IpAddr = self
            .bind_ip
            .parse()
            .map_err(|_| format!("webrtc.bind_ip: {:?} is not an IP address", self.bind_ip))?;
        let public_ip = match self.public_ip.trim() {
            "" => None,
            ip => Some(
                ip.parse::<IpAddr>()
                    .map_err(|_| format!("webrtc.public_ip: {ip:?} is not an IP address"))?,
            ),
        };
        if public_ip.unwrap_or(bind_ip).is_unspecified() {
            return Err(format!(
                "webrtc.public_ip must be set when webrtc.bind_ip is {bind_ip} (browsers need an address to send to)"
            ));
        }
        if self.port_min > self.port_max {
            return Err(format!(
                "webrtc.port_min ({}) is above webrtc.port_max ({})",
                self.port_min, self.port_max
            ));
        }
        if !(1..=20).contains(&self.jitter_packets) {
            return Err(format!(
                "webrtc.jitter_packets must be 1-20, got {}",
                self.jitter_packets
            ));
        }
        if !(0..=10).contains(&self.opus_complexity) {
            return Err(format!(
                "webrtc.opus_complexity must be 0-10, got {}",
                self.opus_complexity
            ));
        }
        if self.connect_timeout_secs == 0 {
            return Err("webrtc.connect_timeout_secs must be at least 1".into());
        }
        Ok(WebRtcConfig {
            bind_ip,
            ports: self.port_min..=self.port_max,
            public_ip,
            jitter_depth: self.jitter_packets,
            opus_complexity: self.opus_complexity,
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
        })
    }
}

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
    /// STUN and TURN servers for browsers behind NAT, handed to the page (Vox itself is
    /// ICE-lite and needs none).
    pub ice_servers: Vec<IceServer>,
}

/// A STUN or TURN server as a browser's `RTCIceServer` takes it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port[?transport=udp|tcp]` or `turns:...`.
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// TURN credential (a secret: never logged).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credential: String,
}

impl std::fmt::Debug for IceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServer")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field(
                "credential",
                &if self.credential.is_empty() {
                    ""
                } else {
                    "****"
                },
            )
            .finish()
    }
}

impl IceServer {
    /// What is wrong with it, naming the key.
    fn check(&self) -> Result<(), String> {
        if self.urls.is_empty() {
            return Err("webrtc.ice_servers: an entry has no urls".into());
        }
        for url in &self.urls {
            let turn = url.starts_with("turn:") || url.starts_with("turns:");
            if !turn && !url.starts_with("stun:") {
                return Err(format!(
                    "webrtc.ice_servers: {url:?} is not a stun:, turn: or turns: URL"
                ));
            }
            if turn && (self.username.is_empty() || self.credential.is_empty()) {
                return Err(format!(
                    "webrtc.ice_servers: {url:?} needs a username and a credential"
                ));
            }
        }
        Ok(())
    }
}

impl WebRtcSettings {
    /// What is wrong with it, naming the key.
    pub fn check(&self) -> Result<(), String> {
        self.config().map(|_| ())
    }

    /// The ICE servers as the browser's `RTCPeerConnection` takes them (`iceServers`).
    pub fn browser_ice_servers(&self) -> serde_json::Value {
        serde_json::to_value(&self.ice_servers).unwrap_or_default()
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
        for server in &self.ice_servers {
            server.check()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(ice: &str) -> Result<WebRtcSettings, String> {
        let text = format!(
            "enabled = true\nbind_ip = \"127.0.0.1\"\nport_min = 50000\nport_max = 50100\npublic_ip = \"\"\njitter_packets = 3\nopus_complexity = 5\nconnect_timeout_secs = 15\n{ice}"
        );
        let s: WebRtcSettings = toml::from_str(&text).map_err(|e| e.to_string())?;
        s.check().map(|()| s)
    }

    #[test]
    fn ice_servers_are_checked_and_their_credentials_never_shown() {
        let s = settings("ice_servers = []").expect("none");
        assert_eq!(s.browser_ice_servers(), serde_json::json!([]));
        let s = settings(
            "[[ice_servers]]\nurls = [\"stun:stun.example.org:3478\"]\n[[ice_servers]]\nurls = [\"turn:turn.example.org:3478\"]\nusername = \"vox\"\ncredential = \"s3cret-credential\"",
        )
        .expect("stun and turn");
        assert_eq!(
            s.browser_ice_servers(),
            serde_json::json!([{"urls": ["stun:stun.example.org:3478"]}, {"urls": ["turn:turn.example.org:3478"], "username": "vox", "credential": "s3cret-credential"}])
        );
        assert!(!format!("{s:?}").contains("s3cret"), "{s:?}");
        let e = settings("[[ice_servers]]\nurls = [\"turn:turn.example.org\"]")
            .expect_err("no credential");
        assert!(e.contains("needs a username and a credential"), "{e}");
        let e = settings("[[ice_servers]]\nurls = [\"http://example.org\"]").expect_err("not ICE");
        assert!(e.contains("not a stun:"), "{e}");
    }
}

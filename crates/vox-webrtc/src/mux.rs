//! One UDP socket for every browser call.
//!
//! Each call's ICE agent has its own username fragment (ufrag), which the browser puts in
//! every connectivity check: a STUN datagram is routed by it, and the address it came from is
//! remembered for the call; every other datagram (DTLS, SRTP, SRTCP) is routed by its source
//! address. Datagrams nobody claims are counted and dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::stun;

/// A datagram for one call.
#[derive(Debug)]
pub(crate) struct Datagram {
    pub(crate) from: SocketAddr,
    pub(crate) at: Instant,
    /// The bytes, in the buffer type the connection takes (copied once, off the socket).
    pub(crate) data: bytes::BytesMut,
}

/// Datagrams a call has not taken yet; past this, new ones are dropped (the call's task is
/// stalled, and media that late is useless).
const PER_CALL_QUEUE: usize = 256;
/// Remote addresses one call may be reached from (ICE tries a few pairs).
const MAX_ADDRS_PER_CALL: usize = 8;

#[derive(Debug, Default)]
struct Routes {
    by_ufrag: HashMap<String, mpsc::Sender<Datagram>>,
    by_addr: HashMap<SocketAddr, String>,
}

/// The shared socket and its routing table.
#[derive(Debug)]
pub(crate) struct UdpMux {
    socket: Arc<UdpSocket>,
    routes: Mutex<Routes>,
    unroutable: AtomicU64,
    dropped: AtomicU64,
    reader: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for UdpMux {
    fn drop(&mut self) {
        // the reader holds the socket; it stops with the last user of the mux
        if let Some(reader) = self.reader.get_mut().ok().and_then(Option::take) {
            reader.abort();
        }
    }
}

/// A call's place in the routing table; dropping it removes the call's routes.
#[derive(Debug)]
pub(crate) struct Registration {
    mux: Arc<UdpMux>,
    ufrag: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut r = self.mux.lock();
        r.by_ufrag.remove(&self.ufrag);
        let ufrag = &self.ufrag;
        r.by_addr.retain(|_, u| u != ufrag);
    }
}

impl UdpMux {
    /// Serves `socket`: a task reads it until the mux is dropped by everyone.
    pub(crate) fn start(socket: UdpSocket) -> Arc<Self> {
        let mux = Arc::new(Self {
            socket: Arc::new(socket),
            routes: Mutex::default(),
            unroutable: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            reader: Mutex::new(None),
        });
        let weak = Arc::downgrade(&mux);
        let socket = mux.socket.clone();
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    // ICMP errors surface as read errors on some systems: keep reading
                    continue;
                };
                let Some(mux) = weak.upgrade() else {
                    return;
                };
                mux.route(from, &buf[..n]);
            }
        });
        *mux.reader.lock().unwrap_or_else(PoisonError::into_inner) = Some(reader.abort_handle());
        mux
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The socket, for sending.
    pub(crate) fn socket(&self) -> &Arc<UdpSocket> {
        &self.socket
    }

    /// (datagrams nobody claimed, datagrams dropped because their call was behind)
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.unroutable.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
        )
    }

    /// Routes datagrams for `ufrag` (and, once it has checked in, its peer's addresses) to
    /// the returned receiver.
    pub(crate) fn register(
        self: &Arc<Self>,
        ufrag: String,
    ) -> (Registration, mpsc::Receiver<Datagram>) {
        let (tx, rx) = mpsc::channel(PER_CALL_QUEUE);
        self.lock().by_ufrag.insert(ufrag.clone(), tx);
        (
            Registration {
                mux: self.clone(),
                ufrag,
            },
            rx,
        )
    }

    fn route(&self, from: SocketAddr, data: &[u8]) {
        let tx = {
            let mut r = self.lock();
            let ufrag = match stun::local_ufrag(data) {
                Some(u) if r.by_ufrag.contains_key(u) => {
                    let u = u.to_owned();
                    if !r.by_addr.contains_key(&from)
                        && r.by_addr.values().filter(|x| **x == u).count() < MAX_ADDRS_PER_CALL
                    {
                        r.by_addr.insert(from, u.clone());
                    }
                    Some(u)
                }
                _ => r.by_addr.get(&from).cloned(),
            };
            ufrag.and_then(|u| r.by_ufrag.get(&u).cloned())
        };
        let Some(tx) = tx else {
            self.unroutable.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let d = Datagram {
            from,
            at: Instant::now(),
            data: bytes::BytesMut::from(data),
        };
        if tx.try_send(d).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

//! Bootstrap peers the node keeps dialling. A bootstrap node that goes away (restarted,
//! partitioned) is dialled again with a backoff that doubles from 500 ms to 30 s and starts
//! over once a connection holds, so a cluster heals by itself without hammering a dead peer.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::{Multiaddr, PeerId};

/// The first wait before a redial, and the wait again after a connection is made.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between two dials of one peer.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long a dial in flight keeps its peer out of the due list (its outcome reschedules it).
const IN_FLIGHT: Duration = Duration::from_secs(3600);

struct Redial {
    addr: Multiaddr,
    due: Instant,
    backoff: Duration,
}

/// The bootstrap peers and when each is next due for a dial.
pub struct Bootstrap {
    peers: HashMap<PeerId, Redial>,
}

impl Bootstrap {
    /// Every peer in `peers`, due at once.
    pub fn new(peers: Vec<(PeerId, Multiaddr)>) -> Bootstrap {
        let now = Instant::now();
        let peers =
            peers.into_iter().map(|(peer, addr)| (peer, Redial { addr, due: now, backoff: FIRST_BACKOFF })).collect();
        Bootstrap { peers }
    }

    /// `peer` is connected: its next loss is redialled after the first backoff again.
    pub fn connected(&mut self, peer: &PeerId) {
        if let Some(redial) = self.peers.get_mut(peer) {
            redial.backoff = FIRST_BACKOFF;
        }
    }

    /// `peer` was lost or could not be reached: dial it after its backoff, then wait longer.
    pub fn lost(&mut self, peer: &PeerId) {
        if let Some(redial) = self.peers.get_mut(peer) {
            redial.due = Instant::now() + redial.backoff;
            redial.backoff = (redial.backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// The addresses to dial now: peers whose time has come and that `is_connected` says are
    /// not connected. Each is marked in flight until [`Bootstrap::lost`] or
    /// [`Bootstrap::connected`] says how the dial went.
    pub fn due(&mut self, is_connected: impl Fn(&PeerId) -> bool) -> Vec<Multiaddr> {
        let now = Instant::now();
        self.peers
            .iter_mut()
            .filter(|(peer, redial)| redial.due <= now && !is_connected(peer))
            .map(|(_, redial)| {
                redial.due = now + IN_FLIGHT;
                redial.addr.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> (PeerId, Multiaddr) {
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().expect("address");
        (PeerId::random(), addr)
    }

    #[test]
    fn a_peer_is_due_once_until_its_dial_reports_back() {
        let (id, addr) = peer();
        let mut bootstrap = Bootstrap::new(vec![(id, addr.clone())]);
        assert_eq!(bootstrap.due(|_| false), vec![addr]);
        assert!(bootstrap.due(|_| false).is_empty(), "a dial in flight is not repeated");
    }

    #[test]
    fn a_connected_peer_is_never_due() {
        let (id, addr) = peer();
        let mut bootstrap = Bootstrap::new(vec![(id, addr)]);
        assert!(bootstrap.due(|p| *p == id).is_empty());
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_starts_over_after_a_connection() {
        let (id, addr) = peer();
        let mut bootstrap = Bootstrap::new(vec![(id, addr)]);
        for _ in 0..10 {
            bootstrap.lost(&id);
        }
        assert_eq!(bootstrap.peers[&id].backoff, MAX_BACKOFF);
        bootstrap.connected(&id);
        assert_eq!(bootstrap.peers[&id].backoff, FIRST_BACKOFF);
    }
}

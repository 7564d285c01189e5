//! Who belongs to this node's network. A bridge reachable from other machines must name its
//! peers: by a swarm key (the transport then refuses anyone without it, see [`swarm`](crate::swarm))
//! or by `pubsub.allowed_peers`. With an allow-list, a connection from any other peer is closed
//! as soon as it is established and the peer is ignored by gossipsub, and a message whose
//! publisher or forwarder is outside the list is dropped (a member could relay a stranger's
//! messages), presence included. The bootstrap peers are always allowed.

use std::collections::HashSet;

use libp2p::PeerId;

/// The peers this node deals with.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// `None`: every peer that can connect (an open or swarm-keyed network).
    allowed: Option<HashSet<PeerId>>,
}

impl Admission {
    /// Only `allowed` and `bootstrap`, or anyone when `allowed` is empty.
    pub fn new(allowed: &[PeerId], bootstrap: impl IntoIterator<Item = PeerId>) -> Admission {
        if allowed.is_empty() {
            return Admission { allowed: None };
        }
        Admission { allowed: Some(allowed.iter().copied().chain(bootstrap).collect()) }
    }

    /// Whether `peer` belongs to the network.
    pub fn admits(&self, peer: &PeerId) -> bool {
        self.allowed.as_ref().is_none_or(|allowed| allowed.contains(peer))
    }

    /// Whether only listed peers are admitted.
    pub fn is_listed(&self) -> bool {
        self.allowed.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_admits_its_peers_and_the_bootstrap_peers_only() {
        let (member, seed, stranger) = (PeerId::random(), PeerId::random(), PeerId::random());
        let listed = Admission::new(&[member], [seed]);
        assert!(listed.admits(&member) && listed.admits(&seed) && !listed.admits(&stranger));
        let open = Admission::new(&[], [seed]);
        assert!(open.admits(&stranger) && !open.is_listed());
    }
}

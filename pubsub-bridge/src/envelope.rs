//! What travels in a gossipsub message between bridges: a small fixed header (kind, the
//! publishing bridge's epoch and per-topic sequence number, a timestamp) and the payload.
//! The sequence number lets receivers put one publisher's messages back in order; the epoch
//! tells a restarted publisher (whose numbers start again) from a reordering.

/// Version byte of this layout.
const VERSION: u8 = 1;
/// Header length.
pub const HEADER: usize = 26;

/// What an envelope carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A client's message.
    Message,
    /// A member joined (payload: the member's JSON).
    Join,
    /// A member left (payload: the member's JSON).
    Leave,
    /// The publisher's current members of the topic (payload: a JSON array).
    Snapshot,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Message => 0,
            Kind::Join => 1,
            Kind::Leave => 2,
            Kind::Snapshot => 3,
        }
    }

    fn from_byte(byte: u8) -> Option<Kind> {
        Some(match byte {
            0 => Kind::Message,
            1 => Kind::Join,
            2 => Kind::Leave,
            3 => Kind::Snapshot,
            _ => return None,
        })
    }
}

/// A decoded envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// What it carries.
    pub kind: Kind,
    /// The publisher's run.
    pub epoch: u64,
    /// Position in the publisher's sequence for this topic.
    pub seq: u64,
    /// When it was published (ms since the epoch).
    pub timestamp_ms: u64,
    /// The payload.
    pub payload: Vec<u8>,
}

impl Envelope {
    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.payload.len());
        out.push(VERSION);
        out.push(self.kind.byte());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    /// The envelope in `bytes`, or `None` for anything else (another version, garbage).
    pub fn decode(bytes: &[u8]) -> Option<Envelope> {
        if bytes.len() < HEADER || bytes[0] != VERSION {
            return None;
        }
        let word = |at: usize| bytes.get(at..at + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes);
        Some(Envelope {
            kind: Kind::from_byte(bytes[1])?,
            epoch: word(2)?,
            seq: word(10)?,
            timestamp_ms: word(18)?,
            payload: bytes[HEADER..].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_garbage_is_refused() {
        for kind in [Kind::Message, Kind::Join, Kind::Leave, Kind::Snapshot] {
            let envelope =
                Envelope { kind, epoch: 7, seq: u64::MAX, timestamp_ms: 1_700_000_000_000, payload: vec![0, 255, 1] };
            assert_eq!(Envelope::decode(&envelope.encode()), Some(envelope));
        }
        let empty = Envelope { kind: Kind::Message, epoch: 1, seq: 0, timestamp_ms: 0, payload: Vec::new() };
        assert_eq!(Envelope::decode(&empty.encode()), Some(empty));
        assert_eq!(Envelope::decode(b"PEER_DISCOVERY_PING"), None);
        assert_eq!(Envelope::decode(&[]), None);
        let mut wrong = vec![2u8; HEADER];
        assert_eq!(Envelope::decode(&wrong), None, "another version");
        wrong[0] = VERSION;
        wrong[1] = 9;
        assert_eq!(Envelope::decode(&wrong), None, "unknown kind");
    }
}

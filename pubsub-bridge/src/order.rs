//! Per-publisher order. Gossipsub may hand over one publisher's messages out of order when
//! they come by different peers; each envelope carries the publisher's sequence number for its
//! topic, and this puts them back in order. A gap is waited for briefly ([`MAX_WAIT`], at
//! most [`MAX_PENDING`] messages held), then given up: later messages are not held hostage by
//! one that was lost.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::envelope::Envelope;

/// Longest a message waits for an earlier one.
pub const MAX_WAIT: Duration = Duration::from_millis(250);
/// Most messages held per publisher and topic.
pub const MAX_PENDING: usize = 64;
/// A publisher silent this long on a topic is forgotten.
const IDLE: Duration = Duration::from_secs(600);

/// (publisher, topic).
pub type Key = (String, String);

#[derive(Debug)]
struct Stream {
    epoch: u64,
    next: u64,
    pending: BTreeMap<u64, Envelope>,
    waiting_since: Option<Instant>,
    touched: Instant,
}

/// The order of every publisher's messages on every topic.
#[derive(Debug, Default)]
pub struct Sequencer {
    streams: HashMap<Key, Stream>,
}

impl Sequencer {
    /// Takes `envelope` from `key`'s publisher; what can be delivered now, in order.
    pub fn accept(&mut self, key: Key, envelope: Envelope, now: Instant) -> Vec<Envelope> {
        let stream = self.streams.entry(key).or_insert_with(|| Stream {
            epoch: envelope.epoch,
            next: envelope.seq,
            pending: BTreeMap::new(),
            waiting_since: None,
            touched: now,
        });
        stream.touched = now;
        if stream.epoch != envelope.epoch {
            // The publisher restarted: its numbering starts again.
            *stream = Stream {
                epoch: envelope.epoch,
                next: envelope.seq,
                pending: BTreeMap::new(),
                waiting_since: None,
                touched: now,
            };
        }
        if envelope.seq < stream.next {
            return Vec::new();
        }
        stream.pending.insert(envelope.seq, envelope);
        let mut ready = stream.drain(now);
        if stream.pending.len() > MAX_PENDING {
            ready.extend(stream.give_up(now));
        }
        ready
    }

    /// Gives up the gaps that were waited for too long; what that releases, in order.
    pub fn expire(&mut self, now: Instant) -> Vec<(Key, Envelope)> {
        let mut released = Vec::new();
        self.streams.retain(|_, stream| now.duration_since(stream.touched) < IDLE || !stream.pending.is_empty());
        for (key, stream) in &mut self.streams {
            if stream.waiting_since.is_some_and(|since| now.duration_since(since) >= MAX_WAIT) {
                released.extend(stream.give_up(now).into_iter().map(|e| (key.clone(), e)));
            }
        }
        released
    }
}

impl Stream {
    /// The messages from `next` on with no gap.
    fn drain(&mut self, now: Instant) -> Vec<Envelope> {
        let mut ready = Vec::new();
        while let Some(envelope) = self.pending.remove(&self.next) {
            self.next += 1;
            ready.push(envelope);
        }
        self.waiting_since = match (self.pending.is_empty(), ready.is_empty(), self.waiting_since) {
            (true, _, _) => None,
            (false, false, _) | (false, true, None) => Some(now),
            (false, true, since) => since,
        };
        ready
    }

    /// Skips the gap before the first held message, and delivers from there.
    fn give_up(&mut self, now: Instant) -> Vec<Envelope> {
        match self.pending.keys().next() {
            Some(&first) => {
                self.next = first;
                self.drain(now)
            }
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Kind;

    fn message(epoch: u64, seq: u64) -> Envelope {
        Envelope { kind: Kind::Message, epoch, seq, timestamp_ms: 0, payload: seq.to_be_bytes().to_vec() }
    }

    fn seqs(envelopes: &[Envelope]) -> Vec<u64> {
        envelopes.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn late_messages_are_put_back_in_order_and_duplicates_dropped() {
        let mut order = Sequencer::default();
        let key = || ("peer".to_owned(), "topic".to_owned());
        let now = Instant::now();
        assert_eq!(seqs(&order.accept(key(), message(1, 10), now)), [10], "the first seen starts the sequence");
        assert_eq!(seqs(&order.accept(key(), message(1, 12), now)), Vec::<u64>::new(), "12 waits for 11");
        assert_eq!(seqs(&order.accept(key(), message(1, 11), now)), [11, 12]);
        assert_eq!(seqs(&order.accept(key(), message(1, 11), now)), Vec::<u64>::new(), "a duplicate");
        assert_eq!(seqs(&order.accept(key(), message(2, 0), now)), [0], "a restarted publisher");
        assert_eq!(seqs(&order.accept(("other".into(), "topic".into()), message(1, 5), now)), [5]);
    }

    #[test]
    fn a_lost_message_is_given_up_after_a_while_or_a_full_buffer() {
        let mut order = Sequencer::default();
        let key = || ("peer".to_owned(), "topic".to_owned());
        let start = Instant::now();
        order.accept(key(), message(1, 0), start);
        assert!(order.accept(key(), message(1, 2), start).is_empty());
        assert!(order.expire(start).is_empty(), "not yet");
        let released = order.expire(start + MAX_WAIT + Duration::from_millis(1));
        assert_eq!(released.iter().map(|(_, e)| e.seq).collect::<Vec<_>>(), [2]);
        assert_eq!(seqs(&order.accept(key(), message(1, 3), start)), [3]);

        let mut held = Vec::new();
        for seq in 5..(5 + MAX_PENDING as u64 + 1) {
            held.extend(order.accept(key(), message(1, seq), start));
        }
        assert_eq!(held.len(), MAX_PENDING + 1, "a full buffer gives the gap up");
        assert_eq!(held.first().map(|e| e.seq), Some(5));
    }
}

//! Who is on each topic, across nodes. Local members are registered by the gateway (one per
//! WebSocket connection that asked for presence) on the stream of their topic, and leave when
//! their connection or that stream ends. Each node announces joins and leaves, and every few
//! seconds a snapshot of its members, so a node that missed an event (or joined late)
//! converges; a node's members are dropped when it disconnects or stays silent for
//! [`ORIGIN_TIMEOUT`]. Every change that local subscribers should hear of comes back as a
//! [`Change`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How often each node announces its members.
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(5);
/// A node not heard of for this long has no members any more.
pub const ORIGIN_TIMEOUT: Duration = Duration::from_secs(16);

/// A member of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The id the client chose.
    pub member_id: String,
    /// When it joined (unix seconds).
    pub joined_at: u64,
    /// What the client said of itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

/// A member as announced: its key on its node (unique there) and the member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Unique on the announcing node.
    pub key: String,
    /// The member.
    #[serde(flatten)]
    pub member: Member,
}

/// A change local subscribers hear of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Someone joined the topic.
    Join(Member),
    /// Someone left it.
    Leave(Member),
}

impl Change {
    /// The reference's event payload: `{"type": "presence.join" | "presence.leave", ...}`.
    pub fn event(&self, now_secs: u64) -> Vec<u8> {
        let value = match self {
            Change::Join(m) => {
                let mut event =
                    serde_json::json!({ "type": "presence.join", "member_id": m.member_id, "timestamp": now_secs });
                if let Some(meta) = &m.meta {
                    event["meta"] = meta.clone();
                }
                event
            }
            Change::Leave(m) => {
                serde_json::json!({ "type": "presence.leave", "member_id": m.member_id, "timestamp": now_secs })
            }
        };
        value.to_string().into_bytes()
    }
}

#[derive(Debug)]
struct Origin {
    seen: Instant,
    members: HashMap<String, Member>,
}

/// The presence of every topic this node knows of.
#[derive(Debug, Default)]
pub struct Presence {
    local: HashMap<String, HashMap<String, (Member, u64)>>,
    remote: HashMap<String, HashMap<String, Origin>>,
}

impl Presence {
    /// Registers a local member on `topic` under `key`, held by stream `stream`.
    pub fn join_local(&mut self, topic: &str, key: String, member: Member, stream: u64) {
        self.local.entry(topic.to_owned()).or_default().insert(key, (member, stream));
    }

    /// Removes the local member `key`; it, if it was there.
    pub fn leave_local(&mut self, topic: &str, key: &str) -> Option<Member> {
        let members = self.local.get_mut(topic)?;
        let (member, _) = members.remove(key)?;
        if members.is_empty() {
            self.local.remove(topic);
        }
        Some(member)
    }

    /// Removes the local members held by `stream`: (topic, key, member) of each.
    pub fn drop_stream(&mut self, stream: u64) -> Vec<(String, String, Member)> {
        let mut gone = Vec::new();
        for (topic, members) in &mut self.local {
            members.retain(|key, (member, held_by)| {
                let keep = *held_by != stream;
                if !keep {
                    gone.push((topic.clone(), key.clone(), member.clone()));
                }
                keep
            });
        }
        self.local.retain(|_, members| !members.is_empty());
        gone
    }

    /// A remote join; the change if it is news.
    pub fn remote_join(&mut self, topic: &str, origin: &str, entry: Entry, now: Instant) -> Option<Change> {
        let origin = self.origin(topic, origin, now);
        let fresh = origin.members.insert(entry.key, entry.member.clone()).is_none();
        fresh.then_some(Change::Join(entry.member))
    }

    /// A remote leave; the change if the member was known.
    pub fn remote_leave(&mut self, topic: &str, origin: &str, key: &str, now: Instant) -> Option<Change> {
        self.origin(topic, origin, now).members.remove(key).map(Change::Leave)
    }

    /// A remote node's members of `topic` now; the joins and leaves that differ from what
    /// was known.
    pub fn snapshot(&mut self, topic: &str, origin: &str, entries: Vec<Entry>, now: Instant) -> Vec<Change> {
        let known = self.origin(topic, origin, now);
        let mut fresh: HashMap<String, Member> = entries.into_iter().map(|e| (e.key, e.member)).collect();
        let mut changes: Vec<Change> = known
            .members
            .iter()
            .filter(|(key, _)| !fresh.contains_key(*key))
            .map(|(_, member)| Change::Leave(member.clone()))
            .collect();
        changes.extend(
            fresh.iter().filter(|(key, _)| !known.members.contains_key(*key)).map(|(_, m)| Change::Join(m.clone())),
        );
        std::mem::swap(&mut known.members, &mut fresh);
        changes
    }

    /// Forgets every member of node `origin` (it went away): (topic, member) of each.
    pub fn drop_origin(&mut self, origin: &str) -> Vec<(String, Member)> {
        let mut gone = Vec::new();
        for (topic, origins) in &mut self.remote {
            if let Some(dropped) = origins.remove(origin) {
                gone.extend(dropped.members.into_values().map(|m| (topic.clone(), m)));
            }
        }
        self.remote.retain(|_, origins| !origins.is_empty());
        gone
    }

    /// Forgets nodes not heard of for [`ORIGIN_TIMEOUT`]: (topic, member) of each member.
    pub fn expire(&mut self, now: Instant) -> Vec<(String, Member)> {
        let mut gone = Vec::new();
        for (topic, origins) in &mut self.remote {
            origins.retain(|_, origin| {
                let alive = now.duration_since(origin.seen) < ORIGIN_TIMEOUT;
                if !alive {
                    gone.extend(origin.members.drain().map(|(_, m)| (topic.clone(), m)));
                }
                alive
            });
        }
        self.remote.retain(|_, origins| !origins.is_empty());
        gone
    }

    /// Everyone on `topic`, here and elsewhere, by join time.
    pub fn members(&self, topic: &str) -> Vec<Member> {
        let local = self.local.get(topic).into_iter().flat_map(|m| m.values().map(|(member, _)| member.clone()));
        let remote =
            self.remote.get(topic).into_iter().flat_map(|o| o.values().flat_map(|o| o.members.values().cloned()));
        let mut all: Vec<Member> = local.chain(remote).collect();
        all.sort_by(|a, b| (a.joined_at, &a.member_id).cmp(&(b.joined_at, &b.member_id)));
        all
    }

    /// This node's members of each topic that has some, as announced in snapshots.
    pub fn local_snapshots(&self) -> Vec<(String, Vec<Entry>)> {
        self.local
            .iter()
            .map(|(topic, members)| {
                let entries =
                    members.iter().map(|(key, (member, _))| Entry { key: key.clone(), member: member.clone() });
                (topic.clone(), entries.collect())
            })
            .collect()
    }

    fn origin(&mut self, topic: &str, origin: &str, now: Instant) -> &mut Origin {
        let origin = self
            .remote
            .entry(topic.to_owned())
            .or_default()
            .entry(origin.to_owned())
            .or_insert_with(|| Origin { seen: now, members: HashMap::new() });
        origin.seen = now;
        origin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, at: u64) -> Member {
        Member { member_id: id.into(), joined_at: at, meta: None }
    }

    fn entry(key: &str, id: &str, at: u64) -> Entry {
        Entry { key: key.into(), member: member(id, at) }
    }

    #[test]
    fn members_join_leave_and_go_with_their_stream_or_node() {
        let mut presence = Presence::default();
        let now = Instant::now();
        presence.join_local("t", "c1".into(), member("alice", 1), 7);
        presence.join_local("t", "c2".into(), member("bob", 2), 8);
        assert_eq!(
            presence.remote_join("t", "node2", entry("x", "carol", 3), now),
            Some(Change::Join(member("carol", 3)))
        );
        assert_eq!(presence.remote_join("t", "node2", entry("x", "carol", 3), now), None, "not news twice");
        let ids = |p: &Presence| p.members("t").into_iter().map(|m| m.member_id).collect::<Vec<_>>();
        assert_eq!(ids(&presence), ["alice", "bob", "carol"]);

        assert_eq!(presence.drop_stream(7), [("t".to_owned(), "c1".to_owned(), member("alice", 1))]);
        assert_eq!(presence.leave_local("t", "c2"), Some(member("bob", 2)));
        let changes = presence.snapshot("t", "node2", vec![entry("y", "dave", 4)], now);
        assert!(
            changes.contains(&Change::Leave(member("carol", 3))) && changes.contains(&Change::Join(member("dave", 4)))
        );
        assert_eq!(presence.drop_origin("node2"), [("t".to_owned(), member("dave", 4))]);
        assert!(presence.members("t").is_empty());

        presence.remote_join("t", "node3", entry("z", "erin", 5), now);
        assert!(presence.expire(now + ORIGIN_TIMEOUT / 2).is_empty());
        assert_eq!(presence.expire(now + ORIGIN_TIMEOUT), [("t".to_owned(), member("erin", 5))]);
    }

    #[test]
    fn events_have_the_reference_shape() {
        let join =
            Change::Join(Member { member_id: "a".into(), joined_at: 1, meta: Some(serde_json::json!({"n": 1})) });
        let event: Value = serde_json::from_slice(&join.event(9)).expect("json");
        assert_eq!(
            event,
            serde_json::json!({ "type": "presence.join", "member_id": "a", "timestamp": 9, "meta": {"n": 1} })
        );
        let event: Value = serde_json::from_slice(&Change::Leave(member("a", 1)).event(9)).expect("json");
        assert_eq!(event, serde_json::json!({ "type": "presence.leave", "member_id": "a", "timestamp": 9 }));
    }
}

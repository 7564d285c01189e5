//! What a deploy's `triggers` field declares: runs on each message of a pub/sub topic of the
//! function's namespace, and runs on a five-field cron schedule (UTC). Parsed strictly, so a
//! typo is a 400 at deploy and never a trigger that silently never fires; and the live view
//! of this node's triggers ([`TriggerWatch`]) that deploys poke and `GET /v1/functions/{name}`
//! reads.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::cron::Schedule;

/// Most triggers one function may declare.
pub const MAX_TRIGGERS: usize = 8;
/// Most triggers the live functions of one namespace may have together (each pub/sub topic
/// costs every node a stream, each trigger a scan per message).
pub const MAX_NAMESPACE_TRIGGERS: usize = 64;
/// Longest topic a trigger may follow.
const MAX_TOPIC: usize = 256;

/// One trigger of a function.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// Each message on this topic of the function's namespace.
    Pubsub {
        /// The topic.
        topic: String,
    },
    /// Each minute the schedule names.
    Cron {
        /// Five fields, UTC.
        schedule: String,
    },
}

impl Trigger {
    /// `pubsub` or `cron`: the invocation records' trigger type too.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Pubsub { .. } => "pubsub",
            Trigger::Cron { .. } => "cron",
        }
    }

    /// The topic or the schedule.
    pub fn spec(&self) -> &str {
        match self {
            Trigger::Pubsub { topic } => topic,
            Trigger::Cron { schedule } => schedule,
        }
    }

    /// A trigger as stored (`kind`, `spec`).
    pub fn from_parts(kind: &str, spec: &str) -> Option<Trigger> {
        match kind {
            "pubsub" => Some(Trigger::Pubsub { topic: spec.to_owned() }),
            "cron" => Some(Trigger::Cron { schedule: spec.to_owned() }),
            _ => None,
        }
    }

    /// As the API shows it: `{"type": "pubsub", "topic"}` or `{"type": "cron", "schedule"}`.
    pub fn to_json(&self) -> Value {
        match self {
            Trigger::Pubsub { topic } => json!({ "type": "pubsub", "topic": topic }),
            Trigger::Cron { schedule } => json!({ "type": "cron", "schedule": schedule }),
        }
    }
}

/// Parses a deploy's `triggers`: a JSON array of `{"type": "pubsub", "topic": "…"}` and
/// `{"type": "cron", "schedule": "…"}`; anything else says what is wrong.
pub fn parse(text: &str) -> Result<Vec<Trigger>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("triggers must be a JSON array: {e}"))?;
    let Value::Array(items) = value else { return Err("triggers must be a JSON array".into()) };
    if items.len() > MAX_TRIGGERS {
        return Err(format!("at most {MAX_TRIGGERS} triggers per function"));
    }
    let mut triggers = Vec::with_capacity(items.len());
    for item in items {
        let trigger = one(&item)?;
        if triggers.contains(&trigger) {
            return Err(format!("trigger {} is given twice", trigger.to_json()));
        }
        triggers.push(trigger);
    }
    Ok(triggers)
}

fn one(item: &Value) -> Result<Trigger, String> {
    let Value::Object(fields) = item else { return Err(format!("a trigger must be an object, not {item}")) };
    let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::trim);
    let (trigger, field) = match text("type") {
        Some("pubsub") => (Trigger::Pubsub { topic: text("topic").unwrap_or_default().to_owned() }, "topic"),
        Some("cron") => (Trigger::Cron { schedule: text("schedule").unwrap_or_default().to_owned() }, "schedule"),
        _ => return Err(format!("a trigger's type must be \"pubsub\" or \"cron\": {item}")),
    };
    if let Some(extra) = fields.keys().find(|k| *k != "type" && *k != field) {
        return Err(format!("unknown field {extra:?} in trigger {item}"));
    }
    match &trigger {
        Trigger::Pubsub { topic } if topic.is_empty() || topic.len() > MAX_TOPIC => {
            Err(format!("a pubsub trigger needs a topic of 1 to {MAX_TOPIC} bytes: {item}"))
        }
        Trigger::Cron { schedule } => Schedule::parse(schedule).map(|_| trigger.clone()),
        _ => Ok(trigger),
    }
}

/// This node's view of its triggers: which pub/sub topics it follows right now, and a poke
/// to read the triggers again (after a deploy or delete here).
#[derive(Debug, Clone, Default)]
pub struct TriggerWatch {
    following: Arc<Mutex<HashSet<(String, String)>>>,
    changed: Arc<tokio::sync::Notify>,
}

impl TriggerWatch {
    /// Whether this node follows `topic` of `namespace` (its stream to the bridge is open).
    pub fn follows(&self, namespace: &str, topic: &str) -> bool {
        self.lock().contains(&(namespace.to_owned(), topic.to_owned()))
    }

    /// Records whether `topic` of `namespace` is followed.
    pub fn set_following(&self, namespace: &str, topic: &str, following: bool) {
        let key = (namespace.to_owned(), topic.to_owned());
        if following {
            self.lock().insert(key);
        } else {
            self.lock().remove(&key);
        }
    }

    /// Asks the scheduler to read the triggers again now.
    pub fn poke(&self) {
        self.changed.notify_one();
    }

    /// Waits for [`Self::poke`].
    pub async fn poked(&self) {
        self.changed.notified().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.following.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_parse_strictly() {
        let parsed = parse(r#"[{"type":"pubsub","topic":"orders"},{"type":"cron","schedule":"*/5 * * * *"}]"#);
        assert_eq!(
            parsed,
            Ok(vec![Trigger::Pubsub { topic: "orders".into() }, Trigger::Cron { schedule: "*/5 * * * *".into() }])
        );
        assert_eq!(parse("[]"), Ok(Vec::new()));
        for (bad, says) in [
            ("{}", "JSON array"),
            ("[1]", "must be an object"),
            (r#"[{"type":"webhook"}]"#, "\"pubsub\" or \"cron\""),
            (r#"[{"type":"pubsub"}]"#, "needs a topic"),
            (r#"[{"type":"pubsub","topic":"a","schedule":"* * * * *"}]"#, "unknown field"),
            (r#"[{"type":"cron","schedule":"61 * * * *"}]"#, "out of 0-59"),
            (r#"[{"type":"pubsub","topic":"a"},{"type":"pubsub","topic":"a"}]"#, "twice"),
        ] {
            let err = parse(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
        let many = format!("[{}]", [r#"{"type":"cron","schedule":"* * * * *"}"#; 9].join(","));
        assert!(parse(&many).expect_err("nine").contains("at most 8"));
    }
}

//! Log lines for people: on a terminal the supervisor prints its children's JSON events as
//! `12:03:04.512  WARN gateway: message key=value`, the level in colour, the child in bold, the
//! fields dimmed; without colour when asked (`NO_COLOR`) or when stderr is not a terminal and
//! text was configured anyway. JSON stays the format for everything that is not a person.

use serde_json::{Map, Value};

/// Keys shown in their own place, or not at all (the forwarder's and tracing's bookkeeping).
const PLACED: &[&str] = &["timestamp", "level", "message", "child", "stream", "target", "threadId", "threadName"];

/// The event's message and its other fields as `key=value` (what the journal's `MESSAGE`
/// carries: an event may have fields and no message at all).
pub fn message(event: &Map<String, Value>) -> String {
    let text = event.get("message").and_then(Value::as_str).unwrap_or_default();
    let fields = fields(event);
    format!("{text}{}{fields}", if text.is_empty() { "" } else { gap(&fields) })
}

/// The fields not shown in their own place, as `key=value key="two words"`.
fn fields(event: &Map<String, Value>) -> String {
    let fields: Vec<String> = event
        .iter()
        .filter(|(key, _)| !PLACED.contains(&key.as_str()))
        .map(|(key, value)| match value {
            Value::String(s) if !s.contains(' ') => format!("{key}={s}"),
            other => format!("{key}={other}"),
        })
        .collect();
    fields.join(" ")
}

/// One line (without the newline) for `child`'s event.
pub fn line(child: &str, event: &Map<String, Value>, colour: bool) -> String {
    let text = |key: &str| event.get(key).and_then(Value::as_str).unwrap_or_default();
    let time = clock(text("timestamp"));
    let level = if text("level").is_empty() { "INFO".to_owned() } else { text("level").to_ascii_uppercase() };
    let fields = fields(event);
    if !colour {
        return format!("{time} {level:>5} {child}: {}{}{fields}", text("message"), gap(&fields));
    }
    let paint = match level.as_str() {
        "ERROR" => "31",
        "WARN" => "33",
        "INFO" => "32",
        "DEBUG" => "34",
        _ => "35",
    };
    format!(
        "\x1b[2m{time}\x1b[0m \x1b[{paint}m{level:>5}\x1b[0m \x1b[1m{child}\x1b[0m: {}{}\x1b[2m{fields}\x1b[0m",
        text("message"),
        gap(&fields)
    )
}

fn gap(fields: &str) -> &'static str {
    if fields.is_empty() { "" } else { " " }
}

/// `HH:MM:SS.mmm` of an RFC 3339 timestamp (the date is left out: a terminal is read live).
fn clock(timestamp: &str) -> String {
    let time = timestamp.split_once('T').map_or(timestamp, |(_, time)| time);
    time.chars().take(12).collect()
}

/// Whether people read this process's stderr in colour: a terminal, and `NO_COLOR` unset.
pub fn stderr_in_colour() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).expect("json")
    }

    #[test]
    fn events_read_as_one_line_with_their_fields() {
        let e = event(
            r#"{"timestamp":"2026-12-05T00:11:11.123456Z","level":"WARN","message":"slow","ms":412,"child":"gateway","target":"x"}"#,
        );
        assert_eq!(line("gateway", &e, false), "00:11:11.123  WARN gateway: slow ms=412");
        let coloured = line("gateway", &e, true);
        assert!(
            coloured.contains("\x1b[33m WARN\x1b[0m") && coloured.contains("\x1b[1mgateway\x1b[0m"),
            "{coloured:?}"
        );
        assert_eq!(line("redis", &event(r#"{"message":"ready"}"#), false), "  INFO redis: ready");
        assert_eq!(message(&event(r#"{"level":"INFO","peer":"12D3","target":"libp2p"}"#)), "peer=12D3");
        assert_eq!(message(&e), "slow ms=412");
    }
}

//! Typed reading of the YAML tree with every problem collected, each with its path and line.
//!
//! Readers never stop at the first problem: a bad value is recorded and the default is used,
//! so one pass reports everything wrong with a file.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::yaml::{Node, Value};

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path of the offending key, e.g. `externals[0].health.tcp`.
    pub path: String,
    /// 1-based line in the file (0 when unknown).
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "(top level)" } else { &self.path };
        if self.line > 0 {
            write!(f, "{path} (line {}): {}", self.line, self.message)
        } else {
            write!(f, "{path}: {}", self.message)
        }
    }
}

/// The problems found so far.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// Records a problem at `path`/`line`.
    pub fn add(&mut self, path: &str, line: u64, message: impl Into<String>) {
        self.0.push(Problem { path: path.to_owned(), line, message: message.into() });
    }
}

/// A key of a mapping being read: its path and node.
pub struct Field<'a> {
    /// Dotted path of the key.
    pub path: String,
    /// The value node.
    pub node: &'a Node,
}

/// A mapping being read: every key must be taken, or it is reported as unknown.
pub struct Table<'a> {
    path: String,
    entries: Vec<(&'a str, Option<&'a Node>)>,
}

impl<'a> Table<'a> {
    /// Opens `node` as a mapping; null is an empty one. Anything else is a problem.
    pub fn open(node: &'a Node, path: &str, problems: &mut Problems) -> Table<'a> {
        let entries = match &node.value {
            Value::Map(entries) => entries.iter().map(|(k, v)| (k.as_str(), Some(v))).collect(),
            Value::Null => Vec::new(),
            other => {
                problems.add(path, node.line, format!("expected a mapping, found {}", other.kind()));
                Vec::new()
            }
        };
        Table { path: path.to_owned(), entries }
    }

    /// Takes `key` if present.
    pub fn take(&mut self, key: &str) -> Option<Field<'a>> {
        let slot = self.entries.iter_mut().find(|(k, n)| *k == key && n.is_some())?;
        let node = slot.1.take()?;
        Some(Field { path: join(&self.path, key), node })
    }

    /// Reports every key that was not taken.
    pub fn finish(self, problems: &mut Problems) {
        for (key, node) in self.entries {
            if let Some(node) = node {
                problems.add(&join(&self.path, key), node.line, "unknown key");
            }
        }
    }

    /// The remaining entries as (key, field), for free-form maps such as `env`.
    pub fn drain(self) -> Vec<(String, Field<'a>)> {
        let path = self.path;
        self.entries
            .into_iter()
            .filter_map(|(k, n)| n.map(|node| (k.to_owned(), Field { path: join(&path, k), node })))
            .collect()
    }
}

/// `65536`, `64KiB`, `10MiB`, `1GiB`, `2TiB`, `64KB`, `1MB`, `1TB` (decimal units are powers of
/// 1000).
fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(factor)
}

/// `d` as a person writes it: whole days as `30d` (humantime would say months), others as
/// humantime does.
fn readable(d: Duration) -> String {
    const DAY: u64 = 24 * 3600;
    match d.as_secs() {
        secs if secs >= DAY && secs % DAY == 0 && d.subsec_nanos() == 0 => format!("{}d", secs / DAY),
        _ => humantime::format_duration(d).to_string(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

impl Field<'_> {
    /// Records a problem at this field.
    pub fn problem(&self, problems: &mut Problems, message: impl Into<String>) {
        problems.add(&self.path, self.node.line, message);
    }

    fn mismatch<T>(&self, problems: &mut Problems, expected: &str) -> Option<T> {
        self.problem(problems, format!("expected {expected}, found {}", self.node.value.kind()));
        None
    }

    /// A string scalar.
    pub fn string(&self, problems: &mut Problems) -> Option<String> {
        match &self.node.value {
            Value::Str(s) => Some(s.clone()),
            _ => self.mismatch(problems, "a string"),
        }
    }

    /// A non-empty string scalar.
    pub fn non_empty_string(&self, problems: &mut Problems) -> Option<String> {
        let s = self.string(problems)?;
        if s.trim().is_empty() {
            self.problem(problems, "must not be empty");
            return None;
        }
        Some(s)
    }

    /// A boolean.
    pub fn bool(&self, problems: &mut Problems) -> Option<bool> {
        match self.node.value {
            Value::Bool(b) => Some(b),
            _ => self.mismatch(problems, "true or false"),
        }
    }

    /// An integer within `min..=max`.
    pub fn int_in(&self, problems: &mut Problems, min: u64, max: u64) -> Option<u64> {
        let Value::Int(i) = self.node.value else { return self.mismatch(problems, "an integer") };
        match u64::try_from(i) {
            Ok(v) if (min..=max).contains(&v) => Some(v),
            _ => {
                self.problem(problems, format!("must be between {min} and {max}, found {i}"));
                None
            }
        }
    }

    /// A duration such as `250ms`, `10s` or `1m 30s`, within `min..=max`.
    pub fn duration_in(&self, problems: &mut Problems, min: Duration, max: Duration) -> Option<Duration> {
        let text = self.string(problems)?;
        match humantime::parse_duration(&text) {
            Ok(d) if d >= min && d <= max => Some(d),
            Ok(_) => {
                let (lo, hi) = (readable(min), readable(max));
                self.problem(problems, format!("must be between {lo} and {hi}, found {text:?}"));
                None
            }
            Err(err) => {
                self.problem(problems, format!("invalid duration {text:?}: {err} (examples: 500ms, 10s, 2m)"));
                None
            }
        }
    }

    /// A size in bytes within `min..=max`: an integer, or a string such as `64KiB`, `10MiB`,
    /// `1GB`.
    pub fn bytes_in(&self, problems: &mut Problems, min: u64, max: u64) -> Option<u64> {
        let parsed = match &self.node.value {
            Value::Int(i) => u64::try_from(*i).ok(),
            Value::Str(s) => parse_bytes(s),
            _ => return self.mismatch(problems, "a size such as 65536 or 10MiB"),
        };
        match parsed {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                self.problem(problems, format!("must be between {min} and {max} bytes, found {n}"));
                None
            }
            None => {
                self.problem(problems, "invalid size (examples: 65536, 64KiB, 10MiB, 1GB)");
                None
            }
        }
    }

    /// A percentage from 1 to 100, written `25%` or `25`.
    pub fn percent(&self, problems: &mut Problems) -> Option<u8> {
        let parsed = match &self.node.value {
            Value::Int(i) => u8::try_from(*i).ok(),
            Value::Str(s) => s.trim().strip_suffix('%').unwrap_or(s).trim().parse::<u8>().ok(),
            _ => return self.mismatch(problems, "a percentage such as 25%"),
        };
        match parsed {
            Some(n) if (1..=100).contains(&n) => Some(n),
            _ => {
                self.problem(problems, "must be a percentage from 1% to 100%");
                None
            }
        }
    }

    /// A list of networks in CIDR form (`10.0.0.0/8`, `::1/128`); a bare address is one host.
    pub fn networks(&self, problems: &mut Problems) -> Option<Vec<ipnet::IpNet>> {
        let Value::Seq(items) = &self.node.value else { return self.mismatch(problems, "a list of networks") };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = Field { path: format!("{}[{i}]", self.path), node: item };
            let Some(text) = field.string(problems) else { continue };
            let parsed =
                text.parse::<ipnet::IpNet>().ok().or_else(|| text.parse::<std::net::IpAddr>().ok().map(Into::into));
            match parsed {
                Some(net) => out.push(net),
                None => field.problem(problems, format!("invalid network {text:?} (expected CIDR such as 10.0.0.0/8)")),
            }
        }
        Some(out)
    }

    /// A non-empty absolute path.
    pub fn absolute_path(&self, problems: &mut Problems) -> Option<PathBuf> {
        let path = PathBuf::from(self.non_empty_string(problems)?);
        if !path.is_absolute() {
            self.problem(problems, format!("must be an absolute path, found {:?}", path.display().to_string()));
            return None;
        }
        Some(path)
    }

    /// A socket address such as `127.0.0.1:6001` or `[::1]:6001`.
    pub fn socket_addr(&self, problems: &mut Problems) -> Option<SocketAddr> {
        let text = self.string(problems)?;
        match text.parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.problem(
                    problems,
                    format!("invalid socket address {text:?} (expected IP:PORT, e.g. 127.0.0.1:6001)"),
                );
                None
            }
        }
    }

    /// One of `choices`.
    pub fn one_of<'c>(&self, problems: &mut Problems, choices: &[&'c str]) -> Option<&'c str> {
        let text = self.string(problems)?;
        let found = choices.iter().find(|c| **c == text).copied();
        if found.is_none() {
            self.problem(problems, format!("must be one of {}, found {text:?}", choices.join(", ")));
        }
        found
    }

    /// A list of strings.
    pub fn string_list(&self, problems: &mut Problems) -> Option<Vec<String>> {
        let Value::Seq(items) = &self.node.value else { return self.mismatch(problems, "a list of strings") };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = Field { path: format!("{}[{i}]", self.path), node: item };
            out.extend(field.string(problems));
        }
        Some(out)
    }

    /// A mapping of string keys to scalar values (numbers and booleans become strings).
    pub fn string_map(&self, problems: &mut Problems) -> Option<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (key, field) in Table::open(self.node, &self.path, problems).drain() {
            let value = match &field.node.value {
                Value::Str(s) => Some(s.clone()),
                Value::Int(i) => Some(i.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Float(f) => Some(f.to_string()),
                _ => field.mismatch(problems, "a string"),
            };
            out.extend(value.map(|v| (key, v)));
        }
        Some(out)
    }

    /// The items of a list, each with its indexed path.
    pub fn items(&self, problems: &mut Problems) -> Vec<Field<'_>> {
        match &self.node.value {
            Value::Seq(items) => {
                items.iter().enumerate().map(|(i, node)| Field { path: format!("{}[{i}]", self.path), node }).collect()
            }
            Value::Null => Vec::new(),
            _ => self.mismatch(problems, "a list").unwrap_or_default(),
        }
    }

    /// This field as a mapping to read.
    pub fn table(&self, problems: &mut Problems) -> Table<'_> {
        Table::open(self.node, &self.path, problems)
    }
}

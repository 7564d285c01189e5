//! The `externals` list: daemons the supervisor runs beside Orama's own processes (an IPFS
//! node, RQLite, …), each with its command and health probe, with how an entry is read from
//! the YAML tree. Checks across entries (unique names, known dependencies) belong to the
//! whole document.

use std::path::PathBuf;

use serde::Serialize;

use super::child::{ChildSettings, OWN_PROCESSES, read_child_settings};
use super::read::{Field, Problems};

/// One external daemon (`externals:` list).
#[derive(Debug, Clone, Serialize)]
pub struct ExternalConfig {
    /// Unique child name (`[a-z0-9-]`, not one of ours).
    pub name: String,
    /// Supervision settings.
    #[serde(flatten)]
    pub child: ChildSettings,
    /// Program to run (a path, or a name looked up in `PATH`).
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Working directory (default: the child's own directory under the data dir).
    pub working_dir: Option<PathBuf>,
    /// How readiness and liveness are judged; without one, a running process is ready.
    pub health: Option<HealthProbe>,
}

/// How to tell that an external daemon is healthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthProbe {
    /// An `http://` URL answering 2xx.
    Http(String),
    /// A TCP address accepting connections (`host:port`).
    Tcp(String),
    /// A Unix socket accepting connections.
    Unix(PathBuf),
    /// A command exiting 0 (program and arguments).
    Command(Vec<String>),
}

/// Reads one entry of `externals`; `None` when its name or command is missing or invalid
/// (every problem is still recorded).
pub(super) fn external_entry(f: &Field, p: &mut Problems) -> Option<ExternalConfig> {
    let mut t = f.table(p);
    let mut child = ChildSettings { enabled: true, ..ChildSettings::default() };
    read_child_settings(&mut t, &mut child, p);
    let name_field = t.take("name");
    if name_field.is_none() {
        p.add(&f.path, f.node.line, "missing required key `name`");
    }
    let name = name_field.and_then(|f| child_name(&f, p));
    let command = t.take("command").and_then(|f| f.non_empty_string(p));
    if command.is_none() {
        p.add(&f.path, f.node.line, "missing required key `command`");
    }
    let args = t.take("args").and_then(|f| f.string_list(p)).unwrap_or_default();
    let working_dir = t.take("working_dir").and_then(|f| f.absolute_path(p));
    let health = t.take("health").and_then(|f| health_probe(&f, p));
    t.finish(p);
    Some(ExternalConfig { name: name?, child, command: command?, args, working_dir, health })
}

fn child_name(f: &Field, p: &mut Problems) -> Option<String> {
    let name = f.non_empty_string(p)?;
    let valid = name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        f.problem(p, format!("invalid name {name:?}: use 1-40 of a-z, 0-9 and '-', starting with a letter or digit"));
        return None;
    }
    if OWN_PROCESSES.contains(&name.as_str()) || name == "supervisor" {
        f.problem(p, format!("name {name:?} is reserved for an Orama process"));
        return None;
    }
    Some(name)
}

fn health_probe(f: &Field, p: &mut Problems) -> Option<HealthProbe> {
    let mut t = f.table(p);
    let mut found = Vec::new();
    if let Some(f) = t.take("http") {
        found.extend(f.non_empty_string(p).and_then(|url| http_url(&f, url, p)).map(HealthProbe::Http));
    }
    if let Some(f) = t.take("tcp") {
        found.extend(f.non_empty_string(p).and_then(|addr| tcp_addr(&f, addr, p)).map(HealthProbe::Tcp));
    }
    if let Some(f) = t.take("unix") {
        found.extend(f.absolute_path(p).map(HealthProbe::Unix));
    }
    if let Some(f) = t.take("command") {
        match f.string_list(p) {
            Some(argv) if argv.is_empty() => f.problem(p, "must name a program"),
            Some(argv) => found.push(HealthProbe::Command(argv)),
            None => {}
        }
    }
    let key_count = t.drain().len();
    if key_count > 0 || found.len() > 1 {
        p.add(&f.path, f.node.line, "give exactly one of http, tcp, unix, command");
    }
    found.pop()
}

fn http_url(f: &Field, url: String, p: &mut Problems) -> Option<String> {
    let rest = url.strip_prefix("http://");
    let authority = rest.map(|r| r.split('/').next().unwrap_or_default());
    if authority.is_none_or(str::is_empty) {
        f.problem(p, format!("invalid URL {url:?}: expected http://HOST:PORT/PATH (https is not probed)"));
        return None;
    }
    Some(url)
}

fn tcp_addr(f: &Field, addr: String, p: &mut Problems) -> Option<String> {
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|n| n > 0) => Some(addr),
        _ => {
            f.problem(p, format!("invalid address {addr:?}: expected HOST:PORT"));
            None
        }
    }
}

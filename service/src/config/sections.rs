//! Reading each section of the tree into its typed form, defaults for whatever is absent.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use super::gateway::gateway_section;
use super::read::{Field, Problems, Table};
use super::types::*;
use super::yaml::Node;

pub(super) const MS: Duration = Duration::from_millis(1);
pub(super) const HOUR: Duration = Duration::from_secs(3600);

/// Reads the whole document.
pub fn node_config(tree: &Node, p: &mut Problems) -> NodeConfig {
    let mut root = Table::open(tree, "", p);
    let mut config = NodeConfig::default();
    if let Some(f) = root.take("node") {
        config.node = node_section(&f, p);
    }
    if let Some(f) = root.take("log") {
        config.log = log_section(&f, p);
    }
    if let Some(f) = root.take("supervisor") {
        config.supervisor = supervisor_section(&f, p);
    }
    if let Some(f) = root.take("gateway") {
        config.gateway = gateway_section(&f, p);
    }
    if let Some(f) = root.take("wasm_runner") {
        config.wasm_runner = super::wasm::wasm_runner_section(&f, p);
    }
    if let Some(f) = root.take("pubsub") {
        config.pubsub = super::pubsub::pubsub_section(&f, p);
    }
    if let Some(f) = root.take("anon") {
        config.anon = super::anon::anon_section(&f, p);
    }
    if let Some(f) = root.take("backends") {
        config.backends = backends_section(&f, p);
    }
    let mut externals = Vec::new();
    if let Some(f) = root.take("externals") {
        externals = f
            .items(p)
            .iter()
            .enumerate()
            .filter_map(|(i, item)| Some((i, item.node.line, external(item, p)?)))
            .collect();
    }
    root.finish(p);
    let ours = [
        ("gateway", &config.gateway.child),
        ("wasm_runner", &config.wasm_runner.child),
        ("pubsub", &config.pubsub.child),
        ("anon", &config.anon.child),
    ];
    check_children(&ours, &externals, p);
    config.externals = externals.into_iter().map(|(_, _, e)| e).collect();
    p.0.sort_by_key(|problem| if problem.line == 0 { u64::MAX } else { problem.line });
    config
}

fn node_section(f: &Field, p: &mut Problems) -> NodeSection {
    let mut t = f.table(p);
    let section = NodeSection {
        data_dir: t.take("data_dir").and_then(|f| absolute_path(&f, p)),
        runtime_dir: t.take("runtime_dir").and_then(|f| absolute_path(&f, p)),
    };
    t.finish(p);
    section
}

fn log_section(f: &Field, p: &mut Problems) -> LogConfig {
    let mut t = f.table(p);
    let mut log = LogConfig::default();
    if let Some(f) = t.take("level")
        && let Some(level) = f.non_empty_string(p)
    {
        match tracing_subscriber::EnvFilter::try_new(&level) {
            Ok(_) => log.level = level,
            Err(err) => f.problem(p, format!("invalid log filter {level:?}: {err}")),
        }
    }
    if let Some(f) = t.take("format") {
        log.format = match f.one_of(p, &["auto", "json", "text", "journald"]) {
            Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some("journald") => LogFormat::Journald,
            _ => LogFormat::Auto,
        };
    }
    t.finish(p);
    log
}

fn supervisor_section(f: &Field, p: &mut Problems) -> SupervisorConfig {
    let mut t = f.table(p);
    let mut s = SupervisorConfig::default();
    let span = |f: Field, p: &mut Problems, min, max, out: &mut Duration| {
        if let Some(d) = f.duration_in(p, min, max) {
            *out = d;
        }
    };
    if let Some(f) = t.take("grace_period") {
        span(f, p, MS, HOUR, &mut s.grace_period);
    }
    if let Some(f) = t.take("startup_timeout") {
        span(f, p, MS, HOUR, &mut s.startup_timeout);
    }
    if let Some(f) = t.take("crashloop_after") {
        s.crashloop_after = f.int_in(p, 1, 1000).map_or(s.crashloop_after, |n| n as u32);
    }
    if let Some(f) = t.take("log_lines") {
        s.log_lines = f.int_in(p, 1, 1_000_000).map_or(s.log_lines, |n| n as usize);
    }
    if let Some(f) = t.take("backoff") {
        let mut b = f.table(p);
        if let Some(f) = b.take("initial") {
            span(f, p, MS, HOUR, &mut s.backoff.initial);
        }
        if let Some(f) = b.take("max") {
            span(f, p, MS, HOUR, &mut s.backoff.max);
        }
        if let Some(f) = b.take("reset_after") {
            span(f, p, MS, 24 * HOUR, &mut s.backoff.reset_after);
        }
        b.finish(p);
        if s.backoff.initial > s.backoff.max {
            f.problem(p, "backoff.initial must not exceed backoff.max");
        }
    }
    if let Some(f) = t.take("probe") {
        let mut probe = f.table(p);
        if let Some(f) = probe.take("interval") {
            span(f, p, 10 * MS, HOUR, &mut s.probe.interval);
        }
        if let Some(f) = probe.take("timeout") {
            span(f, p, 10 * MS, HOUR, &mut s.probe.timeout);
        }
        if let Some(f) = probe.take("failure_threshold") {
            s.probe.failure_threshold = f.int_in(p, 1, 1000).map_or(s.probe.failure_threshold, |n| n as u32);
        }
        probe.finish(p);
    }
    t.finish(p);
    s
}

fn backends_section(f: &Field, p: &mut Problems) -> BackendsConfig {
    let mut t = f.table(p);
    let mut backends = BackendsConfig::default();
    if let Some(f) = t.take("cache") {
        backends.cache = super::cache::cache_section(&f, p);
    }
    if let Some(f) = t.take("storage") {
        backends.storage = super::storage::storage_section(&f, p);
    }
    if let Some(f) = t.take("sql") {
        let sql = &mut backends.sql;
        let mut s = f.table(p);
        if let Some(f) = s.take("engine") {
            sql.engine = match f.one_of(p, &["embedded", "rqlite"]) {
                Some("rqlite") => SqlEngine::Rqlite,
                _ => SqlEngine::Embedded,
            };
        }
        if let Some(f) = s.take("urls") {
            for (i, url) in f.string_list(p).unwrap_or_default().into_iter().enumerate() {
                let host = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
                if host.is_none_or(|h| h.split('/').next().unwrap_or_default().is_empty()) {
                    p.add(
                        &format!("{}[{i}]", f.path),
                        f.node.line,
                        format!("invalid URL {url:?} (expected http://HOST:PORT)"),
                    );
                }
                sql.urls.push(url);
            }
        }
        if let Some(c) = s.take("consistency").and_then(|f| f.one_of(p, &["none", "weak", "strong", "linearizable"])) {
            sql.consistency = c.to_owned();
        }
        if let Some(n) = s.take("pool_size").and_then(|f| f.int_in(p, 1, 64)) {
            sql.pool_size = n as usize;
        }
        if let Some(n) = s.take("max_rows").and_then(|f| f.int_in(p, 1, 10_000_000)) {
            sql.max_rows = n as usize;
        }
        if let Some(d) = s.take("query_timeout").and_then(|f| f.duration_in(p, 10 * MS, HOUR)) {
            sql.query_timeout = d;
        }
        if let Some(n) = s.take("namespace_quota").and_then(|f| f.bytes_in(p, 64 * 1024, 1 << 50)) {
            sql.namespace_quota = n;
        }
        if let Some(n) = s.take("max_result").and_then(|f| f.bytes_in(p, 64 * 1024, 1 << 30)) {
            sql.max_result = n;
        }
        if let Some(n) = s.take("max_memory").and_then(|f| f.bytes_in(p, 8 << 20, 1 << 40)) {
            sql.max_memory = n;
        }
        s.finish(p);
        if sql.max_memory < 2 * sql.max_result {
            let message =
                format!("max_memory ({}) must be at least twice max_result ({})", sql.max_memory, sql.max_result);
            p.add(&f.path, f.node.line, message);
        }
        if sql.engine == SqlEngine::Rqlite && sql.urls.is_empty() {
            p.add(&f.path, f.node.line, "engine rqlite needs at least one URL in urls");
        }
    }
    t.finish(p);
    backends
}

/// Reads the keys every child has: enabled, restart, depends_on, env.
pub(super) fn child_settings(t: &mut Table, child: &mut ChildSettings, p: &mut Problems) {
    if let Some(enabled) = t.take("enabled").and_then(|f| f.bool(p)) {
        child.enabled = enabled;
    }
    if let Some(f) = t.take("restart") {
        child.restart = match f.one_of(p, &["always", "on-failure", "never"]) {
            Some("on-failure") => RestartPolicy::OnFailure,
            Some("never") => RestartPolicy::Never,
            _ => RestartPolicy::Always,
        };
    }
    if let Some(deps) = t.take("depends_on").and_then(|f| f.string_list(p)) {
        child.depends_on = deps;
    }
    if let Some(f) = t.take("env") {
        let env = f.string_map(p).unwrap_or_default();
        for key in env.keys().filter(|k| k.is_empty() || k.contains('=') || k.contains('\0')) {
            f.problem(p, format!("invalid environment variable name {key:?}"));
        }
        child.env = env;
    }
}

fn external(f: &Field, p: &mut Problems) -> Option<ExternalConfig> {
    let mut t = f.table(p);
    let mut child = ChildSettings { enabled: true, ..ChildSettings::default() };
    child_settings(&mut t, &mut child, p);
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
    let working_dir = t.take("working_dir").and_then(|f| absolute_path(&f, p));
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
        found.extend(absolute_path(&f, p).map(HealthProbe::Unix));
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

pub(super) fn absolute_path(f: &Field, p: &mut Problems) -> Option<PathBuf> {
    let path = PathBuf::from(f.non_empty_string(p)?);
    if !path.is_absolute() {
        f.problem(p, format!("must be an absolute path, found {:?}", path.display().to_string()));
        return None;
    }
    Some(path)
}

/// The child name of one of our sections (`wasm_runner` runs as `wasm-runner`, `pubsub` as
/// `pubsub-bridge`, `anon` as `anon-proxy`).
fn own_child_name(section: &str) -> &'static str {
    match section {
        "wasm_runner" => "wasm-runner",
        "pubsub" => "pubsub-bridge",
        "anon" => "anon-proxy",
        _ => "gateway",
    }
}

/// Cross-field checks: unique names and dependencies that exist. `externals` carry their
/// index and line in the file, so problems point at the right entry.
fn check_children(ours: &[(&str, &ChildSettings)], externals: &[(usize, u64, ExternalConfig)], p: &mut Problems) {
    let mut names: BTreeSet<&str> = OWN_PROCESSES.iter().copied().collect();
    for (i, line, ext) in externals {
        if !names.insert(&ext.name) {
            p.add(&format!("externals[{i}].name"), *line, format!("duplicate child name {:?}", ext.name));
        }
    }
    let ours = ours.iter().map(|(section, child)| ((*section).to_owned(), 0, own_child_name(section), *child));
    let theirs = externals.iter().map(|(i, line, e)| (format!("externals[{i}]"), *line, e.name.as_str(), &e.child));
    for (path, line, name, child) in ours.chain(theirs) {
        for dep in &child.depends_on {
            if dep == name {
                p.add(&format!("{path}.depends_on"), line, "a child cannot depend on itself");
            } else if !names.contains(dep.as_str()) {
                p.add(&format!("{path}.depends_on"), line, format!("unknown child {dep:?}"));
            }
        }
    }
}

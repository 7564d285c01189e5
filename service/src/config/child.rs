//! What every supervised child has in the config, ours or external: whether it runs, its
//! restart policy, its dependencies and its environment, with how those keys are read.

use std::collections::BTreeMap;

use serde::Serialize;

use super::read::{Problems, Table};

/// The names of Orama's own processes that the config has a section for, in start order.
pub const OWN_PROCESSES: &[&str] = &["gateway", "wasm-runner", "pubsub-bridge", "anon-proxy"];

/// When a child that exited is started again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Whatever the exit.
    #[default]
    Always,
    /// Only after a non-zero exit, a signal or a failed probe.
    OnFailure,
    /// Never: a stopped child stays stopped until `ctl start`.
    Never,
}

/// Supervision settings shared by every child, ours or external.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChildSettings {
    /// False to not run this child at all.
    pub enabled: bool,
    /// Restart policy.
    pub restart: RestartPolicy,
    /// Children that must be ready before this one starts.
    pub depends_on: Vec<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
}

/// Reads the keys every child has (enabled, restart, depends_on, env) from its section's
/// table into `child`, leaving the other keys for the section.
pub(super) fn read_child_settings(t: &mut Table, child: &mut ChildSettings, p: &mut Problems) {
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

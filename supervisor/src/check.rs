//! `orama-supervisor check-config FILE`: everything `run` would refuse, found without starting
//! anything: YAML errors, every invalid value with its path, and dependency cycles.

use std::path::Path;

use orama_service::config::NodeConfig;

use crate::plan;

/// Validates the config at `path`; on success returns a one-line summary with the start order.
pub fn check_config(path: &Path) -> Result<String, String> {
    let config = NodeConfig::load(path).map_err(|err| err.to_string())?;
    let order = start_order(&config).map_err(|err| format!("{}: {err}", path.display()))?;
    Ok(format!("{}: ok; start order: {}", path.display(), order.join(", ")))
}

/// The start order of the enabled children of `config`.
pub fn start_order(config: &NodeConfig) -> Result<Vec<String>, plan::PlanError> {
    let mut pairs: Vec<(&str, &[String])> = Vec::new();
    for own in config.own_processes().into_iter().filter(|p| p.child.enabled) {
        pairs.push((own.name, &own.child.depends_on));
    }
    for ext in config.externals.iter().filter(|e| e.child.enabled) {
        pairs.push((&ext.name, &ext.child.depends_on));
    }
    plan::start_order(&pairs)
}

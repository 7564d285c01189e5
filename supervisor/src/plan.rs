//! Start order from declared dependencies (pingora's service dependencies): a child starts
//! once everything it depends on is ready, and stops only after everything depending on it
//! has stopped. Cycles are refused with the cycle spelled out.

use std::collections::{BTreeMap, BTreeSet};

/// Why no start order exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A dependency names no configured child (or a disabled one).
    #[error("{child} depends on {missing:?}, which is not an enabled child")]
    Unknown {
        /// The dependent.
        child: String,
        /// The missing dependency.
        missing: String,
    },
    /// The dependencies form a cycle.
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
}

/// Orders `children` (name, dependencies) so each comes after its dependencies. Among
/// children free to go, the config order is kept.
pub fn start_order(children: &[(&str, &[String])]) -> Result<Vec<String>, PlanError> {
    let known: BTreeSet<&str> = children.iter().map(|(name, _)| *name).collect();
    for (child, deps) in children {
        if let Some(missing) = deps.iter().find(|d| !known.contains(d.as_str())) {
            return Err(PlanError::Unknown { child: (*child).to_owned(), missing: missing.clone() });
        }
    }
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::with_capacity(children.len());
    while order.len() < children.len() {
        let next = children
            .iter()
            .find(|(name, deps)| !placed.contains(name) && deps.iter().all(|d| placed.contains(d.as_str())));
        match next {
            Some((name, _)) => {
                placed.insert(name);
                order.push((*name).to_owned());
            }
            None => return Err(PlanError::Cycle(find_cycle(children, &placed))),
        }
    }
    Ok(order)
}

/// Dependents of each child: who must stop before it does.
pub fn dependents(children: &[(&str, &[String])]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = children.iter().map(|(n, _)| ((*n).to_owned(), Vec::new())).collect();
    for (name, deps) in children {
        for dep in deps.iter() {
            map.entry(dep.clone()).or_default().push((*name).to_owned());
        }
    }
    map
}

/// Walks dependencies from an unplaced child until a name repeats.
fn find_cycle(children: &[(&str, &[String])], placed: &BTreeSet<&str>) -> Vec<String> {
    let deps: BTreeMap<&str, &[String]> = children.iter().map(|(n, d)| (*n, *d)).collect();
    let Some((start, _)) = children.iter().find(|(n, _)| !placed.contains(n)) else { return Vec::new() };
    let mut path: Vec<&str> = vec![start];
    loop {
        let current = path[path.len() - 1];
        let next = deps[current].iter().map(String::as_str).find(|d| !placed.contains(d));
        let Some(next) = next else { return path.iter().map(|s| (*s).to_owned()).collect() };
        if let Some(pos) = path.iter().position(|p| *p == next) {
            let mut cycle: Vec<String> = path[pos..].iter().map(|s| (*s).to_owned()).collect();
            cycle.push(next.to_owned());
            return cycle;
        }
        path.push(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &[(&str, &[&str])]) -> Result<Vec<String>, PlanError> {
        let owned: Vec<(&str, Vec<String>)> =
            input.iter().map(|(n, d)| (*n, d.iter().map(|s| (*s).to_owned()).collect())).collect();
        let borrowed: Vec<(&str, &[String])> = owned.iter().map(|(n, d)| (*n, d.as_slice())).collect();
        start_order(&borrowed)
    }

    #[test]
    fn dependencies_come_first_and_config_order_is_kept() {
        let order = check(&[("gateway", &["redis", "rqlite"]), ("redis", &[]), ("rqlite", &[]), ("ipfs", &[])]);
        assert_eq!(order, Ok(vec!["redis".into(), "rqlite".into(), "gateway".into(), "ipfs".into()]));
    }

    #[test]
    fn cycles_are_spelled_out() {
        let err = check(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]);
        assert_eq!(err, Err(PlanError::Cycle(vec!["a".into(), "b".into(), "c".into(), "a".into()])));
        assert_eq!(err.expect_err("cycle").to_string(), "dependency cycle: a -> b -> c -> a");
    }

    #[test]
    fn unknown_dependencies_are_refused() {
        let err = check(&[("gateway", &["redis"])]);
        assert_eq!(err, Err(PlanError::Unknown { child: "gateway".into(), missing: "redis".into() }));
    }

    #[test]
    fn dependents_are_inverted_dependencies() {
        let deps = vec!["redis".to_owned()];
        let map = dependents(&[("gateway", deps.as_slice()), ("redis", &[])]);
        assert_eq!(map["redis"], vec!["gateway".to_owned()]);
        assert!(map["gateway"].is_empty());
    }
}

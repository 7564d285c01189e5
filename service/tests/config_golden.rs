//! Golden tests of config loading: each `config/valid/*.yaml` must parse to the JSON next to it,
//! each `config/invalid/*.yaml` must fail with exactly the message next to it (every problem,
//! each with its path). `UPDATE_GOLDEN=1 cargo nextest run -p orama-service` rewrites the
//! expectations; review the diff before committing.

use std::path::{Path, PathBuf};

use orama_service::config::NodeConfig;

fn cases(kind: &str) -> Vec<PathBuf> {
    let dir = manifest_dir().join("tests/config").join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no cases in {}", dir.display());
    files
}

/// Compares `actual` with the golden file `expected`, or rewrites it in update mode.
fn check(expected: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(expected, actual).expect("write golden");
        return Ok(());
    }
    let golden = std::fs::read_to_string(expected).unwrap_or_default();
    if golden == actual {
        Ok(())
    } else {
        Err(format!("{}:\n--- expected ---\n{golden}\n--- actual ---\n{actual}", expected.display()))
    }
}

#[test]
fn valid_configs_parse_to_their_golden_json() {
    let mut failures = Vec::new();
    for case in cases("valid") {
        let text = std::fs::read_to_string(&case).expect("read case");
        match NodeConfig::parse(&text, "orama.yaml") {
            Ok(config) => {
                let actual = serde_json::to_string_pretty(&config).expect("json") + "\n";
                failures.extend(check(&case.with_extension("json"), &actual).err());
            }
            // Never recorded as an expectation, even when updating: a valid case must parse.
            Err(err) => failures.push(format!("{}: unexpected error: {err}", case.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn invalid_configs_fail_with_their_golden_message() {
    let mut failures = Vec::new();
    for case in cases("invalid") {
        let text = std::fs::read_to_string(&case).expect("read case");
        match NodeConfig::parse(&text, "orama.yaml") {
            Err(err) => failures.extend(check(&case.with_extension("txt"), &format!("{err}\n")).err()),
            // Never recorded as an expectation, even when updating: an invalid case must fail.
            Ok(_) => failures.push(format!("{}: unexpectedly valid", case.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_file_means_every_default() {
    let config = NodeConfig::load_or_default(None).expect("defaults");
    assert!(config.gateway.child.enabled);
    assert_eq!(config.gateway.listen.to_string(), "127.0.0.1:6001");
    assert!(config.externals.is_empty());
}

/// The package's directory, as cargo tells the running test.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from)
}

//! `orama-supervisor check-config FILE` validates without starting anything: the binary,
//! run as an operator would.

use std::process::Command;

fn check(yaml: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("orama.yaml");
    std::fs::write(&path, yaml).expect("write");
    let output =
        Command::new(env!("CARGO_BIN_EXE_orama-supervisor")).arg("check-config").arg(&path).output().expect("run");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

#[test]
fn a_valid_file_reports_its_start_order() {
    let (ok, stdout, _) = check("gateway: { depends_on: [db] }\nexternals:\n  - { name: db, command: rqlited }\n");
    assert!(ok);
    assert!(
        stdout.trim_end().ends_with("ok; start order: wasm-runner, pubsub-bridge, anon-proxy, db, gateway"),
        "{stdout}"
    );
}

#[test]
fn the_example_config_is_valid() {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), std::path::PathBuf::from);
    let example = std::fs::read_to_string(dir.join("../deploy/orama.example.yaml")).expect("example config");
    let (ok, stdout, stderr) = check(&example);
    assert!(ok, "{stdout}{stderr}");
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let (ok, _, stderr) = check("gateway:\n  listen: nowhere\n  colour: blue\nsupervisor:\n  grace_period: soon\n");
    assert!(!ok);
    assert!(stderr.contains("3 problem(s)"), "{stderr}");
    assert!(stderr.contains("gateway.listen (line 2): invalid socket address \"nowhere\""), "{stderr}");
    assert!(stderr.contains("gateway.colour (line 3): unknown key"), "{stderr}");
    assert!(stderr.contains("supervisor.grace_period (line 5): invalid duration \"soon\""), "{stderr}");
}

#[test]
fn dependency_cycles_are_refused() {
    let yaml =
        "externals:\n  - { name: a, command: x, depends_on: [b] }\n  - { name: b, command: x, depends_on: [a] }\n";
    let (ok, _, stderr) = check(yaml);
    assert!(!ok);
    assert!(stderr.contains("dependency cycle: a -> b -> a"), "{stderr}");
}

//! Property tests of config reading: any text, or any YAML made of the config's own keys, gives
//! a config or a list of problems, never a panic; problems always carry a path or a line.

use orama_service::config::{ConfigError, NodeConfig};
use proptest::prelude::*;

const KEYS: &[&str] = &[
    "node",
    "log",
    "supervisor",
    "gateway",
    "externals",
    "backends",
    "listen",
    "tls",
    "mode",
    "limits",
    "rate_limits",
    "per_key",
    "per_ip",
    "name",
    "command",
    "health",
    "tcp",
    "http",
    "depends_on",
    "env",
];

fn yamlish() -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        Just("~".to_owned()),
        Just("true".to_owned()),
        Just("-1".to_owned()),
        Just("10s".to_owned()),
        Just("127.0.0.1:1".to_owned()),
        Just("[a, b]".to_owned()),
        Just("{}".to_owned()),
        "[a-z]{1,6}",
    ];
    let line =
        (0usize..3, proptest::sample::select(KEYS), scalar, any::<bool>()).prop_map(|(depth, key, value, nested)| {
            if nested {
                format!("{}{key}:", "  ".repeat(depth))
            } else {
                format!("{}{key}: {value}", "  ".repeat(depth))
            }
        });
    proptest::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_text_is_a_config_or_an_error(text in ".{0,200}") {
        let _ = NodeConfig::parse(&text, "fuzz.yaml");
    }

    #[test]
    fn config_shaped_yaml_reports_located_problems(text in yamlish()) {
        if let Err(ConfigError::Invalid { problems, .. }) = NodeConfig::parse(&text, "fuzz.yaml") {
            prop_assert!(!problems.is_empty());
            for problem in problems {
                prop_assert!(!problem.path.is_empty() || problem.line > 0, "{:?}", problem);
            }
        }
    }
}

//! Quoting values into the files `dev up` and `install` write: single-quoted YAML scalars for
//! node configs, double-quoted arguments for `redis.conf`.

use std::path::Path;

/// `text` as a single-quoted YAML scalar.
pub fn yaml(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `path` as a single-quoted YAML scalar.
pub fn yaml_path(path: &Path) -> String {
    yaml(&path.display().to_string())
}

/// `text` as a double-quoted `redis.conf` argument.
pub fn redis_conf(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_are_escaped() {
        assert_eq!(super::yaml("it's"), "'it''s'");
        assert_eq!(super::redis_conf(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}

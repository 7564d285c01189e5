//! Reads `{"name": "..."}` on stdin and answers `{"greeting": "Hello, <name>!", "message": ...}`
//! on stdout, as the reference's `examples/functions/hello` does (name defaults to `World`).

use std::io::{Read, Write};

fn main() {
    let mut input = String::new();
    let _ = std::io::stdin().read_to_string(&mut input);
    let name = string_field(&input, "name").filter(|n| !n.is_empty()).unwrap_or_else(|| "World".to_owned());
    let greeting = format!("Hello, {name}!");
    let reply = format!(
        "{{\"greeting\":\"{}\",\"message\":\"This function ran on an Orama node\"}}",
        escape(&greeting)
    );
    let _ = std::io::stdout().write_all(reply.as_bytes());
}

/// The string value of `"key": "..."` in a flat JSON object (enough for this example).
fn string_field(json: &str, key: &str) -> Option<String> {
    let at = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json[at..].trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

fn escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c if (c as u32) < 0x20 => format!("\\u{:04x}", c as u32).chars().collect(),
            c => vec![c],
        })
        .collect()
}

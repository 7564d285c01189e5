//! Formats the reference gateway puts on the wire, so SDKs that parse them keep working:
//! Go's `time.Duration.String()` ("1h2m3.5s", "850.3ms") and RFC 3339 timestamps; and the
//! lowercase hex every digest is written in.

use std::time::{Duration, SystemTime};

/// A duration as Go's `Duration.String()` prints it.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(orama_gateway::http::wire::go_duration(Duration::from_millis(3_723_500)), "1h2m3.5s");
/// assert_eq!(orama_gateway::http::wire::go_duration(Duration::from_micros(850_300)), "850.3ms");
/// ```
pub fn go_duration(d: Duration) -> String {
    let mut out = String::with_capacity(24);
    push_go_duration(&mut out, d);
    out
}

/// Appends `d` as [`go_duration`] prints it: `/health` writes one into every reply, digit by
/// digit, in 64-bit arithmetic (a duration's nanoseconds fit in it for 584 years).
pub fn push_go_duration(out: &mut String, d: Duration) {
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    if nanos < 1_000 {
        push_decimal(out, nanos, 1);
        out.push_str(if nanos == 0 { "s" } else { "ns" });
        return;
    }
    if nanos < 1_000_000_000 {
        let (unit, suffix) = if nanos < 1_000_000 { (1_000, "µs") } else { (1_000_000, "ms") };
        push_decimal(out, nanos, unit);
        out.push_str(suffix);
        return;
    }
    let total_secs = nanos / 1_000_000_000;
    let (hours, minutes) = (total_secs / 3600, (total_secs / 60) % 60);
    if hours > 0 {
        push_decimal(out, hours, 1);
        out.push('h');
    }
    if hours > 0 || minutes > 0 {
        push_decimal(out, minutes, 1);
        out.push('m');
    }
    push_decimal(out, nanos % 60_000_000_000, 1_000_000_000);
    out.push('s');
}

/// Appends `value / unit` (`unit` a power of ten) with the fraction's trailing zeros trimmed,
/// as Go does.
fn push_decimal(out: &mut String, value: u64, unit: u64) {
    let (whole, mut frac) = (value / unit, value % unit);
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut whole_left = whole;
    loop {
        at -= 1;
        digits[at] = b'0' + (whole_left % 10) as u8;
        whole_left /= 10;
        if whole_left == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
    if frac == 0 {
        return;
    }
    let mut width = unit.ilog10();
    while frac % 10 == 0 {
        frac /= 10;
        width -= 1;
    }
    out.push('.');
    let mut place = 10u64.pow(width - 1);
    while place > 0 {
        out.push(char::from(b'0' + (frac / place % 10) as u8));
        place /= 10;
    }
}

/// Parses Go's `time.ParseDuration` syntax: a sequence of decimal numbers with units (`ns`,
/// `us`/`µs`, `ms`, `s`, `m`, `h`), e.g. `"2s"`, `"1h30m"`, `"1.5h"`. Negative durations are
/// refused (a TTL cannot be negative).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(orama_gateway::http::wire::parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
/// assert_eq!(orama_gateway::http::wire::parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
/// assert_eq!(orama_gateway::http::wire::parse_go_duration("2 days"), None);
/// ```
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// `bytes` as lowercase hex (digests in the system store, file names, key ids).
///
/// ```
/// assert_eq!(orama_gateway::http::wire::hex(&[0x0a, 0xff]), "0aff");
/// ```
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// An RFC 3339 UTC timestamp with nanoseconds.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

/// An HTML page of ours: `body` with `policy` as its `Content-Security-Policy`, never cached,
/// framed or sniffed, and sending no referrer.
pub fn html_page(status: http::StatusCode, body: String, policy: &str) -> warp::reply::Response {
    use http::{HeaderValue, header};
    use warp::Reply as _;
    let mut response = warp::reply::html(body).into_response();
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// `text` safe inside HTML text and double-quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(100), "100ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_micros(850_300), "850.3ms"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_millis(61_500), "1m1.5s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::new(3723, 456_789_012), "1h2m3.456789012s"),
            (Duration::new(3723, 5_000_001), "1h2m3.005000001s"),
            (Duration::from_nanos(1_050), "1.05µs"),
            (Duration::from_nanos(999), "999ns"),
            (Duration::from_secs(59), "59s"),
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_secs(100 * 3600 + 7), "100h0m7s"),
            // Go's longest duration (i64 nanoseconds), and past what u64 nanoseconds hold.
            (Duration::from_nanos(i64::MAX as u64), "2562047h47m16.854775807s"),
            (Duration::from_nanos(u64::MAX), "5124095h34m33.709551615s"),
            (Duration::from_secs(u64::MAX), "5124095h34m33.709551615s"),
        ];
        for (d, expected) in cases {
            assert_eq!(go_duration(d), expected, "{d:?}");
        }
    }
}

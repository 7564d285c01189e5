//! The Anyone/Tor control port (control-spec.txt): enough of it to follow the client's
//! bootstrap. `PROTOCOLINFO` says how to authenticate (no auth, the configured password, or
//! the cookie file it names, by SAFECOOKIE only); then `GETINFO status/bootstrap-phase` is
//! polled. Until the client reports 100 %, anonymous requests are refused with the progress,
//! rather than left to time out inside a client that has no circuits.
//!
//! Why SAFECOOKIE and never plain COOKIE: the port may be detected rather than configured,
//! and whoever listens there names the cookie file. Plain COOKIE would read that file and send
//! it to them; SAFECOOKIE sends only an HMAC, and only after the other side proved it knows
//! the cookie (its server hash), so a listener that is not the client learns nothing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::dial::BoxIo;

/// Longest one control exchange may take.
const EXCHANGE: Duration = Duration::from_secs(3);

/// Where the control port is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlAddress {
    /// A TCP port (normally 127.0.0.1:9051).
    Tcp(SocketAddr),
    /// A Unix socket (`ControlSocket`).
    Unix(PathBuf),
}

impl ControlAddress {
    /// `HOST:PORT` or an absolute socket path.
    pub fn parse(text: &str) -> Option<ControlAddress> {
        if text.starts_with('/') {
            return Some(ControlAddress::Unix(text.into()));
        }
        text.parse().ok().map(ControlAddress::Tcp)
    }
}

impl std::fmt::Display for ControlAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ControlAddress::Tcp(addr) => write!(f, "{addr}"),
            ControlAddress::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The client's bootstrap, as it reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bootstrap {
    /// 0-100.
    pub progress: u8,
    /// Its phase's tag (`starting`, `conn_done`, ..., `done`).
    pub tag: String,
    /// Its phase in words.
    pub summary: String,
    /// The client's warning, when it reports a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// What is known of the control port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlState {
    /// Not asked yet.
    Pending,
    /// It could not be reached or read.
    Unreachable(String),
    /// The last report.
    Known(Bootstrap),
}

/// Follows the bootstrap at `address` until `shutdown`.
pub fn watch(
    address: ControlAddress,
    password: Option<String>,
    shutdown: CancellationToken,
) -> watch::Receiver<ControlState> {
    let (tx, rx) = watch::channel(ControlState::Pending);
    tokio::spawn(async move {
        while !shutdown.is_cancelled() {
            let error = match Session::open(&address, password.as_deref()).await {
                Ok(mut session) => loop {
                    match session.bootstrap().await {
                        Ok(bootstrap) => {
                            let pause =
                                if bootstrap.progress < 100 { Duration::from_secs(1) } else { Duration::from_secs(10) };
                            tx.send_replace(ControlState::Known(bootstrap));
                            tokio::select! {
                                () = tokio::time::sleep(pause) => {}
                                () = shutdown.cancelled() => return,
                            }
                        }
                        Err(err) => break err,
                    }
                },
                Err(err) => err,
            };
            tx.send_replace(ControlState::Unreachable(format!("control port {address}: {error}")));
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
                () = shutdown.cancelled() => return,
            }
        }
    });
    rx
}

/// An authenticated control connection.
struct Session {
    stream: BufReader<BoxIo>,
}

impl Session {
    async fn open(address: &ControlAddress, password: Option<&str>) -> Result<Session, String> {
        let connect = async {
            let io: BoxIo = match address {
                ControlAddress::Tcp(addr) => Box::new(tokio::net::TcpStream::connect(addr).await?),
                ControlAddress::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
            };
            Ok::<_, std::io::Error>(io)
        };
        let io = tokio::time::timeout(EXCHANGE, connect).await.map_err(|_| "connect timed out".to_owned())?;
        let mut session = Session { stream: BufReader::new(io.map_err(|e| e.to_string())?) };
        let info = session.command("PROTOCOLINFO 1").await?;
        let command = match auth_method(&info, password)? {
            Auth::Null => "AUTHENTICATE".to_owned(),
            Auth::Password(password) => {
                format!("AUTHENTICATE \"{}\"", password.replace('\\', "\\\\").replace('"', "\\\""))
            }
            Auth::SafeCookie(file) => session.safe_cookie(&file).await?,
        };
        session.command(&command).await.map_err(|e| format!("authentication refused: {e}"))?;
        Ok(session)
    }

    /// The SAFECOOKIE exchange up to the `AUTHENTICATE` command it allows.
    async fn safe_cookie(&mut self, file: &str) -> Result<String, String> {
        let cookie = tokio::fs::read(file).await.map_err(|e| format!("cannot read the cookie file {file}: {e}"))?;
        if cookie.len() != 32 {
            return Err(format!("{file} is not a control cookie (32 bytes)"));
        }
        let mut client_nonce = [0u8; 32];
        getrandom::fill(&mut client_nonce).map_err(|e| format!("no randomness: {e}"))?;
        let reply = self.command(&format!("AUTHCHALLENGE SAFECOOKIE {}", hex(&client_nonce))).await?;
        let fields = fields(reply.first().map(String::as_str).unwrap_or_default());
        let get = |key: &str| fields.iter().find(|(k, _)| k == key).and_then(|(_, v)| unhex(v));
        let (Some(server_hash), Some(server_nonce)) = (get("SERVERHASH"), get("SERVERNONCE")) else {
            return Err("unreadable AUTHCHALLENGE reply".into());
        };
        let message = [cookie.as_slice(), &client_nonce, &server_nonce].concat();
        let expected = hmac(b"Tor safe cookie authentication server-to-controller hash", &message);
        if expected != server_hash {
            return Err("the control port does not know the cookie: not the Anyone/Tor client".into());
        }
        let client_hash = hmac(b"Tor safe cookie authentication controller-to-server hash", &message);
        Ok(format!("AUTHENTICATE {}", hex(&client_hash)))
    }

    async fn bootstrap(&mut self) -> Result<Bootstrap, String> {
        let lines = self.command("GETINFO status/bootstrap-phase").await?;
        let line = lines
            .iter()
            .find_map(|l| l.strip_prefix("status/bootstrap-phase="))
            .ok_or("no bootstrap phase in the reply")?;
        parse_bootstrap(line).ok_or_else(|| format!("unreadable bootstrap phase {line:?}"))
    }

    /// Sends `command`; the reply's lines (without their `250-`/`250 ` prefix) when it is 250.
    async fn command(&mut self, command: &str) -> Result<Vec<String>, String> {
        let exchange = async {
            self.stream.get_mut().write_all(format!("{command}\r\n").as_bytes()).await.map_err(|e| e.to_string())?;
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                if self.stream.read_line(&mut line).await.map_err(|e| e.to_string())? == 0 {
                    return Err("the control port closed the connection".to_owned());
                }
                let line = line.trim_end_matches(['\r', '\n']);
                let (code, rest) = line.split_at_checked(3).ok_or_else(|| format!("malformed reply {line:?}"))?;
                if code != "250" {
                    return Err(format!("{code} {}", rest.get(1..).unwrap_or_default()));
                }
                lines.push(rest.get(1..).unwrap_or_default().to_owned());
                if rest.starts_with(' ') {
                    return Ok(lines);
                }
            }
        };
        tokio::time::timeout(EXCHANGE, exchange).await.map_err(|_| "the control port did not answer".to_owned())?
    }
}

/// How to authenticate.
#[derive(Debug, PartialEq, Eq)]
enum Auth {
    Null,
    Password(String),
    SafeCookie(String),
}

/// The method `PROTOCOLINFO`'s answer allows, in order of preference.
fn auth_method(info: &[String], password: Option<&str>) -> Result<Auth, String> {
    let auth = info.iter().find_map(|l| l.strip_prefix("AUTH ")).ok_or("PROTOCOLINFO lists no AUTH line")?;
    let fields = fields(auth);
    let methods: Vec<&str> =
        fields.iter().find(|(k, _)| k == "METHODS").map(|(_, v)| v.split(',').collect()).unwrap_or_default();
    if methods.contains(&"NULL") {
        return Ok(Auth::Null);
    }
    if let (true, Some(password)) = (methods.contains(&"HASHEDPASSWORD"), password) {
        return Ok(Auth::Password(password.to_owned()));
    }
    if methods.contains(&"SAFECOOKIE") {
        let file =
            fields.iter().find(|(k, _)| k == "COOKIEFILE").map(|(_, v)| v.clone()).ok_or("no COOKIEFILE given")?;
        return Ok(Auth::SafeCookie(file));
    }
    Err(format!("no usable authentication method among {methods:?} (set anon.control_password?)"))
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::sign(&key, message).as_ref().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// `PROGRESS=5 TAG=conn SUMMARY="Connecting to a relay"` (after the severity and `BOOTSTRAP`).
fn parse_bootstrap(line: &str) -> Option<Bootstrap> {
    let fields = fields(line);
    let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    Some(Bootstrap {
        progress: get("PROGRESS")?.parse::<u8>().ok()?.min(100),
        tag: get("TAG").unwrap_or_default(),
        summary: get("SUMMARY").unwrap_or_default(),
        warning: get("WARNING"),
    })
}

/// The `KEY=value` and `KEY="quoted value"` fields of a reply line (bare words skipped).
fn fields(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let word_end = rest.find([' ', '=']).unwrap_or(rest.len());
        let (key, after) = rest.split_at(word_end);
        if let Some(value) = after.strip_prefix('=') {
            let (value, remaining) = if let Some(quoted) = value.strip_prefix('"') {
                quoted_value(quoted)
            } else {
                let end = value.find(' ').unwrap_or(value.len());
                (value[..end].to_owned(), &value[end..])
            };
            out.push((key.to_owned(), value));
            rest = remaining.trim_start();
        } else {
            rest = after.trim_start();
        }
    }
    out
}

/// A quoted string's value (backslash escapes undone) and what follows its closing quote.
fn quoted_value(text: &str) -> (String, &str) {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (value, &text[i + 1..]),
            '\\' => value.extend(chars.next().map(|(_, c)| c)),
            c => value.push(c),
        }
    }
    (value, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_lines_and_protocolinfo_fields_parse() {
        let line = r#"NOTICE BOOTSTRAP PROGRESS=10 TAG=conn_done SUMMARY="Connected to a relay""#;
        let parsed = parse_bootstrap(line).expect("parses");
        assert_eq!(
            (parsed.progress, parsed.tag.as_str(), parsed.summary.as_str()),
            (10, "conn_done", "Connected to a relay")
        );
        let warn = r#"WARN BOOTSTRAP PROGRESS=5 TAG=conn SUMMARY="Connecting" WARNING="Connection refused" REASON=CONNECTREFUSED"#;
        assert_eq!(parse_bootstrap(warn).and_then(|b| b.warning).as_deref(), Some("Connection refused"));
        let auth = fields(r#"METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/var/lib/tor/a \"b\"/control_auth_cookie""#);
        assert_eq!(auth[1], ("COOKIEFILE".into(), r#"/var/lib/tor/a "b"/control_auth_cookie"#.into()));
        assert!(parse_bootstrap("NOTICE BOOTSTRAP TAG=x").is_none());
    }

    #[test]
    fn plain_cookie_is_never_chosen() {
        let info =
            |methods: &str| vec![format!("AUTH METHODS={methods} COOKIEFILE=\"/x/control_auth_cookie\""), "OK".into()];
        assert_eq!(
            auth_method(&info("COOKIE,SAFECOOKIE"), None),
            Ok(Auth::SafeCookie("/x/control_auth_cookie".into()))
        );
        assert!(auth_method(&info("COOKIE"), None).is_err(), "plain COOKIE would hand the file to whoever listens");
        assert_eq!(auth_method(&info("NULL"), None), Ok(Auth::Null));
        assert_eq!(auth_method(&info("HASHEDPASSWORD,SAFECOOKIE"), Some("pw")), Ok(Auth::Password("pw".into())));
        assert_eq!(unhex("0aFF"), Some(vec![10, 255]));
        assert_eq!(unhex("0a F"), None);
    }
}

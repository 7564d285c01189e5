//! The Anyone/Tor control port (control-spec.txt): enough of it to follow the client's
//! bootstrap. `PROTOCOLINFO` says how to authenticate (no auth, the cookie file it names, or
//! the configured password); then `GETINFO status/bootstrap-phase` is polled. Until the client
//! reports 100 %, anonymous requests are refused with the progress, rather than left to time
//! out inside a client that has no circuits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::upstream::BoxIo;

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
        let command = authenticate_command(&info, password).await?;
        session.command(&command).await.map_err(|e| format!("authentication refused: {e}"))?;
        Ok(session)
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

/// The `AUTHENTICATE` command `PROTOCOLINFO`'s answer allows.
async fn authenticate_command(info: &[String], password: Option<&str>) -> Result<String, String> {
    let auth = info.iter().find_map(|l| l.strip_prefix("AUTH ")).ok_or("PROTOCOLINFO lists no AUTH line")?;
    let fields = fields(auth);
    let methods: Vec<&str> =
        fields.iter().find(|(k, _)| k == "METHODS").map(|(_, v)| v.split(',').collect()).unwrap_or_default();
    if methods.contains(&"NULL") {
        return Ok("AUTHENTICATE".into());
    }
    if let (true, Some(password)) = (methods.contains(&"HASHEDPASSWORD"), password) {
        return Ok(format!("AUTHENTICATE \"{}\"", password.replace('\\', "\\\\").replace('"', "\\\"")));
    }
    if methods.contains(&"COOKIE") {
        let file =
            fields.iter().find(|(k, _)| k == "COOKIEFILE").map(|(_, v)| v.clone()).ok_or("no COOKIEFILE given")?;
        let cookie = tokio::fs::read(&file).await.map_err(|e| format!("cannot read the cookie file {file}: {e}"))?;
        let hex: String = cookie.iter().map(|b| format!("{b:02X}")).collect();
        return Ok(format!("AUTHENTICATE {hex}"));
    }
    Err(format!("no usable authentication method among {methods:?} (set anon.control_password?)"))
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
}

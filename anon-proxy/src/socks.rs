//! A SOCKS5 client (RFC 1928, username/password RFC 1929): the only way this process opens a
//! connection to a target. Names are sent to the server as names (address type 3), so the
//! server (the Anyone/Tor client, then its exit) resolves them and no DNS query leaves here.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::target::TargetHost;

/// Longest a handshake with the SOCKS server may take (the CONNECT reply excepted).
const HANDSHAKE: Duration = Duration::from_secs(5);

/// Credentials offered to the SOCKS server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name (1-255 bytes).
    pub username: String,
    /// Password (0-255 bytes).
    pub password: String,
}

/// What went wrong talking to the SOCKS server.
#[derive(Debug, thiserror::Error)]
pub enum SocksError {
    /// The server cannot be reached: the upstream is down.
    #[error("cannot reach the SOCKS5 server at {addr}: {source}")]
    Unreachable {
        /// The server.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server answered, but not as a SOCKS5 server should.
    #[error("the SOCKS5 server broke the protocol: {0}")]
    Protocol(String),
    /// The server accepted none of the offered methods, or refused the credentials.
    #[error("the SOCKS5 server refused us: {0}")]
    Auth(String),
    /// The server could not reach the target.
    #[error("the SOCKS5 server could not connect: {0}")]
    Connect(&'static str),
}

/// Connects through the SOCKS5 server at `server` to `host`:`port`.
pub async fn connect(
    server: SocketAddr,
    credentials: Option<&Credentials>,
    host: &TargetHost,
    port: u16,
) -> Result<TcpStream, SocksError> {
    let mut stream = greet(server, credentials).await?;
    let mut request = vec![5, 1, 0];
    match host {
        TargetHost::Ip(IpAddr::V4(ip)) => {
            request.push(1);
            request.extend(ip.octets());
        }
        TargetHost::Ip(IpAddr::V6(ip)) => {
            request.push(4);
            request.extend(ip.octets());
        }
        TargetHost::Name(name) => {
            let len = u8::try_from(name.len()).map_err(|_| SocksError::Protocol("host name over 255 bytes".into()))?;
            request.extend([3, len]);
            request.extend(name.as_bytes());
        }
    }
    request.extend(port.to_be_bytes());
    stream.write_all(&request).await.map_err(io_protocol)?;
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).await.map_err(io_protocol)?;
    if head[0] != 5 {
        return Err(SocksError::Protocol(format!("reply version {}", head[0])));
    }
    if head[1] != 0 {
        return Err(SocksError::Connect(reply_text(head[1])));
    }
    let bound = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => usize::from(stream.read_u8().await.map_err(io_protocol)?) + 2,
        other => return Err(SocksError::Protocol(format!("reply address type {other}"))),
    };
    let mut rest = vec![0u8; bound];
    stream.read_exact(&mut rest).await.map_err(io_protocol)?;
    Ok(stream)
}

/// Checks that `server` speaks SOCKS5 (method negotiation only; nothing is connected).
pub async fn probe(server: SocketAddr, credentials: Option<&Credentials>) -> Result<(), SocksError> {
    greet(server, credentials).await.map(drop)
}

/// Connects and negotiates the method (and authenticates), within [`HANDSHAKE`].
async fn greet(server: SocketAddr, credentials: Option<&Credentials>) -> Result<TcpStream, SocksError> {
    let handshake = async {
        let mut stream =
            TcpStream::connect(server).await.map_err(|source| SocksError::Unreachable { addr: server, source })?;
        let _ = stream.set_nodelay(true);
        let methods: &[u8] = if credentials.is_some() { &[5, 2, 0, 2] } else { &[5, 1, 0] };
        stream.write_all(methods).await.map_err(io_protocol)?;
        let mut choice = [0u8; 2];
        stream.read_exact(&mut choice).await.map_err(io_protocol)?;
        match (choice, credentials) {
            ([5, 0], _) => Ok(stream),
            ([5, 2], Some(credentials)) => authenticate(stream, credentials).await,
            ([5, 0xff], _) => Err(SocksError::Auth("no acceptable authentication method".into())),
            ([5, other], _) => Err(SocksError::Protocol(format!("server chose method {other}, not offered"))),
            ([version, _], _) => Err(SocksError::Protocol(format!("server version {version}, not 5"))),
        }
    };
    tokio::time::timeout(HANDSHAKE, handshake)
        .await
        .map_err(|_| SocksError::Protocol(format!("no SOCKS5 answer within {HANDSHAKE:?}")))?
}

async fn authenticate(mut stream: TcpStream, credentials: &Credentials) -> Result<TcpStream, SocksError> {
    let (user, pass) = (credentials.username.as_bytes(), credentials.password.as_bytes());
    let too_long = || SocksError::Auth("credentials over 255 bytes".into());
    let mut message = vec![1, u8::try_from(user.len()).map_err(|_| too_long())?];
    message.extend(user);
    message.push(u8::try_from(pass.len()).map_err(|_| too_long())?);
    message.extend(pass);
    stream.write_all(&message).await.map_err(io_protocol)?;
    let mut status = [0u8; 2];
    stream.read_exact(&mut status).await.map_err(io_protocol)?;
    match status[1] {
        0 => Ok(stream),
        _ => Err(SocksError::Auth("username/password rejected".into())),
    }
}

fn io_protocol(err: std::io::Error) -> SocksError {
    SocksError::Protocol(format!("connection to the SOCKS5 server failed: {err}"))
}

/// The meaning of a CONNECT reply code (RFC 1928 §6, and Tor's extended onion codes).
fn reply_text(code: u8) -> &'static str {
    match code {
        1 => "general failure (reply 1)",
        2 => "connection not allowed by ruleset (reply 2)",
        3 => "network unreachable (reply 3)",
        4 => "host unreachable (reply 4)",
        5 => "connection refused by the target (reply 5)",
        6 => "TTL expired (reply 6)",
        7 => "command not supported (reply 7)",
        8 => "address type not supported (reply 8)",
        0xf0 => "onion service descriptor not found (reply 0xF0)",
        0xf1 => "onion service descriptor is invalid (reply 0xF1)",
        0xf2 => "onion service introduction failed (reply 0xF2)",
        0xf3 => "onion service rendezvous failed (reply 0xF3)",
        0xf4 => "onion service needs client authorization (reply 0xF4)",
        0xf5 => "onion service client authorization is wrong (reply 0xF5)",
        0xf6 => "invalid onion address (reply 0xF6)",
        0xf7 => "onion service introduction timed out (reply 0xF7)",
        _ => "unknown failure",
    }
}

//! What the anonymous-egress tests talk to: a small HTTP/1.1 origin on 127.0.0.2 (keep-alive,
//! echoing what it got) and SOCKS5 servers started for one test (microsocks, dante, a tor
//! confined to loopback as in shared/BACKENDS.md §5), each killed when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

/// An HTTP origin on 127.0.0.2: `/echo` answers JSON `{method, path, headers, body,
/// connection}` (`connection` numbers the TCP connections it accepted, so reuse shows),
/// `/big?n=N` N bytes, `/to?url=U` a 302 to U, `/slow` after a second, `/close` with
/// `Connection: close`.
pub struct Origin {
    /// Its port.
    pub port: u16,
}

impl Origin {
    /// Starts one.
    pub fn start() -> Origin {
        let listener = TcpListener::bind("127.0.0.2:0").expect("an origin on 127.0.0.2");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            for (connection, stream) in listener.incoming().flatten().enumerate() {
                std::thread::spawn(move || serve(stream, connection));
            }
        });
        Origin { port }
    }

    /// `http://127.0.0.2:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.2:{}{path}", self.port)
    }
}

fn serve(stream: TcpStream, connection: usize) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("/").to_owned());
        let mut headers = serde_json::Map::new();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
                if name == "content-length" {
                    length = value.parse().unwrap_or(0);
                }
                headers.insert(name, json!(value));
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let (status, extra, content) = answer(&method, path, query, headers, &body, connection);
        let mut reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nX-Origin: yes\r\nContent-Length: {}\r\n{extra}\r\n",
            content.len()
        )
        .into_bytes();
        if method != "HEAD" {
            reply.extend_from_slice(&content);
        }
        // One write: a head and a body in two small writes would meet Nagle and delayed ACKs.
        let sent = writer.write_all(&reply);
        if sent.is_err() || extra.contains("Connection: close") {
            return;
        }
    }
}

fn answer(
    method: &str,
    path: &str,
    query: &str,
    headers: serde_json::Map<String, serde_json::Value>,
    body: &[u8],
    connection: usize,
) -> (&'static str, String, Vec<u8>) {
    let param = |name: &str| query.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')).unwrap_or("");
    match path {
        "/big" => ("200 OK", String::new(), vec![b'x'; param("n").parse().unwrap_or(0)]),
        "/to" => ("302 Found", format!("Location: {}\r\n", param("url")), Vec::new()),
        "/close" => ("200 OK", "Connection: close\r\n".into(), b"closing".to_vec()),
        _ => {
            if path == "/slow" {
                std::thread::sleep(Duration::from_secs(1));
            }
            let echo = json!({
                "method": method,
                "path": path,
                "headers": headers,
                "body": String::from_utf8_lossy(body),
                "connection": connection,
            });
            ("200 OK", String::new(), echo.to_string().into_bytes())
        }
    }
}

/// A daemon started for one test.
pub struct Daemon {
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn spawn(command: &mut Command, port: u16) -> Daemon {
        let child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
        let daemon = Daemon { child };
        let up =
            crate::process::eventually(Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(up, "{command:?} is not listening on {port}");
        daemon
    }
}

/// microsocks on 127.0.0.1:`port`, with `-u`/`-P` when `credentials` are given.
pub fn microsocks(port: u16, credentials: Option<(&str, &str)>) -> Daemon {
    let mut command = Command::new("microsocks");
    command.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
    if let Some((user, password)) = credentials {
        command.args(["-u", user, "-P", password]);
    }
    Daemon::spawn(&mut command, port)
}

/// dante on 127.0.0.1:`port`, relaying only to loopback (BACKENDS.md §5).
pub fn dante(dir: &Path, port: u16) -> Daemon {
    let conf = dir.join("danted.conf");
    let text = format!(
        "logoutput: stderr\ninternal: 127.0.0.1 port = {port}\nexternal: lo\nsocksmethod: none\nclientmethod: none\n\
         user.privileged: root\nuser.unprivileged: nobody\n\
         client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}\n\
         socks pass {{ from: 127.0.0.0/8 to: 127.0.0.0/8 }}\nsocks block {{ from: 0.0.0.0/0 to: 0.0.0.0/0 }}\n"
    );
    std::fs::write(&conf, text).expect("danted.conf");
    let pid = dir.join("danted.pid");
    Daemon::spawn(Command::new("danted").arg("-f").arg(&conf).arg("-p").arg(&pid), port)
}

/// tor confined to loopback (its only bridge is 127.0.0.1:9, so it never bootstraps and
/// never dials a public relay), SOCKS on `socks` and the control port on `control`.
pub fn confined_tor(dir: &Path, socks: u16, control: u16) -> Daemon {
    let data = dir.join("tor-data");
    std::fs::create_dir_all(&data).expect("tor data dir");
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod");
    let torrc = dir.join("torrc");
    let text = format!(
        "SocksPort 127.0.0.1:{socks}\nControlPort 127.0.0.1:{control}\nCookieAuthentication 1\n\
         DataDirectory {}\nUseBridges 1\nBridge 127.0.0.1:9\n\
         ReachableAddresses accept 127.0.0.0/8:*, reject *:*\nClientUseIPv6 0\nLog notice stdout\n",
        data.display()
    );
    std::fs::write(&torrc, text).expect("torrc");
    let tor = Daemon::spawn(Command::new("tor").arg("-f").arg(&torrc), control);
    let socks_up =
        crate::process::eventually(Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", socks)).is_ok());
    assert!(socks_up, "tor's SOCKS port {socks} did not open");
    tor
}

/// An HTTPS origin on 127.0.0.2: `openssl s_server -www` (a status page for `GET /`) with a
/// certificate for IP 127.0.0.2 issued by a CA made for it; (daemon, port, the CA's PEM path).
pub fn tls_origin(dir: &Path, name: &str) -> (Daemon, u16, std::path::PathBuf) {
    let file = |ext: &str| dir.join(format!("{name}-{ext}"));
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl").args(args).stdout(Stdio::null()).stderr(Stdio::null()).status();
        assert!(status.is_ok_and(|s| s.success()), "openssl {args:?}");
    };
    let path = |ext: &str| file(ext).display().to_string();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &["-keyout", &path("ca.key"), "-out", &path("ca.pem"), "-days", "1", "-subj", "/CN=orama test CA"],
        ]
        .concat(),
    );
    openssl(
        &[&["req"][..], &ec, &["-keyout", &path("leaf.key"), "-out", &path("leaf.csr"), "-subj", "/CN=origin"]]
            .concat(),
    );
    std::fs::write(
        file("ext"),
        "subjectAltName=IP:127.0.0.2\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        &path("leaf.csr"),
        "-CA",
        &path("ca.pem"),
        "-CAkey",
        &path("ca.key"),
        "-CAcreateserial",
        "-out",
        &path("leaf.pem"),
        "-days",
        "1",
        "-extfile",
        &path("ext"),
    ]);
    let port = TcpListener::bind("127.0.0.2:0").and_then(|l| l.local_addr()).expect("free port").port();
    let mut command = Command::new("openssl");
    command.args(["s_server", "-quiet", "-www", "-accept", &format!("127.0.0.2:{port}")]);
    command.args(["-cert", &path("leaf.pem"), "-key", &path("leaf.key")]);
    let child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("s_server");
    let daemon = Daemon { child };
    let up = crate::process::eventually(Duration::from_secs(10), || TcpStream::connect(("127.0.0.2", port)).is_ok());
    assert!(up, "s_server is not listening on 127.0.0.2:{port}");
    (daemon, port, file("ca.pem"))
}

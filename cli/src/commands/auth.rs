//! `orama auth login|whoami|logout`. The browser login listens on a loopback port for the
//! gateway's login page to send the new key back (the page redirects to the callback with
//! `api_key` and `namespace`), then saves it.

use std::time::Duration;

use orama_client::NetworkClient;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::args::AuthCommand;
use crate::failure::Failure;
use crate::output::{Output, to_json};
use crate::profile::{self, Profile};

/// How long the browser flow waits for the callback.
const LOGIN_WAIT: Duration = Duration::from_secs(300);

pub async fn run(command: AuthCommand, client: &NetworkClient, gateway: &str, out: &Output) -> Result<(), Failure> {
    match command {
        AuthCommand::Login { key, namespace, no_browser } => {
            let (key, wanted) = match key.as_deref() {
                Some("-") => (read_key_from_stdin()?, None),
                Some(key) => (key.to_owned(), None),
                None => (browser_login(gateway, &namespace, no_browser).await?, Some(namespace)),
            };
            let checked = NetworkClient::new(client.config().clone().api_key(&key))?;
            let me = checked.auth().whoami().await?;
            if let Some(wanted) = wanted.filter(|w| *w != me.namespace) {
                let message =
                    format!("the sign-in gave a key of namespace {}, not {wanted}; nothing saved", me.namespace);
                return Err(Failure { message, code: 3 });
            }
            let saved = Profile { gateway: gateway.to_owned(), api_key: key, namespace: me.namespace.clone() };
            let path = profile::save(&saved)?;
            let value = json!({ "namespace": me.namespace, "gateway": gateway, "profile": path });
            out.result(&value, || {
                format!("logged in to {} as namespace {} (saved in {})", gateway, me.namespace, path.display())
            });
        }
        AuthCommand::Whoami => {
            let me = client.auth().whoami().await?;
            out.result(&to_json(&me), || {
                let who = me.api_key.clone().or_else(|| me.subject.clone()).unwrap_or_default();
                format!("namespace {}\nmethod    {}\nidentity  {who}", me.namespace, me.method)
            });
        }
        AuthCommand::Logout => {
            let removed = profile::remove()?;
            let text = if removed { "logged out: the saved profile is removed" } else { "no saved profile" };
            out.result(&json!({ "removed": removed }), || text.to_owned());
        }
    }
    Ok(())
}

/// An API key read from stdin's first line.
fn read_key_from_stdin() -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let key = line.trim().to_owned();
    if key.is_empty() { Err(Failure::usage("no key on stdin")) } else { Ok(key) }
}

/// The key the gateway's login page sends back to a loopback callback. The callback carries
/// a random `state` that the page passes back: a request to the port without it (another
/// process, a web page probing ports) cannot plant its own key.
async fn browser_login(gateway: &str, namespace: &str, no_browser: bool) -> Result<String, Failure> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let state = random_state()?;
    let callback = format!("http://127.0.0.1:{}/callback?state={state}", listener.local_addr()?.port());
    let base = if gateway.ends_with('/') { gateway.to_owned() } else { format!("{gateway}/") };
    let base = url::Url::parse(&base).map_err(|e| Failure::usage(format!("gateway {gateway}: {e}")))?;
    let mut url = base.join("v1/auth/login").map_err(|e| Failure::usage(e.to_string()))?;
    url.query_pairs_mut().append_pair("callback", &callback).append_pair("namespace", namespace);
    eprintln!("Sign in with your wallet at:\n  {url}");
    if !no_browser {
        let _ = std::process::Command::new("xdg-open").arg(url.as_str()).spawn();
    }
    eprintln!("waiting for the browser…");
    tokio::time::timeout(LOGIN_WAIT, accept_key(&listener, &state))
        .await
        .map_err(|_| Failure { message: "no sign-in within 5 minutes".into(), code: 3 })?
}

/// 128 random bits in hex.
fn random_state() -> Result<String, Failure> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Serves the callback until a request carries `api_key` and this login's `state`.
async fn accept_key(listener: &TcpListener, state: &str) -> Result<String, Failure> {
    loop {
        let (stream, _) = listener.accept().await?;
        let mut stream = BufReader::new(stream);
        let mut line = String::new();
        // The request line is all that is read; a request line longer than 8 KiB is not ours.
        let read = tokio::time::timeout(Duration::from_secs(5), (&mut stream).take(8192).read_line(&mut line)).await;
        if !matches!(read, Ok(Ok(_))) {
            continue;
        }
        let target = line.split(' ').nth(1).unwrap_or_default();
        let query = url::Url::parse(&format!("http://callback{target}")).ok();
        let param = |name: &str| {
            query.as_ref().and_then(|u| u.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()))
        };
        let key = param("api_key").filter(|_| param("state").as_deref() == Some(state));
        let (status, body) = match &key {
            Some(_) => ("200 OK", "Signed in. You can close this tab and return to the terminal."),
            None => ("400 Bad Request", "Not this login's callback."),
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.get_mut().write_all(reply.as_bytes()).await;
        if let Some(key) = key {
            return Ok(key);
        }
    }
}

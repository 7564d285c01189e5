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
            let key = match key {
                Some(key) => key,
                None => browser_login(gateway, &namespace, no_browser).await?,
            };
            let checked = NetworkClient::new(client.config().clone().api_key(&key))?;
            let me = checked.auth().whoami().await?;
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

/// The key the gateway's login page sends back to a loopback callback.
async fn browser_login(gateway: &str, namespace: &str, no_browser: bool) -> Result<String, Failure> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let callback = format!("http://127.0.0.1:{}/callback", listener.local_addr()?.port());
    let mut url = url::Url::parse(gateway).map_err(|e| Failure::usage(e.to_string()))?;
    url.set_path("/v1/auth/login");
    url.query_pairs_mut().append_pair("callback", &callback).append_pair("namespace", namespace);
    eprintln!("Sign in with your wallet at:\n  {url}");
    if !no_browser {
        let _ = std::process::Command::new("xdg-open").arg(url.as_str()).spawn();
    }
    eprintln!("waiting for the browser…");
    tokio::time::timeout(LOGIN_WAIT, accept_key(&listener))
        .await
        .map_err(|_| Failure { message: "no sign-in within 5 minutes".into(), code: 3 })?
}

/// Serves the callback until a request carries `api_key`.
async fn accept_key(listener: &TcpListener) -> Result<String, Failure> {
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
        let key = query.and_then(|u| u.query_pairs().find(|(k, _)| k == "api_key").map(|(_, v)| v.into_owned()));
        let (status, body) = match &key {
            Some(_) => ("200 OK", "Signed in. You can close this tab and return to the terminal."),
            None => ("400 Bad Request", "No api_key in the callback."),
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

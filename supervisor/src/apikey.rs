//! `orama-supervisor ctl apikey ...` and `ctl jwt rotate`: operator management of API keys and
//! token signing keys, served by the gateway's
//! internal socket (owner-only, so being able to run this is the authorisation).

use std::io::Write;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use orama_ipc::IpcClient;
use serde_json::{Value, json};

use crate::ctl_error::CtlError;
use crate::text_table::render_table;

/// The `apikey` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ApikeyCommand {
    /// Create a key for a namespace (created if new); the key is printed once, on stdout.
    Create {
        /// The namespace the key acts in.
        #[arg(long)]
        namespace: String,
        /// A label to recognise the key by.
        #[arg(long, default_value = "")]
        name: String,
        /// Create it even when a wallet owns the namespace (the key then acts in that
        /// wallet's data).
        #[arg(long)]
        force: bool,
    },
    /// List keys (never their secrets).
    List {
        /// Only this namespace's keys.
        #[arg(long)]
        namespace: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id; it stops working at once on this node.
    Revoke {
        /// The key's id (from `list`).
        id: i64,
    },
}

/// The `jwt` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum JwtCommand {
    /// Make a new signing key; tokens of the previous key stay valid until the next rotation.
    Rotate,
}

/// Runs a `jwt` command against the gateway whose internal socket is `socket`.
pub async fn run_jwt(socket: &Path, command: JwtCommand) -> Result<(), CtlError> {
    let client = IpcClient::new(socket).with_timeout(Duration::from_secs(15));
    match command {
        JwtCommand::Rotate => {
            let rotated: Value =
                client.post_json("/v1/jwt/rotate", &json!({})).await.map_err(CtlError::from_child("gateway"))?;
            writeln!(std::io::stdout().lock(), "signing key {} is current", rotated["kid"].as_str().unwrap_or("?"))?;
            Ok(())
        }
    }
}

/// Runs `command` against the gateway whose internal socket is `socket`.
pub async fn run(socket: &Path, command: ApikeyCommand) -> Result<(), CtlError> {
    let client = IpcClient::new(socket).with_timeout(Duration::from_secs(15));
    let mut out = std::io::stdout().lock();
    match command {
        ApikeyCommand::Create { namespace, name, force } => {
            let body = json!({ "namespace": namespace, "name": name, "force": force });
            let key: Value = client.post_json("/v1/apikeys", &body).await.map_err(CtlError::from_child("gateway"))?;
            writeln!(out, "{}", key["api_key"].as_str().unwrap_or_default())?;
            eprintln!(
                "created API key {} in namespace {} (the key is shown only this once)",
                key["id"], key["namespace"]
            );
            Ok(())
        }
        ApikeyCommand::List { namespace, json } => {
            let path =
                namespace.map_or("/v1/apikeys".to_owned(), |ns| format!("/v1/apikeys?namespace={}", encode(&ns)));
            let listing: Value = client.get_json(&path).await.map_err(CtlError::from_child("gateway"))?;
            let keys = listing["keys"].as_array().cloned().unwrap_or_default();
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&keys).unwrap_or_default())?;
            } else {
                write!(out, "{}", table(&keys))?;
            }
            Ok(())
        }
        ApikeyCommand::Revoke { id } => {
            let _: Value = client
                .post_json(&format!("/v1/apikeys/{id}/revoke"), &json!({}))
                .await
                .map_err(CtlError::from_child("gateway"))?;
            writeln!(out, "revoked API key {id}")?;
            Ok(())
        }
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

fn table(keys: &[Value]) -> String {
    let time = |v: &Value| {
        v.as_u64().map_or("-".to_owned(), |s| {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(s)).to_string()
        })
    };
    let mut rows =
        vec![["ID", "NAMESPACE", "NAME", "KEY", "CREATED", "LAST USED", "REVOKED"].map(String::from).to_vec()];
    for k in keys {
        rows.push(vec![
            k["id"].to_string(),
            k["namespace"].as_str().unwrap_or_default().to_owned(),
            k["name"].as_str().unwrap_or_default().to_owned(),
            k["hint"].as_str().unwrap_or_default().to_owned(),
            time(&k["created_at"]),
            time(&k["last_used_at"]),
            time(&k["revoked_at"]),
        ]);
    }
    render_table(&rows)
}

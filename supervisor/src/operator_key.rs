//! `orama-supervisor ctl operator-key ...`: the keys that open the gateway's operator page
//! (`/v1/operator/status`), made and revoked through the gateway's internal socket (owner-only,
//! so being able to run this is the authorisation). They are the node's, never a tenant's.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use orama_ipc::IpcClient;
use serde_json::{Value, json};

use crate::ctl_error::CtlError;
use crate::text_table::render_table;

/// The `operator-key` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum OperatorKeyCommand {
    /// Make a key for the operator page; it is printed once, on stdout.
    Create {
        /// A label to recognise the key by.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List the keys (never their secrets).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id: it and the sessions it opened stop working at once.
    Revoke {
        /// The key's id (from `list`).
        id: u32,
    },
}

/// Runs `command` against the gateway whose internal socket is `socket`.
pub async fn run(socket: &Path, command: OperatorKeyCommand) -> Result<(), CtlError> {
    let client = IpcClient::new(socket).with_timeout(Duration::from_secs(15));
    let gateway = || CtlError::from_child("gateway");
    let mut out = std::io::stdout().lock();
    match command {
        OperatorKeyCommand::Create { name } => {
            let key: Value = client.post_json("/v1/operator-keys", &json!({ "name": name })).await.map_err(gateway())?;
            writeln!(out, "{}", key["operator_key"].as_str().unwrap_or_default())?;
            eprintln!(
                "created operator key {} (shown only this once): sign in at https://<this node>/v1/operator/status",
                key["id"]
            );
        }
        OperatorKeyCommand::List { json } => {
            let listing: Value = client.get_json("/v1/operator-keys").await.map_err(gateway())?;
            let keys = listing["keys"].as_array().cloned().unwrap_or_default();
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&keys).unwrap_or_default())?;
            } else {
                write!(out, "{}", table(&keys))?;
            }
        }
        OperatorKeyCommand::Revoke { id } => {
            let path = format!("/v1/operator-keys/{id}/revoke");
            let _: Value = client.post_json(&path, &json!({})).await.map_err(gateway())?;
            writeln!(out, "revoked operator key {id}")?;
        }
    }
    Ok(())
}

fn table(keys: &[Value]) -> String {
    let mut rows = vec![["ID", "NAME", "CREATED"].map(String::from).to_vec()];
    for key in keys {
        let created = key["created_at"].as_u64().map_or("-".to_owned(), |s| {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(s)).to_string()
        });
        rows.push(vec![key["id"].to_string(), key["name"].as_str().unwrap_or_default().to_owned(), created]);
    }
    render_table(&rows)
}

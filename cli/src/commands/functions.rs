//! `orama functions deploy|invoke|list|logs|delete`.

use std::io::Read;

use orama_client::{FunctionSpec, NetworkClient};
use serde_json::json;

use crate::args::FunctionsCommand;
use crate::failure::Failure;
use crate::output::{Output, table, to_json};

pub async fn run(command: FunctionsCommand, client: &NetworkClient, out: &Output) -> Result<(), Failure> {
    let functions = client.serverless();
    match command {
        FunctionsCommand::Deploy { name, wasm, public, memory, time_limit } => {
            let spec = FunctionSpec {
                is_public: public,
                memory_limit_mb: memory,
                timeout_seconds: time_limit,
                ..FunctionSpec::new(&name)
            };
            let module = std::fs::read(&wasm).map_err(|e| Failure::usage(format!("{}: {e}", wasm.display())))?;
            let deployed = functions.deploy(&spec, module).await?;
            out.result(&to_json(&deployed), || {
                format!("deployed {} version {} ({})", deployed.name, deployed.version, deployed.wasm_cid)
            });
        }
        FunctionsCommand::Invoke { name, input } => {
            let input = match input {
                Some(input) => input.into_bytes(),
                None => {
                    let mut bytes = Vec::new();
                    std::io::stdin().read_to_end(&mut bytes)?;
                    bytes
                }
            };
            let invocation = functions.invoke_raw(&name, input).await?;
            let text = String::from_utf8_lossy(&invocation.output).into_owned();
            let output = serde_json::from_str(&text).unwrap_or(json!(text));
            let value =
                json!({ "request_id": invocation.request_id, "duration_ms": invocation.duration_ms, "output": output });
            out.result(&value, || text.clone());
        }
        FunctionsCommand::List => {
            let list = functions.list().await?;
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|f| {
                    let public = if f.is_public { "yes" } else { "no" };
                    vec![
                        f.name.clone(),
                        f.version.to_string(),
                        public.to_owned(),
                        format!("{} MiB", f.memory_limit_mb),
                        f.created_at.clone(),
                    ]
                })
                .collect();
            let columns = ["name", "version", "public", "memory", "deployed"].map(str::to_owned);
            out.result(&to_json(&list), || table(&columns, &rows));
        }
        FunctionsCommand::Logs { name, limit } => {
            let logs = functions.logs(&name, limit).await?;
            let lines: Vec<String> = logs
                .iter()
                .rev()
                .map(|l| format!("{} {:<5} {} {}", l.timestamp, l.level, l.request_id, l.message))
                .collect();
            out.result(
                &to_json(&logs),
                || {
                    if lines.is_empty() { "(no log lines)".to_owned() } else { lines.join("\n") }
                },
            );
        }
        FunctionsCommand::Delete { name } => {
            functions.delete(&name).await?;
            out.result(&json!({ "status": "ok", "name": name }), || format!("deleted {name}"));
        }
    }
    Ok(())
}

//! `orama storage upload|get|pin|unpin|status`, with a progress line on transfers.

use std::path::Path;

use futures_util::StreamExt;
use orama_client::NetworkClient;
use orama_client::storage::UploadOptions;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::args::StorageCommand;
use crate::failure::Failure;
use crate::output::{Output, to_json};
use crate::progress::{Counted, Progress, size};

pub async fn run(command: StorageCommand, client: &NetworkClient, out: &Output) -> Result<(), Failure> {
    let storage = client.storage();
    match command {
        StorageCommand::Upload { path, cid_v1, no_pin } => {
            let options = UploadOptions { cid_v1, no_pin };
            let uploaded = if path == Path::new("-") {
                let input = Counted::new(tokio::io::stdin(), Progress::new("uploading stdin", None));
                storage.upload_reader("stdin", input, None, &options).await?
            } else {
                let file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
                let length = file.metadata().await?.len();
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let input = Counted::new(file, Progress::new(&format!("uploading {name}"), Some(length)));
                storage.upload_reader(&name, input, Some(length), &options).await?
            };
            out.result(&to_json(&uploaded), || format!("{}  {}  {}", uploaded.cid, uploaded.name, size(uploaded.size)));
        }
        StorageCommand::Get { cid, output } => {
            let download = storage.get(&cid).await?;
            let mut progress = Progress::new(&format!("downloading {cid}"), download.length);
            let mut sink: Box<dyn tokio::io::AsyncWrite + Unpin> = match &output {
                Some(path) => Box::new(tokio::fs::File::create(path).await?),
                None => Box::new(tokio::io::stdout()),
            };
            let mut stream = std::pin::pin!(download.stream());
            let mut written = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                sink.write_all(&chunk).await?;
                written += chunk.len() as u64;
                progress.advance(chunk.len() as u64);
            }
            sink.flush().await?;
            progress.finish();
            if let Some(path) = output {
                let value = json!({ "cid": cid, "path": path, "size": written });
                out.result(&value, || format!("wrote {} to {}", size(written), path.display()));
            }
        }
        StorageCommand::Pin { cid, name } => {
            storage.pin(&cid, &name).await?;
            out.result(&json!({ "cid": cid, "name": name }), || format!("pinned {cid}"));
        }
        StorageCommand::Unpin { cid } => {
            storage.unpin(&cid).await?;
            out.result(&json!({ "status": "ok", "cid": cid }), || format!("unpinned {cid}"));
        }
        StorageCommand::Status { cid } => {
            let status = storage.status(&cid).await?;
            out.result(&to_json(&status), || {
                format!("{}  {}  {}  {}", status.cid, status.status, size(status.size), status.name)
            });
        }
    }
    Ok(())
}

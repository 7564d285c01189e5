//! Signals, handled in one place and turned into a cancellation token.
//!
//! The first SIGTERM, SIGINT or SIGHUP cancels the token and the process drains; a second one
//! means the operator has lost patience, and the process exits at once with status 130.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Returns a token cancelled on the first termination signal. Must be called inside a Tokio
/// runtime. Fails only when signal handlers cannot be installed.
pub fn on_signals() -> std::io::Result<CancellationToken> {
    let token = CancellationToken::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let trigger = token.clone();
    tokio::spawn(async move {
        let mut received = 0;
        loop {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
                _ = hup.recv() => "SIGHUP",
            };
            received += 1;
            if received > 1 {
                tracing::warn!(signal = name, "second termination signal: exiting now");
                std::process::exit(130);
            }
            tracing::info!(signal = name, "termination signal received: shutting down");
            trigger.cancel();
        }
    });
    Ok(token)
}

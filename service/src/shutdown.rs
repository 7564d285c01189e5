//! Signals, handled in one place and turned into a cancellation token.
//!
//! The first SIGTERM, SIGINT or SIGHUP (but for the supervisor and its children, to which
//! SIGHUP means reload: [`on_termination_signals`], [`crate::live`]) cancels the token and the process drains; another one a
//! second or more later means the operator has lost patience, and the process exits at once with
//! status 130. Repeats within that second are the same request: Linux delivers a parent-death
//! signal again each time an orphan is handed to another thread of its dying parent, so one
//! supervisor death can arrive as several SIGTERMs.

use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Signals this close to the first are taken as a repeat of it.
const SAME_REQUEST: Duration = Duration::from_secs(1);

/// Returns a token cancelled on the first termination signal (SIGHUP among them, unless the
/// process is supervised). Must be called inside a Tokio runtime. Fails only when signal
/// handlers cannot be installed.
pub fn on_signals() -> std::io::Result<CancellationToken> {
    watch(!crate::telemetry::supervised())
}

/// Like [`on_signals`], but SIGHUP is left to the caller (the supervisor reloads on it).
pub fn on_termination_signals() -> std::io::Result<CancellationToken> {
    watch(false)
}

fn watch(hangup_stops: bool) -> std::io::Result<CancellationToken> {
    let token = CancellationToken::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = if hangup_stops { Some(signal(SignalKind::hangup())?) } else { None };
    let trigger = token.clone();
    tokio::spawn(async move {
        let mut first: Option<Instant> = None;
        loop {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
                Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => "SIGHUP",
            };
            match first {
                None => {
                    first = Some(Instant::now());
                    tracing::info!(signal = name, "termination signal received: shutting down");
                    trigger.cancel();
                }
                Some(at) if at.elapsed() >= SAME_REQUEST => {
                    tracing::warn!(signal = name, "second termination signal: exiting now");
                    std::process::exit(130);
                }
                Some(_) => tracing::debug!(signal = name, "repeated termination signal ignored"),
            }
        }
    });
    Ok(token)
}

//! Settings that change while a process runs. A supervised process reads the config file
//! again on SIGHUP (the supervisor's `ctl reload` sends it when only such settings changed):
//! the log level applies at once, here, and the process's own parts watch [`LiveSettings`]
//! for the rest (the gateway's rate limits). A file that no longer reads changes nothing
//! (the supervisor checked it before signalling; this guards against an edit in between).

use std::path::PathBuf;
use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::NodeConfig;
use crate::telemetry::LogLevel;

/// The config as last read: the one the process started with until a reload.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    current: watch::Receiver<Arc<NodeConfig>>,
}

impl LiveSettings {
    /// Settings that never change (a process not started by the supervisor, a test).
    pub fn fixed(config: NodeConfig) -> LiveSettings {
        LiveSettings { current: watch::channel(Arc::new(config)).1 }
    }

    /// Waits for the next reload; `None` once no reload can come any more.
    pub async fn changed(&mut self) -> Option<Arc<NodeConfig>> {
        self.current.changed().await.ok()?;
        Some(self.current.borrow_and_update().clone())
    }
}

/// Reads `path` again on each SIGHUP until `shutdown`, applying its log level to `level`.
/// Must be called inside a Tokio runtime.
pub fn reload_on_hangup(
    config: NodeConfig,
    path: Option<PathBuf>,
    level: LogLevel,
    shutdown: CancellationToken,
) -> std::io::Result<LiveSettings> {
    let (sender, current) = watch::channel(Arc::new(config));
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                Some(()) = hangups.recv() => {}
            }
            if let Some(config) = read_again(path.as_deref(), &level) {
                sender.send_replace(Arc::new(config));
            }
        }
    });
    Ok(LiveSettings { current })
}

/// The config at `path`, its log level applied; `None` (and a warning) when it does not read.
fn read_again(path: Option<&std::path::Path>, level: &LogLevel) -> Option<NodeConfig> {
    let config = match NodeConfig::load_or_default(path) {
        Ok(config) => config,
        Err(err) => {
            tracing::warn!(error = %err, "SIGHUP: the config does not read; the settings stay as they were");
            return None;
        }
    };
    match level.set(&config.log.level) {
        Ok(true) => tracing::info!(level = %config.log.level, "settings reloaded; log level set"),
        Ok(false) => tracing::info!("settings reloaded; the log level stays RUST_LOG's"),
        Err(err) => tracing::warn!(error = %err, "settings reloaded but the log level was not changed"),
    }
    Some(config)
}

//! Why a `ctl` command failed, whichever process it talked to (the supervisor, the gateway or
//! the pub/sub bridge): one line on stderr and a non-zero exit.

use std::path::PathBuf;

use orama_ipc::IpcError;

/// Why a `ctl` command failed.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// Nothing answers on the control socket.
    #[error("no supervisor is running (cannot connect to {0})")]
    NotRunning(PathBuf),
    /// The supervisor answered with an error.
    #[error("{0}")]
    Refused(String),
    /// Anything else on the way.
    #[error("{0}")]
    Transport(IpcError),
    /// Writing to stdout failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl From<IpcError> for CtlError {
    fn from(err: IpcError) -> Self {
        match err {
            IpcError::Connect { path, .. } => CtlError::NotRunning(path),
            IpcError::Status { message, .. } => CtlError::Refused(message),
            other => CtlError::Transport(other),
        }
    }
}

impl CtlError {
    /// Maps an error talking straight to the child `name` (not through the supervisor): an
    /// unreachable socket says that child is not running.
    pub fn from_child(name: &'static str) -> impl Fn(IpcError) -> CtlError {
        move |err| match err {
            IpcError::Connect { path, .. } => {
                CtlError::Refused(format!("the {name} is not running (cannot connect to {})", path.display()))
            }
            other => CtlError::from(other),
        }
    }
}

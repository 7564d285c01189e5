//! How a command fails: one line for stderr and the exit code a script can act on.

use orama_client::Error;

/// How a command failed: its one-line message and exit code.
#[derive(Debug)]
pub struct Failure {
    /// What to print.
    pub message: String,
    /// The exit code.
    pub code: u8,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        let code = match &error {
            Error::Api { status, .. } => match status.as_u16() {
                401 | 403 => 3,
                404 => 4,
                502..=504 => 5,
                _ => 1,
            },
            Error::Transport { .. } | Error::WebSocket(_) => 5,
            Error::Invalid(_) => 2,
            _ => 1,
        };
        Failure { message: error.to_string(), code }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Failure {
        Failure { message: error.to_string(), code: 1 }
    }
}

impl Failure {
    /// A failure of the command's own input (exit code 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), code: 2 }
    }
}

//! `ctl logs` on a node whose children log to journald: the journal keeps more than the
//! supervisor's buffer, and across restarts, so it is read there (`journalctl -t
//! orama-<child>`, in the journal's namespace when the node's socket is a namespace's).

use std::path::Path;
use std::process::Command;

/// `journalctl`'s arguments for `lines` lines of `child` (and then new ones with `follow`) in
/// the journal whose native socket is `socket`.
pub fn journalctl_args(socket: &str, child: &str, lines: usize, follow: bool) -> Vec<String> {
    let mut args = vec!["--no-pager".to_owned(), "--output".into(), "short-iso".into()];
    let namespace = Path::new(socket)
        .parent()
        .and_then(Path::file_name)
        .and_then(|dir| dir.to_str()?.strip_prefix("journal."))
        .map(str::to_owned);
    if let Some(namespace) = namespace {
        args.push(format!("--namespace={namespace}"));
    }
    args.extend(["--identifier".into(), format!("orama-{child}"), "--lines".into(), lines.to_string()]);
    if follow {
        args.push("--follow".into());
    }
    args
}

/// Runs `journalctl` for `child`, its output straight to ours.
pub fn show(socket: &str, child: &str, lines: usize, follow: bool) -> std::io::Result<()> {
    let status = Command::new("journalctl").args(journalctl_args(socket, child, lines, follow)).status()?;
    if status.success() { Ok(()) } else { Err(std::io::Error::other(format!("journalctl: {status}"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_socket_reads_its_namespace() {
        let args = journalctl_args("/run/systemd/journal.orama/socket", "gateway", 20, true);
        assert!(args.contains(&"--namespace=orama".to_owned()) && args.contains(&"orama-gateway".to_owned()));
        assert_eq!(args.last().map(String::as_str), Some("--follow"));
        let plain = journalctl_args("/run/systemd/journal/socket", "redis", 5, false);
        assert!(!plain.iter().any(|a| a.starts_with("--namespace")), "{plain:?}");
    }
}

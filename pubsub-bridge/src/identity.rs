//! The node's libp2p identity, kept in its data dir so its peer id survives restarts, and
//! the private network's pre-shared key.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use libp2p::identity::Keypair;
use libp2p::pnet::PreSharedKey;

/// The ed25519 keypair in `dir/identity.key` (protobuf encoding, 0600), created when missing.
pub fn load_or_create(dir: &Path) -> Result<Keypair, String> {
    let path = dir.join("identity.key");
    match std::fs::read(&path) {
        Ok(bytes) => Keypair::from_protobuf_encoding(&bytes).map_err(|e| format!("{}: {e}", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let keypair = Keypair::generate_ed25519();
            let bytes = keypair.to_protobuf_encoding().map_err(|e| e.to_string())?;
            write_private(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(keypair)
        }
        Err(err) => Err(format!("{}: {err}", path.display())),
    }
}

/// The pre-shared key in `path` (the go-ipfs `swarm.key` format).
pub fn swarm_key(path: &Path) -> Result<PreSharedKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.parse().map_err(|e| format!("{}: not a swarm key: {e}", path.display()))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let temporary = path.with_extension("partial");
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_survives_a_restart_and_swarm_keys_parse() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create(dir.path()).expect("create");
        let again = load_or_create(dir.path()).expect("load");
        assert_eq!(first.public().to_peer_id(), again.public().to_peer_id());
        let key = "/key/swarm/psk/1.0.0/\n/base16/\n".to_owned() + &"ab".repeat(32) + "\n";
        std::fs::write(dir.path().join("swarm.key"), key).expect("write");
        assert!(swarm_key(&dir.path().join("swarm.key")).is_ok());
        std::fs::write(dir.path().join("bad.key"), "nope").expect("write");
        assert!(swarm_key(&dir.path().join("bad.key")).is_err());
    }
}

//! The key material `dev up` and `install` make before a node first starts, so every node's
//! config can name the others from the start: each bridge's libp2p identity (an ed25519 key in the encoding the
//! bridge reads, and the peer id it gives), the bridges' swarm key, and RQLite's users file
//! with the cluster secret. All written owner-only.

use std::path::Path;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use orama_service::cluster::ClusterSecret;

/// libp2p's `KeyType` for ed25519, as the first field of its key protobufs.
const ED25519_KEY_TYPE: [u8; 2] = [0x08, 0x01];

/// A bridge identity: the file's bytes and the peer id they give.
#[derive(Debug)]
pub struct Identity {
    /// libp2p's protobuf `PrivateKey` (type ed25519, data = secret ‖ public).
    pub file: Vec<u8>,
    /// The peer id (`12D3KooW…`): base58 of the identity multihash of the public key protobuf.
    pub peer_id: String,
}

/// A new random ed25519 identity.
pub fn new_identity() -> Result<Identity, String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("no randomness: {e}"))?;
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| "cannot make an ed25519 key".to_owned())?;
    let public = pair.public_key().as_ref();
    let mut file = ED25519_KEY_TYPE.to_vec();
    file.extend_from_slice(&[0x12, 0x40]);
    file.extend_from_slice(&seed);
    file.extend_from_slice(public);
    let peer_id = peer_id_of(&file)?;
    Ok(Identity { file, peer_id })
}

/// The peer id of an identity file [`new_identity`] made (its last 32 bytes are the public key).
pub fn peer_id_of(file: &[u8]) -> Result<String, String> {
    let well_formed = file.len() == ED25519_KEY_TYPE.len() + 2 + 64 && file.starts_with(&ED25519_KEY_TYPE);
    let public = file.get(file.len().saturating_sub(32)..).filter(|_| well_formed).ok_or("not an ed25519 identity")?;
    let mut public_proto = ED25519_KEY_TYPE.to_vec();
    public_proto.extend_from_slice(&[0x12, 0x20]);
    public_proto.extend_from_slice(public);
    // Multihash "identity" (code 0x00): keys this short are their own digest.
    let mut multihash = vec![0x00, u8::try_from(public_proto.len()).map_err(|_| "key too long")?];
    multihash.extend_from_slice(&public_proto);
    Ok(bs58::encode(multihash).into_string())
}

/// A new swarm key in the go-ipfs `swarm.key` format.
pub fn new_swarm_key() -> Result<String, String> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| format!("no randomness: {e}"))?;
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    Ok(swarm_key_file(&hex))
}

/// The go-ipfs `swarm.key` file of a key given as hex.
pub fn swarm_key_file(hex: &str) -> String {
    format!("/key/swarm/psk/1.0.0/\n/base16/\n{hex}\n")
}

/// RQLite's users: `orama-cluster` joins, `orama-gateway` is what gateways call as; both with
/// the cluster's RQLite password (derived from the secret).
pub fn rqlite_users(secret: &ClusterSecret) -> String {
    let password = secret.password_for("rqlite");
    serde_json::json!([
        {"username": "orama-cluster", "password": password, "perms": ["join", "join-read-only"]},
        {"username": "orama-gateway", "password": password,
         "perms": ["execute", "query", "status", "ready", "nodes", "backup", "load"]},
    ])
    .to_string()
}

/// Writes `content` to `path` (0600, its directory 0700), replacing what was there.
pub fn write_private(path: &Path, content: &[u8]) -> Result<(), String> {
    orama_service::private_files::write_private(path, content).map_err(|e| e.to_string())
}

/// Writes `content` to `path` (0600, its directory 0700) unless the file exists.
pub fn write_new_private(path: &Path, content: &[u8]) -> Result<(), String> {
    orama_service::private_files::write_new_private(path, content).map(drop).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_have_libp2p_ed25519_peer_ids() {
        let identity = new_identity().expect("identity");
        assert!(identity.peer_id.starts_with("12D3KooW"), "{}", identity.peer_id);
        assert_eq!(identity.file.len(), 68);
        assert_ne!(new_identity().expect("identity").peer_id, identity.peer_id);
        assert!(new_swarm_key().expect("key").lines().nth(2).is_some_and(|l| l.len() == 64));
    }
}

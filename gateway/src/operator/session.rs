//! The operator page's sign-in: an operator key is presented once (the sign-in form, or an
//! `Authorization: Bearer op_…` header on every request for scripts) and the browser then holds
//! a session cookie, `<key id>.<expiry>.<HMAC>`, signed with a key derived from the cluster
//! secret. Nothing is stored per session, so a gateway that takes over keeps every operator
//! signed in, and revoking the key ends its sessions (the id must still exist).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use orama_service::cluster::ClusterSecret;

use super::keys::OperatorKeys;

/// The session cookie's name.
pub const COOKIE: &str = "orama_operator";

/// How long a session lasts.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Signs and checks sessions.
#[derive(Clone)]
pub struct Sessions {
    key: hmac::Key,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions signed with a key derived from `secret`.
    pub fn new(secret: &ClusterSecret) -> Sessions {
        Sessions { key: hmac::Key::new(hmac::HMAC_SHA256, &secret.key_seed("operator-page-session")) }
    }

    /// A session of key `id` from now.
    pub fn issue(&self, id: u32) -> String {
        let expires = now() + LIFETIME.as_secs();
        let signed = format!("{id}.{expires}");
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, signed.as_bytes())))
    }

    /// The key id of session `token`, when it is ours, unexpired and its key still exists.
    pub fn check(&self, token: &str, keys: &OperatorKeys) -> Option<u32> {
        let (signed, tag) = token.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        hmac::verify(&self.key, signed.as_bytes(), &tag).ok()?;
        let (id, expires) = signed.split_once('.')?;
        let (id, expires) = (id.parse::<u32>().ok()?, expires.parse::<u64>().ok()?);
        (expires > now() && keys.is_live(id)).then_some(id)
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_holds_while_its_key_lives_and_cannot_be_forged() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = OperatorKeys::in_dir(dir.path());
        let (id, _) = keys.create("laptop").expect("create");
        let secret = ClusterSecret::generate().expect("secret");
        let sessions = Sessions::new(&secret);
        let token = sessions.issue(id);
        assert_eq!(sessions.check(&token, &keys), Some(id));
        let other_node = Sessions::new(&ClusterSecret::generate().expect("secret"));
        assert_eq!(other_node.check(&token, &keys), None, "another cluster's secret");
        let (signed, tag) = token.rsplit_once('.').expect("tag");
        let (_, expires) = signed.split_once('.').expect("id");
        assert_eq!(sessions.check(&format!("{}.{expires}.{tag}", id + 1), &keys), None, "another id");
        assert_eq!(sessions.check("1.99999999999.AAAA", &keys), None);
        keys.revoke(id).expect("revoke");
        assert_eq!(sessions.check(&token, &keys), None, "revoked");
    }
}

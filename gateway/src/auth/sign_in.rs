//! The message a wallet signs to sign in, in the style of EIP-4361 ("Sign-In with Ethereum"),
//! so the wallet shows its user which site asks, for which account and namespace, and until
//! when. It is handed out as the challenge's `nonce` and verified byte for byte, so clients
//! that sign whatever `nonce` they are given keep working unchanged.
//!
//! ```text
//! node1.example.com wants you to sign in with your Ethereum account:
//! 0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B
//!
//! Sign in to the Orama namespace "shop" on node1.example.com.
//!
//! URI: https://node1.example.com
//! Version: 1
//! Nonce: 5f1c0c1d0b6e4a5c8f3e2d1c0b9a8f7e
//! Issued At: 2026-12-04T12:00:00Z
//! Expiration Time: 2026-12-04T12:05:00Z
//! ```

use std::time::{Duration, UNIX_EPOCH};

use sha3::{Digest, Keccak256};

use super::wallet::Chain;

/// What a sign-in message says.
#[derive(Debug, Clone)]
pub struct SignIn<'a> {
    /// The node's domain (its configured TLS domain, else the request's host).
    pub domain: &'a str,
    /// Whether the node is reached over HTTPS.
    pub https: bool,
    /// The wallet's chain.
    pub chain: Chain,
    /// The wallet, normalized.
    pub wallet: &'a str,
    /// The namespace the session will act in.
    pub namespace: &'a str,
    /// A random nonce (alphanumeric).
    pub nonce: &'a str,
    /// Unix seconds when the challenge was issued.
    pub issued_at: i64,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
}

impl SignIn<'_> {
    /// The text to sign.
    pub fn message(&self) -> String {
        let (chain, account) = match self.chain {
            Chain::Eth => ("Ethereum", checksummed(self.wallet)),
            Chain::Sol => ("Solana", self.wallet.to_owned()),
        };
        let scheme = if self.https { "https" } else { "http" };
        format!(
            "{domain} wants you to sign in with your {chain} account:\n{account}\n\n\
             Sign in to the Orama namespace \"{namespace}\" on {domain}.\n\n\
             URI: {scheme}://{domain}\nVersion: 1\nNonce: {nonce}\nIssued At: {issued}\nExpiration Time: {expires}",
            domain = self.domain,
            namespace = self.namespace,
            nonce = self.nonce,
            issued = rfc3339(self.issued_at),
            expires = rfc3339(self.expires_at),
        )
    }
}

/// `host` as a message may show it: a DNS name or address with an optional port; anything
/// else becomes a neutral name (the text must stay one line of plain characters).
pub fn domain_of(host: Option<&str>) -> String {
    let host = host.map(str::trim).unwrap_or_default();
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if !host.is_empty() && host.len() <= 253 && host.chars().all(plain) { host.to_owned() } else { "orama-node".into() }
}

fn rfc3339(unix: i64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(unix.max(0) as u64)).to_string()
}

/// An Ethereum address in its EIP-55 mixed-case checksum form.
fn checksummed(wallet: &str) -> String {
    let hex = wallet.trim_start_matches("0x").to_ascii_lowercase();
    let digest = Keccak256::digest(hex.as_bytes());
    let mixed: String = hex
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let nibble = (digest[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0x0f;
            if c.is_ascii_alphabetic() && nibble >= 8 { c.to_ascii_uppercase() } else { c }
        })
        .collect();
    format!("0x{mixed}")
}

/// Where a challenge is answered: the node's own domain when it has one, else the host the
/// client asked for.
#[derive(Debug, Clone)]
pub struct SignInSite {
    /// The node's domain (its first TLS domain), if configured.
    pub domain: Option<String>,
    /// Whether the node serves HTTPS.
    pub https: bool,
}

impl SignInSite {
    /// The site `gateway` configures: `gateway.sign_in_domain`, else the first TLS domain when
    /// the node serves HTTPS; without either, messages name the request's `Host`.
    pub fn of(gateway: &orama_service::config::GatewayConfig) -> SignInSite {
        let https = gateway.tls.mode != orama_service::config::TlsMode::Off;
        let domain = gateway.sign_in_domain.clone().or_else(|| gateway.tls.domains.first().filter(|_| https).cloned());
        if domain.is_none() {
            tracing::info!(
                "wallet sign-in messages name the request's Host (set gateway.sign_in_domain on a public node)"
            );
        }
        SignInSite { domain, https }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_site_account_namespace_and_times() {
        let sign_in = SignIn {
            domain: "node1.example.com",
            https: true,
            chain: Chain::Eth,
            wallet: "0xab5801a7d398351b8be11c439e05c5b3259aec9b",
            namespace: "shop",
            nonce: "0123456789abcdef",
            issued_at: 1_796_385_600,
            expires_at: 1_796_385_900,
        };
        let expected = "node1.example.com wants you to sign in with your Ethereum account:\n\
                        0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B\n\n\
                        Sign in to the Orama namespace \"shop\" on node1.example.com.\n\n\
                        URI: https://node1.example.com\nVersion: 1\nNonce: 0123456789abcdef\n\
                        Issued At: 2026-12-04T12:00:00Z\nExpiration Time: 2026-12-04T12:05:00Z";
        assert_eq!(sign_in.message(), expected);
    }

    #[test]
    fn odd_hosts_never_reach_the_message() {
        assert_eq!(domain_of(Some("node1.example.com:6001")), "node1.example.com:6001");
        assert_eq!(domain_of(Some("[::1]:6001")), "[::1]:6001");
        assert_eq!(domain_of(Some("evil.com\nURI: https://x")), "orama-node");
        assert_eq!(domain_of(None), "orama-node");
    }
}

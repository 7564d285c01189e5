//! Wallet signatures for sign-in: the [`Signer`] trait a wallet implements, and
//! [`EthereumSigner`], a secp256k1 key signing as `personal_sign` (EIP-191) does.

use k256::ecdsa::SigningKey;
use sha3::{Digest, Keccak256};

use crate::error::{Error, Result};

/// The chain of a wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    /// Ethereum: EIP-191 signatures, `0x` hex addresses.
    Ethereum,
    /// Solana: Ed25519 signatures, base58 addresses.
    Solana,
}

impl Chain {
    /// The API's `chain_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Chain::Ethereum => "ETH",
            Chain::Solana => "SOL",
        }
    }
}

/// Something that signs a sign-in message for a wallet: a key in memory, a hardware wallet, a
/// remote signer.
pub trait Signer: Send + Sync {
    /// The wallet's address as its chain writes it.
    fn address(&self) -> String;
    /// The wallet's chain.
    fn chain(&self) -> Chain;
    /// The signature of `message` (the challenge's text, byte for byte) as the API takes it:
    /// hex `r‖s‖v` for Ethereum, standard base64 for Solana.
    fn sign(&self, message: &str) -> Result<String>;
}

/// An Ethereum wallet from its private key.
///
/// ```
/// use orama_client::auth::{EthereumSigner, Signer};
/// let signer = EthereumSigner::from_hex("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")?;
/// assert_eq!(signer.address(), "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23");
/// assert_eq!(signer.sign("hello")?.len(), 2 + 130);
/// # Ok::<(), orama_client::Error>(())
/// ```
pub struct EthereumSigner {
    key: SigningKey,
}

impl EthereumSigner {
    /// The wallet of a 32-byte private key.
    pub fn from_bytes(key: &[u8]) -> Result<EthereumSigner> {
        let key = SigningKey::from_slice(key).map_err(|_| Error::Invalid("not a secp256k1 private key".into()))?;
        Ok(EthereumSigner { key })
    }

    /// The wallet of a private key in hex (`0x` optional).
    pub fn from_hex(hex: &str) -> Result<EthereumSigner> {
        let hex = hex.trim().trim_start_matches("0x");
        let bytes = decode_hex(hex).ok_or_else(|| Error::Invalid("a private key is 64 hex digits".into()))?;
        EthereumSigner::from_bytes(&bytes)
    }

    /// A new random wallet.
    pub fn random() -> Result<EthereumSigner> {
        let mut bytes = [0u8; 32];
        loop {
            getrandom::fill(&mut bytes).map_err(|e| Error::Invalid(format!("no randomness: {e}")))?;
            if let Ok(signer) = EthereumSigner::from_bytes(&bytes) {
                return Ok(signer);
            }
        }
    }
}

impl std::fmt::Debug for EthereumSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EthereumSigner({})", self.address())
    }
}

impl Signer for EthereumSigner {
    fn address(&self) -> String {
        let point = self.key.verifying_key().to_sec1_point(false);
        let digest = Keccak256::digest(&point.as_bytes()[1..]);
        checksummed(&digest[12..])
    }

    fn chain(&self) -> Chain {
        Chain::Ethereum
    }

    fn sign(&self, message: &str) -> Result<String> {
        let mut hasher = Keccak256::new();
        hasher.update(format!("\x19Ethereum Signed Message:\n{}", message.len()).as_bytes());
        hasher.update(message.as_bytes());
        let (signature, recovery) = self.key.sign_prehash_recoverable(&hasher.finalize());
        let mut bytes = signature.to_bytes().to_vec();
        bytes.push(27 + recovery.to_byte());
        Ok(format!("0x{}", hex(&bytes)))
    }
}

/// An address in EIP-55 mixed case.
fn checksummed(address: &[u8]) -> String {
    let lower = hex(address);
    let hash = Keccak256::digest(lower.as_bytes());
    let mixed: String = lower
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0xf;
            if nibble >= 8 { c.to_ascii_uppercase() } else { c }
        })
        .collect();
    format!("0x{mixed}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect()
}

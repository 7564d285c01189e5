//! Wallet signatures (REFERENCE-API §3.4): Ethereum `personal_sign` (EIP-191) recovered with
//! k256 and compared by address, or a Solana ed25519 signature over the message. The message is
//! the challenge nonce itself.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use sha3::{Digest, Keccak256};

/// A wallet's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    /// Ethereum: 20-byte address, secp256k1 signatures.
    Eth,
    /// Solana: base58 ed25519 public key.
    Sol,
}

/// Why a wallet or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    /// The address is not a valid address of its chain.
    #[error("invalid wallet address")]
    BadAddress,
    /// The chain type is neither ETH nor SOL.
    #[error("unsupported chain_type {0:?} (expected ETH or SOL)")]
    BadChain(String),
    /// The signature is malformed or does not match.
    #[error("signature verification failed")]
    BadSignature,
}

/// The chain named by `chain_type` (`ETH` by default, case-insensitive).
pub fn chain(chain_type: Option<&str>) -> Result<Chain, WalletError> {
    match chain_type.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(Chain::Eth),
        Some(c) if c.eq_ignore_ascii_case("eth") => Ok(Chain::Eth),
        Some(c) if c.eq_ignore_ascii_case("sol") => Ok(Chain::Sol),
        Some(other) => Err(WalletError::BadChain(other.to_owned())),
    }
}

/// The canonical form of `wallet`: `0x` + lowercase hex for Ethereum, the base58 key as is
/// for Solana (base58 is case-sensitive).
pub fn normalize(chain: Chain, wallet: &str) -> Result<String, WalletError> {
    let wallet = wallet.trim();
    match chain {
        Chain::Eth => {
            let hex = wallet.strip_prefix("0x").or_else(|| wallet.strip_prefix("0X")).unwrap_or(wallet);
            if hex.len() == 40 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
                Ok(format!("0x{}", hex.to_ascii_lowercase()))
            } else {
                Err(WalletError::BadAddress)
            }
        }
        Chain::Sol => match bs58::decode(wallet).into_vec() {
            Ok(bytes) if bytes.len() == 32 => Ok(wallet.to_owned()),
            _ => Err(WalletError::BadAddress),
        },
    }
}

/// The chain and canonical address of `wallet`: the chain `chain_type` names (strictly), or,
/// when none is given, the one the address is valid for (Ethereum first).
pub fn identify(chain_type: Option<&str>, wallet: &str) -> Result<(Chain, String), WalletError> {
    if chain_type.is_some_and(|c| !c.trim().is_empty()) {
        let chain = chain(chain_type)?;
        return normalize(chain, wallet).map(|w| (chain, w));
    }
    [Chain::Eth, Chain::Sol]
        .into_iter()
        .find_map(|chain| normalize(chain, wallet).ok().map(|w| (chain, w)))
        .ok_or(WalletError::BadAddress)
}

/// Checks that `signature` over `message` was made by `wallet` (already normalized).
pub fn verify(chain: Chain, wallet: &str, message: &[u8], signature: &str) -> Result<(), WalletError> {
    match chain {
        Chain::Eth => {
            let recovered = recover_eth_address(message, signature)?;
            if recovered == wallet { Ok(()) } else { Err(WalletError::BadSignature) }
        }
        Chain::Sol => {
            let key = bs58::decode(wallet).into_vec().map_err(|_| WalletError::BadAddress)?;
            let signature = STANDARD.decode(signature.trim()).map_err(|_| WalletError::BadSignature)?;
            let key = aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, key);
            key.verify(message, &signature).map_err(|_| WalletError::BadSignature)
        }
    }
}

/// The EIP-191 `personal_sign` digest of `message`.
pub fn personal_sign_digest(message: &[u8]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    hasher.update(format!("\x19Ethereum Signed Message:\n{}", message.len()).as_bytes());
    hasher.update(message);
    hasher.finalize().into()
}

/// The `0x` address of an Ethereum public key.
pub fn eth_address(key: &VerifyingKey) -> String {
    let point = key.to_sec1_point(false);
    let digest = Keccak256::digest(&point.as_bytes()[1..]);
    format!("0x{}", crate::http::wire::hex(&digest[12..]))
}

/// Recovers the signer's address from a 65-byte `r‖s‖v` hex signature (`v` 0/1 or 27/28).
fn recover_eth_address(message: &[u8], signature: &str) -> Result<String, WalletError> {
    let hex = signature.trim();
    let hex = hex.strip_prefix("0x").or_else(|| hex.strip_prefix("0X")).unwrap_or(hex);
    if hex.len() != 130 || !hex.is_ascii() {
        return Err(WalletError::BadSignature);
    }
    let bytes: Vec<u8> = (0..65)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|_| WalletError::BadSignature)?;
    let v = if bytes[64] >= 27 { bytes[64] - 27 } else { bytes[64] };
    if v > 1 {
        return Err(WalletError::BadSignature);
    }
    let signature = Signature::from_slice(&bytes[..64]).map_err(|_| WalletError::BadSignature)?;
    let key =
        VerifyingKey::recover_from_prehash(&personal_sign_digest(message), &signature, RecoveryId::new(v == 1, false))
            .map_err(|_| WalletError::BadSignature)?;
    Ok(eth_address(&key))
}

#[cfg(test)]
mod tests {
    use k256::ecdsa::SigningKey;

    use super::*;

    /// Signs `message` as MetaMask's personal_sign does: hex `r‖s‖v` with v = 27/28.
    fn eth_sign(key: &SigningKey, message: &[u8]) -> String {
        let (signature, recovery) = key.sign_prehash_recoverable(&personal_sign_digest(message));
        let mut bytes = signature.to_bytes().to_vec();
        bytes.push(27 + recovery.to_byte());
        format!("0x{}", crate::http::wire::hex(&bytes))
    }

    #[test]
    fn ethereum_personal_sign_is_recovered_to_the_address() {
        let key = SigningKey::from_slice(&[7u8; 32]).expect("key");
        let wallet = eth_address(key.verifying_key());
        let signature = eth_sign(&key, b"nonce-123");
        assert_eq!(verify(Chain::Eth, &wallet, b"nonce-123", &signature), Ok(()));
        assert_eq!(verify(Chain::Eth, &wallet, b"nonce-124", &signature), Err(WalletError::BadSignature));
        let other = eth_address(SigningKey::from_slice(&[8u8; 32]).expect("key").verifying_key());
        assert_eq!(verify(Chain::Eth, &other, b"nonce-123", &signature), Err(WalletError::BadSignature));
        let v01 = format!("{}{:02x}", &signature[..130], u8::from_str_radix(&signature[130..], 16).expect("v") - 27);
        assert_eq!(verify(Chain::Eth, &wallet, b"nonce-123", &v01), Ok(()), "v as 0/1 is accepted too");
        for bad in ["", "0x12", &signature[..100], &format!("{}ff", &signature[..130])] {
            assert_eq!(verify(Chain::Eth, &wallet, b"nonce-123", bad), Err(WalletError::BadSignature), "{bad}");
        }
    }

    #[test]
    fn addresses_are_normalized_and_validated() {
        assert_eq!(
            normalize(Chain::Eth, "0xABCDEF0123456789abcdef0123456789ABCDEF01").as_deref(),
            Ok("0xabcdef0123456789abcdef0123456789abcdef01")
        );
        assert_eq!(
            normalize(Chain::Eth, "abcdef0123456789abcdef0123456789abcdef01").as_deref(),
            Ok("0xabcdef0123456789abcdef0123456789abcdef01")
        );
        assert_eq!(normalize(Chain::Eth, "0x1234"), Err(WalletError::BadAddress));
        assert_eq!(normalize(Chain::Sol, "0x1234"), Err(WalletError::BadAddress));
        assert_eq!(chain(Some("sol")), Ok(Chain::Sol));
        assert_eq!(chain(None), Ok(Chain::Eth));
        assert!(matches!(chain(Some("btc")), Err(WalletError::BadChain(_))));
        let sol = bs58::encode([5u8; 32]).into_string();
        assert_eq!(identify(None, &sol).map(|(c, _)| c), Ok(Chain::Sol), "inferred when not named");
        assert_eq!(identify(Some("ETH"), &sol), Err(WalletError::BadAddress), "a named chain is strict");
        assert!(matches!(
            identify(Some("btc"), "0xabcdef0123456789abcdef0123456789abcdef01"),
            Err(WalletError::BadChain(_))
        ));
        assert_eq!(identify(None, "nonsense"), Err(WalletError::BadAddress));
    }

    #[test]
    fn solana_ed25519_signatures_verify() {
        use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
        let pair = Ed25519KeyPair::from_seed_unchecked(&[9u8; 32]).expect("key");
        let wallet = bs58::encode(pair.public_key().as_ref()).into_string();
        assert_eq!(normalize(Chain::Sol, &wallet).as_deref(), Ok(wallet.as_str()));
        let signature = STANDARD.encode(pair.sign(b"nonce-xyz").as_ref());
        assert_eq!(verify(Chain::Sol, &wallet, b"nonce-xyz", &signature), Ok(()));
        assert_eq!(verify(Chain::Sol, &wallet, b"nonce-abc", &signature), Err(WalletError::BadSignature));
        assert_eq!(verify(Chain::Sol, &wallet, b"nonce-xyz", "not base64!"), Err(WalletError::BadSignature));
    }
}

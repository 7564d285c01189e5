//! A module's content hash (the SHA-256 of its bytes) as text: 64 lowercase hex digits, the
//! form the runner's API answers and accepts and its precompiled files are named by.

/// `hash` as 64 lowercase hex digits.
pub(crate) fn to_hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash written as 64 hex digits in `text`, if it is one.
pub(crate) fn from_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_reads_back_from_its_hex_and_nothing_else_does() {
        let hash: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        let text = to_hex(&hash);
        assert_eq!(text.len(), 64);
        assert_eq!(from_hex(&text), Some(hash));
        assert_eq!(from_hex(&text[..62]), None);
        assert_eq!(from_hex(&"zz".repeat(32)), None);
        assert_eq!(from_hex(&"é".repeat(32)), None, "multi-byte text is refused, not split");
    }
}

//! `X-Hub-Signature-256` verification over the raw body, in constant time, against every
//! accepted secret (current and previous during a rotation). Pure: no I/O, no logging.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no X-Hub-Signature-256 header")]
    Missing,
    #[error("X-Hub-Signature-256 is not sha256=<64 hex digits>")]
    Malformed,
    #[error("signature does not match any accepted secret")]
    Mismatch,
}

const PREFIX: &str = "sha256=";

/// Checks `header` (the value of `X-Hub-Signature-256`) against the HMAC-SHA256 of `body` under
/// each secret. The legacy SHA-1 `X-Hub-Signature` is never enough on its own.
pub fn verify_signature<'a>(
    header: Option<&str>,
    body: &[u8],
    secrets: impl IntoIterator<Item = &'a SecretString>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex_digest = match header.get(..PREFIX.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(PREFIX) => &header[PREFIX.len()..],
        _ => return Err(SignatureError::Malformed),
    };
    let mut expected = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut expected).map_err(|_| SignatureError::Malformed)?;
    let mut matched = false;
    for secret in secrets {
        let mut mac = match Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()) {
            Ok(mac) => mac,
            Err(_) => continue,
        };
        mac.update(body);
        // `verify_slice` compares in constant time; every secret is tried, so timing does not
        // tell which one matched either.
        matched |= mac.verify_slice(&expected).is_ok();
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// `sha256=<hex>` for `body` under `secret` (what GitHub sends; used by tests, the demo and benches).
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
    };
    mac.update(body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR_SECRET: &str = "It's a Secret to Everybody";
    const VECTOR_SIG: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn githubs_published_test_vector() {
        assert_eq!(sign(VECTOR_SECRET, b"Hello, World!"), VECTOR_SIG);
        assert_eq!(
            verify_signature(Some(VECTOR_SIG), b"Hello, World!", [&secret(VECTOR_SECRET)]),
            Ok(())
        );
    }

    #[test]
    fn previous_secret_is_accepted_during_rotation() {
        let (current, previous) = (secret("new"), secret(VECTOR_SECRET));
        assert_eq!(
            verify_signature(Some(VECTOR_SIG), b"Hello, World!", [&current, &previous]),
            Ok(())
        );
        assert_eq!(
            verify_signature(Some(VECTOR_SIG), b"Hello, World!", [&current]),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn rejects_every_malformed_or_wrong_signature() {
        let s = secret(VECTOR_SECRET);
        let body = b"Hello, World!";
        assert_eq!(
            verify_signature(None, body, [&s]),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(Some(""), body, [&s]),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(Some(&VECTOR_SIG[..40]), body, [&s]),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(Some(&VECTOR_SIG[7..]), body, [&s]),
            Err(SignatureError::Malformed)
        );
        let sha1 = "sha1=0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            verify_signature(Some(sha1), body, [&s]),
            Err(SignatureError::Malformed)
        );
        let non_hex = format!("sha256={}", "zz".repeat(32));
        assert_eq!(
            verify_signature(Some(&non_hex), body, [&s]),
            Err(SignatureError::Malformed)
        );
        let multibyte = format!("sha256={}", "é".repeat(32));
        assert_eq!(
            verify_signature(Some(&multibyte), body, [&s]),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(Some("shä"), body, [&s]),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(Some(VECTOR_SIG), b"Hello, World?", [&s]),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(Some(VECTOR_SIG), b"", [&s]),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(Some(VECTOR_SIG), body, []),
            Err(SignatureError::Mismatch)
        );
        let upper = format!("SHA256={}", VECTOR_SIG[7..].to_uppercase());
        assert_eq!(
            verify_signature(Some(&upper), body, [&s]),
            Ok(()),
            "hex and prefix case do not matter"
        );
    }

    #[test]
    fn empty_body_can_be_signed() {
        let s = secret("k");
        assert_eq!(verify_signature(Some(&sign("k", b"")), b"", [&s]), Ok(()));
    }
}

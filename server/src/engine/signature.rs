//! Offline signature checks with keys a policy carries: PEM public keys (X.509 SubjectPublicKeyInfo) of
//! ECDSA P-256 and RSA verified over SHA-256, as sigstore's verifiers do for cosign keys, and HMAC-SHA2
//! for JSON web tokens. Nothing here fetches a key or a certificate.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use num_bigint::BigUint;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// A public key read from a PEM `PUBLIC KEY` block.
#[derive(Clone, Debug)]
pub enum PublicKey {
    EcdsaP256(Box<p256::ecdsa::VerifyingKey>),
    Rsa { modulus: BigUint, exponent: BigUint },
}

/// Why a key cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The text is not a public key (the real tool fails to load it too).
    Invalid(String),
    /// A valid key of a type this engine does not verify (P-384, Ed25519, ...): the result is unknown.
    Unsupported(String),
}

/// Reads the first PEM block of `text`, which must be a `PUBLIC KEY` (as sigstore's
/// `cryptoutils.UnmarshalPEMToPublicKey` reads cosign keys).
pub fn parse_pem_public_key(text: &str) -> Result<PublicKey, KeyError> {
    let der = pem_block(text, "PUBLIC KEY").ok_or_else(|| KeyError::Invalid("no PEM public key block".to_string()))?;
    parse_subject_public_key_info(&der)
}

/// The bytes of the first PEM block of `text`, when its label is `label`.
fn pem_block(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = text.find("-----BEGIN ")?;
    let rest = &text[begin + "-----BEGIN ".len()..];
    let label_end = rest.find("-----")?;
    if &rest[..label_end] != label {
        return None;
    }
    let body_start = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let body_end = body_start.find(&end_marker)?;
    let body: String = body_start[..body_end].chars().filter(|character| !character.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const OID_PRIME256V1: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const OID_RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const OID_ED25519: &[u8] = &[0x2B, 0x65, 0x70];

/// Reads `SEQUENCE { SEQUENCE { algorithm OID, parameters }, BIT STRING key }`.
fn parse_subject_public_key_info(der: &[u8]) -> Result<PublicKey, KeyError> {
    let invalid = || KeyError::Invalid("malformed SubjectPublicKeyInfo".to_string());
    let mut outer = Der::new(der);
    let mut info = Der::new(outer.expect(TAG_SEQUENCE).ok_or_else(invalid)?);
    if !outer.is_empty() {
        return Err(invalid());
    }
    let mut algorithm = Der::new(info.expect(TAG_SEQUENCE).ok_or_else(invalid)?);
    let oid = algorithm.expect(TAG_OID).ok_or_else(invalid)?;
    let key_bits = info.expect(TAG_BIT_STRING).ok_or_else(invalid)?;
    let key = match key_bits.split_first() {
        Some((0, key)) => key,
        _ => return Err(invalid()),
    };
    match oid {
        OID_EC_PUBLIC_KEY => {
            let curve = algorithm.expect(TAG_OID).ok_or_else(invalid)?;
            if curve != OID_PRIME256V1 {
                return Err(KeyError::Unsupported(
                    "ECDSA keys on curves other than P-256 are not verified offline".to_string(),
                ));
            }
            p256::ecdsa::VerifyingKey::from_sec1_bytes(key)
                .map(|key| PublicKey::EcdsaP256(Box::new(key)))
                .map_err(|_| KeyError::Invalid("the P-256 point is not on the curve".to_string()))
        }
        OID_RSA_ENCRYPTION => {
            let mut sequence = Der::new(key);
            let mut numbers = Der::new(sequence.expect(TAG_SEQUENCE).ok_or_else(invalid)?);
            let modulus = numbers.expect(TAG_INTEGER).ok_or_else(invalid)?;
            let exponent = numbers.expect(TAG_INTEGER).ok_or_else(invalid)?;
            let (modulus, exponent) = (BigUint::from_bytes_be(modulus), BigUint::from_bytes_be(exponent));
            // Go's verifier refuses moduli over 16384 bits and exponents that do not fit an int; the bounds
            // also keep a crafted key from making the modular power run for minutes.
            if modulus.bits() > 16384 || exponent.bits() > 31 {
                return Err(KeyError::Unsupported("RSA keys this large are not verified offline".to_string()));
            }
            Ok(PublicKey::Rsa { modulus, exponent })
        }
        OID_ED25519 => Err(KeyError::Unsupported("Ed25519 keys are not verified offline".to_string())),
        _ => Err(KeyError::Unsupported("this public key algorithm is not verified offline".to_string())),
    }
}

/// Whether `signature` (ASN.1 DER for ECDSA, raw for RSA PKCS #1 v1.5) signs `message` with `key` over
/// SHA-256, as sigstore's `LoadVerifier(key, crypto.SHA256)` checks cosign blob signatures.
pub fn verify_sha256(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    match key {
        PublicKey::EcdsaP256(key) => {
            use p256::ecdsa::signature::Verifier as _;
            // Go's `ecdsa.VerifyASN1` accepts any DER signature with r and s in range, high S included,
            // and so does this verifier (P-256 does not require low-S signatures).
            match p256::ecdsa::DerSignature::try_from(signature) {
                Ok(signature) => key.verify(message, &signature).is_ok(),
                Err(_) => false,
            }
        }
        PublicKey::Rsa { modulus, exponent } => {
            rsa_pkcs1v15_sha256(modulus, exponent, &Sha256::digest(message), signature)
        }
    }
}

/// RSASSA-PKCS1-v1_5 verification with SHA-256 (RFC 8017 section 8.2.2), as Go's `rsa.VerifyPKCS1v15`:
/// the signature is as long as the modulus, below it, and opens to the one expected encoding.
fn rsa_pkcs1v15_sha256(modulus: &BigUint, exponent: &BigUint, digest: &[u8], signature: &[u8]) -> bool {
    // The DER `DigestInfo` prefix for SHA-256.
    const PREFIX: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
        0x20,
    ];
    let length = modulus.bits().div_ceil(8) as usize;
    // Go refuses keys under 1024 bits.
    if modulus.bits() < 1024 || signature.len() != length || *exponent < BigUint::from(2u8) {
        return false;
    }
    let value = BigUint::from_bytes_be(signature);
    if &value >= modulus {
        return false;
    }
    let opened = value.modpow(exponent, modulus).to_bytes_be();
    let mut encoded = vec![0u8; length - opened.len().min(length)];
    encoded.extend_from_slice(&opened);
    let mut expected = vec![0x00, 0x01];
    let padding = length.saturating_sub(3 + PREFIX.len() + digest.len());
    if padding < 8 {
        return false;
    }
    expected.extend(std::iter::repeat_n(0xff, padding));
    expected.push(0x00);
    expected.extend_from_slice(&PREFIX);
    expected.extend_from_slice(digest);
    encoded == expected
}

/// The SHA-2 HMACs of JSON web tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HmacAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

/// Whether `mac` is the HMAC of `message` under `key`, compared in constant time.
pub fn verify_hmac(algorithm: HmacAlgorithm, key: &[u8], message: &[u8], mac: &[u8]) -> bool {
    fn check<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8], mac: &[u8]) -> bool {
        match <M as hmac::digest::KeyInit>::new_from_slice(key) {
            Ok(mut state) => {
                state.update(message);
                state.verify_slice(mac).is_ok()
            }
            Err(_) => false,
        }
    }
    match algorithm {
        HmacAlgorithm::Sha256 => check::<Hmac<Sha256>>(key, message, mac),
        HmacAlgorithm::Sha384 => check::<Hmac<Sha384>>(key, message, mac),
        HmacAlgorithm::Sha512 => check::<Hmac<Sha512>>(key, message, mac),
    }
}

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

/// A reader of DER type-length-value items, enough for public key structures.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Der { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The contents of the next item when its tag is `tag`; `None` on any other tag or a bad length.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (&found, rest) = self.rest.split_first()?;
        if found != tag {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let length = if first < 0x80 {
            first as usize
        } else {
            let count = (first & 0x7f) as usize;
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let length = rest[..count].iter().fold(0usize, |total, byte| (total << 8) | *byte as usize);
            rest = &rest[count..];
            length
        };
        if rest.len() < length {
            return None;
        }
        let (contents, after) = rest.split_at(length);
        self.rest = after;
        Some(contents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys made for these tests with Python's `cryptography`, and signatures of `hello` over SHA-256.
    const P256_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEaDJfY2tydX1Suhce+8Y1xbLK5+zY
S0cXT6nS8MsPCHq5KWYrYQ6a198PBoif+wJt6wwmhw6DC7jEFJTHrZTqBw==
-----END PUBLIC KEY-----";
    const P256_SIGNATURE: &str =
        "MEYCIQCv45X9fBk+6db8i+xF2FHOSQJksxqVuqT8Qk3JX6dBFAIhAKUrjcf7hmZt7bdKZ5y3J3ta3n/CtR6ZIK+BtoKpT9+H";
    const RSA_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAk8EdUs4h9AxTSN36GrZy
HObI1joS7qjN0Cbrjui1tUM6ojQp3mI3CpYyPQiGf4SzVv0IHCeRbghDHKsHfzBY
KPzRLfwmGwHGPZHQr9jaQ/aRHcwt4XpTWluabORuJgJxEIpeeKgsqBdJDoOwj+CU
ea4p4gYuTdn+K7iQ1bRSan8cVvyogldlSMukrCb27qJiWU+ETBg9B2v4zBsUMP+w
nAA/31shDaFOFeokWz+hoSF8jZipCn/LWHyKrLLXBkihXpTnQkl94dCey7oVRWAb
WprmDoNL4/v6xhaIeuU+9ivZaSHq2wDF2NsLCDcQNW2d7vveofkRoZusWqFH0Kz/
QQIDAQAB
-----END PUBLIC KEY-----";
    const RSA_SIGNATURE: &str = "I7QvYbCuDbF5T2JnGnkYM7IJ85G7Rp3zHXAUTycZ76jcKduAXGgHpP4+Ei6E9UkFHYMCoePNWPVw3rUIhZpnMgfU/aK5HVBqO5oM3l16fcbUmRAt8bkrGOQ8x6IuXysfQjucyRrvExLyLAhugFBPkUAx6oKTugJXys7Wmbq2mdemHQ2XUG+h+Gf85MNGBNAugXIpNi01+W468RIuWFEXL9o0iCb4JXC7qU03YsY/a4tW1sfegTMTFarqeb6wNBq2YHkeBRT/W7VnD3QY+xGfr1m+h5xZPro3ffsbDhuuJu6Mn7zJgTkXBhrlDYU7cTcwWiLj8eT56hT8gEva/AMd8g==";
    const P384_KEY: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAESwHH4GCY9dPufh2mVsdspoEjLoxfxeSO
ReU7Kh9MrCV/u9OXUdfB3IgsQETkTS69ajmbeqk2B3NhbnR4KSBpy2Zjs9Wz8L+d
J2CYFQSPNU6/AKf2M5/6Z3DQakzrhUbe
-----END PUBLIC KEY-----";

    fn check(key: &str, signature: &str, message: &[u8]) -> bool {
        let key = parse_pem_public_key(key).expect("a public key");
        let signature = base64::engine::general_purpose::STANDARD.decode(signature).expect("base64");
        verify_sha256(&key, message, &signature)
    }

    #[test]
    fn ecdsa_p256_signatures_verify_for_their_message_only() {
        assert!(check(P256_KEY, P256_SIGNATURE, b"hello"));
        assert!(!check(P256_KEY, P256_SIGNATURE, b"hellO"));
        assert!(!check(P256_KEY, RSA_SIGNATURE, b"hello"));
    }

    #[test]
    fn rsa_signatures_verify_for_their_message_and_key_only() {
        assert!(check(RSA_KEY, RSA_SIGNATURE, b"hello"));
        assert!(!check(RSA_KEY, RSA_SIGNATURE, b"hello!"));
        assert!(!check(RSA_KEY, P256_SIGNATURE, b"hello"));
    }

    #[test]
    fn other_keys_are_unsupported_and_non_keys_invalid() {
        assert!(matches!(parse_pem_public_key(P384_KEY), Err(KeyError::Unsupported(_))));
        assert!(matches!(parse_pem_public_key("not a key"), Err(KeyError::Invalid(_))));
        assert!(matches!(
            parse_pem_public_key("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
            Err(KeyError::Invalid(_))
        ));
        // The P-256 key with a corrupted point is no key.
        let corrupted = P256_KEY.replace("aDJfY2ty", "aDJfY2tz");
        assert!(matches!(parse_pem_public_key(&corrupted), Err(KeyError::Invalid(_))));
    }

    #[test]
    fn hmac_accepts_the_right_key_only() {
        // RFC 4231 test case 2.
        let mac = [
            0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00,
            0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43,
        ];
        assert!(verify_hmac(HmacAlgorithm::Sha256, b"Jefe", b"what do ya want for nothing?", &mac));
        assert!(!verify_hmac(HmacAlgorithm::Sha256, b"jefe", b"what do ya want for nothing?", &mac));
        assert!(!verify_hmac(HmacAlgorithm::Sha384, b"Jefe", b"what do ya want for nothing?", &mac));
    }
}

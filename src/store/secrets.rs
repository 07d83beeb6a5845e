//! Encryption of secrets kept in the store (the rotated refresh token): AES-256-GCM from
//! aws-lc-rs, a random nonce per seal, the row's key as associated data. Pure code over bytes;
//! imports nothing of ours, and keys come in as bytes (only `config` reads the environment).

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use secrecy::SecretString;

/// Length of a key in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// A secret as stored: ciphertext with its tag, the nonce, and the id of the key that sealed it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The ciphertext followed by the 16-byte GCM tag.
    pub ciphertext: Vec<u8>,
    /// The 12-byte nonce drawn for this seal.
    pub nonce: Vec<u8>,
    /// [`key_id`] of the key that sealed it.
    pub key_id: String,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// Why a secret could not be sealed or opened. Messages carry key ids, never key or secret bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// A key that is not 32 bytes.
    #[error("a secret key must be {KEY_LEN} bytes, got {0}")]
    KeyLength(usize),
    /// The secret was sealed with a key that neither configured key is.
    #[error(
        "the stored secret was encrypted with key id {key_id}, which is neither \
         TENANTGRAPH_SECRET_KEY (key id {current}) nor TENANTGRAPH_SECRET_KEY_PREVIOUS ({previous}); \
         set the key it was written with as TENANTGRAPH_SECRET_KEY_PREVIOUS"
    )]
    UnknownKey {
        /// The key id stored with the secret.
        key_id: String,
        /// The current key's id.
        current: String,
        /// The previous key's id, or `unset`.
        previous: String,
    },
    /// The key id matches but the ciphertext does not open: another key with a colliding id,
    /// or a row altered or moved to another owner.
    #[error(
        "the stored secret does not decrypt with key id {key_id} (altered, moved to another row, \
         or another key); check TENANTGRAPH_SECRET_KEY and TENANTGRAPH_SECRET_KEY_PREVIOUS"
    )]
    Undecryptable {
        /// The key id stored with the secret.
        key_id: String,
    },
    /// The system's random generator or the cipher failed.
    #[error("encryption failed: {0}")]
    Crypto(&'static str),
}

/// The id stored beside each ciphertext: the first 8 hex digits of the key's SHA-256
/// (`base64 -d <<<"$KEY" | sha256sum | cut -c1-8`).
pub fn key_id(key: &[u8]) -> String {
    digest(&SHA256, key)
        .as_ref()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh random key, base64 encoded as `TENANTGRAPH_SECRET_KEY` takes it (for `--demo`).
pub fn generate_key() -> Result<SecretString, SealError> {
    let mut key = [0u8; KEY_LEN];
    aws_lc_rs::rand::fill(&mut key).map_err(|_| SealError::Crypto("no random bytes"))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(key);
    key.fill(0);
    Ok(SecretString::from(encoded))
}

struct Key {
    id: String,
    aead: RandomizedNonceKey,
}

impl Key {
    fn new(bytes: &[u8]) -> Result<Key, SealError> {
        if bytes.len() != KEY_LEN {
            return Err(SealError::KeyLength(bytes.len()));
        }
        let aead = RandomizedNonceKey::new(&AES_256_GCM, bytes)
            .map_err(|_| SealError::Crypto("the key was refused"))?;
        Ok(Key {
            id: key_id(bytes),
            aead,
        })
    }
}

/// The current key, which seals, and the previous one, which still opens older rows.
pub struct Keyring {
    current: Key,
    previous: Option<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field("previous", &self.previous.as_ref().map(|k| &k.id))
            .finish()
    }
}

impl Keyring {
    /// A keyring sealing with `current` and opening with either key; each must be 32 bytes.
    pub fn new(current: &[u8], previous: Option<&[u8]>) -> Result<Keyring, SealError> {
        Ok(Keyring {
            current: Key::new(current)?,
            previous: previous.map(Key::new).transpose()?,
        })
    }

    /// The id of the key new seals use.
    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Encrypts `secret` with the current key and a fresh random nonce, bound to `owner` (the
    /// row's key): the ciphertext opens only with the same `owner`.
    pub fn seal(&self, secret: &str, owner: &str) -> Result<Sealed, SealError> {
        let mut in_out = secret.as_bytes().to_vec();
        let nonce = self
            .current
            .aead
            .seal_in_place_append_tag(Aad::from(owner.as_bytes()), &mut in_out)
            .map_err(|_| SealError::Crypto("sealing failed"))?;
        Ok(Sealed {
            ciphertext: in_out,
            nonce: nonce.as_ref().to_vec(),
            key_id: self.current.id.clone(),
        })
    }

    /// Decrypts what [`Keyring::seal`] sealed for `owner`, with whichever key has its id.
    pub fn open(&self, sealed: &Sealed, owner: &str) -> Result<SecretString, SealError> {
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| SealError::UnknownKey {
                key_id: sealed.key_id.clone(),
                current: self.current.id.clone(),
                previous: self
                    .previous
                    .as_ref()
                    .map_or_else(|| "unset".to_owned(), |k| format!("key id {}", k.id)),
            })?;
        let undecryptable = || SealError::Undecryptable {
            key_id: sealed.key_id.clone(),
        };
        if sealed.nonce.len() != NONCE_LEN {
            return Err(undecryptable());
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed.nonce).map_err(|_| undecryptable())?;
        let mut in_out = sealed.ciphertext.clone();
        let plain = key
            .aead
            .open_in_place(nonce, Aad::from(owner.as_bytes()), &mut in_out)
            .map_err(|_| undecryptable())?;
        let text = std::str::from_utf8(plain)
            .map(|t| SecretString::from(t.to_owned()))
            .map_err(|_| undecryptable());
        in_out.fill(0);
        text
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const A: [u8; KEY_LEN] = [0xa1; KEY_LEN];
    const B: [u8; KEY_LEN] = [0xb2; KEY_LEN];

    #[test]
    fn a_sealed_secret_opens_with_its_owner_and_hides_its_bytes() {
        let keys = Keyring::new(&A, None).unwrap();
        let sealed = keys.seal("sim-rt-0123456789", "client-1").unwrap();
        assert_eq!(sealed.nonce.len(), NONCE_LEN);
        assert_eq!(sealed.ciphertext.len(), "sim-rt-0123456789".len() + 16);
        assert!(
            !sealed.ciphertext.windows(6).any(|w| w == b"sim-rt"),
            "no plaintext in the ciphertext"
        );
        let opened = keys.open(&sealed, "client-1").unwrap();
        assert_eq!(opened.expose_secret(), "sim-rt-0123456789");
    }

    #[test]
    fn each_seal_draws_a_new_nonce() {
        let keys = Keyring::new(&A, None).unwrap();
        let first = keys.seal("same", "owner").unwrap();
        let second = keys.seal("same", "owner").unwrap();
        assert_ne!(first.nonce, second.nonce);
        assert_ne!(first.ciphertext, second.ciphertext);
    }

    #[test]
    fn another_owner_or_an_altered_byte_does_not_open() {
        let keys = Keyring::new(&A, None).unwrap();
        let sealed = keys.seal("token", "client-1").unwrap();
        assert!(matches!(
            keys.open(&sealed, "client-2"),
            Err(SealError::Undecryptable { .. })
        ));
        for i in 0..sealed.ciphertext.len() {
            let mut altered = sealed.clone();
            altered.ciphertext[i] ^= 1;
            assert!(keys.open(&altered, "client-1").is_err(), "byte {i}");
        }
        let mut short_nonce = sealed.clone();
        short_nonce.nonce.pop();
        assert!(keys.open(&short_nonce, "client-1").is_err());
    }

    #[test]
    fn the_previous_key_opens_and_the_current_one_seals() {
        let old = Keyring::new(&A, None).unwrap();
        let sealed = old.seal("token", "c").unwrap();
        let rotated = Keyring::new(&B, Some(&A)).unwrap();
        assert_eq!(rotated.open(&sealed, "c").unwrap().expose_secret(), "token");
        let resealed = rotated.seal("token", "c").unwrap();
        assert_eq!(resealed.key_id, key_id(&B));
        assert_eq!(sealed.key_id, key_id(&A));
    }

    #[test]
    fn an_unknown_key_id_names_the_previous_key_setting() {
        let sealed = Keyring::new(&A, None).unwrap().seal("token", "c").unwrap();
        let err = Keyring::new(&B, None)
            .unwrap()
            .open(&sealed, "c")
            .unwrap_err();
        assert!(matches!(err, SealError::UnknownKey { .. }));
        let text = err.to_string();
        assert!(text.contains("TENANTGRAPH_SECRET_KEY_PREVIOUS"), "{text}");
        assert!(
            text.contains(&key_id(&A)) && text.contains(&key_id(&B)),
            "{text}"
        );
    }

    #[test]
    fn key_ids_are_8_hex_digits_of_the_sha256_and_keys_must_be_32_bytes() {
        // SHA-256 of 32 zero bytes starts with 66687aad.
        assert_eq!(key_id(&[0u8; 32]), "66687aad");
        assert_eq!(
            Keyring::new(&[0u8; 16], None).unwrap_err(),
            SealError::KeyLength(16)
        );
        assert!(Keyring::new(&A, Some(&[1u8; 31])).is_err());
    }

    #[test]
    fn generated_keys_are_32_random_bytes_in_base64() {
        let engine = base64::engine::general_purpose::STANDARD;
        let first = engine
            .decode(generate_key().unwrap().expose_secret())
            .unwrap();
        let second = engine
            .decode(generate_key().unwrap().expose_secret())
            .unwrap();
        assert_eq!(first.len(), KEY_LEN);
        assert_ne!(first, second);
    }
}

//! Secrets at rest: the keys that encrypt secrets in the store (the rotated refresh token), and
//! how any secret setting is given (the value, or a `_FILE` holding it).

use std::fmt;

use secrecy::{SecretSlice, SecretString};
use serde::{Deserialize, Serialize};

use super::SettingsError;

const SECRET_KEY: &str = "TENANTGRAPH_SECRET_KEY";
const SECRET_KEY_PREVIOUS: &str = "TENANTGRAPH_SECRET_KEY_PREVIOUS";
/// Bytes of a secret key (AES-256).
const SECRET_KEY_BYTES: usize = 32;

/// The secret keys as read. `Debug` shows none of them.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct SecretsSection {
    /// 32 random bytes in base64 that encrypt the rotated refresh token in the store (prefer
    /// `secret_key_file`); required with importer credentials, except with `--demo`.
    pub secret_key: Option<String>,
    /// File holding the secret key.
    pub secret_key_file: Option<String>,
    /// The key before the last rotation: still decrypts rows written with it.
    pub secret_key_previous: Option<String>,
    /// File holding the previous secret key.
    pub secret_key_previous_file: Option<String>,
}

impl fmt::Debug for SecretsSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsSection")
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "[redacted]"),
            )
            .field("secret_key_file", &self.secret_key_file)
            .field(
                "secret_key_previous",
                &self.secret_key_previous.as_ref().map(|_| "[redacted]"),
            )
            .field("secret_key_previous_file", &self.secret_key_previous_file)
            .finish()
    }
}

impl SecretsSection {
    /// Whether a current key is configured (as a value or a file).
    pub fn has_key(&self) -> bool {
        self.secret_key.is_some() || self.secret_key_file.is_some()
    }

    /// The keys, decoded; `None` when no key is set. Refuses a key that is not 32 bytes of
    /// base64, and a previous key without a current one.
    pub(super) fn check(&self) -> Result<Option<SecretKeys>, SettingsError> {
        let current = secret_key(SECRET_KEY, &self.secret_key, &self.secret_key_file)?;
        let previous = secret_key(
            SECRET_KEY_PREVIOUS,
            &self.secret_key_previous,
            &self.secret_key_previous_file,
        )?;
        match (current, previous) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(SettingsError::new(
                SECRET_KEY,
                "required when TENANTGRAPH_SECRET_KEY_PREVIOUS is set: the previous key only \
                 decrypts, the current one encrypts",
            )),
            (Some(current), previous) => Ok(Some(SecretKeys { current, previous })),
        }
    }
}

/// The error of credentials set without a key to encrypt what they lead to.
pub(super) fn key_required_with_credentials() -> SettingsError {
    SettingsError::new(
        SECRET_KEY,
        "required with importer credentials, to encrypt the rotated refresh token in the store: \
         32 random bytes in base64 (`openssl rand -base64 32`), or TENANTGRAPH_SECRET_KEY_FILE",
    )
}

/// A secret given directly or as a file (`_FILE`); both at once is refused.
pub(super) fn secret(
    key: &str,
    value: &Option<String>,
    file: &Option<String>,
) -> Result<Option<SecretString>, SettingsError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(SettingsError::new(
            key,
            format!("set {key} or {key}_FILE, not both"),
        )),
        (Some(value), None) => Ok(Some(SecretString::from(value.trim().to_owned()))),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|text| Some(SecretString::from(text.trim().to_owned())))
            .map_err(|e| {
                SettingsError::new(&format!("{key}_FILE"), format!("cannot read {path}: {e}"))
            }),
        (None, None) => Ok(None),
    }
}

/// A secret key (or its `_FILE`), decoded from base64 and checked to be 32 bytes. Errors never
/// show the value.
fn secret_key(
    key: &str,
    value: &Option<String>,
    file: &Option<String>,
) -> Result<Option<SecretSlice<u8>>, SettingsError> {
    use base64::Engine as _;
    let Some(text) = secret(key, value, file)? else {
        return Ok(None);
    };
    let expected = "expected 32 random bytes in base64 (`openssl rand -base64 32`)";
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(secrecy::ExposeSecret::expose_secret(&text))
        .map_err(|_| SettingsError::new(key, format!("{expected}; the value is not base64")))?;
    if bytes.len() != SECRET_KEY_BYTES {
        return Err(SettingsError::new(
            key,
            format!("{expected}; got {} bytes", bytes.len()),
        ));
    }
    Ok(Some(SecretSlice::from(bytes)))
}

/// The keys that encrypt secrets in the store (`TENANTGRAPH_SECRET_KEY`, `_PREVIOUS`), 32 bytes
/// each. `Debug` shows neither.
#[derive(Clone)]
pub struct SecretKeys {
    /// Encrypts every write and decrypts rows written with it.
    pub current: SecretSlice<u8>,
    /// Only decrypts rows written before the last rotation.
    pub previous: Option<SecretSlice<u8>>,
}

/// Keys are equal when their bytes are (settings are compared in tests).
impl PartialEq for SecretKeys {
    fn eq(&self, other: &Self) -> bool {
        use secrecy::ExposeSecret as _;
        let bytes = |k: &SecretSlice<u8>| k.expose_secret().to_vec();
        bytes(&self.current) == bytes(&other.current)
            && self.previous.as_ref().map(bytes) == other.previous.as_ref().map(bytes)
    }
}

impl Eq for SecretKeys {}

impl fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKeys")
            .field("current", &"[redacted]")
            .field("previous", &self.previous.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// 32 bytes in base64 (they read `s3cret…`): Debug output must never show them.
    pub(in crate::config) const KEY_S3CRET: &str = "czNjcmV0LWtleS0zMi1ieXRlcy1sb25nLXMzY3JldCE=";

    #[test]
    fn secret_keys_are_32_bytes_of_base64_named_but_never_shown() {
        for (value, expected) in [("not base64!", "not base64"), ("c2hvcnQ=", "got 5 bytes")] {
            let section = SecretsSection {
                secret_key_previous: Some(value.into()),
                secret_key: Some(KEY_S3CRET.into()),
                ..SecretsSection::default()
            };
            let err = section.check().unwrap_err().to_string();
            assert!(err.contains("TENANTGRAPH_SECRET_KEY_PREVIOUS"), "{err}");
            assert!(err.contains(expected) && !err.contains(value), "{err}");
        }
        let previous_only = SecretsSection {
            secret_key_previous: Some(KEY_S3CRET.into()),
            ..SecretsSection::default()
        };
        let err = previous_only.check().unwrap_err().to_string();
        assert!(
            err.starts_with("invalid setting TENANTGRAPH_SECRET_KEY:"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, format!("{KEY_S3CRET}\n")).unwrap();
        let section = SecretsSection {
            secret_key_file: Some(file.display().to_string()),
            secret_key_previous: Some(KEY_S3CRET.into()),
            ..SecretsSection::default()
        };
        let keys = section.check().unwrap().unwrap();
        assert!(keys.previous.is_some());
        for text in [format!("{section:?}"), format!("{keys:?}")] {
            assert!(
                !text.contains(KEY_S3CRET) && !text.contains("s3cret"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_secret_and_its_file_at_once_are_refused() {
        let err = secret("TENANTGRAPH_X", &Some("a".into()), &Some("/f".into()))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid setting TENANTGRAPH_X: set TENANTGRAPH_X or TENANTGRAPH_X_FILE, not both"
        );
    }
}

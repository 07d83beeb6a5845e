//! Relay cursors: opaque to clients, checked when they come back.
//!
//! A cursor holds a list's ordering, the sort value of a row (a display name, a UPN, a tenant
//! name) and its id, sealed with AES-256-GCM-SIV under a server key, so that a cursor copied
//! into a URL or a proxy log shows nothing of the row, and a cursor altered by a client is
//! refused. The sealed text is padded to a multiple of [`PAD_TO`] bytes (the length of a name
//! shows only roughly). Sealing is deterministic (the same row gives the same cursor under the
//! same key), which GCM-SIV allows without a fresh nonce: a repeated nonce only shows that two
//! cursors are equal. The key is derived from `TENANTGRAPH_SECRET_KEY` when it is set (cursors
//! then survive restarts and are accepted by every replica sharing the key, and cursors sealed
//! with `TENANTGRAPH_SECRET_KEY_PREVIOUS` still open), else drawn at start.

use std::sync::Arc;

use async_graphql::Context;
use aws_lc_rs::aead::{AES_256_GCM_SIV, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::error::ApiError;
use crate::config::secrets::SecretKeys;
use crate::domain::{Cursor, PageRequest};

/// First byte of every cursor: the format, so that another one can follow.
const VERSION: u8 = 1;
/// The sealed text is padded with spaces to a multiple of this many bytes.
const PAD_TO: usize = 32;
/// Salt and info of the HKDF step deriving the cursor key from the secret key.
const KDF_SALT: &[u8] = b"tenantgraph cursors";
const KDF_INFO: &[u8] = b"aes-256-gcm-siv v1";

/// A key cursors are sealed with.
struct CursorKey(LessSafeKey);

impl CursorKey {
    /// The cursor key derived from a secret key (32 bytes) with HKDF-SHA256.
    fn derived(secret: &[u8]) -> Result<CursorKey, CursorKeyError> {
        let prk = Salt::new(HKDF_SHA256, KDF_SALT).extract(secret);
        let mut bytes = [0u8; 32];
        prk.expand(&[KDF_INFO], &AES_256_GCM_SIV)
            .and_then(|okm| okm.fill(&mut bytes))
            .map_err(|_| CursorKeyError("key derivation failed"))?;
        let key = CursorKey::from_bytes(&bytes);
        bytes.fill(0);
        key
    }

    /// A cursor key drawn from the system's random generator.
    fn random() -> Result<CursorKey, CursorKeyError> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| CursorKeyError("no random bytes"))?;
        let key = CursorKey::from_bytes(&bytes);
        bytes.fill(0);
        key
    }

    fn from_bytes(bytes: &[u8]) -> Result<CursorKey, CursorKeyError> {
        UnboundKey::new(&AES_256_GCM_SIV, bytes)
            .map(|key| CursorKey(LessSafeKey::new(key)))
            .map_err(|_| CursorKeyError("the key was refused"))
    }

    fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let mut in_out = sealed.to_vec();
        let plain = self
            .0
            .open_in_place(nonce(), Aad::from([VERSION]), &mut in_out)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// The fixed nonce: GCM-SIV under one nonce is a deterministic AEAD, which is what a cursor
/// wants (see the module comment).
fn nonce() -> Nonce {
    Nonce::assume_unique_for_key([0u8; NONCE_LEN])
}

/// Why the cursor keys could not be made (the system's random generator or the cipher failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cursor key: {0}")]
pub struct CursorKeyError(&'static str);

/// The keys of a server's cursors: the current one seals and opens, the previous one (derived
/// from `TENANTGRAPH_SECRET_KEY_PREVIOUS`) only opens.
pub struct Cursors {
    current: CursorKey,
    previous: Option<CursorKey>,
    /// Whether the key was drawn at start (cursors then die with the process).
    ephemeral: bool,
}

impl std::fmt::Debug for Cursors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursors")
            .field("ephemeral", &self.ephemeral)
            .finish_non_exhaustive()
    }
}

impl Cursors {
    /// Cursor keys derived from the secret keys, or a key drawn now when there are none.
    pub fn new(secrets: Option<&SecretKeys>) -> Result<Cursors, CursorKeyError> {
        match secrets {
            Some(keys) => Ok(Cursors {
                current: CursorKey::derived(keys.current.expose_secret())?,
                previous: keys
                    .previous
                    .as_ref()
                    .map(|k| CursorKey::derived(k.expose_secret()))
                    .transpose()?,
                ephemeral: false,
            }),
            None => Ok(Cursors {
                current: CursorKey::random()?,
                previous: None,
                ephemeral: true,
            }),
        }
    }

    /// Whether the key was drawn at start rather than derived from `TENANTGRAPH_SECRET_KEY`.
    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }

    /// The cursor of the row with sort value `key` and id `id` in a list ordered by `ordering`.
    pub fn encode(&self, ordering: &str, key: &str, id: Uuid) -> String {
        let mut in_out = serde_json::json!([ordering, key, id])
            .to_string()
            .into_bytes();
        in_out.resize(in_out.len().div_ceil(PAD_TO) * PAD_TO, b' ');
        // Sealing only fails for inputs of gigabytes; a cursor is a few hundred bytes.
        if self
            .current
            .0
            .seal_in_place_append_tag(nonce(), Aad::from([VERSION]), &mut in_out)
            .is_err()
        {
            tracing::error!("cursor could not be sealed");
            return String::new();
        }
        let mut text = Vec::with_capacity(in_out.len() + 1);
        text.push(VERSION);
        text.extend_from_slice(&in_out);
        URL_SAFE_NO_PAD.encode(text)
    }

    /// Opens a client's `after` for a list ordered by `ordering`; `BAD_USER_INPUT` naming
    /// `after` when it is not a cursor of this server (altered, made up, or sealed under a key
    /// the server no longer has) or belongs to another ordering.
    pub fn decode(&self, ordering: &str, text: &str) -> Result<Cursor, ApiError> {
        let invalid = || {
            ApiError::BadUserInput(
                "after is not a cursor issued by this API (cursors issued before the server's \
                 cursor key changed are refused too; start again from the first page)"
                    .to_owned(),
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let Some((&VERSION, sealed)) = bytes.split_first() else {
            return Err(invalid());
        };
        let plain = self
            .current
            .open(sealed)
            .or_else(|| self.previous.as_ref()?.open(sealed))
            .ok_or_else(invalid)?;
        let (tag, key, id): (String, String, Uuid) =
            serde_json::from_slice(&plain).map_err(|_| invalid())?;
        if tag != ordering {
            return Err(ApiError::BadUserInput(
                "after is a cursor of a list in another order; use cursors with the orderBy they came from"
                    .to_owned(),
            ));
        }
        Ok(Cursor {
            ordering: tag,
            key,
            id,
        })
    }

    /// Checks `first` and `after` of a connection field ordered by `ordering`.
    pub fn page_request(
        &self,
        ordering: &str,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PageRequest, ApiError> {
        let after = after.map(|text| self.decode(ordering, &text)).transpose()?;
        Ok(PageRequest::new(first.map(i64::from), after)?)
    }
}

/// The request's cursor keys.
pub fn cursors<'a>(ctx: &Context<'a>) -> Result<&'a Cursors, ApiError> {
    cursor_keys(ctx).map(|c| &**c)
}

/// The request's cursor keys, shared (for cursors sealed after the resolver returns).
pub fn cursor_keys<'a>(ctx: &Context<'a>) -> Result<&'a Arc<Cursors>, ApiError> {
    ctx.data::<Arc<Cursors>>()
        .map_err(|_| ApiError::Internal("request carries no cursor keys".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretSlice;

    fn keys(current: u8, previous: Option<u8>) -> SecretKeys {
        SecretKeys {
            current: SecretSlice::from(vec![current; 32]),
            previous: previous.map(|b| SecretSlice::from(vec![b; 32])),
        }
    }

    #[test]
    fn cursor_round_trips_and_shows_nothing_of_its_key() {
        let cursors = Cursors::new(None).unwrap();
        let id = Uuid::from_u128(7);
        let text = cursors.encode("dn", "Zoë Ødegaard", id);
        let cursor = cursors.decode("dn", &text).unwrap();
        assert_eq!((cursor.key.as_str(), cursor.id), ("Zoë Ødegaard", id));
        let raw = URL_SAFE_NO_PAD.decode(&text).unwrap();
        let raw = String::from_utf8_lossy(&raw);
        assert!(!raw.contains("Zo") && !raw.contains("dn"), "{raw}");
        assert_eq!(text, cursors.encode("dn", "Zoë Ødegaard", id));
    }

    #[test]
    fn names_of_similar_length_give_cursors_of_one_length() {
        let cursors = Cursors::new(None).unwrap();
        let a = cursors.encode("dn", "Al", Uuid::nil());
        let b = cursors.encode("dn", "Alexandra", Uuid::nil());
        assert_eq!(a.len(), b.len());
    }

    #[test]
    fn garbage_tampered_or_foreign_cursors_are_bad_user_input_naming_after() {
        let cursors = Cursors::new(Some(&keys(1, None))).unwrap();
        let text = cursors.encode("dn", "Ann", Uuid::nil());
        let mut tampered = URL_SAFE_NO_PAD.decode(&text).unwrap();
        tampered[5] ^= 1;
        let plain_json =
            URL_SAFE_NO_PAD.encode(r#"["dn","Ann","00000000-0000-0000-0000-000000000000"]"#);
        let other_server =
            Cursors::new(Some(&keys(2, None)))
                .unwrap()
                .encode("dn", "Ann", Uuid::nil());
        for bad in [
            "not base64!".to_owned(),
            URL_SAFE_NO_PAD.encode(tampered),
            plain_json,
            other_server,
            String::new(),
        ] {
            match cursors.decode("dn", &bad) {
                Err(ApiError::BadUserInput(m)) => assert!(m.starts_with("after "), "{m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn cursors_survive_a_restart_and_a_key_rotation() {
        let before = Cursors::new(Some(&keys(1, None))).unwrap();
        let text = before.encode("dn", "Ann", Uuid::nil());
        let restarted = Cursors::new(Some(&keys(1, None))).unwrap();
        assert_eq!(restarted.decode("dn", &text).unwrap().key, "Ann");
        let rotated = Cursors::new(Some(&keys(3, Some(1)))).unwrap();
        assert_eq!(rotated.decode("dn", &text).unwrap().key, "Ann");
        assert!(Cursors::new(None).unwrap().decode("dn", &text).is_err());
    }

    #[test]
    fn cursor_of_another_ordering_is_refused() {
        let cursors = Cursors::new(None).unwrap();
        let text = cursors.encode("upn", "a@b", Uuid::nil());
        assert!(matches!(
            cursors.decode("dn", &text),
            Err(ApiError::BadUserInput(m)) if m.contains("another order")
        ));
    }
}

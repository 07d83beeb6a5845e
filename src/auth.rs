//! Bearer tokens checked and turned into a [`Principal`]: `jwks` (RS256/ES256 against the
//! issuer's key set), `hs256` (shared secret) or `none`. Uses `config`, `domain`, reqwest and
//! jsonwebtoken; knows nothing of actix or async-graphql. Tokens are never logged nor echoed.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};

use crate::config::auth::{AuthMode, AuthSettings};
use crate::domain::{Principal, Role, TenantId, TenantScope};

/// Why a request was not authenticated; the message names the check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer …`.
    #[error("missing bearer token: send Authorization: Bearer <JWT>")]
    Missing,
    /// Not a JWT (shape, base64, JSON) or a claim of the wrong type.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// `exp` is past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` is not the configured audience.
    #[error("wrong audience")]
    WrongAudience,
    /// The signature does not verify with the key.
    #[error("bad signature")]
    BadSignature,
    /// No key of the key set has the token's `kid` (after a refetch, if one was allowed).
    #[error("unknown signing key")]
    UnknownKey,
    /// The header's `alg` is not accepted in this mode or does not match the key.
    #[error("unsupported algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// A claim the checks require is absent.
    #[error("missing claim {0}")]
    MissingClaim(String),
    /// The key set could not be fetched.
    #[error("signing keys unavailable")]
    KeysUnavailable,
}

/// A verification key and the one algorithm it may be used with.
#[derive(Clone)]
struct PinnedKey {
    algorithm: Algorithm,
    key: DecodingKey,
}

/// The issuer's keys by `kid`, and when they were fetched.
#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, PinnedKey>,
    fetched: Option<Instant>,
}

/// Checks bearer tokens as the settings say. Shared by every worker.
pub struct Authenticator {
    settings: AuthSettings,
    client: reqwest::Client,
    cache: tokio::sync::Mutex<KeyCache>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The parts of a JOSE header we read before choosing a key.
#[derive(serde::Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
}

impl Authenticator {
    /// An authenticator for `settings`; `jwks` keys are fetched on the first token.
    pub fn new(settings: AuthSettings) -> Self {
        crate::install_tls_provider();
        Authenticator {
            settings,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            cache: tokio::sync::Mutex::default(),
        }
    }

    /// Whether authentication is off (every request is the partner administrator).
    pub fn is_off(&self) -> bool {
        matches!(self.settings.mode, AuthMode::None)
    }

    /// The principal of a request from its `Authorization` header value (or the
    /// `connection_init` payload's `Authorization`).
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        if self.is_off() {
            return Ok(Principal::unauthenticated_admin());
        }
        let token = bearer(authorization.ok_or(AuthError::Missing)?)?;
        let header = raw_header(token)?;
        let alg = header
            .alg
            .ok_or_else(|| AuthError::Malformed("header has no alg".to_owned()))?;
        let (key, issuer, audience) = match &self.settings.mode {
            AuthMode::Hs256 {
                secret,
                issuer,
                audience,
            } => {
                if alg != "HS256" {
                    return Err(unsupported(&alg));
                }
                let key = PinnedKey {
                    algorithm: Algorithm::HS256,
                    key: DecodingKey::from_secret(secret.expose_secret().as_bytes()),
                };
                (key, issuer.clone(), audience.clone())
            }
            AuthMode::Jwks {
                issuer, audience, ..
            } => {
                if alg != "RS256" && alg != "ES256" {
                    return Err(unsupported(&alg));
                }
                let kid = header
                    .kid
                    .ok_or_else(|| AuthError::Malformed("header has no kid".to_owned()))?;
                let key = self.key(&kid).await?;
                // The key pins the algorithm: an RS256 key never verifies an ES256 header, and
                // no key verifies HS256.
                if alg.parse::<Algorithm>().ok() != Some(key.algorithm) {
                    return Err(unsupported(&alg));
                }
                (key, Some(issuer.clone()), Some(audience.clone()))
            }
            AuthMode::None => return Ok(Principal::unauthenticated_admin()),
        };
        let mut validation = Validation::new(key.algorithm);
        validation.algorithms = vec![key.algorithm];
        validation.leeway = self.settings.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        match &issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                validation.validate_aud = true;
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        let Claims(claims) = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|e| classify(e.kind()))?
            .claims;
        self.principal(&claims)
    }

    /// Maps verified claims to a principal: roles from the roles claim; scope from the tenants
    /// claim, else every tenant for `partner_admin`, else the token's `tid`, else none; valid
    /// until `exp` plus the leeway. A roles or tenants claim that is present but null or not
    /// strings is refused rather than read as absent, which could widen the scope.
    fn principal(&self, claims: &Map<String, Value>) -> Result<Principal, AuthError> {
        let roles: BTreeSet<Role> = strings(claims, &self.settings.roles_claim)?
            .unwrap_or_default()
            .iter()
            .filter_map(|r| Role::parse(r))
            .collect();
        let tenant = |claim: &str, raw: &str| {
            raw.parse::<TenantId>()
                .map_err(|_| AuthError::Malformed(format!("{claim} must hold tenant GUIDs")))
        };
        let scope = match strings(claims, &self.settings.tenants_claim)? {
            Some(list) => TenantScope::Only(
                list.iter()
                    .map(|t| tenant(&self.settings.tenants_claim, t))
                    .collect::<Result<_, _>>()?,
            ),
            None if roles.contains(&Role::PartnerAdmin) => TenantScope::All,
            None => match claims.get("tid").and_then(Value::as_str) {
                Some(tid) => TenantScope::Only([tenant("tid", tid)?].into()),
                None => TenantScope::Only(BTreeSet::new()),
            },
        };
        let name = ["oid", "sub"]
            .iter()
            .find_map(|c| claims.get(*c).and_then(Value::as_str))
            .ok_or_else(|| AuthError::MissingClaim("oid or sub".to_owned()))?
            .to_owned();
        // `exp` is required and checked to be a number by the validation above.
        let exp = claims
            .get("exp")
            .and_then(Value::as_f64)
            .ok_or_else(|| AuthError::MissingClaim("exp".to_owned()))?;
        let leeway = i64::try_from(self.settings.leeway.as_secs()).unwrap_or(i64::MAX);
        let valid_until = chrono::DateTime::from_timestamp(exp.floor() as i64, 0)
            .and_then(|t| t.checked_add_signed(chrono::Duration::seconds(leeway)));
        Ok(Principal {
            name,
            roles,
            scope,
            valid_until: Some(valid_until.unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)),
        })
    }

    /// The key `kid` of the issuer's key set, fetching the set when the key is unknown and the
    /// last fetch is older than the refresh interval (so unknown kids can't hammer the issuer).
    async fn key(&self, kid: &str) -> Result<PinnedKey, AuthError> {
        let AuthMode::Jwks {
            url, min_refresh, ..
        } = &self.settings.mode
        else {
            return Err(AuthError::UnknownKey);
        };
        let mut cache = self.cache.lock().await;
        if let Some(key) = cache.keys.get(kid) {
            return Ok(key.clone());
        }
        if cache.fetched.is_some_and(|at| at.elapsed() < *min_refresh) {
            return Err(AuthError::UnknownKey);
        }
        cache.fetched = Some(Instant::now());
        match self.fetch(url).await {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "signing keys fetched");
                cache.keys = keys;
            }
            Err(cause) => {
                tracing::warn!(cause = %cause, "signing keys could not be fetched");
                if cache.keys.is_empty() {
                    return Err(AuthError::KeysUnavailable);
                }
            }
        }
        cache.keys.get(kid).cloned().ok_or(AuthError::UnknownKey)
    }

    #[tracing::instrument(skip_all, fields(url = %url))]
    async fn fetch(&self, url: &url::Url) -> Result<HashMap<String, PinnedKey>, String> {
        let set: JwkSet = self
            .client
            .get(url.clone())
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        Ok(pinned_keys(&set))
    }
}

/// The signing keys of `set` usable with RS256 or ES256, by `kid`, each with its algorithm:
/// the JWK's `alg` when given (it must agree with the key type), else RS256 for RSA keys and
/// ES256 for P-256 keys. Keys without `kid`, for encryption, or of other types are left out.
fn pinned_keys(set: &JwkSet) -> HashMap<String, PinnedKey> {
    set.keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
                return None;
            }
            let by_type = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                _ => return None,
            };
            let algorithm = match jwk.common.key_algorithm {
                None => by_type,
                Some(KeyAlgorithm::RS256) if by_type == Algorithm::RS256 => by_type,
                Some(KeyAlgorithm::ES256) if by_type == Algorithm::ES256 => by_type,
                Some(_) => return None,
            };
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some((kid, PinnedKey { algorithm, key }))
        })
        .collect()
}

fn unsupported(alg: &str) -> AuthError {
    // The header is the caller's text: keep what we repeat short and printable.
    let shown: String = alg
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(10)
        .collect();
    AuthError::UnsupportedAlgorithm(if shown.is_empty() {
        "(empty)".to_owned()
    } else {
        shown
    })
}

/// The token of a `Bearer` authorization value.
fn bearer(authorization: &str) -> Result<&str, AuthError> {
    let (scheme, token) = authorization
        .trim()
        .split_once(' ')
        .ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token)
}

fn raw_header(token: &str) -> Result<RawHeader, AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed(
            "expected three dot-separated parts".to_owned(),
        ));
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed("header is not base64url".to_owned()))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| AuthError::Malformed("header is not a JSON object".to_owned()))
}

/// A token's claims. A claim named twice is refused: JSON parsers disagree on which of the two
/// wins, so a token could mean one scope to its issuer and another here.
struct Claims(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for Claims {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Claims;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object of claims")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Claims, A::Error> {
                let mut claims = Map::new();
                while let Some((name, value)) = map.next_entry::<String, Value>()? {
                    if claims.contains_key(&name) {
                        return Err(serde::de::Error::custom(format!(
                            "{DUPLICATE_CLAIM} {}",
                            printable(&name)
                        )));
                    }
                    claims.insert(name, value);
                }
                Ok(Claims(claims))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// How a refused duplicate claim's message begins.
const DUPLICATE_CLAIM: &str = "duplicate claim";

/// At most 40 characters of the caller's `text`, letters, digits, `_`, `-` and `.` only.
fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(40)
        .collect()
}

/// A claim holding a list of strings (or one string); `None` when absent. Present but null or
/// of another type is malformed.
fn strings(claims: &Map<String, Value>, claim: &str) -> Result<Option<Vec<String>>, AuthError> {
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::String(one)) => Ok(Some(vec![one.clone()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    AuthError::Malformed(format!("{claim} must be a list of strings"))
                })
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(AuthError::Malformed(format!(
            "{claim} must be a list of strings"
        ))),
    }
}

fn classify(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            AuthError::UnsupportedAlgorithm("for this key".to_owned())
        }
        ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(claim.clone()),
        ErrorKind::InvalidClaimFormat(claim) => {
            AuthError::Malformed(format!("claim {claim} has the wrong type"))
        }
        ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => {
            AuthError::BadSignature
        }
        // Only the duplicate's name is repeated: other messages could quote the token.
        ErrorKind::Json(error) => {
            let message = error.to_string();
            match message.find(DUPLICATE_CLAIM) {
                Some(at) => {
                    let name = message[at + DUPLICATE_CLAIM.len()..]
                        .split_whitespace()
                        .next()
                        .map(printable)
                        .unwrap_or_default();
                    AuthError::Malformed(format!("{DUPLICATE_CLAIM} {name}"))
                }
                None if message.starts_with("duplicate field") => AuthError::Malformed(format!(
                    "{DUPLICATE_CLAIM} {}",
                    printable(message.split('`').nth(1).unwrap_or_default())
                )),
                None => AuthError::Malformed("claims are not a JSON object".to_owned()),
            }
        }
        _ => AuthError::Malformed("not a valid JWT".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn authenticator() -> Authenticator {
        let mut settings = AuthSettings::hs256(SECRET.to_owned().into());
        settings.mode = AuthMode::Hs256 {
            secret: SECRET.to_owned().into(),
            issuer: Some("https://issuer".into()),
            audience: Some("api://tg".into()),
        };
        Authenticator::new(settings)
    }

    fn token(claims: Value) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        let mut full = json!({
            "iss": "https://issuer", "aud": "api://tg", "exp": now + 300, "oid": "user-1",
        });
        for (k, v) in claims.as_object().unwrap() {
            full[k] = v.clone();
        }
        encode(
            &Header::new(Algorithm::HS256),
            &full,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    async fn check(claims: Value) -> Result<Principal, AuthError> {
        let bearer = format!("Bearer {}", token(claims));
        authenticator().authenticate(Some(&bearer)).await
    }

    #[tokio::test]
    async fn each_claim_check_names_what_failed() {
        let now = jsonwebtoken::get_current_timestamp();
        assert_eq!(
            check(json!({ "exp": now - 120 })).await,
            Err(AuthError::Expired)
        );
        assert_eq!(
            check(json!({ "nbf": now + 120 })).await,
            Err(AuthError::NotYetValid)
        );
        assert_eq!(
            check(json!({ "iss": "https://other" })).await,
            Err(AuthError::WrongIssuer)
        );
        assert_eq!(
            check(json!({ "aud": "api://other" })).await,
            Err(AuthError::WrongAudience)
        );
        // Within the 60 s leeway.
        assert!(
            check(json!({ "exp": now - 30, "nbf": now + 30 }))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn scope_comes_from_tenants_then_partner_admin_then_tid() {
        let a = "00000000-0000-0000-0000-00000000000a";
        let b = "00000000-0000-0000-0000-00000000000b";
        let p = check(json!({ "roles": ["reader"], "tenants": [a], "tid": b }))
            .await
            .unwrap();
        assert_eq!(p.scope, TenantScope::Only([a.parse().unwrap()].into()));
        assert_eq!(p.name, "user-1");
        let p = check(json!({ "roles": ["partner_admin"], "tid": b }))
            .await
            .unwrap();
        assert_eq!(p.scope, TenantScope::All);
        let p = check(json!({ "roles": ["allocator", "Other"], "tid": b }))
            .await
            .unwrap();
        assert_eq!(p.scope, TenantScope::Only([b.parse().unwrap()].into()));
        assert_eq!(p.roles, [Role::Allocator].into());
        let p = check(json!({ "roles": "reader" })).await.unwrap();
        assert_eq!(p.scope, TenantScope::Only(BTreeSet::new()));
        assert!(matches!(
            check(json!({ "tenants": ["x"] })).await,
            Err(AuthError::Malformed(_))
        ));
    }

    /// A bearer value for the raw JSON `payload`, signed with the test secret.
    fn raw_token(payload: &str) -> String {
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let signing_input = format!(
            "{}.{}",
            b64(br#"{"alg":"HS256","typ":"JWT"}"#),
            b64(payload.as_bytes())
        );
        let signature = jsonwebtoken::crypto::sign(
            signing_input.as_bytes(),
            &EncodingKey::from_secret(SECRET.as_bytes()),
            Algorithm::HS256,
        )
        .unwrap();
        format!("Bearer {signing_input}.{signature}")
    }

    #[tokio::test]
    async fn a_null_or_mistyped_scope_claim_is_refused_rather_than_widened() {
        let b = "00000000-0000-0000-0000-00000000000b";
        for tenants in [json!(null), json!(7), json!({ "a": 1 }), json!([null])] {
            let refused =
                check(json!({ "roles": ["partner_admin"], "tenants": tenants, "tid": b })).await;
            assert!(
                matches!(&refused, Err(AuthError::Malformed(m)) if m.contains("tenants")),
                "tenants {tenants}: {refused:?}"
            );
        }
        let refused = check(json!({ "roles": null })).await;
        assert!(
            matches!(refused, Err(AuthError::Malformed(_))),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn a_token_naming_a_claim_twice_is_refused() {
        let now = jsonwebtoken::get_current_timestamp() + 300;
        let a = "00000000-0000-0000-0000-00000000000a";
        let auth = authenticator();
        let single = raw_token(&format!(
            r#"{{"iss":"https://issuer","aud":"api://tg","exp":{now},"oid":"u","roles":["reader"],"tenants":["{a}"]}}"#
        ));
        assert!(auth.authenticate(Some(&single)).await.is_ok());
        let twice = raw_token(&format!(
            r#"{{"iss":"https://issuer","aud":"api://tg","exp":{now},"oid":"u","roles":["reader"],"tenants":["{a}"],"tenants":null}}"#
        ));
        assert_eq!(
            auth.authenticate(Some(&twice)).await,
            Err(AuthError::Malformed("duplicate claim tenants".into()))
        );
        let exp_twice = raw_token(&format!(
            r#"{{"iss":"https://issuer","aud":"api://tg","exp":{now},"exp":{now},"oid":"u"}}"#
        ));
        assert_eq!(
            auth.authenticate(Some(&exp_twice)).await,
            Err(AuthError::Malformed("duplicate claim exp".into()))
        );
    }

    #[tokio::test]
    async fn a_principal_is_valid_until_exp_plus_the_leeway() {
        let now = jsonwebtoken::get_current_timestamp();
        let p = check(json!({ "roles": ["reader"], "exp": now + 100 }))
            .await
            .unwrap();
        let until = p.valid_until.unwrap().timestamp();
        assert_eq!(until, i64::try_from(now).unwrap() + 100 + 60);
        // Already past `exp` but inside the leeway: accepted, with little time left.
        let p = check(json!({ "roles": ["reader"], "exp": now - 30 }))
            .await
            .unwrap();
        assert_eq!(
            p.valid_until.unwrap().timestamp(),
            i64::try_from(now).unwrap() + 30
        );
    }

    #[tokio::test]
    async fn malformed_and_foreign_tokens_are_refused_without_echoing_them() {
        let auth = authenticator();
        assert_eq!(auth.authenticate(None).await, Err(AuthError::Missing));
        assert_eq!(
            auth.authenticate(Some("Basic dXNlcjpwdw==")).await,
            Err(AuthError::Missing)
        );
        let err = auth
            .authenticate(Some("Bearer not-a-jwt-secret-value"))
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::Malformed(_)));
        assert!(!err.to_string().contains("secret-value"));
        // alg none: header {"alg":"none"}, no signature.
        let none = format!(
            "Bearer {}.{}.",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"oid":"x"}"#)
        );
        assert_eq!(
            auth.authenticate(Some(&none)).await,
            Err(AuthError::UnsupportedAlgorithm("none".into()))
        );
        let wrong_key = encode(
            &Header::new(Algorithm::HS256),
            &json!({ "exp": jsonwebtoken::get_current_timestamp() + 60 }),
            &EncodingKey::from_secret(b"another-secret-another-secret-00"),
        )
        .unwrap();
        assert_eq!(
            auth.authenticate(Some(&format!("Bearer {wrong_key}")))
                .await,
            Err(AuthError::BadSignature)
        );
    }
}

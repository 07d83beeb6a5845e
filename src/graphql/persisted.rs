//! Persisted documents: automatic persisted queries (Apollo's `extensions.persistedQuery`
//! protocol, a SHA-256 hash standing for a document sent once before) and the trusted documents
//! mode, in which only the operations of a manifest run. Resolved before the operation limits
//! are checked, so a document found by its hash is checked like any other. Knows nothing of actix.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use async_graphql::{Request, ServerError, Value};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::config::graphql::TrustedDocuments;

/// The request extension that carries the hash.
const EXTENSION: &str = "persistedQuery";

/// SHA-256 of `document` as 64 lower-case hex digits (the protocol's `sha256Hash`).
pub fn sha256_hex(document: &str) -> String {
    Sha256::digest(document.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The names of the operations in a trusted documents manifest (documents that don't parse have
/// none), which metrics may use as labels whoever sends them.
pub fn operation_names(manifest: &TrustedDocuments) -> Vec<String> {
    manifest
        .documents
        .values()
        .filter_map(|body| async_graphql::parser::parse_query(body).ok())
        .flat_map(|document| {
            document
                .operations
                .iter()
                .filter_map(|(name, _)| name.map(ToString::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether the request names a persisted document (it may then come without a query).
pub fn has_hash(request: &Request) -> bool {
    request.extensions.contains_key(EXTENSION)
}

/// Documents seen by hash, the oldest forgotten first when full.
#[derive(Debug, Default)]
struct Cache {
    documents: HashMap<String, String>,
    order: VecDeque<String>,
}

/// Finds the document of each request: from its hash (the automatic persisted query cache, or
/// the manifest in trusted documents mode), and refuses documents outside the manifest.
#[derive(Debug)]
pub struct PersistedDocuments {
    capacity: usize,
    cache: Mutex<Cache>,
    trusted: Option<Trusted>,
}

/// The manifest, by id and by the hash of each document's text.
#[derive(Debug)]
struct Trusted {
    by_id: HashMap<String, String>,
    bodies: HashSet<String>,
}

impl PersistedDocuments {
    /// Automatic persisted queries with a cache of `capacity` documents (0: off), and with
    /// `trusted` only the manifest's operations.
    pub fn new(capacity: usize, trusted: Option<&TrustedDocuments>) -> Self {
        let trusted = trusted.map(|manifest| Trusted {
            bodies: manifest.documents.values().map(|b| sha256_hex(b)).collect(),
            by_id: manifest.documents.clone(),
        });
        PersistedDocuments {
            capacity,
            cache: Mutex::new(Cache::default()),
            trusted,
        }
    }

    /// Puts the document into `request` when it names one by hash, and refuses what may not
    /// run: an unknown hash (`PERSISTED_QUERY_NOT_FOUND`, so that clients send the document),
    /// a hash that does not match the document sent (`BAD_USER_INPUT`), or in trusted
    /// documents mode a document not in the manifest (`FORBIDDEN`).
    pub fn resolve(&self, request: &mut Request) -> Result<(), ServerError> {
        let hash = match request.extensions.remove(EXTENSION) {
            Some(value) => Some(parse_extension(value)?),
            None => None,
        };
        let has_query = !request.query.trim().is_empty();
        if let Some(trusted) = &self.trusted {
            return match (hash, has_query) {
                (Some(hash), false) => match trusted.by_id.get(&hash) {
                    Some(body) => {
                        request.query = body.clone();
                        Ok(())
                    }
                    None => Err(not_found()),
                },
                (Some(hash), true) if trusted.by_id.get(&hash) == Some(&request.query) => Ok(()),
                (_, true) if trusted.bodies.contains(&sha256_hex(&request.query)) => Ok(()),
                (_, _) => Err(ApiError::Forbidden(
                    "this server runs trusted documents only, and this document is not one of \
                     them (TENANTGRAPH_GRAPHQL_TRUSTED_DOCUMENTS)"
                        .to_owned(),
                )
                .into_server_error()),
            };
        }
        let Some(hash) = hash else {
            return Ok(());
        };
        if self.capacity == 0 {
            return Err(ApiError::PersistedQueryNotSupported(
                "PersistedQueryNotSupported".to_owned(),
            )
            .into_server_error());
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if !has_query {
            return match cache.documents.get(&hash) {
                Some(document) => {
                    request.query = document.clone();
                    Ok(())
                }
                None => Err(not_found()),
            };
        }
        let actual = sha256_hex(&request.query);
        if actual != hash {
            return Err(ApiError::BadUserInput(format!(
                "persistedQuery.sha256Hash must be the SHA-256 of the query, got {hash} for a \
                 query whose hash is {actual}"
            ))
            .into_server_error());
        }
        if !cache.documents.contains_key(&hash) {
            if cache.documents.len() >= self.capacity
                && let Some(oldest) = cache.order.pop_front()
            {
                cache.documents.remove(&oldest);
            }
            cache.order.push_back(hash.clone());
            cache.documents.insert(hash, request.query.clone());
        }
        Ok(())
    }
}

/// The error Apollo clients answer by sending the whole document with its hash.
fn not_found() -> ServerError {
    ApiError::PersistedQueryNotFound("PersistedQueryNotFound".to_owned()).into_server_error()
}

/// `{"version": 1, "sha256Hash": "<64 hex digits>"}` → the hash, lower case.
fn parse_extension(value: Value) -> Result<String, ServerError> {
    let bad = |detail: &str| {
        ApiError::BadUserInput(format!(
            "extensions.persistedQuery must be {{\"version\": 1, \"sha256Hash\": \"<64 hex \
             digits>\"}}: {detail}"
        ))
        .into_server_error()
    };
    let Value::Object(fields) = value else {
        return Err(bad("not an object"));
    };
    match fields.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        _ => return Err(bad("version must be 1")),
    }
    // Manifests may use ids of their own; a SHA-256 is compared in lower case.
    match fields.get("sha256Hash") {
        Some(Value::String(hash))
            if hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            Ok(hash.to_ascii_lowercase())
        }
        Some(Value::String(id))
            if (1..=128).contains(&id.len())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')) =>
        {
            Ok(id.clone())
        }
        _ => Err(bad("sha256Hash is missing or not a hash")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::value;

    fn with_hash(query: &str, hash: &str) -> Request {
        let mut request = Request::new(query);
        request.extensions.insert(
            EXTENSION.to_owned(),
            value!({ "version": 1, "sha256Hash": hash }),
        );
        request
    }

    fn code(error: &ServerError) -> String {
        error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .map(|c| c.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn operation_names_of_a_manifest_are_listed() {
        let manifest = TrustedDocuments {
            documents: [
                ("a".to_owned(), "query UsersPage { __typename }".to_owned()),
                (
                    "b".to_owned(),
                    "query One { __typename } mutation Two { __typename }".to_owned(),
                ),
                ("c".to_owned(), "{ __typename }".to_owned()),
                ("d".to_owned(), "not graphql {".to_owned()),
            ]
            .into(),
        };
        let mut names = operation_names(&manifest);
        names.sort();
        assert_eq!(names, ["One", "Two", "UsersPage"]);
    }

    #[test]
    fn a_document_sent_once_with_its_hash_is_found_by_the_hash_alone() {
        let documents = PersistedDocuments::new(10, None);
        let query = "{ tenants { totalCount } }";
        let hash = sha256_hex(query);
        let mut first = with_hash("", &hash);
        let err = documents.resolve(&mut first).unwrap_err();
        assert_eq!(err.message, "PersistedQueryNotFound");
        assert_eq!(code(&err), "\"PERSISTED_QUERY_NOT_FOUND\"");
        documents.resolve(&mut with_hash(query, &hash)).unwrap();
        let mut again = with_hash("", &hash.to_uppercase());
        documents.resolve(&mut again).unwrap();
        assert_eq!(again.query, query);
        assert!(!has_hash(&again), "the extension is consumed");
    }

    #[test]
    fn a_hash_that_is_not_the_documents_is_refused() {
        let documents = PersistedDocuments::new(10, None);
        let err = documents
            .resolve(&mut with_hash("{ a }", &sha256_hex("{ b }")))
            .unwrap_err();
        assert_eq!(code(&err), "\"BAD_USER_INPUT\"");
    }

    #[test]
    fn the_cache_forgets_the_oldest_document_when_full() {
        let documents = PersistedDocuments::new(2, None);
        for query in ["{ a }", "{ b }", "{ c }"] {
            documents
                .resolve(&mut with_hash(query, &sha256_hex(query)))
                .unwrap();
        }
        assert!(
            documents
                .resolve(&mut with_hash("", &sha256_hex("{ a }")))
                .is_err()
        );
        documents
            .resolve(&mut with_hash("", &sha256_hex("{ c }")))
            .unwrap();
    }

    #[test]
    fn malformed_extensions_are_bad_user_input() {
        let documents = PersistedDocuments::new(10, None);
        for value in [
            value!("x"),
            value!({ "version": 2, "sha256Hash": sha256_hex("{ a }") }),
            value!({ "version": 1, "sha256Hash": "" }),
            value!({ "version": 1, "sha256Hash": "a b" }),
        ] {
            let mut request = Request::new("{ a }");
            request.extensions.insert(EXTENSION.to_owned(), value);
            let err = documents.resolve(&mut request).unwrap_err();
            assert_eq!(code(&err), "\"BAD_USER_INPUT\"");
        }
    }

    #[test]
    fn trusted_mode_runs_manifest_documents_by_id_or_text_and_refuses_others() {
        let manifest = TrustedDocuments {
            documents: HashMap::from([(
                "op-1".to_owned(),
                "{ tenants { totalCount } }".to_owned(),
            )]),
        };
        let documents = PersistedDocuments::new(10, Some(&manifest));
        let mut by_id = with_hash("", "op-1");
        documents.resolve(&mut by_id).unwrap();
        assert_eq!(by_id.query, "{ tenants { totalCount } }");
        let mut by_id = with_hash("", &sha256_hex("x"));
        assert_eq!(
            code(&documents.resolve(&mut by_id).unwrap_err()),
            "\"PERSISTED_QUERY_NOT_FOUND\""
        );
        let mut by_text = Request::new("{ tenants { totalCount } }");
        documents.resolve(&mut by_text).unwrap();
        let mut other = Request::new("{ tenants { edges { node { id } } } }");
        assert_eq!(
            code(&documents.resolve(&mut other).unwrap_err()),
            "\"FORBIDDEN\""
        );
        // Registering a document by hash does not add it to the manifest.
        let query = "{ __typename }";
        assert!(
            documents
                .resolve(&mut with_hash(query, &sha256_hex(query)))
                .is_err()
        );
    }
}

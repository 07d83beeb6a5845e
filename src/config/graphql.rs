//! GraphQL operations: the limits every operation is checked against, allocation previews,
//! batching, the operation timeout, introspection and suggestions, automatic persisted queries
//! and trusted documents.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{SettingsError, at_least_one};

/// Default complexity budget: the Client Portal's users page (100 users with manager and
/// licenses) costs about 1,800, a page of 500 about 9,000.
pub const DEFAULT_MAX_COMPLEXITY: u64 = 20_000;

/// The GraphQL settings as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GraphqlSection {
    /// Deepest nesting of fields in an operation.
    pub graphql_max_depth: usize,
    /// Complexity budget of an operation: each field costs 1, and a connection's `first` (or
    /// its default page size) multiplies the cost of what it selects.
    pub graphql_max_complexity: u64,
    /// Aliased fields in a document.
    pub graphql_max_aliases: usize,
    /// Fields at the root of an operation.
    pub graphql_max_root_fields: usize,
    /// Directives on one field, fragment spread or inline fragment.
    pub graphql_max_directives: usize,
    /// Lexical tokens in a document.
    pub graphql_max_tokens: usize,
    /// Size of a document, in bytes.
    pub graphql_max_document_bytes: usize,
    /// `representations` of one `_entities` call.
    pub graphql_max_entities: usize,
    /// Errors in one response; the rest are summed up in one last error.
    pub graphql_max_errors: usize,
    /// Rules of one `previewAllocation` (its proposed list); each rule and condition also adds
    /// to the operation's complexity.
    pub graphql_max_preview_rules: usize,
    /// Allocation previews one principal runs at once; more wait their turn (within the
    /// operation timeout).
    pub graphql_max_concurrent_previews: usize,
    /// Accept a JSON array of operations in one POST.
    pub graphql_batching: bool,
    /// Operations in one batch, when batching is on.
    pub graphql_max_batch: usize,
    /// Longest an operation may run over HTTP, in milliseconds; it is cancelled after that.
    pub graphql_timeout_ms: u64,
    /// Answer introspection (`__schema`, `__type`) and `_service { sdl }`; unset: only with
    /// `--demo`.
    pub graphql_introspection: Option<bool>,
    /// Suggest field names ("Did you mean …") in validation errors; unset: only with `--demo`.
    pub graphql_suggestions: Option<bool>,
    /// Documents kept for automatic persisted queries (sent once, then by SHA-256 hash);
    /// 0 turns them off.
    pub graphql_apq_cache_size: usize,
    /// A persisted query manifest (JSON); when set, only its operations run.
    pub graphql_trusted_documents: Option<String>,
    /// Memory for reads kept across query operations (pages of users, tenants, counts), in MiB,
    /// served while the store's data is unchanged; 0 turns the cache off.
    pub graphql_read_cache_mb: u64,
}

impl Default for GraphqlSection {
    fn default() -> Self {
        GraphqlSection {
            graphql_max_depth: 12,
            graphql_max_complexity: DEFAULT_MAX_COMPLEXITY,
            graphql_max_aliases: 30,
            graphql_max_root_fields: 10,
            graphql_max_directives: 5,
            graphql_max_tokens: 3_000,
            graphql_max_document_bytes: 32 * 1024,
            graphql_max_entities: 500,
            graphql_max_errors: 50,
            graphql_max_preview_rules: 500,
            graphql_max_concurrent_previews: 1,
            graphql_batching: false,
            graphql_max_batch: 10,
            graphql_timeout_ms: 10_000,
            graphql_introspection: None,
            graphql_suggestions: None,
            graphql_apq_cache_size: 1_000,
            graphql_trusted_documents: None,
            graphql_read_cache_mb: 64,
        }
    }
}

/// The GraphQL settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphqlSettings {
    /// Limits of each operation.
    pub limits: OperationLimits,
    /// Whether validation errors suggest field names.
    pub suggestions: bool,
    /// Operations per batched request; `None` when batching is off.
    pub max_batch: Option<usize>,
    /// Longest an operation over HTTP may run before it is cancelled.
    pub timeout: Duration,
    /// Documents kept for automatic persisted queries; 0: off.
    pub apq_cache_size: usize,
    /// When set, only these operations run.
    pub trusted_documents: Option<TrustedDocuments>,
    /// Bytes of reads kept across query operations; 0: off.
    pub read_cache_bytes: u64,
}

impl GraphqlSection {
    /// Refuses a limit of 0 (but aliases, directives and entities, which may be 0) and a trusted
    /// documents manifest that can't be read. Introspection and suggestions follow `demo` unless
    /// set.
    pub(super) fn check(&self, demo: bool) -> Result<GraphqlSettings, SettingsError> {
        at_least_one(&[
            (
                "TENANTGRAPH_GRAPHQL_MAX_DEPTH",
                self.graphql_max_depth as u64,
            ),
            (
                "TENANTGRAPH_GRAPHQL_MAX_COMPLEXITY",
                self.graphql_max_complexity,
            ),
            (
                "TENANTGRAPH_GRAPHQL_MAX_ROOT_FIELDS",
                self.graphql_max_root_fields as u64,
            ),
            (
                "TENANTGRAPH_GRAPHQL_MAX_TOKENS",
                self.graphql_max_tokens as u64,
            ),
            (
                "TENANTGRAPH_GRAPHQL_MAX_DOCUMENT_BYTES",
                self.graphql_max_document_bytes as u64,
            ),
            (
                "TENANTGRAPH_GRAPHQL_MAX_ERRORS",
                self.graphql_max_errors as u64,
            ),
            (
                "TENANTGRAPH_GRAPHQL_MAX_PREVIEW_RULES",
                self.graphql_max_preview_rules as u64,
            ),
            (
                "TENANTGRAPH_GRAPHQL_MAX_CONCURRENT_PREVIEWS",
                self.graphql_max_concurrent_previews as u64,
            ),
            (
                "TENANTGRAPH_GRAPHQL_MAX_BATCH",
                self.graphql_max_batch as u64,
            ),
            ("TENANTGRAPH_GRAPHQL_TIMEOUT_MS", self.graphql_timeout_ms),
        ])?;
        let trusted_documents = self
            .graphql_trusted_documents
            .as_ref()
            .map(|path| TrustedDocuments::load(Path::new(path)))
            .transpose()
            .map_err(|message| {
                SettingsError::new("TENANTGRAPH_GRAPHQL_TRUSTED_DOCUMENTS", message)
            })?;
        Ok(GraphqlSettings {
            limits: OperationLimits {
                max_depth: self.graphql_max_depth,
                max_complexity: self.graphql_max_complexity,
                max_aliases: self.graphql_max_aliases,
                max_root_fields: self.graphql_max_root_fields,
                max_directives: self.graphql_max_directives,
                max_tokens: self.graphql_max_tokens,
                max_document_bytes: self.graphql_max_document_bytes,
                max_entities: self.graphql_max_entities,
                max_errors: self.graphql_max_errors,
                max_preview_rules: self.graphql_max_preview_rules,
                max_concurrent_previews: self.graphql_max_concurrent_previews,
                introspection: self.graphql_introspection.unwrap_or(demo),
            },
            suggestions: self.graphql_suggestions.unwrap_or(demo),
            max_batch: self.graphql_batching.then_some(self.graphql_max_batch),
            timeout: Duration::from_millis(self.graphql_timeout_ms),
            apq_cache_size: self.graphql_apq_cache_size,
            trusted_documents,
            read_cache_bytes: self.graphql_read_cache_mb.saturating_mul(1 << 20),
        })
    }
}

/// Limits every GraphQL operation is checked against before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationLimits {
    /// Deepest nesting of fields.
    pub max_depth: usize,
    /// Complexity budget (fields, multiplied by page sizes).
    pub max_complexity: u64,
    /// Aliased fields in the document.
    pub max_aliases: usize,
    /// Fields at the root of the operation.
    pub max_root_fields: usize,
    /// Directives on one selection.
    pub max_directives: usize,
    /// Lexical tokens in the document.
    pub max_tokens: usize,
    /// Document size in bytes.
    pub max_document_bytes: usize,
    /// Representations in one `_entities` call.
    pub max_entities: usize,
    /// Errors in one response.
    pub max_errors: usize,
    /// Rules of one allocation preview.
    pub max_preview_rules: usize,
    /// Allocation previews one principal runs at once.
    pub max_concurrent_previews: usize,
    /// Whether introspection and `_service { sdl }` are answered.
    pub introspection: bool,
}

/// The operations a trusted documents server runs: id (the hash clients send) → document.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedDocuments {
    /// Document text by id.
    pub documents: std::collections::HashMap<String, String>,
}

impl fmt::Debug for TrustedDocuments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedDocuments")
            .field("operations", &self.documents.len())
            .finish()
    }
}

impl TrustedDocuments {
    /// Reads a manifest: Apollo's persisted query manifest
    /// (`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id",
    /// "body", "name", "type"}]}`) or a plain JSON object `{"<id>": "<document>"}`. The error
    /// names what was wrong.
    pub fn load(path: &Path) -> Result<TrustedDocuments, String> {
        #[derive(Deserialize)]
        struct Operation {
            id: String,
            body: String,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Manifest {
            Apollo {
                format: String,
                version: u32,
                operations: Vec<Operation>,
            },
            Plain(std::collections::HashMap<String, String>),
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("expected a readable manifest file, {}: {e}", path.display()))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|_| {
            format!(
                "expected an apollo-persisted-query-manifest (version 1) or a JSON object of \
                 id to document in {}",
                path.display()
            )
        })?;
        let documents = match manifest {
            Manifest::Apollo {
                format,
                version,
                operations,
            } => {
                if format != "apollo-persisted-query-manifest" || version != 1 {
                    return Err(format!(
                        "expected format apollo-persisted-query-manifest version 1 in {}, got {format} version {version}",
                        path.display()
                    ));
                }
                operations.into_iter().map(|o| (o.id, o.body)).collect()
            }
            Manifest::Plain(documents) => documents,
        };
        Ok(TrustedDocuments { documents })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn introspection_and_suggestions_follow_demo_unless_set() {
        let production = GraphqlSection::default().check(false).unwrap();
        assert!(!production.limits.introspection && !production.suggestions);
        let demo = GraphqlSection::default().check(true).unwrap();
        assert!(demo.limits.introspection && demo.suggestions);
        let explicit = GraphqlSection {
            graphql_introspection: Some(false),
            ..GraphqlSection::default()
        }
        .check(true)
        .unwrap();
        assert!(!explicit.limits.introspection && explicit.suggestions);
    }

    #[test]
    fn zero_limits_are_refused_and_batching_sets_the_batch_size() {
        let section = GraphqlSection {
            graphql_max_depth: 0,
            ..GraphqlSection::default()
        };
        let err = section.check(false).unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_GRAPHQL_MAX_DEPTH"), "{err}");
        assert_eq!(
            GraphqlSection::default().check(false).unwrap().max_batch,
            None
        );
        let batching = GraphqlSection {
            graphql_batching: true,
            ..GraphqlSection::default()
        };
        assert_eq!(batching.check(false).unwrap().max_batch, Some(10));
    }

    #[test]
    fn an_unreadable_trusted_documents_manifest_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        std::fs::write(&path, "[1, 2]").unwrap();
        let section = GraphqlSection {
            graphql_trusted_documents: Some(path.display().to_string()),
            ..GraphqlSection::default()
        };
        let err = section.check(false).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid setting TENANTGRAPH_GRAPHQL_TRUSTED_DOCUMENTS:"),
            "{err}"
        );
        std::fs::write(&path, r#"{"abc": "{ __typename }"}"#).unwrap();
        let documents = section.check(false).unwrap().trusted_documents.unwrap();
        assert_eq!(documents.documents["abc"], "{ __typename }");
    }
}

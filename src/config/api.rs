//! The API's view of the settings: what the server and the GraphQL schema run with, put
//! together from the GraphQL, HTTP and rate limit sections once each is checked.

use std::time::Duration;

use super::graphql::{GraphqlSettings, OperationLimits, TrustedDocuments};
use super::http::HttpSettings;
use super::rate_limits::RateLimits;
use super::secrets::SecretKeys;

/// The API's settings: operation limits and the HTTP transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    /// Limits of each operation.
    pub limits: OperationLimits,
    /// Whether validation errors suggest field names.
    pub suggestions: bool,
    /// Operations per batched request; `None` when batching is off.
    pub max_batch: Option<usize>,
    /// Longest an operation over HTTP may run before it is cancelled.
    pub timeout: Duration,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Largest CSV upload in bytes.
    pub max_upload_bytes: usize,
    /// Origins allowed by CORS (scheme, host and port, no trailing slash).
    pub cors_origins: Vec<String>,
    /// Documents kept for automatic persisted queries; 0: off.
    pub apq_cache_size: usize,
    /// When set, only these operations run.
    pub trusted_documents: Option<TrustedDocuments>,
    /// Bytes of reads kept across query operations while the store's data is unchanged; 0: off.
    pub read_cache_bytes: u64,
    /// Request rates allowed per caller.
    pub rate_limits: RateLimits,
    /// How long a WebSocket connection may stay without `connection_init`.
    pub ws_init_timeout: Duration,
    /// Networks of the reverse proxies whose forwarding headers name the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The secret keys cursors are sealed with (keys derived from them); `None`: a key drawn
    /// at start.
    pub cursor_keys: Option<SecretKeys>,
    /// Days without a sign-in after which a user is `INACTIVE` (license optimization).
    pub inactive_days: u32,
}

impl ApiSettings {
    /// The API's settings from its checked sections.
    pub(super) fn new(
        graphql: GraphqlSettings,
        http: HttpSettings,
        rate_limits: RateLimits,
    ) -> Self {
        let GraphqlSettings {
            limits,
            suggestions,
            max_batch,
            timeout,
            apq_cache_size,
            trusted_documents,
            read_cache_bytes,
        } = graphql;
        ApiSettings {
            limits,
            suggestions,
            max_batch,
            timeout,
            max_body_bytes: http.max_body_bytes,
            max_upload_bytes: http.max_upload_bytes,
            cors_origins: http.cors_origins,
            apq_cache_size,
            trusted_documents,
            read_cache_bytes,
            rate_limits,
            ws_init_timeout: http.ws_init_timeout,
            trusted_proxies: http.trusted_proxies,
            cursor_keys: None,
            inactive_days: super::optimization::DEFAULT_INACTIVE_DAYS,
        }
    }
}

impl Default for ApiSettings {
    /// The API of the default settings (which pass their checks: a test in `config` says so).
    fn default() -> Self {
        let graphql = super::graphql::GraphqlSection::default().check(false);
        let http = super::http::HttpSection::default().check();
        let rate_limits = super::rate_limits::RateLimitSection::default().check(None);
        match (graphql, http, rate_limits) {
            (Ok(graphql), Ok(http), Ok(rate_limits)) => {
                ApiSettings::new(graphql, http, rate_limits)
            }
            _ => unreachable!("the default settings pass their checks"),
        }
    }
}

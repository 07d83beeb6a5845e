//! Settings from flags > `TENANTGRAPH_*` environment variables > TOML file > defaults, checked
//! once at start. The only module that reads the environment; imports nothing of ours.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{SecretSlice, SecretString};
use serde::{Deserialize, Serialize};

/// Default store: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tenantgraph.db?mode=rwc";
/// Store used by `serve --demo` when no database URL is set.
pub const DEMO_DATABASE_URL: &str = "sqlite://tenantgraph-demo.db?mode=rwc";
/// Where `/metrics` is served unless set: loopback only, the port Prometheus exporters use.
pub const DEFAULT_METRICS_BIND: &str = "127.0.0.1:9090";
/// Audit log entries are kept 7 years (7 × 365 + 2 leap days) unless set.
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 2557;

/// Setting keys read from the environment, as `TENANTGRAPH_<KEY>`.
const ENV_KEYS: &[&str] = &[
    "database_url",
    "db_max_connections",
    "db_acquire_timeout_secs",
    "bind",
    "metrics_bind",
    "http_trusted_proxies",
    "audit_retention_days",
    "log_format",
    "log_level",
    "graphiql",
    "login_url",
    "partner_center_url",
    "graph_url",
    "client_id",
    "client_secret",
    "client_secret_file",
    "refresh_token",
    "refresh_token_file",
    "secret_key",
    "secret_key_file",
    "secret_key_previous",
    "secret_key_previous_file",
    "partner_tenant_id",
    "import_tenants",
    "import_concurrency",
    "import_schedule",
    "import_max_attempts",
    "import_retry_cap_secs",
    "import_retry_base_ms",
    "import_large_tenant_users",
    "import_lease_secs",
    "import_http_timeout_secs",
    "db_statement_timeout_ms",
    "graphql_max_depth",
    "graphql_max_complexity",
    "graphql_max_aliases",
    "graphql_max_root_fields",
    "graphql_max_directives",
    "graphql_max_tokens",
    "graphql_max_document_bytes",
    "graphql_max_entities",
    "graphql_max_errors",
    "graphql_max_preview_rules",
    "graphql_max_concurrent_previews",
    "graphql_batching",
    "graphql_max_batch",
    "graphql_timeout_ms",
    "graphql_introspection",
    "graphql_suggestions",
    "http_max_body_bytes",
    "http_cors_origins",
    "auth_mode",
    "auth_issuer",
    "auth_audience",
    "auth_jwks_url",
    "auth_jwks_refresh_secs",
    "auth_hs256_secret",
    "auth_hs256_secret_file",
    "auth_roles_claim",
    "auth_tenants_claim",
    "auth_leeway_secs",
    "graphql_apq_cache_size",
    "graphql_trusted_documents",
    "rate_limit_per_second",
    "rate_limit_burst",
    "rate_limit_unauthenticated_per_second",
    "rate_limit_unauthenticated_burst",
    "ws_init_timeout_secs",
];

/// Microsoft's public-cloud endpoints, the defaults of the upstream URL settings.
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
/// Partner Center's public-cloud base URL.
pub const DEFAULT_PARTNER_CENTER_URL: &str = "https://api.partnercenter.microsoft.com";
/// Microsoft Graph's public-cloud base URL (without the `/v1.0` version segment).
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// How requests are authenticated (`TENANTGRAPH_AUTH_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthModeName {
    /// RS256/ES256 tokens checked against an issuer's JSON Web Key Set.
    Jwks,
    /// HS256 tokens signed with a shared secret.
    Hs256,
    /// No authentication: every request is the partner administrator (loopback binds only).
    None,
}

/// Every setting of the service, flat so that each maps to one `TENANTGRAPH_*` variable.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `TENANTGRAPH_DATABASE_URL`; unset means the default file (or the demo file with `--demo`).
    pub database_url: Option<String>,
    /// Largest number of pooled database connections.
    pub db_max_connections: u32,
    /// Seconds to wait for a pooled connection before failing a request.
    pub db_acquire_timeout_secs: u64,
    /// Address `serve` listens on.
    pub bind: SocketAddr,
    /// Address of the `/metrics` listener, or `off`; unset: `127.0.0.1:9090`, or a free
    /// loopback port (`127.0.0.1:0`) with `--demo` or when `bind` asks for port 0.
    pub metrics_bind: Option<String>,
    /// Comma-separated CIDRs (or addresses) of reverse proxies whose `Forwarded` and
    /// `X-Forwarded-For` headers name the client; empty: the peer is the client.
    pub http_trusted_proxies: String,
    /// Days audit log entries are kept; 0 keeps them forever.
    pub audit_retention_days: u32,
    /// Log line format.
    pub log_format: LogFormat,
    /// Log filter in `tracing` syntax, e.g. `info` or `tenantgraph=debug,info`.
    pub log_level: String,
    /// Serve GraphiQL at `GET /`.
    pub graphiql: bool,
    /// Start with the demo data set.
    #[serde(default)]
    pub demo: bool,
    /// Entra token endpoint base (`{login_url}/{tenant}/oauth2/v2.0/token`).
    pub login_url: String,
    /// Partner Center base (`{partner_center_url}/v1/customers`).
    pub partner_center_url: String,
    /// Microsoft Graph base (`{graph_url}/v1.0/users`).
    pub graph_url: String,
    /// Client id of the importer's multi-tenant app registration.
    pub client_id: Option<String>,
    /// The app's client secret (prefer `client_secret_file`).
    pub client_secret: Option<String>,
    /// File holding the client secret.
    pub client_secret_file: Option<String>,
    /// The service user's refresh token (prefer `refresh_token_file`).
    pub refresh_token: Option<String>,
    /// File holding the refresh token.
    pub refresh_token_file: Option<String>,
    /// 32 random bytes in base64 that encrypt the rotated refresh token in the store (prefer
    /// `secret_key_file`); required with importer credentials, except with `--demo`.
    pub secret_key: Option<String>,
    /// File holding the secret key.
    pub secret_key_file: Option<String>,
    /// The key before the last rotation: still decrypts rows written with it.
    pub secret_key_previous: Option<String>,
    /// File holding the previous secret key.
    pub secret_key_previous_file: Option<String>,
    /// The partner's own tenant id (Partner Center tokens are redeemed there).
    pub partner_tenant_id: Option<String>,
    /// Comma-separated tenant ids to import instead of listing Partner Center's customers.
    pub import_tenants: Option<String>,
    /// Tenants imported at the same time.
    pub import_concurrency: usize,
    /// When `serve` imports every tenant: cron in UTC (5 fields), or `off`.
    pub import_schedule: String,
    /// Attempts per upstream request before a 429/5xx/dropped connection fails the tenant.
    pub import_max_attempts: u32,
    /// Longest wait between two attempts, in seconds.
    pub import_retry_cap_secs: u64,
    /// First wait before a retry without `Retry-After`, in milliseconds (doubles, with jitter).
    pub import_retry_base_ms: u64,
    /// Tenants with at least this many stored users are read 999 a page through delta queries
    /// instead of 100 a page with their managers expanded.
    pub import_large_tenant_users: u64,
    /// Seconds a replica's claim on a tenant lasts without being renewed.
    pub import_lease_secs: u64,
    /// Timeout of one upstream HTTP request, in seconds.
    pub import_http_timeout_secs: u64,
    /// Longest one SQL statement may run, in milliseconds: PostgreSQL's `statement_timeout` on
    /// every pooled connection (SQLite has none; the GraphQL timeout bounds its operations).
    pub db_statement_timeout_ms: u64,
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
    /// Largest request body, in bytes.
    pub http_max_body_bytes: usize,
    /// Comma-separated origins allowed to call `/graphql` from a browser (CORS); empty: none.
    pub http_cors_origins: String,
    /// `jwks`, `hs256` or `none`; unset: `serve` refuses to start, except with `--demo` (none).
    pub auth_mode: Option<AuthModeName>,
    /// Expected `iss` of tokens (required with `jwks`; checked with `hs256` when set).
    pub auth_issuer: Option<String>,
    /// Expected `aud` of tokens (required with `jwks`; checked with `hs256` when set).
    pub auth_audience: Option<String>,
    /// URL of the issuer's JSON Web Key Set (`jwks`).
    pub auth_jwks_url: Option<String>,
    /// Fewest seconds between two fetches of the key set when a token names an unknown key.
    pub auth_jwks_refresh_secs: u64,
    /// Shared secret of `hs256` tokens (prefer `auth_hs256_secret_file`).
    pub auth_hs256_secret: Option<String>,
    /// File holding the `hs256` secret.
    pub auth_hs256_secret_file: Option<String>,
    /// Claim holding the caller's roles.
    pub auth_roles_claim: String,
    /// Claim holding the tenant ids the caller may see.
    pub auth_tenants_claim: String,
    /// Clock skew allowed when checking `exp` and `nbf`, in seconds.
    pub auth_leeway_secs: u64,
    /// Documents kept for automatic persisted queries (sent once, then by SHA-256 hash);
    /// 0 turns them off.
    pub graphql_apq_cache_size: usize,
    /// A persisted query manifest (JSON); when set, only its operations run.
    pub graphql_trusted_documents: Option<String>,
    /// Requests (HTTP requests, WebSocket connections and WebSocket operations) one principal
    /// may make per second, sustained; 0 turns the limit off. Without authentication (mode
    /// `none`) the client address stands for the principal.
    pub rate_limit_per_second: u32,
    /// Requests one principal may make at once above the sustained rate (the bucket's size).
    pub rate_limit_burst: u32,
    /// Requests per second from one client address whose token is missing or refused; 0: off.
    pub rate_limit_unauthenticated_per_second: u32,
    /// Bucket size for requests from one client address without a valid token.
    pub rate_limit_unauthenticated_burst: u32,
    /// Seconds a WebSocket client has to send `connection_init` before it is disconnected.
    pub ws_init_timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: None,
            db_max_connections: 8,
            db_acquire_timeout_secs: 5,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_bind: None,
            http_trusted_proxies: String::new(),
            audit_retention_days: DEFAULT_AUDIT_RETENTION_DAYS,
            log_format: LogFormat::Pretty,
            log_level: "info".to_owned(),
            graphiql: true,
            demo: false,
            login_url: DEFAULT_LOGIN_URL.to_owned(),
            partner_center_url: DEFAULT_PARTNER_CENTER_URL.to_owned(),
            graph_url: DEFAULT_GRAPH_URL.to_owned(),
            client_id: None,
            client_secret: None,
            client_secret_file: None,
            refresh_token: None,
            refresh_token_file: None,
            secret_key: None,
            secret_key_file: None,
            secret_key_previous: None,
            secret_key_previous_file: None,
            partner_tenant_id: None,
            import_tenants: None,
            import_concurrency: 8,
            import_schedule: "0 2 * * *".to_owned(),
            import_max_attempts: 6,
            import_retry_cap_secs: 180,
            import_retry_base_ms: 3000,
            import_large_tenant_users: 10_000,
            import_lease_secs: 120,
            import_http_timeout_secs: 60,
            db_statement_timeout_ms: 5_000,
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
            http_max_body_bytes: 256 * 1024,
            http_cors_origins: String::new(),
            auth_mode: None,
            auth_issuer: None,
            auth_audience: None,
            auth_jwks_url: None,
            auth_jwks_refresh_secs: 60,
            auth_hs256_secret: None,
            auth_hs256_secret_file: None,
            auth_roles_claim: "roles".to_owned(),
            auth_tenants_claim: "tenants".to_owned(),
            auth_leeway_secs: 60,
            graphql_apq_cache_size: 1_000,
            graphql_trusted_documents: None,
            rate_limit_per_second: 50,
            rate_limit_burst: 100,
            rate_limit_unauthenticated_per_second: 5,
            rate_limit_unauthenticated_burst: 20,
            ws_init_timeout_secs: 10,
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &self.store().masked_url())
            .field("db_max_connections", &self.db_max_connections)
            .field("bind", &self.bind)
            .field("metrics_bind", &self.metrics_bind)
            .field("http_trusted_proxies", &self.http_trusted_proxies)
            .field("audit_retention_days", &self.audit_retention_days)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("graphiql", &self.graphiql)
            .field("demo", &self.demo)
            .field("login_url", &self.login_url)
            .field("partner_center_url", &self.partner_center_url)
            .field("graph_url", &self.graph_url)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "secret_key_previous",
                &self.secret_key_previous.as_ref().map(|_| "[redacted]"),
            )
            .field("partner_tenant_id", &self.partner_tenant_id)
            .field("import_concurrency", &self.import_concurrency)
            .field("import_schedule", &self.import_schedule)
            .field("api", &self.api())
            .field("auth_mode", &self.auth_mode)
            .field("auth_issuer", &self.auth_issuer)
            .field("auth_audience", &self.auth_audience)
            .field("auth_jwks_url", &self.auth_jwks_url)
            .field(
                "auth_hs256_secret",
                &self.auth_hs256_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

/// Values given on the command line; they win over every other source.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    /// `--bind`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    /// `--log-format`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// `--demo`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub demo: bool,
}

/// A setting that can't be used, named with what was expected.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {key}{source_hint}: {message}")]
pub struct SettingsError {
    key: String,
    source_hint: String,
    message: String,
}

impl SettingsError {
    /// A setting that is missing or unusable for what was asked.
    pub fn missing(key: &str, message: impl Into<String>) -> Self {
        SettingsError::new(key, message)
    }

    fn new(key: &str, message: impl Into<String>) -> Self {
        SettingsError {
            key: key.to_owned(),
            source_hint: String::new(),
            message: message.into(),
        }
    }
}

impl Settings {
    /// Loads settings from the given TOML file (if any), the environment and the flags.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Settings, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(SettingsError::new(
                    "--config",
                    format!(
                        "expected a readable TOML file, {} does not exist",
                        file.display()
                    ),
                ));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment
            .merge(Env::prefixed("TENANTGRAPH_").filter(|key| ENV_KEYS.iter().any(|k| key == *k)))
            .merge(Serialized::defaults(overrides));
        let settings: Settings = figment.extract().map_err(from_figment)?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let url = self.store().url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(SettingsError::new(
                "TENANTGRAPH_DATABASE_URL",
                format!("expected sqlite:… or postgres://…, got {}", mask_url(&url)),
            ));
        }
        if self.db_max_connections == 0 {
            return Err(SettingsError::new(
                "TENANTGRAPH_DB_MAX_CONNECTIONS",
                "expected at least 1",
            ));
        }
        // Credentials without a secret key are refused by the commands that would store a
        // token (`Settings::importer`); `migrate` needs no key.
        self.importer_settings()?;
        self.metrics_listener()?;
        self.api_checked()?;
        if self.auth_mode.is_some() {
            self.auth()?;
        }
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.log_level) {
            return Err(SettingsError::new(
                "TENANTGRAPH_LOG_LEVEL",
                format!("expected a tracing filter such as `info`: {err}"),
            ));
        }
        Ok(())
    }

    /// The store's part of the settings.
    pub fn store(&self) -> StoreSettings {
        let url = match (&self.database_url, self.demo) {
            (Some(url), _) => url.clone(),
            (None, true) => DEMO_DATABASE_URL.to_owned(),
            (None, false) => DEFAULT_DATABASE_URL.to_owned(),
        };
        StoreSettings {
            url,
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_secs(self.db_acquire_timeout_secs),
            statement_timeout: Duration::from_millis(self.db_statement_timeout_ms),
        }
    }

    /// The API's part of the settings: operation limits and HTTP transport. Unchecked; `load`
    /// has refused unusable values already.
    pub fn api(&self) -> ApiSettings {
        ApiSettings {
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
                introspection: self.graphql_introspection.unwrap_or(self.demo),
            },
            suggestions: self.graphql_suggestions.unwrap_or(self.demo),
            max_batch: self.graphql_batching.then_some(self.graphql_max_batch),
            timeout: Duration::from_millis(self.graphql_timeout_ms),
            max_body_bytes: self.http_max_body_bytes,
            cors_origins: self
                .http_cors_origins
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            apq_cache_size: self.graphql_apq_cache_size,
            // `load` refused a manifest that can't be read; should it have become unreadable
            // since, an empty one refuses every operation rather than allowing all.
            trusted_documents: self
                .graphql_trusted_documents
                .as_ref()
                .map(|path| TrustedDocuments::load(Path::new(path)).unwrap_or_default()),
            rate_limits: RateLimits {
                principal: Bucket::new(self.rate_limit_per_second, self.rate_limit_burst),
                unauthenticated: Bucket::new(
                    self.rate_limit_unauthenticated_per_second,
                    self.rate_limit_unauthenticated_burst,
                ),
            },
            ws_init_timeout: Duration::from_secs(self.ws_init_timeout_secs),
            // `load` refused an invalid list.
            trusted_proxies: self.trusted_proxies().unwrap_or_default(),
        }
    }

    fn api_checked(&self) -> Result<ApiSettings, SettingsError> {
        let at_least_one = [
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
            (
                "TENANTGRAPH_DB_STATEMENT_TIMEOUT_MS",
                self.db_statement_timeout_ms,
            ),
            (
                "TENANTGRAPH_HTTP_MAX_BODY_BYTES",
                self.http_max_body_bytes as u64,
            ),
            (
                "TENANTGRAPH_WS_INIT_TIMEOUT_SECS",
                self.ws_init_timeout_secs,
            ),
        ];
        if let Some((key, _)) = at_least_one.iter().find(|(_, value)| *value == 0) {
            return Err(SettingsError::new(key, "expected at least 1"));
        }
        for (key, per_second, burst) in [
            (
                "TENANTGRAPH_RATE_LIMIT_BURST",
                self.rate_limit_per_second,
                self.rate_limit_burst,
            ),
            (
                "TENANTGRAPH_RATE_LIMIT_UNAUTHENTICATED_BURST",
                self.rate_limit_unauthenticated_per_second,
                self.rate_limit_unauthenticated_burst,
            ),
        ] {
            if per_second > 0 && burst == 0 {
                return Err(SettingsError::new(
                    key,
                    "expected at least 1 while its rate per second is above 0",
                ));
            }
        }
        if self.graphql_batching
            && self.rate_limit_per_second > 0
            && (self.rate_limit_burst as usize) < self.graphql_max_batch
        {
            return Err(SettingsError::new(
                "TENANTGRAPH_RATE_LIMIT_BURST",
                format!(
                    "expected at least TENANTGRAPH_GRAPHQL_MAX_BATCH ({}): a batch takes one \
                     request per operation",
                    self.graphql_max_batch
                ),
            ));
        }
        if let Some(path) = &self.graphql_trusted_documents {
            TrustedDocuments::load(Path::new(path)).map_err(|message| {
                SettingsError::new("TENANTGRAPH_GRAPHQL_TRUSTED_DOCUMENTS", message)
            })?;
        }
        self.trusted_proxies()
            .map_err(|message| SettingsError::new("TENANTGRAPH_HTTP_TRUSTED_PROXIES", message))?;
        let api = self.api();
        if let Some(origin) = api
            .cors_origins
            .iter()
            .find(|o| url::Url::parse(o).map_or(true, |u| !matches!(u.scheme(), "http" | "https")))
        {
            return Err(SettingsError::new(
                "TENANTGRAPH_HTTP_CORS_ORIGINS",
                format!(
                    "expected comma-separated origins such as https://portal.example.com, got {origin:?}"
                ),
            ));
        }
        Ok(api)
    }

    /// How `serve` authenticates requests, with the secret read from its file. Refuses an unset
    /// mode (unless `--demo`, which means `none`), `none` on an address other than loopback, and
    /// a mode without what it needs (`jwks`: key set URL, issuer and audience; `hs256`: secret).
    pub fn auth(&self) -> Result<AuthSettings, SettingsError> {
        const MODE: &str = "TENANTGRAPH_AUTH_MODE";
        let name = match (self.auth_mode, self.demo) {
            (Some(name), _) => name,
            (None, true) => AuthModeName::None,
            (None, false) => {
                return Err(SettingsError::new(
                    MODE,
                    "expected jwks, hs256 or none: `serve` does not start without an \
                     authentication mode (only `--demo` defaults to none)",
                ));
            }
        };
        let optional = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let text = |key: &str, value: &Option<String>| {
            optional(value)
                .ok_or_else(|| SettingsError::new(key, "required with TENANTGRAPH_AUTH_MODE=jwks"))
        };
        let mode = match name {
            AuthModeName::None => {
                if !self.bind.ip().is_loopback() {
                    return Err(SettingsError::new(
                        MODE,
                        format!(
                            "none (no authentication) is only allowed on a loopback address, \
                             but TENANTGRAPH_BIND is {}; set jwks or hs256",
                            self.bind
                        ),
                    ));
                }
                AuthMode::None
            }
            AuthModeName::Hs256 => {
                let secret = secret(
                    "TENANTGRAPH_AUTH_HS256_SECRET",
                    &self.auth_hs256_secret,
                    &self.auth_hs256_secret_file,
                )?
                .ok_or_else(|| {
                    SettingsError::new(
                        "TENANTGRAPH_AUTH_HS256_SECRET",
                        "required with TENANTGRAPH_AUTH_MODE=hs256 (or _FILE)",
                    )
                })?;
                if secrecy::ExposeSecret::expose_secret(&secret).len() < 32 {
                    return Err(SettingsError::new(
                        "TENANTGRAPH_AUTH_HS256_SECRET",
                        "expected at least 32 bytes",
                    ));
                }
                AuthMode::Hs256 {
                    secret,
                    issuer: optional(&self.auth_issuer),
                    audience: optional(&self.auth_audience),
                }
            }
            AuthModeName::Jwks => {
                let url = text("TENANTGRAPH_AUTH_JWKS_URL", &self.auth_jwks_url)?;
                let url = url::Url::parse(&url)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| {
                        SettingsError::new(
                            "TENANTGRAPH_AUTH_JWKS_URL",
                            format!("expected an http(s) URL, got {url:?}"),
                        )
                    })?;
                AuthMode::Jwks {
                    url,
                    issuer: text("TENANTGRAPH_AUTH_ISSUER", &self.auth_issuer)?,
                    audience: text("TENANTGRAPH_AUTH_AUDIENCE", &self.auth_audience)?,
                    min_refresh: Duration::from_secs(self.auth_jwks_refresh_secs),
                }
            }
        };
        for (key, value) in [
            ("TENANTGRAPH_AUTH_ROLES_CLAIM", &self.auth_roles_claim),
            ("TENANTGRAPH_AUTH_TENANTS_CLAIM", &self.auth_tenants_claim),
        ] {
            if value.trim().is_empty() {
                return Err(SettingsError::new(key, "expected a claim name"));
            }
        }
        Ok(AuthSettings {
            mode,
            roles_claim: self.auth_roles_claim.trim().to_owned(),
            tenants_claim: self.auth_tenants_claim.trim().to_owned(),
            leeway: Duration::from_secs(self.auth_leeway_secs),
        })
    }

    /// The importer's part of the settings, with secrets read from their files. Refuses
    /// credentials without `TENANTGRAPH_SECRET_KEY`: the rotated refresh token they lead to is
    /// only stored encrypted.
    pub fn importer(&self) -> Result<ImporterSettings, SettingsError> {
        let settings = self.importer_settings()?;
        if settings.credentials.is_some() && settings.secret_keys.is_none() {
            return Err(SettingsError::new(
                SECRET_KEY,
                "required with importer credentials, to encrypt the rotated refresh token in \
                 the store: 32 random bytes in base64 (`openssl rand -base64 32`), or \
                 TENANTGRAPH_SECRET_KEY_FILE",
            ));
        }
        Ok(settings)
    }

    /// The keys that encrypt secrets in the store, decoded; `None` when no key is set.
    pub fn secret_keys(&self) -> Result<Option<SecretKeys>, SettingsError> {
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

    fn importer_settings(&self) -> Result<ImporterSettings, SettingsError> {
        let url = |key: &str, value: &str| {
            url::Url::parse(value)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| {
                    SettingsError::new(key, format!("expected an http(s) URL, got {value:?}"))
                })
        };
        let client_secret = secret(
            "TENANTGRAPH_CLIENT_SECRET",
            &self.client_secret,
            &self.client_secret_file,
        )?;
        let refresh_token = secret(
            "TENANTGRAPH_REFRESH_TOKEN",
            &self.refresh_token,
            &self.refresh_token_file,
        )?;
        let credentials = match (&self.client_id, client_secret, refresh_token) {
            (None, None, None) => None,
            (Some(client_id), Some(client_secret), Some(refresh_token)) => Some(Credentials {
                client_id: client_id.clone(),
                client_secret,
                refresh_token,
            }),
            (client_id, secret, token) => {
                let missing: Vec<&str> = [
                    (client_id.is_none(), "TENANTGRAPH_CLIENT_ID"),
                    (secret.is_none(), "TENANTGRAPH_CLIENT_SECRET"),
                    (token.is_none(), "TENANTGRAPH_REFRESH_TOKEN"),
                ]
                .into_iter()
                .filter_map(|(m, name)| m.then_some(name))
                .collect();
                return Err(SettingsError::new(
                    "importer credentials",
                    format!("set all three or none; missing {}", missing.join(", ")),
                ));
            }
        };
        let partner_tenant_id = self
            .partner_tenant_id
            .as_deref()
            .map(|v| parse_guid("TENANTGRAPH_PARTNER_TENANT_ID", v))
            .transpose()?;
        let tenants = self
            .import_tenants
            .as_deref()
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| parse_guid("TENANTGRAPH_IMPORT_TENANTS", v))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let schedule = match self.import_schedule.trim() {
            "off" | "" => None,
            cron => {
                <croner::Cron as std::str::FromStr>::from_str(cron).map_err(|e| {
                    SettingsError::new(
                        "TENANTGRAPH_IMPORT_SCHEDULE",
                        format!("expected a 5-field cron expression in UTC or `off`: {e}"),
                    )
                })?;
                Some(cron.to_owned())
            }
        };
        if self.import_concurrency == 0 {
            return Err(SettingsError::new(
                "TENANTGRAPH_IMPORT_CONCURRENCY",
                "expected at least 1",
            ));
        }
        if self.import_max_attempts == 0 {
            return Err(SettingsError::new(
                "TENANTGRAPH_IMPORT_MAX_ATTEMPTS",
                "expected at least 1",
            ));
        }
        if self.import_lease_secs < 10 {
            return Err(SettingsError::new(
                "TENANTGRAPH_IMPORT_LEASE_SECS",
                "expected at least 10 seconds",
            ));
        }
        Ok(ImporterSettings {
            login_url: url("TENANTGRAPH_LOGIN_URL", &self.login_url)?,
            partner_center_url: url("TENANTGRAPH_PARTNER_CENTER_URL", &self.partner_center_url)?,
            graph_url: url("TENANTGRAPH_GRAPH_URL", &self.graph_url)?,
            credentials,
            partner_tenant_id,
            tenants,
            concurrency: self.import_concurrency,
            schedule,
            max_attempts: self.import_max_attempts,
            retry_cap: Duration::from_secs(self.import_retry_cap_secs),
            retry_base: Duration::from_millis(self.import_retry_base_ms),
            large_tenant_users: self.import_large_tenant_users,
            lease: Duration::from_secs(self.import_lease_secs),
            http_timeout: Duration::from_secs(self.import_http_timeout_secs.max(1)),
            secret_keys: self.secret_keys()?,
        })
    }
}

/// Operations settings: the metrics listener, trusted proxies and audit retention.
impl Settings {
    /// Where `/metrics` is served, or `None` when `off`. Unset: [`DEFAULT_METRICS_BIND`], but a
    /// free loopback port with `--demo` or when `bind` asks for port 0, so that several such
    /// servers (demos, tests) can run side by side.
    pub fn metrics_listener(&self) -> Result<Option<SocketAddr>, SettingsError> {
        const KEY: &str = "TENANTGRAPH_METRICS_BIND";
        let addr = match self.metrics_bind.as_deref().map(str::trim) {
            Some("off") => return Ok(None),
            Some(text) => text.parse::<SocketAddr>().map_err(|_| {
                SettingsError::new(
                    KEY,
                    format!("expected an address such as 127.0.0.1:9090, or off, got {text:?}"),
                )
            })?,
            None if self.demo || self.bind.port() == 0 => SocketAddr::from(([127, 0, 0, 1], 0)),
            None => DEFAULT_METRICS_BIND.parse().map_err(|_| {
                SettingsError::new(KEY, "the default metrics address does not parse")
            })?,
        };
        if addr.port() != 0 && addr == self.bind {
            return Err(SettingsError::new(
                KEY,
                format!("expected an address other than TENANTGRAPH_BIND, got {addr}"),
            ));
        }
        Ok(Some(addr))
    }

    /// How long audit log entries are kept; `None` keeps them forever.
    pub fn audit_retention(&self) -> Option<Duration> {
        (self.audit_retention_days > 0)
            .then(|| Duration::from_secs(u64::from(self.audit_retention_days) * 86_400))
    }

    /// The trusted proxies' networks: each entry a CIDR (`10.0.0.0/8`) or a single address.
    fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.http_trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        format!(
                            "expected comma-separated CIDRs such as 10.0.0.0/8 or addresses, \
                             got {entry:?}"
                        )
                    })
            })
            .collect()
    }
}

fn parse_guid(key: &str, value: &str) -> Result<uuid::Uuid, SettingsError> {
    uuid::Uuid::try_parse(value.trim())
        .map_err(|_| SettingsError::new(key, format!("expected a tenant GUID, got {value:?}")))
}

/// A secret given directly or as a file (`_FILE`); both at once is refused.
fn secret(
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

const SECRET_KEY: &str = "TENANTGRAPH_SECRET_KEY";
const SECRET_KEY_PREVIOUS: &str = "TENANTGRAPH_SECRET_KEY_PREVIOUS";
/// Bytes of a secret key (AES-256).
const SECRET_KEY_BYTES: usize = 32;

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

impl fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKeys")
            .field("current", &"[redacted]")
            .field("previous", &self.previous.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// The app + user credentials the importer redeems (secure application model).
#[derive(Clone)]
pub struct Credentials {
    /// The multi-tenant app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: SecretString,
    /// The service user's refresh token as configured (a newer rotated one may be stored).
    pub refresh_token: SecretString,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .finish()
    }
}

/// Everything the importer needs from the settings.
#[derive(Debug, Clone)]
pub struct ImporterSettings {
    /// Entra token endpoint base.
    pub login_url: url::Url,
    /// Partner Center base.
    pub partner_center_url: url::Url,
    /// Graph base (without `/v1.0`).
    pub graph_url: url::Url,
    /// App + user credentials; `None` when not configured (imports are then off).
    pub credentials: Option<Credentials>,
    /// The partner's tenant, needed to list Partner Center customers.
    pub partner_tenant_id: Option<uuid::Uuid>,
    /// A fixed list of tenants instead of Partner Center's customers.
    pub tenants: Option<Vec<uuid::Uuid>>,
    /// Tenants imported at the same time.
    pub concurrency: usize,
    /// Cron expression (UTC) of the daily import in `serve`; `None` when off.
    pub schedule: Option<String>,
    /// Attempts per upstream request.
    pub max_attempts: u32,
    /// Longest wait between attempts.
    pub retry_cap: Duration,
    /// First wait between attempts without `Retry-After`.
    pub retry_base: Duration,
    /// Stored user count from which a tenant is read through delta pages of 999.
    pub large_tenant_users: u64,
    /// How long a claim on a tenant lasts without renewal.
    pub lease: Duration,
    /// Timeout of one upstream request.
    pub http_timeout: Duration,
    /// Keys encrypting the rotated refresh token in the store; [`Settings::importer`] refuses
    /// credentials without them.
    pub secret_keys: Option<SecretKeys>,
}

/// Default complexity budget: the Client Portal's users page (100 users with manager and
/// licenses) costs about 1,800, a page of 500 about 9,000.
pub const DEFAULT_MAX_COMPLEXITY: u64 = 20_000;

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
    /// Origins allowed by CORS (scheme, host and port, no trailing slash).
    pub cors_origins: Vec<String>,
    /// Documents kept for automatic persisted queries; 0: off.
    pub apq_cache_size: usize,
    /// When set, only these operations run.
    pub trusted_documents: Option<TrustedDocuments>,
    /// Request rates allowed per caller.
    pub rate_limits: RateLimits,
    /// How long a WebSocket connection may stay without `connection_init`.
    pub ws_init_timeout: Duration,
    /// Networks of the reverse proxies whose forwarding headers name the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// Token buckets limiting how fast callers may send requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Per authenticated principal (per client address when authentication is off).
    pub principal: Option<Bucket>,
    /// Per client address, for requests whose token is missing or refused.
    pub unauthenticated: Option<Bucket>,
}

impl RateLimits {
    /// No rate limits at all.
    pub fn off() -> Self {
        RateLimits {
            principal: None,
            unauthenticated: None,
        }
    }
}

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    /// Sustained requests per second (at least 1).
    pub per_second: u32,
    /// Requests allowed at once (at least 1).
    pub burst: u32,
}

impl Bucket {
    /// The bucket of a rate and size; `None` (no limit) when the rate is 0.
    pub fn new(per_second: u32, burst: u32) -> Option<Bucket> {
        (per_second > 0).then_some(Bucket {
            per_second,
            burst: burst.max(1),
        })
    }
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

impl Default for ApiSettings {
    fn default() -> Self {
        Settings::default().api()
    }
}

/// How requests prove who they are.
#[derive(Debug, Clone)]
pub enum AuthMode {
    /// RS256/ES256 tokens signed by a key of the issuer's key set.
    Jwks {
        /// The key set (JWKS) URL.
        url: url::Url,
        /// Expected `iss`.
        issuer: String,
        /// Expected `aud`.
        audience: String,
        /// Fewest time between two fetches of the key set for an unknown `kid`.
        min_refresh: Duration,
    },
    /// HS256 tokens signed with a shared secret.
    Hs256 {
        /// The secret (redacted in `Debug`).
        secret: SecretString,
        /// Expected `iss`, when set.
        issuer: Option<String>,
        /// Expected `aud`, when set.
        audience: Option<String>,
    },
    /// No authentication: every request is the partner administrator. Loopback binds only.
    None,
}

/// Authentication settings of `serve`.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// How tokens are checked.
    pub mode: AuthMode,
    /// Claim holding the roles (`reader`, `allocator`, `importer`, `partner_admin`).
    pub roles_claim: String,
    /// Claim holding the tenant ids the caller may see.
    pub tenants_claim: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
}

impl AuthSettings {
    /// No authentication, as `--demo` and the tests that are not about authentication use it.
    pub fn none() -> Self {
        AuthSettings {
            mode: AuthMode::None,
            ..AuthSettings::hs256(SecretString::from(String::new()))
        }
    }

    /// HS256 with `secret`, no issuer or audience, default claim names and leeway.
    pub fn hs256(secret: SecretString) -> Self {
        let defaults = Settings::default();
        AuthSettings {
            mode: AuthMode::Hs256 {
                secret,
                issuer: None,
                audience: None,
            },
            roles_claim: defaults.auth_roles_claim,
            tenants_claim: defaults.auth_tenants_claim,
            leeway: Duration::from_secs(defaults.auth_leeway_secs),
        }
    }
}

/// Where and how to connect to the store.
#[derive(Clone)]
pub struct StoreSettings {
    /// `sqlite:…` or `postgres://…`; may hold a password, so print [`Self::masked_url`].
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// How long a request waits for a pooled connection.
    pub acquire_timeout: Duration,
    /// Longest one statement may run.
    pub statement_timeout: Duration,
}

impl StoreSettings {
    /// Settings for `url` with default pool sizes.
    pub fn for_url(url: impl Into<String>) -> Self {
        let defaults = Settings::default();
        StoreSettings {
            url: url.into(),
            max_connections: defaults.db_max_connections,
            acquire_timeout: Duration::from_secs(defaults.db_acquire_timeout_secs),
            statement_timeout: Duration::from_millis(defaults.db_statement_timeout_ms),
        }
    }

    /// The URL with any password replaced by `***`.
    pub fn masked_url(&self) -> String {
        mask_url(&self.url)
    }
}

impl fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSettings")
            .field("url", &self.masked_url())
            .field("max_connections", &self.max_connections)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

/// Replaces the password of a URL with `***`; text that is not a URL comes back unchanged.
pub fn mask_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Setting a password only fails on URLs that can't have one, which we checked.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => raw.to_owned(),
    }
}

fn from_figment(err: figment::Error) -> SettingsError {
    let key = err
        .path
        .last()
        .map(|k| format!("TENANTGRAPH_{}", k.to_uppercase()))
        .unwrap_or_else(|| "settings".to_owned());
    let source_hint = err
        .metadata
        .as_ref()
        .map(|m| format!(" (from {})", m.name))
        .unwrap_or_default();
    SettingsError {
        key,
        source_hint,
        message: err.kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `config.default.toml` lists every setting: each key read from the environment, no
    /// other, each with the built-in default (keys unset by default are commented out), and the
    /// settings table of docs/configuration.md names each one.
    #[test]
    fn config_default_toml_lists_every_setting_with_its_default() {
        let text = include_str!("../config.default.toml");
        let in_file: std::collections::BTreeSet<&str> = text
            .lines()
            .filter_map(|line| {
                let line = line.strip_prefix("# ").unwrap_or(line);
                let (key, _) = line.split_once(" = ")?;
                key.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    .then_some(key)
            })
            .collect();
        let in_code: std::collections::BTreeSet<&str> = ENV_KEYS.iter().copied().collect();
        assert_eq!(
            in_file.difference(&in_code).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "keys in config.default.toml that the code does not read"
        );
        assert_eq!(
            in_code.difference(&in_file).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "settings missing from config.default.toml"
        );
        let from_file: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(text))
            .extract()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&from_file).unwrap(),
            serde_json::to_value(Settings::default()).unwrap(),
            "a value in config.default.toml is not the built-in default"
        );
        let table = include_str!("../docs/configuration.md");
        for key in ENV_KEYS {
            let variable = format!("`TENANTGRAPH_{}`", key.to_uppercase());
            assert!(
                table.contains(&variable),
                "{variable} is not in docs/configuration.md"
            );
        }
    }

    #[test]
    fn password_in_a_database_url_is_masked() {
        assert_eq!(
            mask_url("postgres://app:s3cret@db.example:5432/tg"),
            "postgres://app:***@db.example:5432/tg"
        );
        assert_eq!(mask_url("sqlite://x.db?mode=rwc"), "sqlite://x.db?mode=rwc");
    }

    #[test]
    fn debug_output_hides_the_database_password() {
        let settings = Settings {
            database_url: Some("postgres://app:s3cret@db/tg".into()),
            ..Settings::default()
        };
        assert!(!format!("{settings:?}").contains("s3cret"));
    }

    #[test]
    fn debug_output_hides_importer_secrets() {
        let settings = Settings {
            client_id: Some("app".into()),
            client_secret: Some("client-s3cret".into()),
            refresh_token: Some("refresh-s3cret".into()),
            secret_key: Some(KEY_S3CRET.into()),
            ..Settings::default()
        };
        let importer = settings.importer().unwrap();
        for text in [format!("{settings:?}"), format!("{importer:?}")] {
            assert!(!text.contains("s3cret"), "{text}");
            assert!(text.contains("[redacted]"), "{text}");
        }
    }

    #[test]
    fn secrets_are_read_from_files_and_half_configured_credentials_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        let settings = Settings {
            client_id: Some("app".into()),
            client_secret: Some("secret".into()),
            refresh_token_file: Some(file.display().to_string()),
            secret_key: Some(KEY_S3CRET.into()),
            ..Settings::default()
        };
        let credentials = settings.importer().unwrap().credentials.unwrap();
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&credentials.refresh_token),
            "from-file"
        );
        let half = Settings {
            client_id: Some("app".into()),
            ..Settings::default()
        };
        let err = half.importer().unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_CLIENT_SECRET"), "{err}");
        assert!(err.contains("TENANTGRAPH_REFRESH_TOKEN"), "{err}");
    }

    /// 32 bytes in base64 (they read `s3cret…`): Debug output must never show them.
    const KEY_S3CRET: &str = "czNjcmV0LWtleS0zMi1ieXRlcy1sb25nLXMzY3JldCE=";

    #[test]
    fn importer_credentials_need_a_secret_key_that_migrate_does_not() {
        let settings = Settings {
            client_id: Some("app".into()),
            client_secret: Some("secret".into()),
            refresh_token: Some("token".into()),
            ..Settings::default()
        };
        settings.validate().unwrap();
        let err = settings.importer().unwrap_err().to_string();
        assert!(
            err.starts_with("invalid setting TENANTGRAPH_SECRET_KEY:"),
            "{err}"
        );
        assert!(err.contains("openssl rand -base64 32"), "{err}");
        let keyed = Settings {
            secret_key: Some(KEY_S3CRET.into()),
            ..settings
        };
        let keys = keyed.importer().unwrap().secret_keys.unwrap();
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&keys.current).len(),
            32
        );
        assert!(keys.previous.is_none());
    }

    #[test]
    fn secret_keys_are_32_bytes_of_base64_named_but_never_shown() {
        for (value, expected) in [("not base64!", "not base64"), ("c2hvcnQ=", "got 5 bytes")] {
            let settings = Settings {
                secret_key_previous: Some(value.into()),
                secret_key: Some(KEY_S3CRET.into()),
                ..Settings::default()
            };
            let err = settings.validate().unwrap_err().to_string();
            assert!(err.contains("TENANTGRAPH_SECRET_KEY_PREVIOUS"), "{err}");
            assert!(err.contains(expected) && !err.contains(value), "{err}");
        }
        let previous_only = Settings {
            secret_key_previous: Some(KEY_S3CRET.into()),
            ..Settings::default()
        };
        let err = previous_only.validate().unwrap_err().to_string();
        assert!(
            err.starts_with("invalid setting TENANTGRAPH_SECRET_KEY:"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, format!("{KEY_S3CRET}\n")).unwrap();
        let settings = Settings {
            secret_key_file: Some(file.display().to_string()),
            secret_key_previous: Some(KEY_S3CRET.into()),
            ..Settings::default()
        };
        let keys = settings.secret_keys().unwrap().unwrap();
        assert!(keys.previous.is_some());
        for text in [format!("{settings:?}"), format!("{keys:?}")] {
            assert!(
                !text.contains(KEY_S3CRET) && !text.contains("s3cret"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_bad_import_schedule_is_named() {
        let settings = Settings {
            import_schedule: "every day".into(),
            ..Settings::default()
        };
        let err = settings.importer().unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_IMPORT_SCHEDULE"), "{err}");
    }

    #[test]
    fn demo_without_a_url_uses_the_demo_file() {
        let settings = Settings {
            demo: true,
            ..Settings::default()
        };
        assert_eq!(settings.store().url, DEMO_DATABASE_URL);
        assert_eq!(Settings::default().store().url, DEFAULT_DATABASE_URL);
    }

    #[test]
    fn toml_file_is_read_and_a_bad_value_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tg.toml");
        std::fs::write(&path, "db_max_connections = \"many\"\n").unwrap();
        let err = Settings::load(Some(&path), &Overrides::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("TENANTGRAPH_DB_MAX_CONNECTIONS"), "{text}");
        assert!(!text.contains('\n'), "{text}");

        std::fs::write(&path, "db_max_connections = 3\nlog_level = \"debug\"\n").unwrap();
        let settings = Settings::load(Some(&path), &Overrides::default()).unwrap();
        assert_eq!(settings.db_max_connections, 3);
        assert_eq!(settings.log_level, "debug");
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tg.toml");
        std::fs::write(&path, "bind = \"127.0.0.1:9000\"\n").unwrap();
        let overrides = Overrides {
            bind: Some("127.0.0.1:9100".parse().unwrap()),
            ..Overrides::default()
        };
        let settings = Settings::load(Some(&path), &overrides).unwrap();
        assert_eq!(settings.bind.port(), 9100);
    }

    #[test]
    fn introspection_and_suggestions_follow_demo_unless_set() {
        let production = Settings::default().api();
        assert!(!production.limits.introspection && !production.suggestions);
        let demo = Settings {
            demo: true,
            ..Settings::default()
        }
        .api();
        assert!(demo.limits.introspection && demo.suggestions);
        let explicit = Settings {
            demo: true,
            graphql_introspection: Some(false),
            ..Settings::default()
        }
        .api();
        assert!(!explicit.limits.introspection && explicit.suggestions);
    }

    #[test]
    fn zero_limits_and_bad_cors_origins_are_refused() {
        let settings = Settings {
            graphql_max_depth: 0,
            ..Settings::default()
        };
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_GRAPHQL_MAX_DEPTH"), "{err}");
        let settings = Settings {
            http_cors_origins: "https://portal.example.com, portal".into(),
            ..Settings::default()
        };
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_HTTP_CORS_ORIGINS"), "{err}");
        let settings = Settings {
            http_cors_origins: "https://portal.example.com/, http://localhost:3000".into(),
            ..Settings::default()
        };
        assert_eq!(
            settings.api_checked().unwrap().cors_origins,
            ["https://portal.example.com", "http://localhost:3000"]
        );
    }

    #[test]
    fn rate_limit_buckets_must_hold_a_request_and_a_whole_batch() {
        let settings = Settings {
            rate_limit_unauthenticated_burst: 0,
            ..Settings::default()
        };
        let err = settings.validate().unwrap_err().to_string();
        assert!(
            err.contains("TENANTGRAPH_RATE_LIMIT_UNAUTHENTICATED_BURST"),
            "{err}"
        );
        let settings = Settings {
            graphql_batching: true,
            graphql_max_batch: 10,
            rate_limit_burst: 5,
            ..Settings::default()
        };
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_RATE_LIMIT_BURST"), "{err}");
        // A limit turned off needs no bucket size.
        let settings = Settings {
            rate_limit_per_second: 0,
            rate_limit_burst: 0,
            ..Settings::default()
        };
        assert_eq!(settings.api_checked().unwrap().rate_limits.principal, None);
    }

    #[test]
    fn serve_needs_an_auth_mode_unless_demo_and_none_only_on_loopback() {
        let err = Settings::default().auth().unwrap_err().to_string();
        assert!(
            err.contains("TENANTGRAPH_AUTH_MODE") && err.contains("--demo"),
            "{err}"
        );
        let demo = Settings {
            demo: true,
            ..Settings::default()
        };
        assert!(matches!(demo.auth().unwrap().mode, AuthMode::None));
        let public = Settings {
            auth_mode: Some(AuthModeName::None),
            bind: "0.0.0.0:8080".parse().unwrap(),
            ..Settings::default()
        };
        let err = public.auth().unwrap_err().to_string();
        assert!(err.contains("loopback"), "{err}");
        let public_demo = Settings {
            demo: true,
            ..public.clone()
        };
        assert!(public_demo.auth().is_err());
    }

    #[test]
    fn token_modes_need_their_settings_and_hide_the_secret() {
        let jwks = Settings {
            auth_mode: Some(AuthModeName::Jwks),
            auth_issuer: Some("https://issuer".into()),
            auth_audience: Some("api://tg".into()),
            ..Settings::default()
        };
        let err = jwks.auth().unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_AUTH_JWKS_URL"), "{err}");
        let short = Settings {
            auth_mode: Some(AuthModeName::Hs256),
            auth_hs256_secret: Some("short".into()),
            ..Settings::default()
        };
        assert!(short.auth().unwrap_err().to_string().contains("32 bytes"));
        let hs = Settings {
            auth_mode: Some(AuthModeName::Hs256),
            auth_hs256_secret: Some("hs-s3cret-hs-s3cret-hs-s3cret-hs-s3cret".into()),
            ..Settings::default()
        };
        let auth = hs.auth().unwrap();
        for text in [format!("{hs:?}"), format!("{auth:?}")] {
            assert!(!text.contains("s3cret"), "{text}");
        }
    }

    #[test]
    fn metrics_listener_defaults_to_loopback_follows_port_zero_and_can_be_off() {
        let listener = |settings: Settings| settings.metrics_listener().unwrap();
        assert_eq!(
            listener(Settings::default()),
            Some(DEFAULT_METRICS_BIND.parse().unwrap())
        );
        let ephemeral = Some("127.0.0.1:0".parse().unwrap());
        let demo = Settings {
            demo: true,
            ..Settings::default()
        };
        assert_eq!(listener(demo), ephemeral);
        let port_zero = Settings {
            bind: "127.0.0.1:0".parse().unwrap(),
            ..Settings::default()
        };
        assert_eq!(listener(port_zero), ephemeral);
        let off = Settings {
            metrics_bind: Some("off".into()),
            ..Settings::default()
        };
        assert_eq!(listener(off), None);
        for bad in ["nowhere", "127.0.0.1:8080"] {
            let settings = Settings {
                metrics_bind: Some(bad.into()),
                ..Settings::default()
            };
            let err = settings.validate().unwrap_err().to_string();
            assert!(err.contains("TENANTGRAPH_METRICS_BIND"), "{err}");
        }
    }

    #[test]
    fn trusted_proxies_are_cidrs_or_addresses_and_a_bad_one_is_named() {
        let settings = Settings {
            http_trusted_proxies: "10.0.0.0/8, 192.0.2.7,2001:db8::/32".into(),
            ..Settings::default()
        };
        let api = settings.api_checked().unwrap();
        let nets: Vec<String> = api
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]);
        let bad = Settings {
            http_trusted_proxies: "10.0.0.0/8, proxy.internal".into(),
            ..Settings::default()
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_HTTP_TRUSTED_PROXIES"), "{err}");
        assert!(
            err.contains("proxy.internal") && !err.contains('\n'),
            "{err}"
        );
    }

    #[test]
    fn audit_retention_is_seven_years_unless_set_and_zero_keeps_forever() {
        let days = |settings: Settings| settings.audit_retention().map(|d| d.as_secs() / 86_400);
        assert_eq!(days(Settings::default()), Some(2557));
        let forever = Settings {
            audit_retention_days: 0,
            ..Settings::default()
        };
        assert_eq!(days(forever), None);
    }

    #[test]
    fn unsupported_database_scheme_is_refused() {
        let settings = Settings {
            database_url: Some("mysql://x".into()),
            ..Settings::default()
        };
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_DATABASE_URL"), "{err}");
    }
}

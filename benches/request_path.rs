//! What each request pays before its resolvers run, one step at a time: the persisted document
//! found by its hash, the operation limits checked on the users page query (parse, depth,
//! complexity, aliases, tokens), a bearer token checked in each authentication mode, and a rate
//! limit bucket taken.
//! Run: `cargo bench --bench request_path`. The whole request with and without these steps is
//! measured by `benches/auth_overhead.sh` (wrk).

use async_graphql::{Request, Variables};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;
use tenantgraph::auth::Authenticator;
use tenantgraph::config::api::ApiSettings;
use tenantgraph::config::auth::AuthSettings;
use tenantgraph::config::rate_limits::{Bucket, RateLimits};
use tenantgraph::graphql::persisted::{PersistedDocuments, sha256_hex};
use tenantgraph::graphql::{self, OperationGuard, limits::SchemaShape};
use tenantgraph::rate_limit::{Caller, RateLimiter};

const USERS_PAGE: &str = "query UsersPage($id: ID!) { tenant(id: $id) { name users(first: 100) { \
    totalCount pageInfo { hasNextPage endCursor } edges { node { id displayName \
    userPrincipalName department jobTitle manager { id displayName } \
    licenses { skuId subscription { skuPartNumber } } } } } } }";
const SECRET: &str = "bench-only-hs256-secret-0123456789abcdef";

fn operation_limits(c: &mut Criterion) {
    let api = ApiSettings::default();
    let schema = graphql::build_for(&api);
    let guard = OperationGuard::new(api.limits, SchemaShape::from_sdl(&schema.sdl()));
    let variables = Variables::from_json(json!({ "id": "6f1c3a52-2d4b-4b8e-9a57-0c7b1f9d2e10" }));
    // Parsing alone, which the schema would do anyway: the guard keeps its parsed document.
    c.bench_function("parse only: users page query", |b| {
        b.iter(|| async_graphql::parser::parse_query(USERS_PAGE));
    });
    c.bench_function("operation limits: users page query", |b| {
        b.iter_batched(
            || Request::new(USERS_PAGE).variables(variables.clone()),
            |mut request| guard.check(&mut request),
            BatchSize::SmallInput,
        );
    });
}

fn persisted_lookup(c: &mut Criterion) {
    let documents = PersistedDocuments::new(1_000, None);
    let extension = |hash: &str| {
        async_graphql::Value::from_json(json!({ "version": 1, "sha256Hash": hash }))
            .unwrap_or_else(|e| panic!("extension: {e}"))
    };
    let hash = sha256_hex(USERS_PAGE);
    let mut first = Request::new(USERS_PAGE);
    first
        .extensions
        .insert("persistedQuery".to_owned(), extension(&hash));
    documents
        .resolve(&mut first)
        .unwrap_or_else(|e| panic!("register: {}", e.message));
    c.bench_function("persisted query: users page found by hash", |b| {
        b.iter_batched(
            || {
                let mut request = Request::new("");
                request
                    .extensions
                    .insert("persistedQuery".to_owned(), extension(&hash));
                request
            },
            |mut request| documents.resolve(&mut request),
            BatchSize::SmallInput,
        );
    });
}

fn authentication(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({ "oid": "bench", "roles": ["reader"], "tid": "6f1c3a52-2d4b-4b8e-9a57-0c7b1f9d2e10",
        "nbf": now - 10, "exp": now + 3_600 });
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap_or_else(|e| panic!("token: {e}"));
    let header = format!("Bearer {token}");
    let hs256 = Authenticator::new(AuthSettings::hs256(SECRET.to_owned().into()));
    let none = Authenticator::new(AuthSettings::none());
    c.bench_function("authentication: hs256 bearer token", |b| {
        b.iter(|| runtime.block_on(hs256.authenticate(Some(&header))));
    });
    c.bench_function("authentication: mode none", |b| {
        b.iter(|| runtime.block_on(none.authenticate(None)));
    });
}

fn rate_limit(c: &mut Criterion) {
    let limits = RateLimiter::new(RateLimits {
        principal: Bucket::new(u32::MAX / 2, u32::MAX / 2),
        unauthenticated: None,
    });
    let caller = Caller::Principal("00000000-0000-0000-0000-00000000b0b0".to_owned());
    c.bench_function("rate limit: take from a principal's bucket", |b| {
        b.iter(|| limits.check(&caller));
    });
}

criterion_group!(
    benches,
    persisted_lookup,
    operation_limits,
    authentication,
    rate_limit
);
criterion_main!(benches);

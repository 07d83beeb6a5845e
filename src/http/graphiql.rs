//! GraphiQL at `GET /`, with security headers: a content security policy that allows the
//! page's own inline script and style (by hash) and the CDN it loads GraphiQL from.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use actix_web::http::header;
use async_graphql::http::GraphiQLSource;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// Where GraphiQL's page loads React, GraphiQL and their styles from.
const CDN: &str = "https://unpkg.com";

/// The page and its `Content-Security-Policy`, built once.
fn page() -> &'static (String, String) {
    static PAGE: OnceLock<(String, String)> = OnceLock::new();
    PAGE.get_or_init(|| {
        let page = GraphiQLSource::build()
            .endpoint("/graphql")
            .title("tenantgraph")
            .finish();
        let scripts = inline_hashes(&page, "<script>", "</script>");
        let styles = inline_hashes(&page, "<style>", "</style>");
        let csp = format!(
            "default-src 'none'; script-src {CDN} {scripts}; style-src {CDN} {styles}; \
             img-src https://graphql.org data:; font-src {CDN} data:; connect-src 'self'; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        );
        (page, csp)
    })
}

/// CSP source expressions (`'sha256-…'`) of every inline block between `open` and `close`.
fn inline_hashes(page: &str, open: &str, close: &str) -> String {
    let mut hashes = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find(open) {
        let body = &rest[start + open.len()..];
        let Some(end) = body.find(close) else { break };
        let digest = Sha256::digest(&body.as_bytes()[..end]);
        hashes.push(format!("'sha256-{}'", STANDARD.encode(digest)));
        rest = &body[end + close.len()..];
    }
    hashes.join(" ")
}

/// `GET /`: the GraphiQL IDE pointed at `/graphql`.
pub async fn graphiql() -> HttpResponse {
    let (page, csp) = page();
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, csp.as_str()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_inline_script_by_its_hash() {
        let (page, csp) = page();
        assert!(page.contains("<script>"));
        assert!(
            csp.contains("script-src https://unpkg.com 'sha256-"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(
            inline_hashes(
                "<p><script>a</script><script>b</script>",
                "<script>",
                "</script>"
            )
            .matches("sha256-")
            .count(),
            2
        );
    }
}

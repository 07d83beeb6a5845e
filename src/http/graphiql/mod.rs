//! GraphiQL at `GET /`, working offline: the page loads React, GraphiQL and its explorer plugin
//! from files embedded in the binary ([`ASSET_ROUTE`]), never from another host, under a
//! content security policy that allows scripts and styles from this server only (plus, for the
//! `<style>` element of GraphiQL's dialogs, a nonce fresh for each page).

mod assets;

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// The route of the page's files: `/graphiql/{version}/{file}`, where the version is a hash of
/// the embedded files.
pub const ASSET_ROUTE: &str = "/graphiql/{version}/{file}";

/// Where this build serves the page's files: `/graphiql/<version>`.
pub fn asset_base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| format!("/graphiql/{}", assets::version()))
}

/// The page with the files' base filled in; `{{nonce}}` is left for each response.
fn page_template() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| include_str!("index.html").replace("{{assets}}", asset_base()))
}

/// The `Content-Security-Policy` of a page whose style nonce is `nonce`. `'self'` covers the
/// WebSocket to the same host and port (`ws:` from an `http:` page, `wss:` from `https:`) as
/// well as `fetch`; GraphiQL's stylesheet holds its fonts and icons as `data:` URLs.
fn policy(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; \
         img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
}

/// `GET /`: the GraphiQL IDE pointed at `/graphql` (HTTP and WebSocket).
pub async fn graphiql() -> HttpResponse {
    // 122 random bits from the operating system's generator.
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, policy(&nonce)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page_template().replace("{{nonce}}", &nonce))
}

/// `GET /graphiql/{version}/{file}`: an embedded file, cacheable for a year since its URL
/// changes with its content; 404 for another build's version or an unknown file.
pub async fn asset(path: web::Path<(String, String)>) -> HttpResponse {
    let (version, name) = path.into_inner();
    match assets::find(&name).filter(|_| version == assets::version()) {
        Some(asset) => HttpResponse::Ok()
            .content_type(asset.content_type)
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .body(asset.bytes),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "no GraphiQL file {name:?} in {version:?}; this build serves {}/",
                asset_base()
            )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_every_file_from_the_asset_base_and_has_no_inline_script() {
        let page = page_template();
        assert!(!page.contains("{{assets}}"));
        assert_eq!(page.matches("{{nonce}}").count(), 1);
        assert!(!page.contains("<script>"), "inline script in {page}");
        assert!(!page.contains("<style"), "inline style in {page}");
        for src in page.split("src=\"").skip(1) {
            let url = &src[..src.find('"').unwrap()];
            assert!(url.starts_with(asset_base()), "{url}");
            assert!(
                assets::find(&url[asset_base().len() + 1..]).is_some(),
                "{url}"
            );
        }
    }

    #[test]
    fn the_policy_allows_this_server_and_the_nonce_only() {
        let csp = policy("abc");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains("style-src 'self' 'nonce-abc';"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(!csp.contains("http"), "{csp}");
    }
}

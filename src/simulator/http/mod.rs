//! The simulator's routes: Entra's token endpoint, Partner Center customers and subscriptions,
//! Graph users, users/delta, subscribedSkus and directory/subscriptions, with the injected
//! faults. One module per service, as the importer's clients are (Graph's directory
//! subscriptions beside its users); what Graph and Partner Center requests share lives in
//! [`request`].

mod directory;
mod graph;
mod partner_center;
mod request;
mod token;

use std::time::Duration;

use actix_web::{HttpRequest, web};

use super::Shared;

type Data = web::Data<Shared>;

/// Registers every route; paths of the three services don't overlap.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/{tenant}/oauth2/v2.0/token", web::post().to(token::token))
        .route("/v1/customers", web::get().to(partner_center::customers))
        .route(
            "/v1/customers/{id}/subscriptions",
            web::get().to(partner_center::subscriptions),
        )
        .route("/v1.0/users", web::get().to(graph::users))
        .route("/v1.0/users/delta", web::get().to(graph::users_delta))
        .route(
            "/v1.0/subscribedSkus",
            web::get().to(graph::subscribed_skus),
        )
        .route(
            "/v1.0/directory/subscriptions",
            web::get().to(directory::subscriptions),
        );
}

async fn pause(latency: Duration) {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The value of a query option, with or without its `$` (Graph accepts both).
fn option<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| {
            let key = k.strip_prefix('$').unwrap_or(k);
            key.eq_ignore_ascii_case(name)
        })
        .map(|(_, v)| v.as_str())
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

//! GraphiQL at `GET /`.

use actix_web::HttpResponse;
use actix_web::http::header;
use async_graphql::http::GraphiQLSource;

/// `GET /`: the GraphiQL IDE pointed at `/graphql`.
pub async fn graphiql() -> HttpResponse {
    let page = GraphiQLSource::build()
        .endpoint("/graphql")
        .title("tenantgraph")
        .finish();
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(page)
}

//! Operation limits, transport and CSRF checks, introspection and suggestions (issue 5, items
//! 4 and 5): each limit just under and just over its threshold, refused before any resolver
//! runs with `OPERATION_LIMIT_EXCEEDED` and a message naming the limit, value and maximum.

use std::time::Duration;

use serde_json::{Value, json};
use tenantgraph::config::Settings;
use tenantgraph::config::api::ApiSettings;
use tenantgraph::config::store::StoreSettings;
use tenantgraph::store::Store;

use crate::support::{Backend, SLOW_QUERY, TestApp, backends, first_error_code};

const LIMIT: &str = "OPERATION_LIMIT_EXCEEDED";

fn api(change: impl FnOnce(&mut ApiSettings)) -> ApiSettings {
    let mut api = crate::support::test_api();
    change(&mut api);
    api
}

/// POSTs `body` as it is, with `content_type`; returns the status and the JSON answer.
async fn post_raw(
    app: &TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or("<none>")
}

/// Asserts the response was refused by `limit` with this value and maximum.
fn assert_refused(body: &Value, limit: &str, value: &str, max: u64) {
    assert_eq!(first_error_code(body), LIMIT, "{body:#}");
    assert_eq!(
        message(body),
        format!("operation limit exceeded: {limit} is {value}, the maximum is {max}"),
    );
    assert_eq!(body["errors"][0]["extensions"]["limit"], limit);
    assert_eq!(body["errors"][0]["extensions"]["max"], max);
    assert!(body.get("data").is_none_or(Value::is_null), "{body:#}");
}

/// Posts `under`, which must run without errors, and `over`, which `limit` must refuse.
async fn assert_threshold(
    app: &TestApp,
    under: &str,
    over: &str,
    limit: &str,
    value: &str,
    max: u64,
) {
    let body = app.post(under, json!({})).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_refused(&app.post(over, json!({})).await, limit, value, max);
}

/// `{ tenants … users … manager × n … id }`: depth 7 + n.
fn manager_chain(n: usize) -> String {
    format!(
        "{{ tenants(first: 1) {{ edges {{ node {{ users(first: 1) {{ edges {{ node {{ {}id{} }} }} }} }} }} }} }}",
        "manager { ".repeat(n),
        " }".repeat(n)
    )
}

#[tokio::test]
async fn depth_twelve_runs_and_thirteen_is_refused() {
    let app = TestApp::demo(Backend::Sqlite).await;
    let (under, over) = (manager_chain(5), manager_chain(6));
    assert_threshold(&app, &under, &over, "depth", "at least 13", 12).await;
}

#[tokio::test]
async fn complexity_at_the_budget_runs_and_one_page_item_more_is_refused() {
    let app = TestApp::with_api(Backend::Sqlite, api(|a| a.limits.max_complexity = 100)).await;
    // 1 + first × (edges + node + id) = 1 + 33 × 3 = 100.
    let under = app
        .post(
            "{ tenants(first: 33) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(under.get("errors").is_none(), "{under:#}");
    let over = app
        .post(
            "query($n: Int) { tenants(first: $n) { edges { node { id } } } }",
            json!({ "n": 34 }),
        )
        .await;
    assert_refused(&over, "complexity", "103", 100);
}

#[tokio::test]
async fn the_client_portal_users_page_fits_the_default_budget_with_room() {
    let app = TestApp::demo(Backend::Sqlite).await;
    let id = app
        .data("{ tenants(first: 1) { edges { node { id } } } }", json!({}))
        .await["tenants"]["edges"][0]["node"]["id"]
        .clone();
    // benches/users_page.lua, with the largest page instead of 100.
    let page = "query UsersPage($id: ID!) { tenant(id: $id) { name users(first: 500) { totalCount \
                pageInfo { hasNextPage endCursor } edges { node { id displayName userPrincipalName \
                department jobTitle manager { id displayName } licenses { skuId subscription { \
                skuPartNumber } } } } } } }";
    let data = app.data(page, json!({ "id": id })).await;
    assert!(data["tenant"]["users"]["totalCount"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn thirty_aliases_run_and_an_alias_bomb_is_refused() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let aliases = |n: usize| {
        let fields: Vec<String> = (0..n).map(|i| format!("a{i}: totalCount")).collect();
        format!("{{ tenants(first: 1) {{ {} }} }}", fields.join(" "))
    };
    assert_threshold(&app, &aliases(30), &aliases(31), "aliases", "31", 30).await;
    assert_refused(
        &app.post(&aliases(500), json!({})).await,
        "aliases",
        "500",
        30,
    );
}

#[tokio::test]
async fn ten_root_fields_run_and_eleven_are_refused() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let under = format!("{{ {} }}", "__typename ".repeat(10));
    let over = format!(
        "{{ ...R }} fragment R on Query {{ {} }}",
        "__typename ".repeat(11)
    );
    assert_threshold(&app, &under, &over, "root fields", "11", 10).await;
}

#[tokio::test]
async fn five_directives_on_a_field_pass_the_limit_and_six_are_refused() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let directives = |n: usize| format!("{{ __typename {} }}", "@include(if: true) ".repeat(n));
    assert_threshold(
        &app,
        &directives(5),
        &directives(6),
        "directives on one selection",
        "6",
        5,
    )
    .await;
}

#[tokio::test]
async fn three_thousand_tokens_run_and_one_more_is_refused() {
    let app = TestApp::empty(Backend::Sqlite).await;
    // `{ tenants ( first : 1 ) { edges { node {` + n × `id` + `} } } }`: 16 + n tokens.
    let doc = |n: usize| {
        format!(
            "{{ tenants(first: 1) {{ edges {{ node {{ {}}} }} }} }}",
            "id ".repeat(n)
        )
    };
    assert_threshold(
        &app,
        &doc(2984),
        &doc(2985),
        "tokens",
        "more than 3000",
        3000,
    )
    .await;
}

#[tokio::test]
async fn a_document_of_32_kb_runs_and_one_byte_more_is_refused() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let doc = |size: usize| {
        let head = "{ __typename }\n#";
        format!("{head}{}", "x".repeat(size - head.len()))
    };
    assert_threshold(
        &app,
        &doc(32 * 1024),
        &doc(32 * 1024 + 1),
        "document size in bytes",
        "32769",
        32768,
    )
    .await;
}

#[tokio::test]
async fn a_body_of_256_kb_is_read_and_a_10_mb_body_is_refused_before_it_is_read() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let body = |size: usize| {
        let head = r#"{"query":"{ __typename }","extensions":{"pad":""#;
        let tail = r#""}}"#;
        format!("{head}{}{tail}", "x".repeat(size - head.len() - tail.len()))
    };
    let (status, under) = post_raw(&app, "application/json", body(256 * 1024)).await;
    assert_eq!(status, 200, "{under:#}");
    assert_eq!(under["data"]["__typename"], "Query");
    let (status, over) = post_raw(&app, "application/json", body(256 * 1024 + 1)).await;
    assert_eq!(status, 413);
    assert_refused(&over, "request body size in bytes", "262145", 262_144);
    let (status, huge) = post_raw(&app, "application/json", body(10 * 1024 * 1024)).await;
    assert_eq!(status, 413);
    assert_refused(&huge, "request body size in bytes", "10485760", 262_144);
}

#[tokio::test]
async fn a_chunked_body_is_cut_off_at_the_limit() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::empty(Backend::Sqlite).await;
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut request = b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
                        Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        .to_vec();
    let chunk = vec![b' '; 64 * 1024 + 1];
    for _ in 0..5 {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(&chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    socket.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let body: Value = serde_json::from_str(body).unwrap();
    assert_refused(
        &body,
        "request body size in bytes",
        "more than 262144",
        262_144,
    );
}

#[tokio::test]
async fn batches_are_refused_unless_enabled_and_then_capped() {
    let one = json!({ "query": "{ __typename }" });
    let thousand = Value::Array(vec![one.clone(); 1000]);
    let off = TestApp::empty(Backend::Sqlite).await;
    let (status, body) = post_raw(&off, "application/json", thousand.to_string()).await;
    assert_eq!(status, 400);
    assert!(message(&body).contains("batched operations are not enabled"));

    let on = TestApp::with_api(Backend::Sqlite, api(|a| a.max_batch = Some(10))).await;
    let (status, body) = post_raw(&on, "application/json", thousand.to_string()).await;
    assert_eq!(status, 413);
    assert_refused(&body, "batched operations", "1000", 10);
    let ten = Value::Array(vec![one; 10]);
    let (status, body) = post_raw(&on, "application/json", ten.to_string()).await;
    assert_eq!(status, 200);
    let answers = body.as_array().unwrap();
    assert_eq!(answers.len(), 10);
    assert!(answers.iter().all(|a| a["data"]["__typename"] == "Query"));
}

#[tokio::test]
async fn five_hundred_entity_representations_run_and_501_are_refused() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let reps = |n: u128| -> Value {
        (0..n)
            .map(|i| json!({ "__typename": "Tenant", "id": uuid::Uuid::from_u128(i + 1).to_string() }))
            .collect()
    };
    let q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { name } } }";
    let under = app.post(q, json!({ "r": reps(500) })).await;
    assert!(under.get("errors").is_none(), "{under:#}");
    assert_eq!(under["data"]["_entities"].as_array().unwrap().len(), 500);
    assert_refused(
        &app.post(q, json!({ "r": reps(501) })).await,
        "_entities representations",
        "501",
        500,
    );
}

#[tokio::test]
async fn a_fragment_bomb_is_refused_by_its_complexity() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let mut doc = String::from("{ tenants(first: 1) { edges { node { ...F0 } } } }\n");
    for i in 0..10 {
        doc.push_str(&format!(
            "fragment F{i} on Tenant {{ ...F{n} ...F{n} }}\n",
            n = i + 1
        ));
    }
    doc.push_str("fragment F10 on Tenant { users(first: 500) { edges { node { id } } } }\n");
    let body = app.post(&doc, json!({})).await;
    assert_eq!(first_error_code(&body), LIMIT, "{body:#}");
    assert!(message(&body).starts_with("operation limit exceeded: complexity is "));
}

#[tokio::test]
async fn circular_fragments_are_refused_without_running() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let doc = "{ tenants { edges { node { ...A } } } } \
               fragment A on Tenant { id ...B } fragment B on Tenant { name ...A }";
    let body = app.post(doc, json!({})).await;
    assert!(body["data"].is_null(), "{body:#}");
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
    assert_eq!(message(&body), "fragment A spreads itself: A, B, A");
}

#[tokio::test]
async fn errors_past_fifty_are_summed_up_in_one() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let fields: Vec<String> = (0..75).map(|i| format!("missing{i}")).collect();
    let doc = format!(
        "{{ tenants(first: 1) {{ edges {{ node {{ {} }} }} }} }}",
        fields.join(" ")
    );
    let body = app.post(&doc, json!({})).await;
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 50);
    assert_eq!(errors[49]["extensions"]["code"], LIMIT);
    assert_eq!(
        errors[49]["message"],
        "operation limit exceeded: errors in the response is 75, the maximum is 50; \
         26 more errors are not shown"
    );
}

#[tokio::test]
async fn an_operation_past_its_timeout_is_cancelled_with_a_limit_error_and_no_internals() {
    // A zero timeout: an operation that reads the store cannot finish on its first poll, and
    // the timer fires on the runtime's next millisecond tick, long before SLOW_QUERY is done.
    // `{ __typename }` finishes on its first poll, so it is answered even so.
    let app = TestApp::with_api(Backend::Sqlite, api(|a| a.timeout = Duration::ZERO)).await;
    crate::support::demo::seed(&app.store).await;
    let body = app.post(SLOW_QUERY, json!({})).await;
    assert_refused(&body, "run time in milliseconds", "over 0", 0);
    assert_eq!(body["errors"].as_array().unwrap().len(), 1);
    let text = body.to_string();
    for internal in ["sqlx", "SELECT", "panicked", "Elapsed", "tokio"] {
        assert!(!text.contains(internal), "{internal} in {text}");
    }
    // The server keeps answering what needs no database.
    let quick = app.post("{ __typename }", json!({})).await;
    assert_eq!(quick["data"]["__typename"], "Query");
}

#[tokio::test]
async fn introspection_and_service_sdl_are_forbidden_in_production_and_answered_in_demo() {
    let production = TestApp::empty(Backend::Sqlite).await;
    for doc in [
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"Tenant\") { name } }",
        "{ _service { sdl } }",
    ] {
        let body = production.post(doc, json!({})).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "{doc}: {body:#}");
        assert!(message(&body).starts_with("introspection is disabled"));
    }
    let typename = production.post("{ __typename }", json!({})).await;
    assert_eq!(typename["data"]["__typename"], "Query");

    let demo_api = Settings {
        demo: true,
        ..Settings::default()
    }
    .check()
    .unwrap()
    .api;
    let demo = TestApp::with_api(Backend::Sqlite, demo_api).await;
    let data = demo
        .data(
            "{ __schema { queryType { name } } _service { sdl } }",
            json!({}),
        )
        .await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
    assert!(data["_service"]["sdl"].as_str().unwrap().contains("@key"));
}

#[tokio::test]
async fn field_suggestions_are_off_in_production_and_on_in_demo() {
    let doc = "{ tenants { edges { node { nme } } } }";
    let production = TestApp::empty(Backend::Sqlite).await;
    let body = production.post(doc, json!({})).await;
    assert!(message(&body).contains("nme"), "{body:#}");
    assert!(!message(&body).contains("Did you mean"), "{body:#}");
    let demo_api = Settings {
        demo: true,
        ..Settings::default()
    }
    .check()
    .unwrap()
    .api;
    let demo = TestApp::with_api(Backend::Sqlite, demo_api).await;
    let body = demo.post(doc, json!({})).await;
    assert!(message(&body).contains("Did you mean"), "{body:#}");
}

#[tokio::test]
async fn simple_requests_a_browser_sends_cross_site_are_refused() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let json_body = json!({ "query": "{ __typename }" }).to_string();
    for content_type in [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let (status, body) = post_raw(&app, content_type, json_body.clone()).await;
        assert_eq!(status, 400, "{content_type}");
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
        assert!(message(&body).contains("Content-Type must be application/json"));
    }
    let (status, _) = post_raw(&app, "application/json; charset=utf-8", json_body).await;
    assert_eq!(status, 200);

    let get = |headers: &[(&str, &str)]| {
        let url =
            reqwest::Url::parse_with_params(&app.url("/graphql"), [("query", "{ __typename }")])
                .unwrap();
        let mut request = app.client.get(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let bare = get(&[]).await.unwrap();
    assert_eq!(bare.status(), 400);
    let body: Value = bare.json().await.unwrap();
    assert!(message(&body).contains("X-Requested-With"), "{body:#}");
    for header in [
        ("x-requested-with", "XMLHttpRequest"),
        ("apollo-require-preflight", "true"),
        ("content-type", "application/json"),
    ] {
        let response = get(&[header]).await.unwrap();
        assert_eq!(response.status(), 200, "{header:?}");
    }
}

#[tokio::test]
async fn a_mutation_over_get_is_refused_with_405() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let url = reqwest::Url::parse_with_params(
        &app.url("/graphql"),
        [("query", "mutation { __typename }")],
    )
    .unwrap();
    let response = app
        .client
        .get(url)
        .header("apollo-require-preflight", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let body: Value = response.json().await.unwrap();
    assert!(
        message(&body).contains("only accepted over POST"),
        "{body:#}"
    );
    let posted = app.post("mutation { __typename }", json!({})).await;
    assert_eq!(posted["data"]["__typename"], "Mutation");
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let portal = "https://portal.example.com";
    let preflight = |app: &TestApp, origin: &str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let closed = TestApp::empty(Backend::Sqlite).await;
    let response = preflight(&closed, portal).await.unwrap();
    assert_eq!(response.status(), 403);
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );

    let app = TestApp::with_api(
        Backend::Sqlite,
        api(|a| a.cors_origins = vec![portal.into()]),
    )
    .await;
    let response = preflight(&app, portal).await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["access-control-allow-origin"], portal);
    assert!(
        response.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("content-type")
    );
    assert_eq!(
        preflight(&app, "https://evil.example")
            .await
            .unwrap()
            .status(),
        403
    );
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("origin", portal)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], portal);
    let other = app
        .client
        .post(app.url("/graphql"))
        .header("origin", "https://evil.example")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn the_graphiql_page_carries_security_headers() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let page = app.client.get(app.url("/")).send().await.unwrap();
    let headers = page.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn postgres_cancels_a_statement_past_the_statement_timeout() {
    for backend in backends() {
        if backend != Backend::Postgres {
            continue;
        }
        let db = crate::support::database(backend).await;
        let settings = StoreSettings {
            statement_timeout: Duration::from_millis(50),
            ..StoreSettings::for_url(&db.url)
        };
        let store = Store::connect(&settings, None).await.unwrap();
        let err = store.execute_raw("SELECT pg_sleep(5)").await.unwrap_err();
        assert!(err.to_string().contains("statement timeout"), "{err}");
        store.execute_raw("SELECT 1").await.unwrap();
    }
}

/// graphql-js's `getIntrospectionQuery()` as GraphiQL and schemathesis send it: `ofType` nine
/// deep, past the operation depth limit of 12.
const STANDARD_INTROSPECTION: &str = "query IntrospectionQuery { __schema { queryType { name }
    mutationType { name } subscriptionType { name } types { ...FullType }
    directives { name description locations args { ...InputValue } } } }
  fragment FullType on __Type { kind name description
    fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef }
      isDeprecated deprecationReason }
    inputFields { ...InputValue } interfaces { ...TypeRef }
    enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
    possibleTypes { ...TypeRef } }
  fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
  fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType {
    kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name } } } } } } } } } }";

#[tokio::test]
async fn the_standard_introspection_query_runs_in_demo_and_circular_introspection_does_not() {
    // Found by schemathesis: its introspection query was refused by the depth limit, and so was
    // GraphiQL's.
    let demo_api = Settings {
        demo: true,
        ..Settings::default()
    }
    .check()
    .unwrap()
    .api;
    let demo = TestApp::with_api(Backend::Sqlite, demo_api).await;
    let data = demo.data(STANDARD_INTROSPECTION, json!({})).await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
    let body = demo
        .post(
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(first_error_code(&body), LIMIT, "{body:#}");
    assert_eq!(
        body["errors"][0]["extensions"]["limit"],
        "nested introspection lists"
    );
}

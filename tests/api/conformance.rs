//! Responses as the GraphQL specification words them (key order, decimals, error locations
//! and paths) and cursors that carry no personal data.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::{TestApp, backends, demo_data, first_error_code};

const USERS_PAGE: &str = r#"query($id: ID!, $after: String, $order: UserOrder) {
  tenant(id: $id) { users(first: 7, after: $after, orderBy: $order) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id displayName userPrincipalName } } } } }"#;

/// Every text a cursor could show a user by: the whole name and UPN, and each of their words
/// long enough not to turn up in random base64 by chance.
fn personal_texts(node: &Value) -> Vec<String> {
    let mut texts = Vec::new();
    for field in ["displayName", "userPrincipalName"] {
        let text = node[field].as_str().unwrap();
        texts.extend(
            text.split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.chars().count() >= 6)
                .map(str::to_owned),
        );
        texts.push(text.to_owned());
    }
    texts
}

#[tokio::test]
async fn users_page_cursors_show_no_name_or_upn_and_still_page_at_the_same_cost() {
    for backend in backends() {
        let app = TestApp::demo_uncached(backend).await;
        let tenant = demo_data()[0].0.tenant.id.to_string();
        for order in ["DISPLAY_NAME", "USER_PRINCIPAL_NAME"] {
            let mut after = Value::Null;
            let (mut seen, mut costs) = (Vec::new(), Vec::new());
            loop {
                let vars = json!({ "id": tenant, "after": after, "order": { "field": order } });
                let (body, statements) = app.counted(USERS_PAGE, vars).await;
                assert!(body.get("errors").is_none(), "{body}");
                costs.push(statements);
                let users = &body["data"]["tenant"]["users"];
                for edge in users["edges"].as_array().unwrap() {
                    let cursor = edge["cursor"].as_str().unwrap();
                    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(cursor)
                        .map(|b| String::from_utf8_lossy(&b).to_lowercase())
                        .unwrap_or_default();
                    for text in personal_texts(&edge["node"]) {
                        assert!(
                            !cursor.contains(&text) && !decoded.contains(&text.to_lowercase()),
                            "cursor {cursor} shows {text:?}"
                        );
                    }
                    seen.push(edge["node"]["id"].as_str().unwrap().to_owned());
                }
                if users["pageInfo"]["hasNextPage"] == false {
                    break;
                }
                after = users["pageInfo"]["endCursor"].clone();
            }
            let total = demo_data()[0]
                .0
                .users
                .iter()
                .filter(|u| u.deleted_at.is_none())
                .count();
            let distinct: std::collections::HashSet<_> = seen.iter().collect();
            assert_eq!((seen.len(), distinct.len()), (total, total), "{order}");
            assert!(costs.len() > 2, "{costs:?}");
            // A page after a cursor costs what the first page costs: the keyset condition
            // rides on the same statement.
            assert!(costs.iter().all(|c| *c == costs[0]), "{order}: {costs:?}");
        }
    }
}

#[tokio::test]
async fn a_tampered_cursor_is_bad_user_input_naming_after() {
    let app = TestApp::demo(backends()[0]).await;
    let tenant = demo_data()[0].0.tenant.id.to_string();
    let data = app.data(USERS_PAGE, json!({ "id": tenant })).await;
    let cursor = data["tenant"]["users"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut bytes = engine.decode(&cursor).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    let id = demo_data()[0].0.users[0].id;
    let forged = engine.encode(json!(["dn", "A", id]).to_string());
    for bad in [engine.encode(bytes), forged, format!("{cursor}x")] {
        let body = app
            .post(USERS_PAGE, json!({ "id": tenant, "after": bad }))
            .await;
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with("after is not a cursor"), "{message}");
        assert_eq!(
            body["errors"][0]["path"],
            json!(["tenant", "users"]),
            "{body}"
        );
    }
    // The untouched cursor still reads the next page.
    let next = app
        .data(USERS_PAGE, json!({ "id": tenant, "after": cursor }))
        .await;
    assert!(
        !next["tenant"]["users"]["edges"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// A JSON value with its object keys in the order of the text.
#[derive(Debug)]
enum Ordered {
    Object(Vec<(String, Ordered)>),
    List(Vec<Ordered>),
    Leaf,
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Ordered, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Ordered::Object(entries))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Ordered::List(items))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Leaf)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Leaf)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Leaf)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Leaf)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Leaf)
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Leaf)
            }
        }
        d.deserialize_any(Visit)
    }
}

impl Ordered {
    /// The value under `path` (keys, or indexes of lists).
    fn at(&self, path: &[&str]) -> &Ordered {
        path.iter().fold(self, |value, step| match value {
            Ordered::Object(entries) => &entries.iter().find(|(k, _)| k == step).unwrap().1,
            Ordered::List(items) => &items[step.parse::<usize>().unwrap()],
            Ordered::Leaf => panic!("no {step} in a leaf"),
        })
    }

    /// The keys of the object under `path`, in the order of the text.
    fn keys(&self, path: &[&str]) -> Vec<&str> {
        match self.at(path) {
            Ordered::Object(entries) => entries.iter().map(|(k, _)| k.as_str()).collect(),
            other => panic!("{path:?} is not an object: {other:?}"),
        }
    }
}

/// POSTs `query` and returns the raw body, read with its keys in order.
async fn ordered_body(app: &TestApp, query: &str, variables: Value) -> Ordered {
    let text = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("\"errors\""), "{text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn response_keys_follow_the_selection_set_on_tenant_and_connections() {
    let app = TestApp::demo(backends()[0]).await;
    let tenant = demo_data()[0].0.tenant.id.to_string();
    let query = r#"query Ordered($id: ID!) {
      tenant(id: $id) {
        users(first: 2) {
          totalCount
          edges { cursor node { licenses { skuId } manager { id } displayName id } }
          pageInfo { endCursor hasNextPage }
        }
        userCount
        subscriptions { skuPartNumber }
        name
        ... on Tenant { costGroups { name } id }
      }
      tenants(first: 2) { totalCount pageInfo { hasNextPage } edges { node { userCount name } cursor } }
    }"#;
    let body = ordered_body(&app, query, json!({ "id": tenant })).await;
    assert_eq!(body.keys(&[]), ["data"]);
    assert_eq!(body.keys(&["data"]), ["tenant", "tenants"]);
    let t = ["data", "tenant"];
    assert_eq!(
        body.keys(&t),
        [
            "users",
            "userCount",
            "subscriptions",
            "name",
            "costGroups",
            "id"
        ]
    );
    assert_eq!(
        body.keys(&["data", "tenant", "users"]),
        ["totalCount", "edges", "pageInfo"]
    );
    assert_eq!(
        body.keys(&["data", "tenant", "users", "edges", "0"]),
        ["cursor", "node"]
    );
    assert_eq!(
        body.keys(&["data", "tenant", "users", "edges", "1", "node"]),
        ["licenses", "manager", "displayName", "id"]
    );
    assert_eq!(
        body.keys(&["data", "tenant", "users", "pageInfo"]),
        ["endCursor", "hasNextPage"]
    );
    assert_eq!(
        body.keys(&["data", "tenants"]),
        ["totalCount", "pageInfo", "edges"]
    );
    assert_eq!(
        body.keys(&["data", "tenants", "edges", "0"]),
        ["node", "cursor"]
    );
    assert_eq!(
        body.keys(&["data", "tenants", "edges", "1", "node"]),
        ["userCount", "name"]
    );
}

#[tokio::test]
async fn a_decimal_keeps_the_scale_it_was_given_and_money_shows_the_minor_units() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let data = demo_data();
        let tenant = data[0].0.tenant.id.to_string();
        let skus: Vec<String> = data[0]
            .0
            .subscriptions
            .iter()
            .map(|s| s.sku_id.to_string())
            .collect();
        let set = r#"mutation($input: SetLicensePriceInput!) {
          setLicensePrice(input: $input) { monthlyUnitPrice } }"#;
        for (sku, given, shown) in [
            (&skus[0], "32.40", "32.40"),
            (&skus[1], "32.4", "32.40"),
            (&skus[2], "7", "7.00"),
            (&skus[3], "1.2345", "1.2345"),
        ] {
            let input = json!({ "input": { "tenantId": tenant, "skuId": sku,
                "monthlyUnitPrice": given, "currency": "CHF", "effectiveFrom": "2020-01-01" } });
            let answer = app.data(set, input).await;
            assert_eq!(
                answer["setLicensePrice"]["monthlyUnitPrice"], shown,
                "{given}"
            );
        }
        let read = r#"query($t: ID!) { tenant(id: $t) {
          licensePrices { skuId monthlyUnitPrice }
          costReport { currency assigned { cost exactCost skus { skuId unitPrice cost exactCost } } } } }"#;
        let data = app.data(read, json!({ "t": tenant })).await;
        let prices = data["tenant"]["licensePrices"].as_array().unwrap();
        assert_eq!(prices.len(), 4, "{prices:?}");
        let price_of = |sku: &str| {
            prices.iter().find(|p| p["skuId"] == sku).unwrap()["monthlyUnitPrice"].clone()
        };
        assert_eq!(price_of(&skus[0]), "32.40");
        assert_eq!(price_of(&skus[1]), "32.40");
        assert_eq!(price_of(&skus[2]), "7.00");
        let report = &data["tenant"]["costReport"];
        assert_eq!(report["currency"], "CHF");
        let cents = |v: &Value| {
            let text = v.as_str().unwrap();
            let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
            assert!(decimals >= 2, "{text} has fewer than 2 decimals");
        };
        cents(&report["assigned"]["cost"]);
        cents(&report["assigned"]["exactCost"]);
        for line in report["assigned"]["skus"].as_array().unwrap() {
            cents(&line["cost"]);
            cents(&line["exactCost"]);
            if !line["unitPrice"].is_null() {
                cents(&line["unitPrice"]);
            }
            if line["skuId"] == skus[2].as_str() {
                assert_eq!(line["unitPrice"], "7.00");
            }
        }
    }
}

#[tokio::test]
async fn errors_carry_locations_and_resolver_errors_their_path() {
    let app = TestApp::demo(backends()[0]).await;
    let tenant = demo_data()[0].0.tenant.id.to_string();
    let aliases: Vec<String> = (0..40).map(|i| format!("a{i}: __typename")).collect();
    let many_aliases = format!("query {{ {} }}", aliases.join(" "));
    // Each case: the document, its variables, the expected first location and path.
    let cases: [(&str, Value, Value, Option<Value>); 6] = [
        // Does not parse.
        (
            "query {\n  tenants(first: 1) {",
            json!({}),
            json!({ "line": 2, "column": 22 }),
            None,
        ),
        // Does not validate: an unknown field.
        (
            "{\n  tenants { nope } }",
            json!({}),
            json!({ "line": 2, "column": 13 }),
            None,
        ),
        // A variable of the wrong type.
        (
            "query($n: Int) {\n  tenants(first: $n) { totalCount } }",
            json!({ "n": "many" }),
            json!({ "line": 2, "column": 11 }),
            None,
        ),
        // Refused by a limit (more aliases than allowed): the operation's selection.
        (
            &many_aliases,
            json!({}),
            json!({ "line": 1, "column": 7 }),
            None,
        ),
        // A resolver's error: path and location of the field.
        (
            "query($id: ID!) { tenant(id: $id) {\n    users(first: 900) { totalCount } } }",
            json!({ "id": tenant }),
            json!({ "line": 2, "column": 5 }),
            Some(json!(["tenant", "users"])),
        ),
        (
            "{ a: tenants { totalCount }\n  b: tenant(id: \"x\") { id } }",
            json!({}),
            json!({ "line": 2, "column": 3 }),
            Some(json!(["b"])),
        ),
    ];
    for (query, variables, location, path) in cases {
        let body = app.post(query, variables).await;
        let error = &body["errors"][0];
        assert_eq!(error["locations"][0], location, "{query}: {body}");
        // Errors before execution leave no `data`; once execution began, `data` is there.
        match path {
            Some(path) => {
                assert_eq!(error["path"], path, "{query}: {body}");
                assert!(body.get("data").is_some(), "{query}: {body}");
            }
            None => {
                assert!(error.get("path").is_none(), "{query}: {body}");
                assert!(body.get("data").is_none(), "{query}: {body}");
            }
        }
        assert!(error["extensions"]["code"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn graphql_response_json_is_answered_in_kind_with_400_for_a_request_error() {
    let app = TestApp::empty(backends()[0]).await;
    let send = |query: &'static str, accept: &'static str| {
        app.client
            .post(app.url("/graphql"))
            .header("accept", accept)
            .json(&json!({ "query": query }))
            .send()
    };
    let media = "application/graphql-response+json";
    for (query, accept, status, content_type) in [
        ("{ __typename }", media, 200, media),
        ("{", media, 400, media),
        (
            "{ nope }",
            "application/graphql-response+json, application/json",
            400,
            media,
        ),
        ("{", "application/json", 200, "application/json"),
        ("{", "*/*", 200, "application/json"),
        (
            "{ __typename }",
            "application/json, application/graphql-response+json",
            200,
            "application/json",
        ),
    ] {
        let response = send(query, accept).await.unwrap();
        assert_eq!(response.status(), status, "{query} with {accept}");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            content_type,
            "{query} with {accept}"
        );
    }
}

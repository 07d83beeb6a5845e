//! Text input edges: a NUL character in any string input (a search, a filter, a name, a rule
//! value; inline or through a variable) is refused with `BAD_USER_INPUT` naming where it is,
//! alike on every backend, and nothing is stored; names refuse every control character.

use serde_json::{Value, json};

use crate::support::{TestApp, backends, demo_data, first_error_code};

const CREATE_GROUP: &str = r#"mutation($t: ID!, $n: String!) {
    createCostGroup(input: {tenantId: $t, name: $n}) { id } }"#;

/// The first error's message, after checking it is `BAD_USER_INPUT` without data.
fn refusal(body: &Value) -> String {
    assert_eq!(first_error_code(body), "BAD_USER_INPUT", "{body}");
    body["errors"][0]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_nul_in_any_text_input_is_bad_user_input_naming_it_on_every_backend() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let t = demo_data()[0].0.tenant.id.to_string();
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "{ tenants(search: \"fjord\\u0000\") { totalCount } }",
                json!({}),
                "argument search of field tenants contains a NUL character",
            ),
            (
                "query($s: String) { tenants(search: $s) { totalCount } }",
                json!({ "s": "\u{0}" }),
                "variable $s contains a NUL character",
            ),
            (
                "query($t: ID!, $d: String) { tenant(id: $t) { users(filter: { department: $d }) { totalCount } } }",
                json!({ "t": t, "d": "Vertrieb\u{0}" }),
                "variable $d contains a NUL character",
            ),
            (
                CREATE_GROUP,
                json!({ "t": t, "n": "Sales\u{0}EMEA" }),
                "variable $n contains a NUL character",
            ),
            (
                r#"mutation($t: ID!) { createCostGroup(input: {tenantId: $t, name: "a", description: "x\u0000"}) { id } }"#,
                json!({ "t": t }),
                "argument input.description of field createCostGroup contains a NUL character",
            ),
        ];
        for (query, variables, expected) in cases {
            let body = app.post(query, variables).await;
            let message = refusal(&body);
            assert!(
                message.starts_with(expected),
                "{backend:?}: {query}: {message}"
            );
        }
        // Other control characters are kept out of names, and stored nowhere.
        let body = app
            .post(CREATE_GROUP, json!({ "t": t, "n": "Sales\nEMEA" }))
            .await;
        assert_eq!(
            refusal(&body),
            "name must not contain control characters, got U+000A at character 6"
        );
        let names = app
            .data(
                "query($t: ID!) { tenant(id: $t) { costGroups { name } } }",
                json!({ "t": t }),
            )
            .await;
        let text = names.to_string();
        assert!(
            !text.contains("EMEA") && !text.contains("\\u0000"),
            "{text}"
        );
        // A search with a tab still runs (and finds nothing) on every backend.
        let data = app
            .data(
                "query($s: String) { tenants(search: $s) { totalCount } }",
                json!({ "s": "fjord\tx" }),
            )
            .await;
        assert_eq!(data["tenants"]["totalCount"], 0);
    }
}

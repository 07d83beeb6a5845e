//! No single caller can stall the service: allocation previews are capped and counted by the
//! operation limits, run off the HTTP workers, and stop at the operation timeout while another
//! tenant's reads go on being answered. On every backend.

use std::time::Duration;

use crate::support::snapshot::replace_tenant;
use chrono::Utc;
use serde_json::{Value, json};
use tenantgraph::config::api::ApiSettings;

use crate::statements::big_tenant;
use crate::support::{TestApp, backends, first_error_code, test_api};

const CREATE_GROUP: &str = r#"mutation($t: ID!, $n: String!) {
    createCostGroup(input: {tenantId: $t, name: $n}) { id } }"#;

/// `rules` proposed rules for cost group `group`, each of four `MATCHES` conditions of which
/// only the last fails, so that every rule is tried on every user.
fn costly_rules(group: &str, rules: usize) -> Value {
    let rule = json!({ "costGroupId": group, "conditions": [
        { "attribute": "DEPARTMENT", "operator": "MATCHES", "values": ["."] },
        { "attribute": "MAIL", "operator": "MATCHES", "values": ["example"] },
        { "attribute": "USAGE_LOCATION", "operator": "MATCHES", "values": ["C"] },
        { "attribute": "DEPARTMENT", "operator": "MATCHES", "values": ["^nobody-is-in-this$"] },
    ] });
    Value::Array(vec![rule; rules])
}

/// `rules` proposed rules for cost group `group` of one `MATCHES` condition each.
fn one_condition_rules(group: &str, rules: usize) -> Value {
    let rule = json!({ "costGroupId": group, "conditions": [
        { "attribute": "DEPARTMENT", "operator": "MATCHES", "values": ["^x"] }] });
    Value::Array(vec![rule; rules])
}

/// A `previewAllocation` query run by `aliases` aliases sharing one `$rules` variable.
fn previews(aliases: usize) -> String {
    let fields: Vec<String> = (0..aliases)
        .map(|i| format!("p{i}: previewAllocation(tenantId: $t, rules: $rules) {{ changedUsers }}"))
        .collect();
    format!(
        "query($t: ID!, $rules: [AllocationRuleInput!]!) {{ {} }}",
        fields.join(" ")
    )
}

/// Checks that `body` is one `OPERATION_LIMIT_EXCEEDED` error whose message starts `start`.
fn assert_limit(body: &Value, start: &str) {
    assert_eq!(first_error_code(body), "OPERATION_LIMIT_EXCEEDED", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(start), "{body}");
}

#[tokio::test]
async fn the_ten_alias_preview_of_a_thousand_rules_is_refused_before_it_runs() {
    for backend in backends() {
        let app = TestApp::demo_uncached(backend).await;
        let t = crate::support::demo_data()[0].0.tenant.id.to_string();
        let group = app
            .data(CREATE_GROUP, json!({ "t": t, "n": "Everyone" }))
            .await["createCostGroup"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (body, statements) = app
            .counted(
                &previews(10),
                json!({ "t": t, "rules": one_condition_rules(&group, 1000) }),
            )
            .await;
        assert_eq!(
            first_error_code(&body),
            "OPERATION_LIMIT_EXCEEDED",
            "{body}"
        );
        assert_eq!(
            body["errors"][0]["message"],
            "operation limit exceeded: rules of one allocation preview is 1000, the maximum is 500"
        );
        assert_eq!(statements, 0, "a refused operation reads nothing");
        // Within the rule cap, ten aliases of 200 rules add up past the complexity budget.
        let (body, _) = app
            .counted(
                &previews(10),
                json!({ "t": t, "rules": one_condition_rules(&group, 200) }),
            )
            .await;
        assert_limit(&body, "operation limit exceeded: complexity is");
        // One preview of 500 rules is allowed and answers.
        let data = app
            .data(
                &previews(1),
                json!({ "t": t, "rules": costly_rules(&group, 500) }),
            )
            .await;
        assert_eq!(data["p0"]["changedUsers"], 0);
    }
}

#[tokio::test]
async fn a_preview_past_the_timeout_is_cancelled_while_another_tenants_reads_are_answered() {
    for backend in backends() {
        let api = ApiSettings {
            timeout: Duration::from_millis(400),
            ..test_api()
        };
        let app = TestApp::with_api(backend, api).await;
        crate::support::demo::seed(&app.store).await;
        let big = big_tenant(20_000);
        replace_tenant(&app.store, &big, Utc::now()).await.unwrap();
        let t = big.tenant.id.to_string();
        let group = app
            .data(CREATE_GROUP, json!({ "t": t, "n": "Everyone" }))
            .await["createCostGroup"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let victim = crate::support::demo_data()[1].0.tenant.id.to_string();

        // 20,000 users x 500 rules x 4 regexes: far more than 400 ms of work.
        let abusive = {
            let app_client = app.client.clone();
            let url = app.url("/graphql");
            let body = json!({ "query": previews(1), "variables": {
                "t": t, "rules": costly_rules(&group, 500) } });
            tokio::spawn(async move {
                let response = app_client.post(url).json(&body).send().await.unwrap();
                (
                    response.status().as_u16(),
                    response.json::<Value>().await.unwrap(),
                )
            })
        };
        // A new connection per read, so that reads reach every HTTP worker (actix hands
        // connections to its workers in turn): one computing the preview would hold them up.
        tenantgraph::install_tls_provider();
        let fresh = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let read = json!({ "query": "query($id: ID!) { tenant(id: $id) { name } }",
            "variables": { "id": victim } });
        let mut answered = 0;
        while !abusive.is_finished() && answered < 500 {
            let response = fresh
                .post(app.url("/graphql"))
                .json(&read)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            assert!(body["data"]["tenant"]["name"].is_string(), "{body}");
            answered += 1;
        }
        let (status, body) = abusive.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_limit(
            &body,
            "operation limit exceeded: run time in milliseconds is over 400",
        );
        assert!(
            answered >= 5,
            "only {answered} reads were answered while the preview ran"
        );
    }
}

//! Rule diagnostics, explanations and the ACCOUNT_ENABLED, MANAGER and NOT_IN conditions
//! through GraphQL, on every backend: verdicts and counts as a user would check them by hand,
//! kept up to date by allocation changes, statements that do not grow with the rules, the
//! preview of an unsaved list, and tenant isolation.

use std::collections::HashMap;

use serde_json::{Value, json};
use tenantgraph::domain::{CostGroup, User};

use crate::support::{TestApp, backends, demo_data, first_error_code};

const CREATE: &str = r#"mutation($input: CreateAllocationRuleInput!) {
    createAllocationRule(input: $input) { id } }"#;
const SET: &str = r#"mutation($t: ID!, $u: ID!, $g: ID!) {
    setUserAllocation(tenantId: $t, userId: $u,
        shares: [{ costGroupId: $g, percent: "100" }]) { id } }"#;
const DIAGNOSTICS: &str = r#"query($t: ID!) { tenant(id: $t) {
    allocationDiagnostics { unallocatedUsers
        rules { ruleId rule { id } ruleIndex verdict matchedUsers placedUsers
            overlaps { ruleId rule { id } users } }
        hints { attribute values { value users } } }
    allocationRules { id diagnostics { verdict matchedUsers placedUsers } } } }"#;
const EXPLAIN: &str = r#"query($t: ID!, $u: ID!) { user(tenantId: $t, id: $u) {
    allocation { source explanation { overridden
        rules { ruleId rule { id } matched
            conditions { condition { attribute operator values } userValues holds } } } } } }"#;

/// The first two demo tenants.
struct Demo {
    tenant: String,
    groups: Vec<CostGroup>,
    users: Vec<User>,
    other_tenant: String,
    other_users: Vec<User>,
}

fn demo() -> Demo {
    let data = demo_data();
    let present = |users: &[User]| -> Vec<User> {
        users
            .iter()
            .filter(|u| u.deleted_at.is_none())
            .cloned()
            .collect()
    };
    Demo {
        tenant: data[0].0.tenant.id.to_string(),
        groups: data[0].1.clone(),
        users: present(&data[0].0.users),
        other_tenant: data[1].0.tenant.id.to_string(),
        other_users: present(&data[1].0.users),
    }
}

impl Demo {
    fn group(&self, n: usize) -> String {
        self.groups[n].id.to_string()
    }

    fn count(&self, test: impl Fn(&User) -> bool) -> u64 {
        self.users.iter().filter(|u| test(u)).count() as u64
    }
}

fn condition(attribute: &str, operator: &str, values: &[&str]) -> Value {
    json!({ "attribute": attribute, "operator": operator, "values": values })
}

async fn create(app: &TestApp, tenant: &str, group: &str, conditions: Value) -> String {
    let input = json!({ "tenantId": tenant, "costGroupId": group, "conditions": conditions });
    app.data(CREATE, json!({ "input": input })).await["createAllocationRule"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn is(u: &User, department: &str) -> bool {
    u.department.as_deref() == Some(department)
}

/// The most common department of the demo tenant and a country some of its users and some
/// others share: the rules below are built from them.
fn department_and_country(d: &Demo) -> (String, String) {
    let mut departments: HashMap<&str, u64> = HashMap::new();
    for u in &d.users {
        if let Some(dep) = u.department.as_deref() {
            *departments.entry(dep).or_default() += 1;
        }
    }
    let (department, _) = departments
        .into_iter()
        .max_by_key(|(dep, n)| (*n, std::cmp::Reverse(*dep)))
        .unwrap();
    let country = d
        .users
        .iter()
        .filter(|u| is(u, department))
        .filter_map(|u| u.country.clone())
        .find(|c| {
            d.users
                .iter()
                .any(|o| !is(o, department) && o.country.as_deref() == Some(c))
        })
        .expect("a country shared by the department and others");
    (department.to_owned(), country)
}

/// Rules: 0 places the department, 1 is the same test (shadowed by 0), 2 matches nobody, 3
/// takes the department's country (overlapping 0 and 1). Returns their ids.
async fn four_rules(app: &TestApp, d: &Demo, department: &str, country: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for (group, conditions) in [
        (0, json!([condition("DEPARTMENT", "EQUALS", &[department])])),
        (
            1,
            json!([condition("DEPARTMENT", "IN", &[department, "No such team"])]),
        ),
        (
            2,
            json!([condition("DEPARTMENT", "EQUALS", &["No such team"])]),
        ),
        (3, json!([condition("COUNTRY", "EQUALS", &[country])])),
    ] {
        ids.push(create(app, &d.tenant, &d.group(group), conditions).await);
    }
    ids
}

#[tokio::test]
async fn unreachable_shadowed_and_overlapping_rules_get_their_verdicts_and_counts() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo();
        let (department, country) = department_and_country(&d);
        let ids = four_rules(&app, &d, &department, &country).await;
        let in_dep = d.count(|u| is(u, &department));
        let in_country = d.count(|u| u.country.as_deref() == Some(&country));
        let both = d.count(|u| is(u, &department) && u.country.as_deref() == Some(&country));
        assert!(in_dep > 0 && both > 0 && in_country > both, "{backend:?}");

        let data = app.data(DIAGNOSTICS, json!({ "t": d.tenant })).await;
        let diagnostics = &data["tenant"]["allocationDiagnostics"];
        let rules = diagnostics["rules"].as_array().unwrap();
        let got: Vec<(&str, &str, u64, u64)> = rules
            .iter()
            .map(|r| {
                (
                    r["ruleId"].as_str().unwrap(),
                    r["verdict"].as_str().unwrap(),
                    r["matchedUsers"].as_u64().unwrap(),
                    r["placedUsers"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (ids[0].as_str(), "EFFECTIVE", in_dep, in_dep),
                (ids[1].as_str(), "SHADOWED", in_dep, 0),
                (ids[2].as_str(), "UNREACHABLE", 0, 0),
                (
                    ids[3].as_str(),
                    "OVERLAPPING",
                    in_country,
                    in_country - both
                ),
            ],
            "{backend:?}"
        );
        assert_eq!(rules[0]["rule"]["id"], ids[0].as_str());
        assert!(rules[0]["ruleIndex"].is_null());
        assert_eq!(
            rules[1]["overlaps"],
            json!([{ "ruleId": ids[0], "rule": { "id": ids[0] }, "users": in_dep }])
        );
        assert_eq!(
            rules[3]["overlaps"],
            json!([{ "ruleId": ids[0], "rule": { "id": ids[0] }, "users": both },
                { "ruleId": ids[1], "rule": { "id": ids[1] }, "users": both }])
        );
        let unallocated =
            d.count(|u| !is(u, &department) && u.country.as_deref() != Some(&country));
        assert_eq!(diagnostics["unallocatedUsers"], unallocated);
        // The most common department among them leads the department hint.
        let hints = diagnostics["hints"].as_array().unwrap();
        let by_department = hints
            .iter()
            .find(|h| h["attribute"] == "DEPARTMENT")
            .unwrap();
        let top = &by_department["values"][0];
        let top_count = d.count(|u| {
            !is(u, &department)
                && u.country.as_deref() != Some(&country)
                && u.department.as_deref() == top["value"].as_str()
        });
        assert_eq!(top["users"], top_count);
        assert!(by_department["values"].as_array().unwrap().len() <= 5);

        // Each rule reads the same from `AllocationRule.diagnostics`.
        let per_rule: Vec<&Value> = data["tenant"]["allocationRules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["diagnostics"]["verdict"])
            .collect();
        assert_eq!(
            per_rule,
            ["EFFECTIVE", "SHADOWED", "UNREACHABLE", "OVERLAPPING"]
        );

        // An override takes one of rule 0's users: it still matches them, places one fewer.
        let pinned = d.users.iter().find(|u| is(u, &department)).unwrap();
        app.data(
            SET,
            json!({ "t": d.tenant, "u": pinned.id.to_string(), "g": d.group(2) }),
        )
        .await;
        let after = app.data(DIAGNOSTICS, json!({ "t": d.tenant })).await;
        let first = &after["tenant"]["allocationDiagnostics"]["rules"][0];
        assert_eq!(first["matchedUsers"], in_dep);
        assert_eq!(first["placedUsers"], in_dep - 1);
    }
}

#[tokio::test]
async fn reading_the_diagnostics_of_every_rule_takes_the_same_statements_for_4_and_16_rules() {
    for backend in backends() {
        let app = TestApp::demo_uncached(backend).await;
        let d = demo();
        let (department, country) = department_and_country(&d);
        four_rules(&app, &d, &department, &country).await;
        let q = r#"query($t: ID!) { tenant(id: $t) { allocationRules { id
            diagnostics { verdict matchedUsers overlaps { rule { id priority } users } } } } }"#;
        let (few, few_count) = app.counted(q, json!({ "t": d.tenant })).await;
        assert!(few.get("errors").is_none(), "{few}");
        for n in 0..12 {
            let value = format!("Team {n}");
            create(
                &app,
                &d.tenant,
                &d.group(n % 4),
                json!([condition("DEPARTMENT", "NOT_EQUALS", &[&value])]),
            )
            .await;
        }
        let (many, many_count) = app.counted(q, json!({ "t": d.tenant })).await;
        let rules = many["data"]["tenant"]["allocationRules"]
            .as_array()
            .unwrap();
        assert_eq!(rules.len(), 16);
        // Every "not Team n" rule matches everyone: the last overlaps every earlier rule but
        // the unreachable one, and the first "not Team" rule takes whoever is left.
        let last = &rules[15]["diagnostics"];
        assert_eq!(last["verdict"], "SHADOWED");
        assert_eq!(last["overlaps"].as_array().unwrap().len(), 14);
        assert_eq!(few_count, many_count, "{backend:?}");
        // tenant, rules, diagnostics, rules named by overlaps
        assert_eq!(many_count, 4, "{backend:?}");
    }
}

const PREVIEW: &str = r#"query($t: ID!, $rules: [AllocationRuleInput!]!) {
    previewAllocation(tenantId: $t, rules: $rules) { diagnostics { unallocatedUsers
        rules { ruleIndex rule { id } verdict matchedUsers placedUsers
            overlaps { ruleIndex users } } } } }"#;

#[tokio::test]
async fn a_preview_judges_an_unsaved_rule_list_and_stores_nothing() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo();
        let (department, country) = department_and_country(&d);
        let in_dep = d.count(|u| is(u, &department));
        let in_country = d.count(|u| u.country.as_deref() == Some(&country));
        let both = d.count(|u| is(u, &department) && u.country.as_deref() == Some(&country));
        let rules = json!([
            { "costGroupId": d.group(0),
              "conditions": [condition("DEPARTMENT", "EQUALS", &[&department])] },
            { "costGroupId": d.group(1), "enabled": false,
              "conditions": [condition("DEPARTMENT", "IS_EMPTY", &[])] },
            { "costGroupId": d.group(1),
              "conditions": [condition("DEPARTMENT", "EQUALS", &["No such team"])] },
            { "costGroupId": d.group(2),
              "conditions": [condition("COUNTRY", "EQUALS", &[&country])] },
            { "costGroupId": d.group(3),
              "conditions": [condition("DEPARTMENT", "IN", &[&department])] },
        ]);
        let data = app
            .data(PREVIEW, json!({ "t": d.tenant, "rules": rules }))
            .await;
        let diagnostics = &data["previewAllocation"]["diagnostics"];
        assert_eq!(
            diagnostics["rules"],
            json!([
                { "ruleIndex": 0, "rule": null, "verdict": "EFFECTIVE", "matchedUsers": in_dep,
                  "placedUsers": in_dep, "overlaps": [] },
                { "ruleIndex": 2, "rule": null, "verdict": "UNREACHABLE", "matchedUsers": 0,
                  "placedUsers": 0, "overlaps": [] },
                { "ruleIndex": 3, "rule": null, "verdict": "OVERLAPPING",
                  "matchedUsers": in_country, "placedUsers": in_country - both,
                  "overlaps": [{ "ruleIndex": 0, "users": both }] },
                { "ruleIndex": 4, "rule": null, "verdict": "SHADOWED", "matchedUsers": in_dep,
                  "placedUsers": 0,
                  "overlaps": [{ "ruleIndex": 0, "users": in_dep },
                               { "ruleIndex": 3, "users": both }] },
            ]),
            "{backend:?}"
        );
        let stored = app.data(DIAGNOSTICS, json!({ "t": d.tenant })).await;
        assert_eq!(stored["tenant"]["allocationRules"], json!([]));
        assert_eq!(
            stored["tenant"]["allocationDiagnostics"]["rules"],
            json!([])
        );
        assert_eq!(
            stored["tenant"]["allocationDiagnostics"]["unallocatedUsers"],
            d.users.len() as u64
        );
    }
}

#[tokio::test]
async fn explanations_show_the_rules_tried_for_allocated_overridden_and_unallocated_users() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo();
        let (department, country) = department_and_country(&d);
        let ids = four_rules(&app, &d, &department, &country).await;
        let explain = |user: &User| {
            let app = &app;
            let vars = json!({ "t": d.tenant, "u": user.id.to_string() });
            async move { app.data(EXPLAIN, vars).await["user"]["allocation"].clone() }
        };

        // Placed by rule 0: one rule tried, its condition shown with the user's value.
        let placed = d.users.iter().find(|u| is(u, &department)).unwrap();
        let a = explain(placed).await;
        assert_eq!(a["source"], "RULE");
        assert_eq!(
            a["explanation"],
            json!({ "overridden": false, "rules": [{ "ruleId": ids[0], "rule": { "id": ids[0] },
                "matched": true, "conditions": [{ "condition": { "attribute": "DEPARTMENT",
                "operator": "EQUALS", "values": [department] }, "userValues": [department],
                "holds": true }] }] })
        );

        // Placed by rule 3 after three failed rules.
        let by_country = d
            .users
            .iter()
            .find(|u| !is(u, &department) && u.country.as_deref() == Some(&country))
            .unwrap();
        let a = explain(by_country).await;
        let tried: Vec<(&Value, &Value)> = a["explanation"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (&r["ruleId"], &r["matched"]))
            .collect();
        assert_eq!(
            tried,
            [
                (&json!(ids[0]), &json!(false)),
                (&json!(ids[1]), &json!(false)),
                (&json!(ids[2]), &json!(false)),
                (&json!(ids[3]), &json!(true)),
            ]
        );
        let own: Vec<Value> = by_country.department.iter().map(|v| json!(v)).collect();
        assert_eq!(
            a["explanation"]["rules"][0]["conditions"][0]["userValues"],
            json!(own)
        );

        // Unallocated: every rule tried, none matched.
        let nowhere = d
            .users
            .iter()
            .find(|u| !is(u, &department) && u.country.as_deref() != Some(&country))
            .unwrap();
        let a = explain(nowhere).await;
        assert_eq!(a["source"], "UNALLOCATED");
        let rules = a["explanation"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 4);
        assert!(rules.iter().all(|r| r["matched"] == false), "{a}");

        // Overridden: the override, no rules.
        app.data(
            SET,
            json!({ "t": d.tenant, "u": placed.id.to_string(), "g": d.group(2) }),
        )
        .await;
        let a = explain(placed).await;
        assert_eq!(a["source"], "OVERRIDE");
        assert_eq!(a["explanation"], json!({ "overridden": true, "rules": [] }));
    }
}

#[tokio::test]
async fn manager_account_enabled_and_not_in_place_users_and_bad_values_name_the_field() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo();
        let (manager, reports) = d
            .users
            .iter()
            .filter_map(|u| u.manager_id)
            .filter(|m| d.users.iter().any(|u| u.id == *m))
            .map(|m| (m, d.count(|u| u.manager_id == Some(m))))
            .max_by_key(|(m, n)| (*n, *m))
            .unwrap();
        let manager = manager.to_string();
        let managed = create(
            &app,
            &d.tenant,
            &d.group(0),
            json!([condition("MANAGER", "EQUALS", &[&manager])]),
        )
        .await;
        let disabled = create(
            &app,
            &d.tenant,
            &d.group(1),
            json!([condition("ACCOUNT_ENABLED", "EQUALS", &["FALSE"])]),
        )
        .await;
        let (department, _) = department_and_country(&d);
        let not_dep = create(
            &app,
            &d.tenant,
            &d.group(2),
            json!([
                condition("DEPARTMENT", "NOT_IN", &[&department]),
                condition("ACCOUNT_ENABLED", "NOT_IN", &["false"])
            ]),
        )
        .await;
        let data = app.data(DIAGNOSTICS, json!({ "t": d.tenant })).await;
        let placed: Vec<(&Value, u64)> = data["tenant"]["allocationDiagnostics"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (&r["ruleId"], r["placedUsers"].as_u64().unwrap()))
            .collect();
        let mine = |u: &User| u.manager_id.map(|m| m.to_string()) == Some(manager.clone());
        let off = |u: &User| u.account_enabled == Some(false);
        assert_eq!(
            placed,
            [
                (&json!(managed), reports),
                (&json!(disabled), d.count(|u| !mine(u) && off(u))),
                (
                    &json!(not_dep),
                    d.count(|u| !mine(u) && !off(u) && !is(u, &department))
                ),
            ],
            "{backend:?}"
        );
        // A managed user's explanation shows the manager's id, nothing more of them.
        let report = d.users.iter().find(|u| mine(u)).unwrap();
        let a = app
            .data(
                EXPLAIN,
                json!({ "t": d.tenant, "u": report.id.to_string() }),
            )
            .await;
        assert_eq!(
            a["user"]["allocation"]["explanation"]["rules"][0]["conditions"][0]["userValues"],
            json!([manager])
        );

        let other_user = d.other_users[0].id.to_string();
        for (conditions, expected) in [
            (
                json!([condition("ACCOUNT_ENABLED", "EQUALS", &["yes"])]),
                r#"input.conditions[0].values: accountEnabled takes "true" or "false", got "yes""#
                    .to_owned(),
            ),
            (
                json!([condition("MANAGER", "CONTAINS", &["x"])]),
                "input.conditions[0].operator: CONTAINS cannot be used with manager; use EQUALS, \
                 NOT_EQUALS, IN, NOT_IN or IS_EMPTY"
                    .to_owned(),
            ),
            (
                json!([condition("DEPARTMENT", "NOT_IN", &[])]),
                "input.conditions[0].values: NOT_IN takes one or more values, got 0 values"
                    .to_owned(),
            ),
            (
                json!([
                    condition("CITY", "IS_EMPTY", &[]),
                    condition("MANAGER", "IN", &[&manager, &other_user])
                ]),
                format!("conditions[1].values: manager {other_user} is not a user of this tenant"),
            ),
        ] {
            let input = json!({ "tenantId": d.tenant, "costGroupId": d.group(0), "conditions": conditions });
            let body = app.post(CREATE, json!({ "input": input })).await;
            assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(message.ends_with(&expected), "{message} / {expected}");
        }
        // The preview refuses another tenant's user as a manager too, naming the rule.
        let rules = json!([{ "costGroupId": d.group(0),
            "conditions": [condition("MANAGER", "EQUALS", &[&other_user])] }]);
        let body = app
            .post(PREVIEW, json!({ "t": d.tenant, "rules": rules }))
            .await;
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(
            body["errors"][0]["message"],
            format!(
                "rules[0].conditions[0].values: manager {other_user} is not a user of this tenant"
            )
        );
    }
}

#[tokio::test]
async fn explanations_and_diagnostics_stay_within_the_callers_tenants() {
    use crate::security::{call, claims, hs_token, hs256};
    for backend in backends() {
        let app = TestApp::with_auth(backend, hs256(), None).await;
        crate::support::demo::seed(&app.store).await;
        let d = demo();
        let (department, country) = department_and_country(&d);
        let admin = hs_token(&claims(
            "allocator-a",
            json!({ "roles": ["allocator"], "tenants": [d.tenant] }),
        ));
        let outsider = hs_token(&claims(
            "reader-b",
            json!({ "roles": ["reader"], "tenants": [d.other_tenant] }),
        ));
        for (group, conditions) in [
            (
                0,
                json!([condition("DEPARTMENT", "EQUALS", &[&department])]),
            ),
            (1, json!([condition("COUNTRY", "EQUALS", &[&country])])),
        ] {
            let input = json!({ "tenantId": d.tenant, "costGroupId": d.group(group), "conditions": conditions });
            let (_, body) = call(&app, Some(&admin), CREATE, json!({ "input": input })).await;
            assert!(body.get("errors").is_none(), "{body}");
        }
        let user = d.users.iter().find(|u| is(u, &department)).unwrap();
        let vars = json!({ "t": d.tenant, "u": user.id.to_string() });
        let (_, own) = call(&app, Some(&admin), EXPLAIN, vars.clone()).await;
        assert_eq!(
            own["data"]["user"]["allocation"]["explanation"]["rules"][0]["matched"], true,
            "{own}"
        );
        let (_, seen) = call(&app, Some(&outsider), EXPLAIN, vars).await;
        assert!(seen["data"]["user"].is_null(), "{seen}");
        let (_, seen) = call(&app, Some(&outsider), DIAGNOSTICS, json!({ "t": d.tenant })).await;
        assert!(seen["data"]["tenant"].is_null(), "{seen}");
        // The other tenant's own diagnostics know nothing of the first tenant's rules.
        let (_, theirs) = call(
            &app,
            Some(&outsider),
            DIAGNOSTICS,
            json!({ "t": d.other_tenant }),
        )
        .await;
        let theirs = &theirs["data"]["tenant"]["allocationDiagnostics"];
        assert_eq!(theirs["rules"], json!([]), "{theirs}");
        assert_eq!(theirs["unallocatedUsers"], d.other_users.len() as u64);
    }
}

#[tokio::test]
async fn an_import_keeps_the_diagnostics_a_full_evaluation_gives() {
    use crate::support::snapshot::replace_tenant;
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo();
        let (department, country) = department_and_country(&d);
        four_rules(&app, &d, &department, &country).await;
        // Re-import with one user moved out of the department, one into it, one removed.
        let mut snapshot = demo_data().remove(0).0;
        let leaving = d.users.iter().find(|u| is(u, &department)).unwrap().id;
        let joining = d.users.iter().find(|u| !is(u, &department)).unwrap().id;
        let removed = d
            .users
            .iter()
            .rev()
            .find(|u| is(u, &department))
            .unwrap()
            .id;
        for u in &mut snapshot.users {
            if u.id == leaving {
                u.department = Some("Moved away".into());
            } else if u.id == joining {
                u.department = Some(department.clone());
            }
        }
        snapshot.users.retain(|u| u.id != removed);
        snapshot.licenses.retain(|l| l.user_id != removed);
        replace_tenant(&app.store, &snapshot, chrono::Utc::now())
            .await
            .unwrap();
        let kept = app.data(DIAGNOSTICS, json!({ "t": d.tenant })).await;
        let first = &kept["tenant"]["allocationDiagnostics"]["rules"][0];
        assert_eq!(first["matchedUsers"], d.count(|u| is(u, &department)) - 1);
        let hints = &kept["tenant"]["allocationDiagnostics"]["hints"];
        assert!(
            hints.to_string().contains("Moved away") || leaving_is_placed(&d, leaving, &country)
        );

        tenantgraph::store::allocation::evaluate_tenant(&app.store, d.tenant.parse().unwrap())
            .await
            .unwrap();
        let full = app.data(DIAGNOSTICS, json!({ "t": d.tenant })).await;
        assert_eq!(kept, full, "{backend:?}");
    }
}

/// Whether `user` is still placed by the country rule after leaving the department.
fn leaving_is_placed(d: &Demo, user: tenantgraph::domain::UserId, country: &str) -> bool {
    d.users
        .iter()
        .any(|u| u.id == user && u.country.as_deref() == Some(country))
}

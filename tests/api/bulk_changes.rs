//! Many allocation changes at once, on every backend: overrides and cost groups from CSV
//! uploads (dry run, every rejected row by line, all rows or none, one audit entry) and the
//! `setUserAllocations` / `createCostGroups` mutations that answer the same, reading only the
//! users a change names.

use chrono::Utc;
use serde_json::{Value, json};
use tenantgraph::config::api::ApiSettings;
use tenantgraph::domain::{TenantId, TenantScope};
use tenantgraph::store::audit;

use crate::security::{claims, hs_token, hs256};
use crate::statements::big_tenant;
use crate::support::snapshot::replace_tenant;
use crate::support::{TestApp, backends, demo, demo_data, first_error_code, test_api};

const MEMBERS: &str = r#"query($t: ID!) { tenant(id: $t) { costGroups { id code
    members(first: 500) { edges { node { user { id } percent source } } } } } }"#;
const GROUPS: &str = r#"query($t: ID!) { tenant(id: $t) { costGroups { id code name
    description parent { code } } } }"#;
const SET_MANY: &str = r#"mutation($t: ID!, $items: [UserAllocationItemInput!]!, $dry: Boolean) {
    setUserAllocations(tenantId: $t, items: $items, dryRun: $dry) { dryRun applied rows changed
    unchanged changes { lines userId userPrincipalName before { costGroupCode percent }
    after { costGroupId costGroupCode percent } } rejected { line reason } } }"#;
const CREATE_MANY: &str = r#"mutation($t: ID!, $items: [CostGroupItemInput!]!, $dry: Boolean) {
    createCostGroups(tenantId: $t, items: $items, dryRun: $dry) { dryRun applied rows created
    updated unchanged changes { line kind before { name } after { id code name parentCode } }
    rejected { line reason } } }"#;

/// The first demo tenant: its id, users' ids and UPNs, and its department groups' codes.
struct Demo {
    tenant: String,
    users: Vec<(String, String)>,
    codes: Vec<String>,
}

fn first_demo() -> Demo {
    let (snapshot, groups) = demo_data().swap_remove(0);
    Demo {
        tenant: snapshot.tenant.id.to_string(),
        users: snapshot
            .users
            .iter()
            .filter(|u| u.user_type.as_deref() == Some("Member"))
            .map(|u| (u.id.to_string(), u.user_principal_name.clone()))
            .collect(),
        codes: groups
            .iter()
            .filter(|g| g.parent_id.is_some())
            .filter_map(|g| g.code.clone())
            .collect(),
    }
}

/// POSTs `body` as `text/csv` to `path` with `bearer` (if any); the status and the body.
async fn upload(app: &TestApp, path: &str, body: &str, bearer: Option<&str>) -> (u16, Value) {
    upload_as(app, path, body, bearer, "text/csv; charset=utf-8").await
}

async fn upload_as(
    app: &TestApp,
    path: &str,
    body: &str,
    bearer: Option<&str>,
    content_type: &str,
) -> (u16, Value) {
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body.to_owned());
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Each overridden user's (user, group code, percent), sorted.
async fn overrides(app: &TestApp, tenant: &str) -> Vec<(String, String, String)> {
    let data = app.data(MEMBERS, json!({ "t": tenant })).await;
    let mut out = Vec::new();
    for group in data["tenant"]["costGroups"].as_array().unwrap() {
        for edge in group["members"]["edges"].as_array().unwrap() {
            if edge["node"]["source"] == "OVERRIDE" {
                out.push((
                    edge["node"]["user"]["id"].as_str().unwrap().to_owned(),
                    group["code"].as_str().unwrap_or_default().to_owned(),
                    edge["node"]["percent"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// The audit entries of `tenant` recorded as `action`, newest first: their `after` values.
async fn audited(app: &TestApp, tenant: &str, action: &str) -> Vec<Value> {
    let tenant: TenantId = tenant.parse().unwrap();
    audit::list_audit_entries(&app.store, &TenantScope::All, tenant, None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.change.action == action)
        .map(|e| e.change.after.unwrap_or_default())
        .collect()
}

fn lines(rejected: &Value) -> Vec<u64> {
    rejected
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn an_overrides_csv_is_checked_whole_dry_run_first_then_applied_all_at_once() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = first_demo();
        let path = format!("/import/tenants/{}/overrides.csv", d.tenant);
        let (ann_id, ann) = d.users[0].clone();
        let (bob_id, bob) = d.users[1].clone();
        let (a, b) = (&d.codes[0], &d.codes[1]);
        let good = format!(
            "user_principal_name,cost_group_code,percent\r\n\
             {ann},{a},60\r\n{ann_id},{b},40\r\n{},{a},\r\n",
            bob.to_uppercase()
        );
        let with_bad = format!("{good}nobody@example.com,{a},\r\n{bob},NO-SUCH-CODE,\r\n");

        let (status, dry) = upload(&app, &format!("{path}?dryRun=true"), &with_bad, None).await;
        assert_eq!(status, 200, "{dry}");
        assert_eq!(
            (&dry["dryRun"], &dry["applied"]),
            (&json!(true), &json!(false))
        );
        assert_eq!(
            (&dry["rows"], &dry["changed"]),
            (&json!(5), &json!(1)),
            "{dry}"
        );
        assert_eq!(lines(&dry["rejected"]), vec![5, 6], "{dry}");
        assert!(
            dry["rejected"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("\"nobody@example.com\""),
            "{dry}"
        );
        assert!(
            dry["rejected"][1]["reason"]
                .as_str()
                .unwrap()
                .contains("NO-SUCH-CODE")
        );
        let split = &dry["changes"][0];
        assert_eq!(split["userId"], ann_id.as_str());
        assert_eq!(split["userPrincipalName"], ann.as_str());
        assert_eq!(split["lines"], json!([2, 3]));
        assert_eq!(split["before"], Value::Null);
        assert_eq!(
            split["after"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (
                    s["costGroupCode"].as_str().unwrap(),
                    s["percent"].as_str().unwrap()
                ))
                .collect::<Vec<_>>(),
            vec![(a.as_str(), "60"), (b.as_str(), "40")]
        );
        assert!(
            overrides(&app, &d.tenant).await.is_empty(),
            "a dry run writes nothing"
        );

        // Not a dry run: a rejected row stops every row.
        let (status, refused) = upload(&app, &path, &with_bad, None).await;
        assert_eq!(status, 422, "{refused}");
        assert_eq!(refused["applied"], false);
        assert_eq!(lines(&refused["rejected"]), vec![5, 6]);
        assert!(overrides(&app, &d.tenant).await.is_empty());
        assert!(
            audited(&app, &d.tenant, "setUserAllocations")
                .await
                .is_empty()
        );

        let (status, applied) = upload(&app, &path, &good, None).await;
        assert_eq!(status, 200, "{applied}");
        assert_eq!(
            (&applied["applied"], &applied["changed"]),
            (&json!(true), &json!(2))
        );
        let mut want = vec![
            (ann_id.clone(), a.clone(), "60".to_owned()),
            (ann_id.clone(), b.clone(), "40".to_owned()),
            (bob_id.clone(), a.clone(), "100".to_owned()),
        ];
        want.sort();
        assert_eq!(overrides(&app, &d.tenant).await, want);
        let entries = audited(&app, &d.tenant, "setUserAllocations").await;
        assert_eq!(entries.len(), 1, "one audit entry for the whole file");
        assert_eq!(
            (&entries[0]["rows"], &entries[0]["changed"]),
            (&json!(3), &json!(2))
        );

        // The same file again changes nothing and records nothing.
        let (status, again) = upload(&app, &path, &good, None).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(
            (&again["changed"], &again["unchanged"]),
            (&json!(0), &json!(2))
        );
        assert_eq!(
            audited(&app, &d.tenant, "setUserAllocations").await.len(),
            1
        );

        // An empty cost group removes an override; semicolons and a BOM as Excel saves them.
        let clear = format!("\u{feff}user;cost_group_code\r\n{bob};\r\n");
        let (status, cleared) = upload(&app, &path, &clear, None).await;
        assert_eq!(status, 200, "{cleared}");
        assert_eq!(cleared["changes"][0]["after"], Value::Null);
        assert_eq!(
            cleared["changes"][0]["before"][0]["costGroupCode"],
            a.as_str()
        );
        want.retain(|o| o.0 != bob_id);
        assert_eq!(overrides(&app, &d.tenant).await, want);
    }
}

#[tokio::test]
async fn uploads_need_csv_an_allocator_of_the_tenant_and_a_body_within_the_limit() {
    let backend = backends()[0];
    let api = ApiSettings {
        max_upload_bytes: 400,
        ..test_api()
    };
    let app = TestApp::with_api_and_auth(backend, api, hs256()).await;
    demo::seed(&app.store).await;
    let d = first_demo();
    let other = demo_data().swap_remove(1).0.tenant.id.to_string();
    let token = |roles: &[&str], tenant: &str| {
        hs_token(&claims(
            "bulk",
            json!({ "roles": roles, "tenants": [tenant] }),
        ))
    };
    let allocator = token(&["allocator"], &d.tenant);
    let file = format!("user,cost_group_code\n{},{}\n", d.users[0].1, d.codes[0]);
    for kind in ["overrides.csv", "cost-groups.csv"] {
        let path = format!("/import/tenants/{}/{kind}?dryRun=true", d.tenant);
        let body = if kind == "overrides.csv" {
            file.clone()
        } else {
            "code,name\nNEW,New\n".to_owned()
        };
        assert_eq!(upload(&app, &path, &body, None).await.0, 401, "{kind}");
        let reader = token(&["reader"], &d.tenant);
        let (status, refused) = upload(&app, &path, &body, Some(&reader)).await;
        assert_eq!(
            (status, first_error_code(&refused)),
            (403, "FORBIDDEN"),
            "{kind}"
        );
        let elsewhere = token(&["allocator"], &other);
        let (status, refused) = upload(&app, &path, &body, Some(&elsewhere)).await;
        assert_eq!(
            (status, first_error_code(&refused)),
            (404, "NOT_FOUND"),
            "{kind}"
        );
        // A form or plain text body could come from any web page: refused.
        for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
            let (status, refused) =
                upload_as(&app, &path, &body, Some(&allocator), content_type).await;
            assert_eq!(status, 400, "{kind} {content_type}");
            let message = refused["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains("text/csv"), "{message}");
        }
        let big = format!("{body}{}", "x,y\n".repeat(120));
        let (status, refused) = upload(&app, &path, &big, Some(&allocator)).await;
        assert_eq!(status, 413, "{kind}: {refused}");
        let message = refused["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("upload size"), "{message}");
        let (status, ok) = upload(&app, &path, &body, Some(&allocator)).await;
        assert_eq!(status, 200, "{kind}: {ok}");
    }
}

#[tokio::test]
async fn a_cost_groups_csv_creates_a_subtree_updates_by_code_and_refuses_a_bad_file_whole() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = first_demo();
        let path = format!("/import/tenants/{}/cost-groups.csv", d.tenant);
        let before = app.data(GROUPS, json!({ "t": d.tenant })).await;
        let count = |v: &Value| v["tenant"]["costGroups"].as_array().unwrap().len();
        let renamed = &d.codes[0];
        let file = format!(
            "code,name,parent_code,description\n\
             EMEA-S,Sales EMEA,EMEA,\n\
             EMEA,EMEA,ALL,Europe and Africa\n\
             {renamed},Renamed,ALL,\n"
        );
        let (status, dry) = upload(&app, &format!("{path}?dryRun=true"), &file, None).await;
        assert_eq!(status, 200, "{dry}");
        assert_eq!(
            (&dry["created"], &dry["updated"]),
            (&json!(2), &json!(1)),
            "{dry}"
        );
        // Parents first: EMEA (line 3) before the group under it (line 2).
        let order: Vec<u64> = dry["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["line"].as_u64().unwrap())
            .collect();
        assert_eq!(order.first(), Some(&3), "{dry}");
        assert_eq!(
            count(&app.data(GROUPS, json!({ "t": d.tenant })).await),
            count(&before)
        );

        let bad = format!("{file}ORPHAN,Orphan,NOPE,\n");
        let (status, refused) = upload(&app, &path, &bad, None).await;
        assert_eq!(status, 422, "{refused}");
        assert_eq!(lines(&refused["rejected"]), vec![5]);
        assert!(
            refused["rejected"][0]["reason"]
                .as_str()
                .unwrap()
                .starts_with("parent_code:")
        );
        assert_eq!(
            count(&app.data(GROUPS, json!({ "t": d.tenant })).await),
            count(&before)
        );

        let (status, applied) = upload(&app, &path, &file, None).await;
        assert_eq!(status, 200, "{applied}");
        let after = app.data(GROUPS, json!({ "t": d.tenant })).await;
        assert_eq!(count(&after), count(&before) + 2);
        let by_code = |code: &str| {
            after["tenant"]["costGroups"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["code"] == code)
                .cloned()
                .unwrap_or_else(|| panic!("{code}: {after}"))
        };
        assert_eq!(by_code("EMEA-S")["parent"]["code"], "EMEA");
        assert_eq!(by_code("EMEA")["parent"]["code"], "ALL");
        assert_eq!(by_code("EMEA")["description"], "Europe and Africa");
        assert_eq!(by_code(renamed)["name"], "Renamed");
        let entries = audited(&app, &d.tenant, "createCostGroups").await;
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (
                &entries[0]["created"],
                &entries[0]["updated"],
                &entries[0]["rows"]
            ),
            (&json!(2), &json!(1), &json!(3))
        );
    }
}

#[tokio::test]
async fn the_mutations_answer_as_the_uploads_do_in_statements_that_do_not_grow_with_the_items() {
    for backend in backends() {
        let app = TestApp::demo_uncached(backend).await;
        let d = first_demo();
        let created = app
            .data(
                CREATE_MANY,
                json!({ "t": d.tenant, "dry": false, "items": [
                    { "code": "OPS", "name": "Operations", "parentCode": "ALL" },
                    { "code": "OPS-N", "name": "Operations North", "parentCode": "ops" },
                ] }),
            )
            .await;
        let created = &created["createCostGroups"];
        assert_eq!(
            (&created["applied"], &created["created"]),
            (&json!(true), &json!(2))
        );
        assert_eq!(created["changes"][1]["after"]["parentCode"], "OPS");

        let items = |n: usize| -> Value {
            d.users[..n]
                .iter()
                .map(|(_, upn)| {
                    json!({ "userPrincipalName": upn,
                    "shares": [{ "costGroupCode": "OPS-N" }] })
                })
                .collect()
        };
        let (dry, dry_statements) = app
            .counted(
                SET_MANY,
                json!({ "t": d.tenant, "items": items(2), "dry": true }),
            )
            .await;
        assert_eq!(dry["data"]["setUserAllocations"]["changed"], 2, "{dry}");
        let (_, dry_many) = app
            .counted(
                SET_MANY,
                json!({ "t": d.tenant, "items": items(12), "dry": true }),
            )
            .await;
        assert_eq!(
            dry_statements, dry_many,
            "a dry run's statements do not grow with items"
        );

        let (few, few_statements) = app
            .counted(SET_MANY, json!({ "t": d.tenant, "items": items(2) }))
            .await;
        let few = &few["data"]["setUserAllocations"];
        assert_eq!(
            (&few["applied"], &few["changed"]),
            (&json!(true), &json!(2)),
            "{few}"
        );
        assert_eq!(few["changes"][0]["after"][0]["percent"], "100");
        let (many, many_statements) = app
            .counted(SET_MANY, json!({ "t": d.tenant, "items": items(12) }))
            .await;
        let many = &many["data"]["setUserAllocations"];
        assert_eq!(
            (&many["changed"], &many["unchanged"]),
            (&json!(10), &json!(2)),
            "{many}"
        );
        assert_eq!(
            few_statements, many_statements,
            "statements of an apply do not grow with items"
        );
        assert_eq!(overrides(&app, &d.tenant).await.len(), 12);

        // An item naming its user twice over, or an unknown user, as the upload names them.
        let both = app
            .post(
                SET_MANY,
                json!({ "t": d.tenant, "items": [{ "userId": d.users[0].0,
                    "userPrincipalName": d.users[0].1, "shares": [] }] }),
            )
            .await;
        assert_eq!(first_error_code(&both), "BAD_USER_INPUT", "{both}");
        let unknown = app
            .data(
                SET_MANY,
                json!({ "t": d.tenant, "items": [
                    { "userPrincipalName": "nobody@example.com", "shares": [] },
                    { "userPrincipalName": d.users[0].1, "shares": [] },
                ] }),
            )
            .await;
        let unknown = &unknown["setUserAllocations"];
        assert_eq!(
            (&unknown["applied"], lines(&unknown["rejected"])),
            (&json!(false), vec![1])
        );
        assert_eq!(
            overrides(&app, &d.tenant).await.len(),
            12,
            "nothing written"
        );
    }
}

/// How many users `tenant`'s cost group `code` holds by override.
async fn overrides_of(app: &TestApp, tenant: &str, code: &str) -> usize {
    let query = r#"query($t: ID!) { tenant(id: $t) { costGroups { code
        members(first: 1) { totalCount } } } }"#;
    let data = app.data(query, json!({ "t": tenant })).await;
    let groups = data["tenant"]["costGroups"].as_array().unwrap();
    let group = groups.iter().find(|g| g["code"] == code).unwrap();
    group["members"]["totalCount"].as_u64().unwrap() as usize
}

/// The statements of `sql` that read `table` (`FROM "table"`).
fn reads_of<'s>(sql: &'s [String], table: &str) -> Vec<&'s String> {
    let from = format!("FROM \"{table}\"");
    sql.iter()
        .filter(|s| s.starts_with("SELECT") && s.contains(&from))
        .collect()
}

#[tokio::test]
async fn a_small_overrides_change_on_a_large_tenant_reads_only_the_users_it_names() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let mut snapshot = big_tenant(2_600);
        // Stored in mixed case, named in another case below: found by its lower case.
        snapshot.users[7].user_principal_name = "Mixed.Case07@Big.Example".to_owned();
        replace_tenant(&app.store, &snapshot, Utc::now())
            .await
            .unwrap();
        let tenant = snapshot.tenant.id.to_string();
        let created = app
            .data(
                CREATE_MANY,
                json!({ "t": tenant, "items": [{ "code": "OPS", "name": "Operations" },
                    { "code": "LAB", "name": "Lab" }] }),
            )
            .await;
        assert_eq!(created["createCostGroups"]["created"], 2, "{created}");
        let upns: Vec<String> = snapshot
            .users
            .iter()
            .map(|u| u.user_principal_name.clone())
            .collect();
        let items = |users: &[String], code: &str| -> Value {
            users
                .iter()
                .map(|upn| {
                    json!({ "userPrincipalName": upn,
                    "shares": [{ "costGroupCode": code }] })
                })
                .collect()
        };

        let path = format!("/import/tenants/{tenant}/overrides.csv");
        let csv = |users: &[String], code: &str| -> String {
            let rows: String = users.iter().map(|u| format!("{u},{code}\n")).collect();
            format!("user,cost_group_code\n{rows}")
        };

        // Dry runs: a statement more for each thousand users named and their overrides (of
        // users whose UPNs are stored in lower case: one value each).
        let mut dry_statements = Vec::new();
        for n in [2, 1_000, 2_500] {
            let before = app.metrics.statements_total();
            let (status, dry) = upload(
                &app,
                &format!("{path}?dryRun=true"),
                &csv(&upns[100..100 + n], "OPS"),
                None,
            )
            .await;
            assert_eq!((status, &dry["changed"]), (200, &json!(n)), "{dry}");
            dry_statements.push(app.metrics.statements_total() - before);
        }
        assert_eq!(
            (dry_statements[1], dry_statements[2]),
            (dry_statements[0], dry_statements[0] + 4),
            "statements of dry runs for 2, 1,000 and 2,500 users on {backend:?}"
        );

        // Every user overridden, in one change of more users than one statement binds.
        let (status, all) = upload(&app, &path, &csv(&upns, "OPS"), None).await;
        assert_eq!(
            (status, &all["applied"], &all["changed"], &all["rejected"]),
            (200, &json!(true), &json!(2_600), &json!([])),
            "{all}"
        );
        assert_eq!(overrides_of(&app, &tenant, "OPS").await, 2_600);

        // Two users moved: one named as stored, one in another case than stored.
        let named = [upns[3].clone(), "mixed.CASE07@big.example".to_owned()];
        let (moved, sql) = app
            .traced(
                SET_MANY,
                json!({ "t": tenant, "items": items(&named, "LAB") }),
            )
            .await;
        let moved = &moved["data"]["setUserAllocations"];
        assert_eq!(
            (&moved["applied"], &moved["changed"]),
            (&json!(true), &json!(2)),
            "{moved}"
        );
        assert_eq!(moved["changes"][1]["before"][0]["costGroupCode"], "OPS");
        assert_eq!(overrides_of(&app, &tenant, "LAB").await, 2);
        let named_ids: Vec<String> = [3, 7]
            .iter()
            .map(|&i| snapshot.users[i].id.to_string())
            .collect();
        let others: Vec<String> = snapshot
            .users
            .iter()
            .map(|u| u.id.to_string())
            .filter(|id| !named_ids.contains(id))
            .collect();
        let mut checked = 0;
        for table in ["users", "user_licenses", "user_allocations"] {
            for statement in reads_of(&sql, table) {
                let lower = statement.to_lowercase();
                assert!(
                    named_ids.iter().any(|id| lower.contains(id))
                        || named.iter().any(|upn| lower.contains(&upn.to_lowercase())),
                    "a read of {table} not bounded by the users named on {backend:?}: \
                     {statement}"
                );
                assert!(
                    !others.iter().any(|id| lower.contains(id)),
                    "a read of {table} naming another user on {backend:?}: {statement}"
                );
                checked += 1;
            }
        }
        // Named users by UPN (as written and lower case, then by lower case), the users
        // evaluated again, their licenses, their stored allocations (to compare and to
        // rewrite).
        assert!(checked >= 6, "{checked} reads checked: {sql:#?}");
        let overridden = reads_of(&sql, "allocation_override_shares");
        assert!(
            overridden
                .iter()
                .any(|s| named_ids.iter().any(|id| s.contains(id))),
            "the named users' overrides are read by id: {overridden:#?}"
        );
    }
}

//! License optimization through the API on every backend: each waste kind found and priced for
//! a crafted tenant, per cost group; the `waste` user filter; sign-in activity imported from the
//! simulator, and a tenant refusing it imported with the signal marked unavailable; tenant
//! isolation; statements that do not grow with the users; the CSV export of the findings.

use std::str::FromStr;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tenantgraph::domain::optimization::{SignInActivity, SignInImport};
use tenantgraph::domain::{
    AssignedLicense, PrepaidUnits, ServicePlan, ServicePlanId, SkuBilling, SkuId, Subscription,
    Tenant, TenantId, User, UserId,
};
use tenantgraph::simulator::{Fault, TenantSelector};
use uuid::Uuid;

use crate::importer::{import_all, importer_for, run_of, simulator};
use crate::security::{call, claims, hs_token, hs256};
use crate::support::csv_body::csv_table;
use crate::support::snapshot::{self, TenantSnapshot, replace_tenant_with_sign_ins};
use crate::support::{TestApp, backends, demo_data, first_error_code};

const SET_PRICE: &str = r#"mutation($t: ID!, $s: ID!, $p: Decimal!, $c: String!) {
    setLicensePrice(input: {tenantId: $t, skuId: $s, monthlyUnitPrice: $p, currency: $c,
        effectiveFrom: "2026-01-01"}) { skuId } }"#;
const CREATE_GROUP: &str = r#"mutation($t: ID!, $n: String!) {
    createCostGroup(input: {tenantId: $t, name: $n}) { id } }"#;
const SET_ALLOCATION: &str = r#"mutation($t: ID!, $u: ID!, $s: [AllocationShareInput!]!) {
    setUserAllocation(tenantId: $t, userId: $u, shares: $s) { id } }"#;
const OPTIMIZATION: &str = r#"query($t: ID!, $asOf: Date) { tenant(id: $t) {
    optimization(asOf: $asOf) {
        asOf currency inactiveDays monthlySaving unpricedLicenses
        signInActivity { available upstreamCode upstreamMessage observedAt }
        byKind { kind available users licenses monthlySaving unpricedLicenses }
        byCostGroup { costGroup { id name } users monthlySaving byKind { kind monthlySaving } }
        unassignedSeats { kind skuId licenses unitPrice monthlySaving }
    } } }"#;

const E5: u128 = 0xE5;
const E3: u128 = 0xE3;
const FREE: u128 = 0xF0;
const UNPRICED: u128 = 0x99;

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap_or_else(|| panic!("not a decimal: {v}"))).unwrap()
}

fn guid(tenant: u128, n: u128) -> Uuid {
    Uuid::from_u128(tenant << 64 | n)
}

fn sku(n: u128) -> SkuId {
    SkuId(Uuid::from_u128(n))
}

fn seen_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 6, 0, 0).unwrap()
}

/// The users of the crafted tenant, by role.
#[derive(Clone, Copy)]
enum Who {
    Disabled,
    Inactive,
    Guest,
    Redundant,
    Active,
    DisabledUnpriced,
}

const PEOPLE: [(Who, &[u128]); 6] = [
    (Who::Disabled, &[E3]),
    (Who::Inactive, &[E3]),
    (Who::Guest, &[E3]),
    (Who::Redundant, &[E3, E5]),
    (Who::Active, &[E5, FREE]),
    (Who::DisabledUnpriced, &[UNPRICED]),
];

fn user_id(tenant: u128, i: usize) -> UserId {
    UserId(guid(tenant, 0x100 + i as u128))
}

/// A tenant with one user of each kind (see [`PEOPLE`]), E5 (plans a, b, c) with 8 idle seats,
/// E3 (plans a, b), a free SKU with idle seats, a paid SKU without a price; sign-in activity
/// read on [`seen_at`].
fn crafted(tenant: u128) -> (TenantSnapshot, SignInImport) {
    crafted_with(tenant, 0)
}

/// As [`crafted`], with `extra` more users holding E5 (bought for them) on disabled accounts.
fn crafted_with(tenant: u128, extra: u128) -> (TenantSnapshot, SignInImport) {
    let tenant_id = TenantId(guid(tenant, 0));
    let now = seen_at();
    let template = demo_data()[0].0.users[1].clone();
    let mut users = Vec::new();
    let mut licenses = Vec::new();
    let mut sign_ins = Vec::new();
    for (i, (who, skus)) in PEOPLE.iter().enumerate() {
        let id = user_id(tenant, i);
        let mut u = User {
            id,
            tenant_id,
            display_name: format!("User {i}"),
            user_principal_name: format!("user{i}@t{tenant}.example.com"),
            manager_id: None,
            first_seen_at: now - Duration::days(400),
            last_seen_at: now,
            ..template.clone()
        };
        let mut last = now - Duration::days(2);
        match who {
            Who::Disabled | Who::DisabledUnpriced => u.account_enabled = Some(false),
            Who::Inactive => last = now - Duration::days(200),
            Who::Guest => u.user_type = Some("Guest".to_owned()),
            Who::Redundant | Who::Active => {}
        }
        sign_ins.push((
            id,
            SignInActivity {
                last_sign_in: Some(last),
                last_non_interactive_sign_in: None,
                last_successful_sign_in: Some(last),
                observed_at: now,
            },
        ));
        for &s in *skus {
            licenses.push(AssignedLicense {
                user_id: id,
                tenant_id,
                sku_id: sku(s),
                disabled_plans: Vec::new(),
            });
        }
        users.push(u);
    }
    for i in 0..extra {
        let id = UserId(guid(tenant, 0x1000 + i));
        users.push(User {
            id,
            user_principal_name: format!("extra{i}@t{tenant}.example.com"),
            account_enabled: Some(false),
            ..users[4].clone()
        });
        sign_ins.push((id, sign_ins[4].1.clone()));
        licenses.push(AssignedLicense {
            user_id: id,
            tenant_id,
            sku_id: sku(E5),
            disabled_plans: Vec::new(),
        });
    }
    let consumed = |s: u128| licenses.iter().filter(|l| l.sku_id == sku(s)).count() as i64;
    let sub = |s: u128, part: &str, enabled: i64, billing: SkuBilling| Subscription {
        tenant_id,
        sku_id: sku(s),
        sku_part_number: part.to_owned(),
        capability_status: "Enabled".to_owned(),
        applies_to: "User".to_owned(),
        prepaid: PrepaidUnits {
            enabled,
            ..PrepaidUnits::default()
        },
        consumed_units: consumed(s),
        subscription_ids: vec![guid(tenant, s).to_string()],
        billing,
        unknown: false,
        updated_at: now,
    };
    let subscriptions = vec![
        sub(E5, "SPE_E5", 10 + extra as i64, SkuBilling::Partner),
        sub(E3, "SPE_E3", 4, SkuBilling::Partner),
        sub(FREE, "FLOW_FREE", 10_000, SkuBilling::Free),
        sub(UNPRICED, "VISIOCLIENT", 1, SkuBilling::Partner),
    ];
    let plan = |s: u128, p: u128| ServicePlan {
        tenant_id,
        sku_id: sku(s),
        service_plan_id: ServicePlanId(Uuid::from_u128(0x5000 + p)),
        name: format!("PLAN_{p}"),
        provisioning_status: "Success".to_owned(),
        applies_to: "User".to_owned(),
    };
    let service_plans = vec![
        plan(E5, 1),
        plan(E5, 2),
        plan(E5, 3),
        plan(E3, 1),
        plan(E3, 2),
        plan(FREE, 9),
        plan(UNPRICED, 7),
    ];
    let snapshot = TenantSnapshot {
        tenant: Tenant {
            id: tenant_id,
            customer_id: Some(tenant_id.to_string()),
            name: format!("Crafted {tenant}"),
            default_domain: Some(format!("t{tenant}.onmicrosoft.com")),
            created_at: now,
            updated_at: now,
            last_import_at: Some(now),
        },
        subscriptions,
        service_plans,
        users,
        assignments: snapshot::direct_assignments(&licenses),
        licenses,
    };
    (snapshot, SignInImport::Read(sign_ins))
}

/// Seeds the crafted tenant `n` with prices (E3 20, E5 50 EUR) and cost groups Sales (the
/// disabled user, half the inactive one) and Ops (the other half). Returns (tenant id, sales,
/// ops).
async fn seed(app: &TestApp, n: u128) -> (String, String, String) {
    seed_with(app, n, 0).await
}

/// As [`seed`], with `extra` more disabled users holding E5 (see [`crafted_with`]).
async fn seed_with(app: &TestApp, n: u128, extra: u128) -> (String, String, String) {
    let (snap, sign_ins) = crafted_with(n, extra);
    replace_tenant_with_sign_ins(&app.store, &snap, seen_at(), Some(&sign_ins))
        .await
        .unwrap();
    let t = snap.tenant.id.to_string();
    for (s, price) in [(E3, "20.00"), (E5, "50.00")] {
        app.data(
            SET_PRICE,
            json!({ "t": t, "s": sku(s).to_string(), "p": price, "c": "EUR" }),
        )
        .await;
    }
    let group = |name: &'static str| {
        let t = t.clone();
        async move {
            app.data(CREATE_GROUP, json!({ "t": t, "n": name })).await["createCostGroup"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let (sales, ops) = (group("Sales").await, group("Ops").await);
    let share = |g: &str, p: &str| json!({ "costGroupId": g, "percent": p });
    for (i, shares) in [
        (0, json!([share(&sales, "100")])),
        (1, json!([share(&sales, "50"), share(&ops, "50")])),
    ] {
        app.data(
            SET_ALLOCATION,
            json!({ "t": t, "u": user_id(n, i).to_string(), "s": shares }),
        )
        .await;
    }
    (t, sales, ops)
}

async fn optimization(app: &TestApp, t: &str) -> Value {
    app.data(OPTIMIZATION, json!({ "t": t, "asOf": "2026-11-30" }))
        .await["tenant"]["optimization"]
        .clone()
}

fn kind<'a>(o: &'a Value, k: &str) -> &'a Value {
    o["byKind"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == k)
        .unwrap_or_else(|| panic!("no {k} in {o}"))
}

#[tokio::test]
async fn each_waste_kind_is_found_and_priced_per_kind_and_cost_group() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let (t, sales, ops) = seed(&app, 1).await;
        let o = optimization(&app, &t).await;
        assert_eq!(o["currency"], "EUR", "{o}");
        assert_eq!(o["inactiveDays"], 90);
        assert_eq!(o["signInActivity"]["available"], true);
        let expect = [
            // kind, users, licenses, saving, unpriced
            ("DISABLED_LICENSED", 2, 2, "20.00", 1),
            ("INACTIVE", 1, 1, "20.00", 0),
            ("GUEST_LICENSED", 1, 1, "20.00", 0),
            // E3 beside E5, whose plans include E3's: priced at the cheaper (E3).
            ("REDUNDANT_LICENSE", 1, 1, "20.00", 0),
            // 8 idle E5 seats at 50; the free SKU's 9,999 idle seats cost nobody anything.
            ("UNASSIGNED_SEATS", 0, 8, "400.00", 0),
        ];
        for (k, users, licenses, saving, unpriced) in expect {
            let total = kind(&o, k);
            assert_eq!(total["available"], true, "{k}");
            assert_eq!(total["users"], users, "{k}: {total}");
            assert_eq!(total["licenses"], licenses, "{k}: {total}");
            assert_eq!(dec(&total["monthlySaving"]), dec(&json!(saving)), "{k}");
            assert_eq!(total["unpricedLicenses"], unpriced, "{k}");
        }
        // The unpriced license is counted, never costed as 0.
        assert_eq!(dec(&o["monthlySaving"]), Decimal::from(480));
        assert_eq!(o["unpricedLicenses"], 1);

        let groups = o["byCostGroup"].as_array().unwrap();
        let line = |id: Option<&str>| {
            groups
                .iter()
                .find(|g| g["costGroup"]["id"].as_str() == id)
                .unwrap_or_else(|| panic!("no line {id:?} in {groups:?}"))
        };
        // Sales: the disabled user's 20 and half the inactive user's 20.
        assert_eq!(dec(&line(Some(&sales))["monthlySaving"]), Decimal::from(30));
        assert_eq!(dec(&line(Some(&ops))["monthlySaving"]), Decimal::from(10));
        // Unallocated (null group, last): the guest, the redundant E3, the unpriced license.
        let unallocated = groups.last().unwrap();
        assert!(unallocated["costGroup"].is_null());
        assert_eq!(dec(&unallocated["monthlySaving"]), Decimal::from(40));
        assert_eq!(unallocated["users"], 3);

        let seats = o["unassignedSeats"].as_array().unwrap();
        assert_eq!(seats.len(), 1, "{seats:?}");
        assert_eq!(seats[0]["skuId"], sku(E5).to_string());
        assert_eq!(dec(&seats[0]["unitPrice"]), Decimal::from(50));
    }
}

#[tokio::test]
async fn the_waste_filter_lists_who_with_each_users_monthly_saving() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let (t, _, _) = seed(&app, 2).await;
        let query = r#"query($t: ID!, $k: [WasteKind!]!) { tenant(id: $t) {
            users(filter: { waste: $k }) { totalCount nodes { id
                signInActivity { lastSignInDateTime lastActivity }
                waste(asOf: "2026-11-30") { kinds monthlySaving unpricedLicenses
                    findings { kind skuId monthlySaving } } } } } }"#;
        let data = app
            .data(
                query,
                json!({ "t": t, "k": ["DISABLED_LICENSED", "GUEST_LICENSED"] }),
            )
            .await;
        let users = &data["tenant"]["users"];
        assert_eq!(users["totalCount"], 3, "{users}");
        let mut ids: Vec<&str> = users["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap())
            .collect();
        ids.sort_unstable();
        let mut expected = [0, 2, 5].map(|i| user_id(2, i).to_string());
        expected.sort_unstable();
        assert_eq!(ids, expected.iter().map(String::as_str).collect::<Vec<_>>());
        for node in users["nodes"].as_array().unwrap() {
            assert!(node["signInActivity"]["lastActivity"].is_string(), "{node}");
            let waste = &node["waste"];
            if node["id"] == user_id(2, 5).to_string() {
                assert!(waste["monthlySaving"] == "0" || dec(&waste["monthlySaving"]).is_zero());
                assert_eq!(waste["unpricedLicenses"], 1);
                assert!(waste["findings"][0]["monthlySaving"].is_null());
            } else {
                assert_eq!(dec(&waste["monthlySaving"]), Decimal::from(20), "{node}");
            }
        }
        // An empty list matches nobody; asOf is refused with it.
        let none = app.data(query, json!({ "t": t, "k": [] })).await;
        assert_eq!(none["tenant"]["users"]["totalCount"], 0);
        let refused = app
            .post(
                r#"query($t: ID!) { tenant(id: $t) {
                    users(asOf: "2026-11-01", filter: { waste: [INACTIVE] }) { totalCount } } }"#,
                json!({ "t": t }),
            )
            .await;
        assert_eq!(first_error_code(&refused), "BAD_USER_INPUT", "{refused}");
    }
}

#[tokio::test]
async fn a_tenant_refusing_sign_in_activity_imports_with_the_signal_marked_unavailable() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(2, 150).await;
        sim.set_faults(vec![(
            TenantSelector::Index(1),
            Fault::SignInActivityRefused,
        )]);
        let importer = importer_for(&app.store, &sim).await;
        let tenants = sim.tenant_ids();
        let runs = import_all(&importer).await;
        for &t in &tenants {
            assert!(run_of(&runs, t).reason.is_none(), "{:?}", run_of(&runs, t));
        }
        let stats = sim.stats();
        // 150 users at 500 a page: one extra request per tenant per import.
        assert_eq!(stats.tenant(tenants[0]).sign_in_pages, 1);
        assert_eq!(stats.tenant(tenants[1]).sign_in_pages, 0);

        let query = r#"query($t: ID!) { tenant(id: $t) {
            optimization { signInActivity { available upstreamCode upstreamMessage }
                byKind { kind available } }
            users(first: 500) { nodes { signInActivity { lastSignInDateTime
                lastNonInteractiveSignInDateTime lastSuccessfulSignInDateTime } } } } }"#;
        let read = app
            .data(query, json!({ "t": tenants[0].to_string() }))
            .await;
        let o = &read["tenant"]["optimization"];
        assert_eq!(o["signInActivity"]["available"], true, "{o}");
        assert_eq!(kind(o, "INACTIVE")["available"], true);
        let nodes = read["tenant"]["users"]["nodes"].as_array().unwrap();
        let with = nodes
            .iter()
            .filter(|n| n["signInActivity"]["lastSuccessfulSignInDateTime"].is_string())
            .count();
        assert!(with > nodes.len() / 2, "{with} of {}", nodes.len());

        let refused = app
            .data(query, json!({ "t": tenants[1].to_string() }))
            .await;
        let o = &refused["tenant"]["optimization"];
        assert_eq!(o["signInActivity"]["available"], false, "{o}");
        assert_eq!(
            o["signInActivity"]["upstreamCode"],
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
        );
        assert!(
            o["signInActivity"]["upstreamMessage"]
                .as_str()
                .unwrap()
                .contains("premium"),
            "{o}"
        );
        assert_eq!(kind(o, "INACTIVE")["available"], false);
        assert_eq!(kind(o, "DISABLED_LICENSED")["available"], true);
        let nodes = refused["tenant"]["users"]["nodes"].as_array().unwrap();
        assert!(!nodes.is_empty());
        assert!(nodes.iter().all(|n| n["signInActivity"].is_null()));
    }
}

#[tokio::test]
async fn another_tenants_optimization_and_sign_ins_stay_hidden() {
    for backend in backends() {
        let app = TestApp::with_auth(backend, hs256(), None).await;
        for n in [7, 8] {
            let (snap, sign_ins) = crafted(n);
            replace_tenant_with_sign_ins(&app.store, &snap, seen_at(), Some(&sign_ins))
                .await
                .unwrap();
        }
        let (mine, theirs) = (guid(7, 0).to_string(), guid(8, 0).to_string());
        let token = hs_token(&claims(
            "reader-a",
            json!({ "roles": ["reader"], "tenants": [mine] }),
        ));
        let query = r#"query($t: ID!, $u: ID!) {
            tenant(id: $t) { optimization(asOf: "2026-11-30") { byKind { kind users } }
                users(filter: { waste: [DISABLED_LICENSED] }) { totalCount
                    nodes { id signInActivity { lastActivity } waste { kinds } } } }
            user(tenantId: $t, id: $u) { id signInActivity { lastActivity } waste { kinds } } }"#;
        let (status, own) = call(
            &app,
            Some(&token),
            query,
            json!({ "t": mine, "u": user_id(7, 0).to_string() }),
        )
        .await;
        assert_eq!(status, 200);
        assert!(own.get("errors").is_none(), "{own}");
        assert_eq!(own["data"]["tenant"]["users"]["totalCount"], 2, "{own}");
        assert!(own["data"]["user"]["signInActivity"]["lastActivity"].is_string());
        assert_eq!(
            own["data"]["user"]["waste"]["kinds"],
            json!(["DISABLED_LICENSED"])
        );

        let (_, other) = call(
            &app,
            Some(&token),
            query,
            json!({ "t": theirs, "u": user_id(8, 0).to_string() }),
        )
        .await;
        assert!(other["data"]["tenant"].is_null(), "{other}");
        assert!(other["data"]["user"].is_null(), "{other}");
        // B's user asked for under A is unknown too.
        let (_, crossed) = call(
            &app,
            Some(&token),
            query,
            json!({ "t": mine, "u": user_id(8, 0).to_string() }),
        )
        .await;
        assert!(crossed["data"]["user"].is_null(), "{crossed}");
        let text = format!("{other}{crossed}");
        assert!(!text.contains(&user_id(8, 0).to_string()), "{text}");

        // The CSV export: the caller's tenant only, and a token is needed.
        for (tenant, token, status) in [
            (&mine, Some(&token), 200),
            (&theirs, Some(&token), 404),
            (&mine, None, 401),
        ] {
            let request = app
                .client
                .get(app.url(&format!("/export/tenants/{tenant}/optimization.csv")));
            let request = match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            };
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), status, "{tenant}");
            let body = response.text().await.unwrap();
            let upn_of_theirs = "@t8.example.com";
            assert!(!body.contains(upn_of_theirs), "{body}");
            if status == 200 {
                assert!(body.contains("@t7.example.com"), "{body}");
            }
        }
    }
}

#[tokio::test]
async fn optimization_statements_do_not_grow_with_the_users() {
    for backend in backends() {
        let app = TestApp::uncached(backend).await;
        let (small, _, _) = seed(&app, 5).await;
        let (large, _, _) = seed_with(&app, 6, 300).await;
        let query = r#"query($t: ID!) { tenant(id: $t) { optimization(asOf: "2026-11-30") {
            monthlySaving byKind { kind users } byCostGroup { costGroup { id } monthlySaving } } } }"#;
        let (a, small_count) = app.counted(query, json!({ "t": small })).await;
        let (b, large_count) = app.counted(query, json!({ "t": large })).await;
        assert!(a["errors"].is_null() && b["errors"].is_null(), "{a} {b}");
        assert_eq!(small_count, large_count, "statements grew with the users");
        assert!(large_count <= 12, "{large_count} statements");

        // The waste filter binds its users as one value: the same SQL for 2 and 302 users found
        // (a parameter per user would pass SQLite's limit on a tenant with 33,000 of them).
        let filtered = r#"query($t: ID!) { tenant(id: $t) {
            users(first: 5, filter: { waste: [DISABLED_LICENSED] }) { totalCount nodes { id } } } }"#;
        let (a, small_sql) = app.traced(filtered, json!({ "t": small })).await;
        let (b, large_sql) = app.traced(filtered, json!({ "t": large })).await;
        assert_eq!(a["data"]["tenant"]["users"]["totalCount"], 2, "{a}");
        assert_eq!(b["data"]["tenant"]["users"]["totalCount"], 302, "{b}");
        assert_eq!(
            b["data"]["tenant"]["users"]["nodes"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
        assert_eq!(masked(&small_sql), masked(&large_sql));
    }
}

#[tokio::test]
async fn the_optimization_export_lists_each_finding_per_cost_group_share_adding_up_to_the_totals() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let (t, sales, ops) = seed(&app, 9).await;
        // The guest's 20.00 split three ways adds up to 20.00, not 6.67 three times.
        let finance = app
            .data(CREATE_GROUP, json!({ "t": t, "n": "Finance" }))
            .await["createCostGroup"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let thirds = json!([
            { "costGroupId": sales, "percent": "33.33" },
            { "costGroupId": ops, "percent": "33.33" },
            { "costGroupId": finance, "percent": "33.34" },
        ]);
        app.data(
            SET_ALLOCATION,
            json!({ "t": t, "u": user_id(9, 2).to_string(), "s": thirds }),
        )
        .await;
        let o = optimization(&app, &t).await;
        let get = |path: String| {
            let request = app.client.get(app.url(&path));
            async move {
                let response = request.send().await.unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            }
        };
        let path = format!("/export/tenants/{t}/optimization.csv?asOf=2026-11-30");
        let (status, body) = get(path.clone()).await;
        assert_eq!(status, 200, "{body}");
        let (header, rows) = csv_table(body.as_bytes(), b',');
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let (kind_col, upn, group, part, saving, share) = (
            col("kind"),
            col("user_principal_name"),
            col("cost_group_saving"),
            col("sku_part_number"),
            col("monthly_saving"),
            col("share_percent"),
        );
        // Per kind, the rows' cost group savings add up to the kind's total.
        for kind_name in [
            "DISABLED_LICENSED",
            "INACTIVE",
            "GUEST_LICENSED",
            "REDUNDANT_LICENSE",
            "UNASSIGNED_SEATS",
        ] {
            let sum: Decimal = rows
                .iter()
                .filter(|r| r[kind_col] == kind_name)
                .filter(|r| !r[group].is_empty())
                .map(|r| Decimal::from_str(&r[group]).unwrap())
                .sum();
            assert_eq!(
                sum,
                dec(&kind(&o, kind_name)["monthlySaving"]),
                "{kind_name}: {body}"
            );
        }
        let guest: Vec<&Vec<String>> = rows
            .iter()
            .filter(|r| r[kind_col] == "GUEST_LICENSED")
            .collect();
        let parts: Vec<(&str, &str, &str)> = guest
            .iter()
            .map(|r| (r[share].as_str(), r[group].as_str(), r[saving].as_str()))
            .collect();
        assert_eq!(
            parts,
            // Finance, Ops, Sales: the cent left over goes to the largest remainder, then the
            // first path.
            vec![
                ("33.34", "6.67", "20.00"),
                ("33.33", "6.67", "20.00"),
                ("33.33", "6.66", "20.00")
            ],
            "{body}"
        );
        assert_eq!(guest[0][upn], "user2@t9.example.com");
        // The unpriced license is listed without an amount, never as 0.00.
        let unpriced = rows
            .iter()
            .find(|r| r[part] == "VISIOCLIENT")
            .unwrap_or_else(|| panic!("{body}"));
        assert_eq!(unpriced[col("priced")], "false");
        assert_eq!(unpriced[saving], "");
        assert_eq!(unpriced[group], "");
        // Idle seats: no user, no group, the whole amount.
        let seats = rows
            .iter()
            .find(|r| r[kind_col] == "UNASSIGNED_SEATS")
            .unwrap();
        assert_eq!(
            (seats[upn].as_str(), seats[col("licenses")].as_str()),
            ("", "8")
        );
        assert_eq!(
            (seats[saving].as_str(), seats[group].as_str()),
            ("400.00", "400.00")
        );

        // One kind only; Excel's separators for a German reader.
        let (_, inactive) = get(format!("{path}&kind=inactive&format=excel&locale=de-DE")).await;
        assert!(inactive.starts_with('\u{feff}'), "{inactive}");
        let (_, rows) = csv_table(inactive.trim_start_matches('\u{feff}').as_bytes(), b';');
        assert_eq!(rows.len(), 2, "the inactive user's two shares: {inactive}");
        assert!(
            rows.iter()
                .all(|r| r[kind_col] == "INACTIVE" && r[group] == "10,00")
        );

        // Refusals: a kind that does not exist, a bad date, a tenant that does not exist.
        let (status, message) = get(format!("{path}&kind=IDLE")).await;
        assert_eq!(status, 400);
        assert!(message.contains("\"IDLE\""), "{message}");
        let bad_date = format!("/export/tenants/{t}/optimization.csv?asOf=30.11.2026");
        assert_eq!(get(bad_date).await.0, 400);
        let unknown = format!("/export/tenants/{}/optimization.csv", guid(77, 0));
        assert_eq!(get(unknown).await.0, 404);
    }
}

/// The statements with every quoted value as `?`: the logged SQL shows values inline.
fn masked(statements: &[String]) -> Vec<String> {
    statements
        .iter()
        .map(|sql| {
            let mut out = String::with_capacity(sql.len());
            let mut quoted = false;
            for c in sql.chars() {
                match (c, quoted) {
                    ('\'', false) => {
                        quoted = true;
                        out.push('?');
                    }
                    ('\'', true) => quoted = false,
                    (c, false) => out.push(c),
                    (_, true) => {}
                }
            }
            out
        })
        .collect()
}

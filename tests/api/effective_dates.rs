//! Allocation changes with effective dates, on every backend: a backdated rule re-bills last
//! month's days to the cost groups of each day, a backdated change into a closed month is
//! refused and changes nothing, a future-dated override is scheduled and takes effect once its
//! day is imported, and audit entries carry both the time of a change and the day it takes
//! effect. Past user versions and holdings are written directly (a past month cannot be
//! imported today); the changes go through the API.

use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::{Value, json};
use tenantgraph::store::entities::{
    allocation_configuration, allocation_history, allocation_override, allocation_override_share,
    allocation_rule, audit_log, cost_group, import_run, license_history, license_price,
    subscription, user, user_allocation, user_license, user_version,
};
use uuid::Uuid;

use crate::importer::{import_as_of, importer_for, simulator, store_db};
use crate::support::{Backend, TestApp, backends, first_error_code};

const CHARGEBACK: &str = r#"query($t: ID!, $m: String!) { tenant(id: $t) { chargeback(month: $m) {
    costGroups { costGroupId own { licenseDays } } unallocated { licenseDays } } } }"#;
const CREATE_RULE: &str = r#"mutation($t: ID!, $g: ID!, $d: String!, $f: Date) {
    createAllocationRule(input: { tenantId: $t, costGroupId: $g, effectiveFrom: $f,
        conditions: [{ attribute: DEPARTMENT, operator: EQUALS, values: [$d] }] }) { id } }"#;
const DELETE_RULE: &str = "mutation($id: ID!) { deleteAllocationRule(id: $id) }";
const SET_OVERRIDE: &str = r#"mutation($t: ID!, $u: ID!, $g: ID!, $f: Date) {
    setUserAllocation(tenantId: $t, userId: $u, shares: [{ costGroupId: $g, percent: 100 }],
        effectiveFrom: $f) { allocation { source shares { percent costGroup { id } } } } }"#;
const ALLOCATION: &str = r#"query($t: ID!, $u: ID!) { user(tenantId: $t, id: $u) {
    allocation { source shares { percent costGroup { id } } } } }"#;
const SCHEDULED: &str = r#"query($t: ID!) { tenant(id: $t) {
    scheduledAllocationChanges { action subjectId at effectiveFrom } } }"#;
const AUDIT: &str = r#"query($t: ID!) { auditLog(tenantId: $t, first: 10) {
    edges { node { action at effectiveFrom } } } }"#;
const CLOSE: &str = r#"mutation($t: ID!, $m: String!) { closeChargeback(tenantId: $t, month: $m) {
    closed } }"#;

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap_or_else(|| panic!("not a decimal: {v}"))).unwrap()
}

/// Last month: its first day, its `YYYY-MM` and its number of days.
fn last_month() -> (NaiveDate, String, i64) {
    let today = Utc::now().date_naive();
    let this = today.with_day(1).unwrap();
    let first = (this - Duration::days(1)).with_day(1).unwrap();
    (
        first,
        first.format("%Y-%m").to_string(),
        (this - first).num_days(),
    )
}

/// The license days a chargeback line of `group` (own) holds; 0 when the group has no line.
fn days_of(c: &Value, group: Uuid) -> Decimal {
    c["costGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["costGroupId"] == group.to_string())
        .map_or(Decimal::ZERO, |g| dec(&g["own"]["licenseDays"]))
}

/// The first demo tenant, emptied of allocation data and licenses but for one user who has
/// held one SKU since 2025 (first import then; 31 EUR a month) and who moved from Sales to
/// Finance on the 14th of last month (a user version ends that day).
struct Scenario {
    tenant: Uuid,
    user: Uuid,
    sales: Uuid,
    finance: Uuid,
    mid: NaiveDate,
}

async fn group(db: &DatabaseConnection, tenant: Uuid, name: &str) -> Uuid {
    let id = Uuid::new_v4();
    let now = Utc::now();
    cost_group::Entity::insert(cost_group::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant),
        parent_id: Set(None),
        name: Set(name.to_owned()),
        code: Set(None),
        description: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await
    .unwrap();
    id
}

async fn scenario(app: &TestApp) -> Scenario {
    crate::support::demo::seed(&app.store).await;
    let db = store_db(&app.store).await;
    let mut users = user::Entity::find()
        .order_by_asc(user::Column::TenantId)
        .order_by_asc(user::Column::Id)
        .all(&db)
        .await
        .unwrap();
    let tenant = users[0].tenant_id;
    users.retain(|u| u.tenant_id == tenant);
    macro_rules! clear {
        ($($entity:ident),*) => {$(
            $entity::Entity::delete_many()
                .filter($entity::Column::TenantId.eq(tenant))
                .exec(&db)
                .await
                .unwrap();
        )*};
    }
    clear!(
        user_license,
        user_allocation,
        allocation_history,
        allocation_override_share,
        allocation_override,
        allocation_rule,
        license_price,
        license_history,
        user_version
    );
    user::Entity::update_many()
        .col_expr(
            user::Column::ValidFrom,
            sea_orm::sea_query::Expr::value(Option::<NaiveDate>::None),
        )
        .filter(user::Column::TenantId.eq(tenant))
        .exec(&db)
        .await
        .unwrap();
    import_run::Entity::update_many()
        .col_expr(
            import_run::Column::ObservedOn,
            sea_orm::sea_query::Expr::value(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()),
        )
        .filter(import_run::Column::TenantId.eq(tenant))
        .exec(&db)
        .await
        .unwrap();
    let sku = subscription::Entity::find()
        .filter(subscription::Column::TenantId.eq(tenant))
        .order_by_asc(subscription::Column::SkuId)
        .one(&db)
        .await
        .unwrap()
        .unwrap()
        .sku_id;
    let since = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    license_price::Entity::insert(license_price::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant),
        sku_id: Set(sku),
        effective_from: Set(since),
        monthly_unit_price: Set("31".to_owned()),
        currency: Set("EUR".to_owned()),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(&db)
    .await
    .unwrap();
    let u = users[0].clone();
    user_license::Entity::insert(user_license::ActiveModel {
        user_id: Set(u.id),
        sku_id: Set(sku),
        tenant_id: Set(tenant),
        disabled_plans: Set(json!([])),
        held_from: Set(Some(since)),
    })
    .exec_without_returning(&db)
    .await
    .unwrap();
    let mid = last_month().0 + Duration::days(13);
    user_version::Entity::insert(user_version::ActiveModel {
        id: NotSet,
        tenant_id: Set(tenant),
        user_id: Set(u.id),
        display_name: Set(u.display_name.clone()),
        given_name: Set(u.given_name.clone()),
        surname: Set(u.surname.clone()),
        user_principal_name: Set(u.user_principal_name.clone()),
        mail: Set(u.mail.clone()),
        user_type: Set(u.user_type.clone()),
        account_enabled: Set(u.account_enabled),
        job_title: Set(u.job_title.clone()),
        department: Set(Some("Sales".to_owned())),
        company_name: Set(u.company_name.clone()),
        office_location: Set(u.office_location.clone()),
        street_address: Set(u.street_address.clone()),
        city: Set(u.city.clone()),
        state: Set(u.state.clone()),
        postal_code: Set(u.postal_code.clone()),
        country: Set(u.country.clone()),
        preferred_language: Set(u.preferred_language.clone()),
        usage_location: Set(u.usage_location.clone()),
        extension_attributes: Set(u.extension_attributes.clone()),
        manager_id: Set(u.manager_id),
        manager_contact_id: Set(u.manager_contact_id),
        manager_contact_name: Set(u.manager_contact_name.clone()),
        manager_contact_mail: Set(u.manager_contact_mail.clone()),
        first_seen_at: Set(u.first_seen_at),
        last_seen_at: Set(u.last_seen_at),
        deleted_at: Set(None),
        valid_from: Set(None),
        valid_to: Set(mid),
        deleted: Set(false),
    })
    .exec_without_returning(&db)
    .await
    .unwrap();
    user::Entity::update_many()
        .col_expr(
            user::Column::Department,
            sea_orm::sea_query::Expr::value("Finance"),
        )
        .col_expr(
            user::Column::ValidFrom,
            sea_orm::sea_query::Expr::value(mid),
        )
        .filter(user::Column::Id.eq(u.id))
        .exec(&db)
        .await
        .unwrap();
    // The holding written straight into the table, counted as a migrated store's is.
    tenantgraph::store::history::license_deltas::rebuild(
        &app.store,
        tenantgraph::domain::TenantId(tenant),
    )
    .await
    .unwrap();
    Scenario {
        tenant,
        user: u.id,
        sales: group(&db, tenant, "Sales").await,
        finance: group(&db, tenant, "Finance").await,
        mid,
    }
}

async fn chargeback(app: &TestApp, s: &Scenario) -> Value {
    app.data(
        CHARGEBACK,
        json!({ "t": s.tenant.to_string(), "m": last_month().1 }),
    )
    .await["tenant"]["chargeback"]
        .clone()
}

async fn create_rule(
    app: &TestApp,
    s: &Scenario,
    group: Uuid,
    department: &str,
    from: Value,
) -> String {
    let created = app
        .data(
            CREATE_RULE,
            json!({ "t": s.tenant.to_string(), "g": group.to_string(), "d": department, "f": from }),
        )
        .await;
    created["createAllocationRule"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The scenario on `backend` with the Finance rule in force from the first of last month
/// (whose first day, name and days [`last_month`] gives).
async fn finance_from_first(backend: Backend) -> (TestApp, Scenario, (NaiveDate, String, i64)) {
    let app = TestApp::empty(backend).await;
    let s = scenario(&app).await;
    let month = last_month();
    create_rule(&app, &s, s.finance, "Finance", json!(month.0.to_string())).await;
    (app, s, month)
}

/// `response` was refused with `code`, its message naming `naming`.
fn assert_refused(response: &Value, code: &str, naming: &str) {
    assert_eq!(first_error_code(response), code, "{response}");
    let message = response["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains(naming), "names {naming}: {response}");
}

#[tokio::test]
async fn a_backdated_rule_bills_last_months_days_to_the_groups_of_each_day() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        let (first, _, days) = last_month();
        let days = Decimal::from(days);
        let before = chargeback(&app, &s).await;
        assert_eq!(dec(&before["unallocated"]["licenseDays"]), days, "{before}");

        // A rule made today leaves last month as it was.
        let sales_today = create_rule(&app, &s, s.sales, "Sales", Value::Null).await;
        let c = chargeback(&app, &s).await;
        assert_eq!(dec(&c["unallocated"]["licenseDays"]), days, "{c}");

        // Backdated to the 1st: the Finance days (from the 14th) move; the Sales rule made
        // today does not reach back with it.
        create_rule(&app, &s, s.finance, "Finance", json!(first.to_string())).await;
        let c = chargeback(&app, &s).await;
        assert_eq!(days_of(&c, s.finance), days - Decimal::from(13), "{c}");
        assert_eq!(days_of(&c, s.sales), Decimal::ZERO, "{c}");
        assert_eq!(
            dec(&c["unallocated"]["licenseDays"]),
            Decimal::from(13),
            "{c}"
        );

        // The Sales rule again, from the 1st: the first 13 days go to Sales.
        app.data(DELETE_RULE, json!({ "id": sales_today })).await;
        create_rule(&app, &s, s.sales, "Sales", json!(first.to_string())).await;
        let c = chargeback(&app, &s).await;
        assert_eq!(days_of(&c, s.sales), Decimal::from(13), "{c}");
        assert_eq!(days_of(&c, s.finance), days - Decimal::from(13), "{c}");
        assert_eq!(dec(&c["unallocated"]["licenseDays"]), Decimal::ZERO, "{c}");

        // Stored as two intervals: Sales [1st, 14th) ended, Finance from the 14th in force.
        let db = store_db(&app.store).await;
        let ended = allocation_history::Entity::find()
            .filter(allocation_history::Column::UserId.eq(s.user))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(ended.len(), 1, "{ended:?}");
        assert_eq!(
            (
                ended[0].cost_group_id,
                ended[0].valid_from,
                ended[0].valid_to
            ),
            (s.sales, Some(first), s.mid)
        );
        let current = user_allocation::Entity::find()
            .filter(user_allocation::Column::UserId.eq(s.user))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(current.len(), 1);
        assert_eq!(
            (current[0].cost_group_id, current[0].allocated_from),
            (s.finance, Some(s.mid))
        );

        // The audit log has when each change was made and the day it takes effect.
        let audit = app.data(AUDIT, json!({ "t": s.tenant.to_string() })).await;
        let nodes: Vec<&Value> = audit["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .take(4)
            .map(|e| &e["node"])
            .collect();
        let today = Utc::now().date_naive().to_string();
        let seen: Vec<(&str, &str)> = nodes
            .iter()
            .map(|n| {
                (
                    n["action"].as_str().unwrap(),
                    n["effectiveFrom"].as_str().unwrap(),
                )
            })
            .collect();
        let first_text = first.to_string();
        assert_eq!(
            seen,
            vec![
                ("createAllocationRule", first_text.as_str()),
                ("deleteAllocationRule", today.as_str()),
                ("createAllocationRule", first_text.as_str()),
                ("createAllocationRule", today.as_str()),
            ]
        );
        assert!(
            nodes
                .iter()
                .all(|n| n["at"].as_str().unwrap().starts_with(&today)),
            "{audit}"
        );
    }
}

const SPLIT_CHARGEBACK: &str = r#"query($t: ID!, $m: String!) { tenant(id: $t) {
    chargeback(month: $m) { costGroups { costGroupId own { licenseDays amount exactAmount } }
        unallocated { licenseDays amount } total { amount exactAmount } } } }"#;
const CREATE_SPLIT_RULE: &str = r#"mutation($t: ID!, $targets: [AllocationRuleTargetInput!]!,
    $d: String!, $f: Date) {
    createAllocationRule(input: { tenantId: $t, targets: $targets, effectiveFrom: $f,
        conditions: [{ attribute: DEPARTMENT, operator: EQUALS, values: [$d] }] }) { id } }"#;

#[tokio::test]
async fn a_backdated_split_rule_bills_last_months_days_by_its_percentages_to_the_cent() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        let (first, month, days) = last_month();
        let targets = json!([{ "costGroupId": s.finance.to_string(), "percent": "60" },
            { "costGroupId": s.sales.to_string(), "percent": "40" }]);
        app.data(
            CREATE_SPLIT_RULE,
            json!({ "t": s.tenant.to_string(), "targets": targets, "d": "Finance",
                "f": first.to_string() }),
        )
        .await;
        let c = app
            .data(
                SPLIT_CHARGEBACK,
                json!({ "t": s.tenant.to_string(), "m": month }),
            )
            .await["tenant"]["chargeback"]
            .clone();
        // In Finance from the 14th: those days split 60/40, the 13 before unallocated.
        let split_days = Decimal::from(days - 13);
        let line = |g: Uuid| {
            c["costGroups"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["costGroupId"] == g.to_string())
                .unwrap_or_else(|| panic!("no line of {g}: {c}"))["own"]
                .clone()
        };
        let (finance, sales) = (line(s.finance), line(s.sales));
        assert_eq!(
            dec(&finance["licenseDays"]),
            split_days * Decimal::new(6, 1)
        );
        assert_eq!(dec(&sales["licenseDays"]), split_days * Decimal::new(4, 1));
        assert_eq!(dec(&c["unallocated"]["licenseDays"]), Decimal::from(13));
        // 31 EUR a month, by day: exact parts of the exact whole, cents adding up.
        let per_day = Decimal::from(31) / Decimal::from(days);
        let close = |a: Decimal, b: Decimal| (a - b).abs() < Decimal::new(1, 12);
        assert!(close(
            dec(&finance["exactAmount"]),
            per_day * split_days * Decimal::new(6, 1)
        ));
        assert!(close(
            dec(&sales["exactAmount"]),
            per_day * split_days * Decimal::new(4, 1)
        ));
        let parts =
            dec(&finance["amount"]) + dec(&sales["amount"]) + dec(&c["unallocated"]["amount"]);
        assert_eq!(parts, dec(&c["total"]["amount"]), "{c}");
        assert_eq!(
            dec(&c["total"]["amount"]),
            dec(&c["total"]["exactAmount"]).round_dp(2),
            "{c}"
        );

        // Stored as the user's two shares from the 14th, and in the configuration version.
        let db = store_db(&app.store).await;
        let mut current: Vec<(Uuid, String, Option<NaiveDate>)> = user_allocation::Entity::find()
            .filter(user_allocation::Column::UserId.eq(s.user))
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.cost_group_id, a.percent, a.allocated_from))
            .collect();
        current.sort_by(|a, b| b.1.cmp(&a.1));
        assert_eq!(
            current,
            vec![
                (s.finance, "60".to_owned(), Some(s.mid)),
                (s.sales, "40".to_owned(), Some(s.mid)),
            ]
        );
        let version = allocation_configuration::Entity::find()
            .filter(allocation_configuration::Column::TenantId.eq(s.tenant))
            .filter(allocation_configuration::Column::EffectiveFrom.eq(first))
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            version.configuration["rules"][0]["targets"],
            json!([[s.finance.to_string(), "60"], [s.sales.to_string(), "40"]]),
            "{}",
            version.configuration
        );
    }
}

#[tokio::test]
async fn a_backdated_change_into_a_closed_month_is_refused_and_changes_nothing() {
    for backend in backends() {
        let (app, s, (_, month, _)) = finance_from_first(backend).await;
        let t = s.tenant.to_string();
        app.data(CLOSE, json!({ "t": t, "m": month })).await;
        let db = store_db(&app.store).await;
        let counts = |db: &DatabaseConnection| {
            let db = db.clone();
            async move {
                (
                    allocation_rule::Entity::find().count(&db).await.unwrap(),
                    allocation_override::Entity::find()
                        .count(&db)
                        .await
                        .unwrap(),
                    allocation_configuration::Entity::find()
                        .count(&db)
                        .await
                        .unwrap(),
                    allocation_history::Entity::find().count(&db).await.unwrap(),
                    audit_log::Entity::find().count(&db).await.unwrap(),
                )
            }
        };
        let before = counts(&db).await;
        let refused = app
            .post(
                CREATE_RULE,
                json!({ "t": t, "g": s.sales.to_string(), "d": "Sales", "f": s.mid.to_string() }),
            )
            .await;
        assert_refused(&refused, "CONFLICT", &month);
        let refused = app
            .post(
                SET_OVERRIDE,
                json!({ "t": t, "u": s.user.to_string(), "g": s.sales.to_string(),
                        "f": "2025-06-01" }),
            )
            .await;
        assert_eq!(first_error_code(&refused), "CONFLICT", "{refused}");
        assert_eq!(counts(&db).await, before, "a refused change writes nothing");
        let allocation = app
            .data(ALLOCATION, json!({ "t": t, "u": s.user.to_string() }))
            .await;
        assert_eq!(allocation["user"]["allocation"]["source"], "RULE");

        // From today on, the closed month is out of reach: accepted.
        let today = app
            .data(
                SET_OVERRIDE,
                json!({ "t": t, "u": s.user.to_string(), "g": s.sales.to_string(),
                        "f": Utc::now().date_naive().to_string() }),
            )
            .await;
        assert_eq!(
            today["setUserAllocation"]["allocation"]["source"],
            "OVERRIDE"
        );
    }
}

#[tokio::test]
async fn a_future_override_is_scheduled_and_applies_once_its_day_is_imported() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 10).await;
        let tenant = sim.tenant_ids()[0];
        let importer = importer_for(&app.store, &sim).await;
        let today = Utc::now().date_naive();
        let tomorrow = today + Duration::days(1);
        let import = |date: NaiveDate| import_as_of(&importer, date);
        import(today).await;
        let db = store_db(&app.store).await;
        let user = first_present_user(&db, tenant).await;
        let sales = group(&db, tenant, "Sales").await;
        let vars = json!({ "t": tenant.to_string(), "u": user.to_string() });
        let before = app.data(ALLOCATION, vars.clone()).await;

        let set = app
            .data(
                SET_OVERRIDE,
                json!({ "t": tenant.to_string(), "u": user.to_string(),
                        "g": sales.to_string(), "f": tomorrow.to_string() }),
            )
            .await;
        // Today's allocation stands.
        assert_eq!(
            set["setUserAllocation"]["allocation"],
            before["user"]["allocation"]
        );
        assert_eq!(
            allocation_override::Entity::find()
                .filter(allocation_override::Column::TenantId.eq(tenant))
                .count(&db)
                .await
                .unwrap(),
            0
        );
        let scheduled = app
            .data(SCHEDULED, json!({ "t": tenant.to_string() }))
            .await;
        let list = scheduled["tenant"]["scheduledAllocationChanges"]
            .as_array()
            .unwrap();
        assert_eq!(list.len(), 1, "{scheduled}");
        assert_eq!(list[0]["action"], "setUserAllocation");
        assert_eq!(list[0]["subjectId"], user.to_string());
        assert_eq!(list[0]["effectiveFrom"], tomorrow.to_string());
        assert!(
            list[0]["at"]
                .as_str()
                .unwrap()
                .starts_with(&today.to_string())
        );

        // The import of tomorrow promotes it, from tomorrow on.
        import(tomorrow).await;
        let after = app.data(ALLOCATION, vars).await;
        assert_eq!(after["user"]["allocation"]["source"], "OVERRIDE", "{after}");
        assert_eq!(
            after["user"]["allocation"]["shares"][0]["costGroup"]["id"],
            sales.to_string()
        );
        let rows = user_allocation::Entity::find()
            .filter(user_allocation::Column::UserId.eq(user))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].allocated_from, Some(tomorrow));
        let scheduled = app
            .data(SCHEDULED, json!({ "t": tenant.to_string() }))
            .await;
        assert_eq!(
            scheduled["tenant"]["scheduledAllocationChanges"],
            json!([]),
            "promoted changes are no longer scheduled"
        );
    }
}

const TREE: &str = r#"query($t: ID!, $m: String!) { tenant(id: $t) { chargeback(month: $m) {
    costGroups { costGroupId parentId withDescendants { licenseDays } } } } }"#;
const CREATE_GROUP: &str = r#"mutation($t: ID!, $n: String!, $p: ID, $f: Date) {
    createCostGroup(input: { tenantId: $t, name: $n, parentId: $p, effectiveFrom: $f }) { id } }"#;
const MOVE_GROUP: &str = r#"mutation($id: ID!, $p: ID!, $f: Date) {
    updateCostGroup(id: $id, input: { parentId: $p, effectiveFrom: $f }) { id parent { id } } }"#;
const DELETE_GROUP: &str = r#"mutation($id: ID!, $to: ID, $f: Date) {
    deleteCostGroup(id: $id, reassignTo: $to, effectiveFrom: $f) }"#;
const GROUPS: &str =
    r#"query($t: ID!) { tenant(id: $t) { costGroups { id name parent { id } } } }"#;
const CANCEL: &str = r#"mutation($t: ID!, $f: Date!) {
    cancelScheduledAllocationChanges(tenantId: $t, effectiveFrom: $f) { action effectiveFrom } }"#;

/// Last month's chargeback of tenant `t`, by [`TREE`].
async fn tree(app: &TestApp, t: &str, month: &str) -> Value {
    app.data(TREE, json!({ "t": t, "m": month })).await["tenant"]["chargeback"].clone()
}

/// The cost groups of tenant `t` today: (name, parent id), by name.
async fn groups_of(app: &TestApp, t: &str) -> Vec<(String, Value)> {
    let mut g: Vec<(String, Value)> =
        app.data(GROUPS, json!({ "t": t })).await["tenant"]["costGroups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["name"].as_str().unwrap().to_owned(),
                    g["parent"]["id"].clone(),
                )
            })
            .collect();
    g.sort_by(|a, b| a.0.cmp(&b.0));
    g
}

/// The line of `group` in a chargeback of [`TREE`].
fn line_of(c: &Value, group: &str) -> Value {
    c["costGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["costGroupId"] == group)
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_backdated_move_rolls_last_month_up_by_the_tree_of_its_days() {
    for backend in backends() {
        let (app, s, (first, month, days)) = finance_from_first(backend).await;
        let t = s.tenant.to_string();
        let company = app
            .data(
                CREATE_GROUP,
                json!({ "t": t, "n": "Company", "f": first.to_string() }),
            )
            .await["createCostGroup"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let c = tree(&app, &t, &month).await;
        assert_eq!(line_of(&c, &company)["parentId"], Value::Null, "{c}");
        assert_eq!(
            dec(&line_of(&c, &company)["withDescendants"]["licenseDays"]),
            Decimal::ZERO,
            "{c}"
        );

        // Finance under Company from the 1st of last month: last month rolls up by it.
        let moved = app
            .data(
                MOVE_GROUP,
                json!({ "id": s.finance.to_string(), "p": company, "f": first.to_string() }),
            )
            .await;
        assert_eq!(moved["updateCostGroup"]["parent"]["id"], company.as_str());
        let c = tree(&app, &t, &month).await;
        let finance = line_of(&c, &s.finance.to_string());
        assert_eq!(finance["parentId"], company.as_str(), "{c}");
        assert_eq!(
            dec(&line_of(&c, &company)["withDescendants"]["licenseDays"]),
            Decimal::from(days - 13),
            "{c}"
        );

        // A group made today is in no past tree: moving under it from last month is refused.
        let later = app
            .data(CREATE_GROUP, json!({ "t": t, "n": "Later" }))
            .await["createCostGroup"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let refused = app
            .post(
                MOVE_GROUP,
                json!({ "id": s.sales.to_string(), "p": later, "f": first.to_string() }),
            )
            .await;
        assert_refused(&refused, "NOT_FOUND", &first.to_string());
    }
}

#[tokio::test]
async fn a_backdated_delete_rebills_the_days_since_and_keeps_the_days_before() {
    for backend in backends() {
        let (app, s, (_, _, days)) = finance_from_first(backend).await;
        // Finance holds the user from the 14th; deleted from the 19th, its rule going to Sales.
        let gone = s.mid + Duration::days(5);
        app.data(
            DELETE_GROUP,
            json!({ "id": s.finance.to_string(), "to": s.sales.to_string(),
                    "f": gone.to_string() }),
        )
        .await;
        let c = chargeback(&app, &s).await;
        assert_eq!(days_of(&c, s.finance), Decimal::from(5), "{c}");
        assert_eq!(days_of(&c, s.sales), Decimal::from(days - 13 - 5), "{c}");
        let allocation = app
            .data(
                ALLOCATION,
                json!({ "t": s.tenant.to_string(), "u": s.user.to_string() }),
            )
            .await;
        assert_eq!(
            allocation["user"]["allocation"]["shares"][0]["costGroup"]["id"],
            s.sales.to_string()
        );
        let db = store_db(&app.store).await;
        assert!(
            cost_group::Entity::find_by_id(s.finance)
                .one(&db)
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn scheduled_cost_group_changes_wait_for_their_day_and_can_be_cancelled() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        let t = s.tenant.to_string();
        let today = Utc::now().date_naive();
        let tomorrow = today + Duration::days(1);
        let later = today + Duration::days(2);
        let before = groups_of(&app, &t).await;
        app.data(
            CREATE_GROUP,
            json!({ "t": t, "n": "Soon", "f": tomorrow.to_string() }),
        )
        .await;
        app.data(
            MOVE_GROUP,
            json!({ "id": s.finance.to_string(), "p": s.sales.to_string(),
                    "f": tomorrow.to_string() }),
        )
        .await;
        // Sales can't go on the later day: Finance will be under it.
        let refused = app
            .post(
                DELETE_GROUP,
                json!({ "id": s.sales.to_string(), "to": Value::Null, "f": later.to_string() }),
            )
            .await;
        assert_eq!(first_error_code(&refused), "CONFLICT", "{refused}");
        app.data(
            DELETE_GROUP,
            json!({ "id": s.finance.to_string(), "to": Value::Null, "f": later.to_string() }),
        )
        .await;
        // Today's tree stands; the three changes are listed by day.
        assert_eq!(groups_of(&app, &t).await, before);
        let scheduled = app.data(SCHEDULED, json!({ "t": t })).await;
        let listed: Vec<(&str, &str)> = scheduled["tenant"]["scheduledAllocationChanges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap(),
                    e["effectiveFrom"].as_str().unwrap(),
                )
            })
            .collect();
        let (d1, d2) = (tomorrow.to_string(), later.to_string());
        assert_eq!(
            listed,
            vec![
                ("createCostGroup", d1.as_str()),
                ("updateCostGroup", d1.as_str()),
                ("deleteCostGroup", d2.as_str()),
            ]
        );

        // Cancelling tomorrow's changes leaves the later delete.
        let cancelled = app.data(CANCEL, json!({ "t": t, "f": d1 })).await;
        assert_eq!(
            cancelled["cancelScheduledAllocationChanges"]
                .as_array()
                .unwrap()
                .len(),
            2,
            "{cancelled}"
        );
        let scheduled = app.data(SCHEDULED, json!({ "t": t })).await;
        let list = scheduled["tenant"]["scheduledAllocationChanges"]
            .as_array()
            .unwrap();
        assert_eq!(list.len(), 1, "{scheduled}");
        assert_eq!(list[0]["action"], "deleteCostGroup");
        let db = store_db(&app.store).await;
        let versions = allocation_configuration::Entity::find()
            .filter(allocation_configuration::Column::TenantId.eq(s.tenant))
            .order_by_asc(allocation_configuration::Column::EffectiveFrom)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(versions.last().unwrap().effective_from, later);
        let ids: Vec<&str> = versions.last().unwrap().configuration["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap())
            .collect();
        // Neither Finance (deleted that day) nor Soon (cancelled) is in the later tree.
        assert_eq!(ids.len(), before.len() - 1, "{ids:?}");
        assert!(!ids.contains(&s.finance.to_string().as_str()));

        // Nothing left for tomorrow; today's changes are in force already.
        let missing = app.post(CANCEL, json!({ "t": t, "f": d1 })).await;
        assert_eq!(first_error_code(&missing), "NOT_FOUND", "{missing}");
        let in_force = app
            .post(CANCEL, json!({ "t": t, "f": today.to_string() }))
            .await;
        assert_eq!(first_error_code(&in_force), "CONFLICT", "{in_force}");
        let audit = app.data(AUDIT, json!({ "t": t })).await;
        assert_eq!(
            audit["auditLog"]["edges"][0]["node"]["action"],
            "cancelScheduledAllocationChanges"
        );
    }
}

#[tokio::test]
async fn scheduled_cost_group_changes_are_made_by_the_import_of_their_day() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 10).await;
        let tenant = sim.tenant_ids()[0];
        let t = tenant.to_string();
        let importer = importer_for(&app.store, &sim).await;
        let today = Utc::now().date_naive();
        let tomorrow = today + Duration::days(1);
        let import = |date: NaiveDate| import_as_of(&importer, date);
        import(today).await;
        let mut ids = Vec::new();
        for name in ["A", "B", "C"] {
            let made = app.data(CREATE_GROUP, json!({ "t": t, "n": name })).await;
            ids.push(made["createCostGroup"]["id"].as_str().unwrap().to_owned());
        }
        let f = tomorrow.to_string();
        app.data(
            CREATE_GROUP,
            json!({ "t": t, "n": "D", "p": ids[0], "f": f }),
        )
        .await;
        app.data(MOVE_GROUP, json!({ "id": ids[1], "p": ids[0], "f": f }))
            .await;
        app.data(DELETE_GROUP, json!({ "id": ids[2], "f": f }))
            .await;
        let a = json!(ids[0]);
        assert_eq!(
            groups_of(&app, &t).await,
            vec![
                ("A".to_owned(), Value::Null),
                ("B".to_owned(), Value::Null),
                ("C".to_owned(), Value::Null),
            ]
        );
        import(tomorrow).await;
        assert_eq!(
            groups_of(&app, &t).await,
            vec![
                ("A".to_owned(), Value::Null),
                ("B".to_owned(), a.clone()),
                ("D".to_owned(), a),
            ]
        );
    }
}

#[tokio::test]
async fn a_cancelled_override_day_leaves_a_later_days_rule() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        let t = s.tenant.to_string();
        let today = Utc::now().date_naive();
        let tomorrow = (today + Duration::days(1)).to_string();
        let later = (today + Duration::days(2)).to_string();
        app.data(
            SET_OVERRIDE,
            json!({ "t": t, "u": s.user.to_string(), "g": s.sales.to_string(), "f": tomorrow }),
        )
        .await;
        create_rule(&app, &s, s.finance, "Finance", json!(later)).await;
        app.data(CANCEL, json!({ "t": t, "f": tomorrow })).await;
        let db = store_db(&app.store).await;
        let last = allocation_configuration::Entity::find()
            .filter(allocation_configuration::Column::TenantId.eq(s.tenant))
            .order_by_desc(allocation_configuration::Column::EffectiveFrom)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(last.effective_from.to_string(), later);
        assert_eq!(last.configuration["overrides"], json!([]), "{last:?}");
        assert_eq!(
            last.configuration["rules"].as_array().unwrap().len(),
            1,
            "{last:?}"
        );
        let scheduled = app.data(SCHEDULED, json!({ "t": t })).await;
        let list = scheduled["tenant"]["scheduledAllocationChanges"]
            .as_array()
            .unwrap();
        assert_eq!(list.len(), 1, "{scheduled}");
        assert_eq!(list[0]["action"], "createAllocationRule");
    }
}

#[tokio::test]
async fn retention_prunes_configurations_but_the_one_in_force_and_a_closed_months() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        let t = s.tenant.to_string();
        let (first, month, _) = last_month();
        // Versions from 2025-01-01, 2025-03-01, 2025-06-01, last month's 1st and today.
        for (day, dept) in [
            ("2025-01-01", "A"),
            ("2025-03-01", "B"),
            ("2025-06-01", "C"),
        ] {
            create_rule(&app, &s, s.sales, dept, json!(day)).await;
        }
        create_rule(&app, &s, s.finance, "Finance", json!(first.to_string())).await;
        let db = store_db(&app.store).await;
        let days = |db: &DatabaseConnection| {
            let db = db.clone();
            async move {
                allocation_configuration::Entity::find()
                    .filter(allocation_configuration::Column::TenantId.eq(s.tenant))
                    .order_by_asc(allocation_configuration::Column::EffectiveFrom)
                    .all(&db)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|v| v.effective_from.to_string())
                    .collect::<Vec<_>>()
            }
        };
        let all = days(&db).await;
        assert_eq!(all[0], "1970-01-01", "{all:?}");
        let d = |s: &str| NaiveDate::from_str(s).unwrap();

        // A cutoff of 2025-04-01 keeps the version of 2025-03-01, in force that day. One row
        // per statement: one statement for each of the five history tables (nothing ended
        // before the cutoff), then the two older versions one at a time and a last that finds
        // none.
        let prune =
            tenantgraph::store::history::retention::prune_history(&app.store, d("2025-04-01"), 1)
                .await
                .unwrap();
        assert_eq!((prune.removed, prune.batches), (2, 5 + 3), "{prune:?}");
        let kept = days(&db).await;
        assert_eq!(kept, all[2..].to_vec());

        // A closed month of 2025-06 keeps the version in force on its first day.
        app.data(CLOSE, json!({ "t": t, "m": "2025-06" })).await;
        tenantgraph::store::history::retention::prune_history(&app.store, first, 2)
            .await
            .unwrap();
        assert_eq!(days(&db).await, kept[1..].to_vec());
        let _ = month;
    }
}

#[tokio::test]
async fn a_backdated_sku_rule_places_users_only_on_the_days_they_held_the_sku() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        let (first, _, _) = last_month();
        let db = store_db(&app.store).await;
        // The user's license was first held on the 14th of last month.
        user_license::Entity::update_many()
            .col_expr(
                user_license::Column::HeldFrom,
                sea_orm::sea_query::Expr::value(s.mid),
            )
            .filter(user_license::Column::UserId.eq(s.user))
            .exec(&db)
            .await
            .unwrap();
        tenantgraph::store::history::license_deltas::rebuild(
            &app.store,
            tenantgraph::domain::TenantId(s.tenant),
        )
        .await
        .unwrap();
        let sku = user_license::Entity::find()
            .filter(user_license::Column::UserId.eq(s.user))
            .one(&db)
            .await
            .unwrap()
            .unwrap()
            .sku_id;
        let rule = r#"mutation($t: ID!, $g: ID!, $v: String!, $f: Date) {
            createAllocationRule(input: { tenantId: $t, costGroupId: $g, effectiveFrom: $f,
              conditions: [{ attribute: HAS_LICENSE_OF_SKU, operator: EQUALS, values: [$v] }] })
              { id } }"#;
        app.data(
            rule,
            json!({ "t": s.tenant.to_string(), "g": s.sales.to_string(),
                    "v": sku.to_string(), "f": first.to_string() }),
        )
        .await;
        let current = user_allocation::Entity::find()
            .filter(user_allocation::Column::UserId.eq(s.user))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(current.len(), 1, "{current:?}");
        assert_eq!(
            (current[0].cost_group_id, current[0].allocated_from),
            (s.sales, Some(s.mid)),
            "placed from the day the license was held, not the rule's day"
        );
        let ended = allocation_history::Entity::find()
            .filter(allocation_history::Column::UserId.eq(s.user))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(ended, 0);
    }
}

/// The present user of `tenant` with the lowest id.
async fn first_present_user(db: &sea_orm::DatabaseConnection, tenant: Uuid) -> Uuid {
    user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::DeletedAt.is_null())
        .order_by_asc(user::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Every license day count of `tenant`, in order: (day, SKU, change) and (day, cost group,
/// SKU, percent, change).
pub(crate) async fn license_deltas(app: &TestApp, tenant: Uuid) -> (Vec<String>, Vec<String>) {
    use sea_orm::{ConnectionTrait, Statement};
    let db = store_db(&app.store).await;
    let mut out = (Vec::new(), Vec::new());
    for (sql, rows) in [
        (
            "SELECT day, sku_id, delta FROM held_license_deltas WHERE tenant_id = $1 \
             ORDER BY day, sku_id",
            &mut out.0,
        ),
        (
            "SELECT day, cost_group_id, sku_id, percent, delta FROM allocated_license_deltas \
             WHERE tenant_id = $1 ORDER BY day, cost_group_id, sku_id, percent",
            &mut out.1,
        ),
    ] {
        let backend = db.get_database_backend();
        let sql = if backend == sea_orm::DatabaseBackend::Sqlite {
            sql.replace("$1", "?")
        } else {
            sql.to_owned()
        };
        for row in db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [tenant.into()],
            ))
            .await
            .unwrap()
        {
            let day: NaiveDate = row.try_get_by_index(0).unwrap();
            let keys: Vec<String> = (1..row.column_names().len() - 1)
                .map(|i| {
                    row.try_get_by_index::<Uuid>(i)
                        .map(|u| u.to_string())
                        .or_else(|_| row.try_get_by_index::<String>(i))
                        .unwrap()
                })
                .collect();
            let delta: i64 = row.try_get_by_index(row.column_names().len() - 1).unwrap();
            rows.push(format!("{day} {} {delta}", keys.join(" ")));
        }
    }
    out
}

/// The counts `tenant`'s commits kept are those a count of all its history gives.
pub(crate) async fn assert_counts_kept(app: &TestApp, tenant: Uuid, after: &str) {
    let kept = license_deltas(app, tenant).await;
    assert!(!kept.0.is_empty(), "{after}: {kept:?}");
    tenantgraph::store::history::license_deltas::rebuild(
        &app.store,
        tenantgraph::domain::TenantId(tenant),
    )
    .await
    .unwrap();
    assert_eq!(license_deltas(app, tenant).await, kept, "after {after}");
}

/// The license day counts the chargeback is billed from, kept by each commit from the first day
/// it changed (imports, backdated and scheduled rules and overrides, a cost group deleted), are
/// those counted again from all of the tenant's history.
#[tokio::test]
async fn the_license_day_counts_each_commit_keeps_equal_a_count_of_all_history() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 80).await;
        let tenant = sim.tenant_ids()[0];
        let importer = importer_for(&app.store, &sim).await;
        let today = Utc::now().date_naive();
        let import = |day: u32, date: NaiveDate| {
            sim.set_day(day);
            import_as_of(&importer, date)
        };
        let t = tenant.to_string();
        import(0, today - Duration::days(20)).await;
        let group = |name: &'static str| {
            let app = &app;
            let t = t.clone();
            async move {
                app.data(CREATE_GROUP, json!({ "t": t, "n": name })).await["createCostGroup"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        let (sales, finance) = (group("Sales").await, group("Finance").await);
        let rule = |g: &str, department: &str, from: NaiveDate| json!({ "t": t, "g": g, "d": department, "f": from.to_string() });
        app.data(
            CREATE_RULE,
            rule(&sales, "Vertrieb", today - Duration::days(20)),
        )
        .await;
        assert_counts_kept(&app, tenant, "a rule dated back to the first import").await;

        import(10, today - Duration::days(10)).await;
        assert_counts_kept(&app, tenant, "a second import").await;

        let db = store_db(&app.store).await;
        let user = first_present_user(&db, tenant).await;
        app.data(
            SET_OVERRIDE,
            json!({ "t": t, "u": user.to_string(), "g": finance,
                    "f": (today - Duration::days(15)).to_string() }),
        )
        .await;
        assert_counts_kept(&app, tenant, "an override dated back between imports").await;
        app.data(
            CREATE_RULE,
            rule(&finance, "Finance", today + Duration::days(1)),
        )
        .await;
        assert_counts_kept(&app, tenant, "a rule scheduled for tomorrow").await;

        import(20, today).await;
        assert_counts_kept(&app, tenant, "today's import").await;
        // Today's override counts only its user's days again.
        app.data(
            SET_OVERRIDE,
            json!({ "t": t, "u": user.to_string(), "g": sales, "f": null }),
        )
        .await;
        assert_counts_kept(&app, tenant, "an override made today").await;
        app.data(
            DELETE_GROUP,
            json!({ "id": sales, "to": finance, "f": null }),
        )
        .await;
        assert_counts_kept(&app, tenant, "a cost group deleted today, its users moved").await;
        let (_, allocated) = license_deltas(&app, tenant).await;
        assert!(
            allocated.iter().any(|r| r.contains(&finance)),
            "{allocated:?}"
        );
        sim.stop().await;
    }
}

/// A reorganisation scheduled for tomorrow: a cost group created for that day, a group under it,
/// and a rule and an override that target them, each dated that day. Today the tree and the
/// allocation stand and the tables don't hold them; a change dated before that day can't see the
/// group; tomorrow's import puts the whole of it in force.
#[tokio::test]
async fn changes_for_a_later_day_can_target_a_cost_group_created_for_that_day() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 30).await;
        let tenant = sim.tenant_ids()[0];
        let importer = importer_for(&app.store, &sim).await;
        let today = Utc::now().date_naive();
        let tomorrow = today + Duration::days(1);
        let import = |date: NaiveDate| import_as_of(&importer, date);
        import(today).await;
        let user = first_present_user(&store_db(&app.store).await, tenant).await;
        let t = tenant.to_string();
        let vars = json!({ "t": t, "u": user.to_string() });
        let before = app.data(ALLOCATION, vars.clone()).await;
        let groups_before = app.data(GROUPS, json!({ "t": t })).await;
        let id = |v: &Value| v["createCostGroup"]["id"].as_str().unwrap().to_owned();
        let parent = id(&app
            .data(
                CREATE_GROUP,
                json!({ "t": t, "n": "Neu", "f": tomorrow.to_string() }),
            )
            .await);
        let child = id(&app
            .data(
                CREATE_GROUP,
                json!({ "t": t, "n": "Neu Vertrieb", "p": parent, "f": tomorrow.to_string() }),
            )
            .await);
        let early = app
            .post(
                CREATE_GROUP,
                json!({ "t": t, "n": "Zu früh", "p": parent, "f": null }),
            )
            .await;
        assert_refused(&early, "NOT_FOUND", &parent);
        app.data(
            CREATE_RULE,
            json!({ "t": t, "g": child, "d": "Vertrieb", "f": tomorrow.to_string() }),
        )
        .await;
        app.data(
            SET_OVERRIDE,
            json!({ "t": t, "u": user.to_string(), "g": parent, "f": tomorrow.to_string() }),
        )
        .await;

        // Today: nothing moved, and the tables hold none of it.
        assert_eq!(app.data(GROUPS, json!({ "t": t })).await, groups_before);
        assert_eq!(app.data(ALLOCATION, vars.clone()).await, before);
        let db = store_db(&app.store).await;
        assert_eq!(
            cost_group::Entity::find()
                .filter(cost_group::Column::TenantId.eq(tenant))
                .count(&db)
                .await
                .unwrap(),
            0
        );
        let scheduled = app.data(SCHEDULED, json!({ "t": t })).await;
        let list = scheduled["tenant"]["scheduledAllocationChanges"]
            .as_array()
            .unwrap();
        assert_eq!(list.len(), 4, "{scheduled}");
        assert!(
            list.iter()
                .all(|c| c["effectiveFrom"] == tomorrow.to_string())
        );

        // Tomorrow's import puts them in force: the tree, the override and the rule.
        import(tomorrow).await;
        let tree = app.data(GROUPS, json!({ "t": t })).await;
        let groups = tree["tenant"]["costGroups"].as_array().unwrap();
        assert_eq!(groups.len(), 2, "{tree}");
        let placed = groups.iter().find(|g| g["id"] == child.as_str()).unwrap();
        assert_eq!(placed["parent"]["id"], parent.as_str());
        let after = app.data(ALLOCATION, vars).await;
        assert_eq!(after["user"]["allocation"]["source"], "OVERRIDE", "{after}");
        assert_eq!(
            after["user"]["allocation"]["shares"][0]["costGroup"]["id"],
            parent.as_str()
        );
        let by_rule = user_allocation::Entity::find()
            .filter(user_allocation::Column::CostGroupId.eq(Uuid::parse_str(&child).unwrap()))
            .all(&db)
            .await
            .unwrap();
        assert!(!by_rule.is_empty(), "the rule placed the Vertrieb users");
        assert!(by_rule.iter().all(|r| r.allocated_from == Some(tomorrow)));
        sim.stop().await;
    }
}

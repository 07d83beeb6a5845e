//! `Tenant.licenseChanges`: events read from user versions (`users`, `user_versions`) and
//! license holdings (`user_licenses`, `license_history`) by one ordered, limited statement;
//! then the versions the page's user events compare and the import runs of its days. At most
//! four statements a page, whatever its size.

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, Statement, Value,
};
use uuid::Uuid;

use crate::domain::license_change::{
    LicenseChange, LicenseChangeFilter, LicenseChangeKey, LicenseChangeKind,
};
use crate::domain::{ImportRun, RunStatus, TenantId, TenantScope, User, UserId};
use crate::store::entities::{import_run, user_version};
use crate::store::{Store, StoreError, import_runs, users};

/// SQL text with its bind values, placeholders numbered in the order they are written.
struct Sql {
    backend: DatabaseBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        match self.backend {
            DatabaseBackend::Postgres => {
                let n = self.values.len();
                self.text.push_str(&format!("${n}"));
            }
            _ => self.text.push('?'),
        }
        self
    }
}

/// The request of one page.
#[derive(Debug, Clone)]
pub struct LicenseChangeQuery {
    /// First day.
    pub from: NaiveDate,
    /// Last day (included).
    pub to: NaiveDate,
    /// Which events.
    pub filter: LicenseChangeFilter,
    /// Start after this event.
    pub after: Option<LicenseChangeKey>,
    /// At most this many events.
    pub limit: u64,
}

/// The kind of a version from `new` (an alias with `deleted_at`) against its previous `p`
/// (none when the version is the user's first).
fn version_kind(new: &str) -> String {
    use LicenseChangeKind as K;
    format!(
        "CASE WHEN p.id IS NULL THEN {} \
         WHEN p.deleted_at IS NULL AND {new}.deleted_at IS NOT NULL THEN {} \
         WHEN p.deleted_at IS NOT NULL AND {new}.deleted_at IS NULL THEN {} \
         ELSE {} END",
        K::UserAdded.code(),
        K::UserRemoved.code(),
        K::UserRestored.code(),
        K::UserChanged.code()
    )
}

/// The conditions every branch shares: its tenant, its day in the range, the filter's user
/// (and SKU, for license branches).
fn narrow(
    sql: &mut Sql,
    alias: &str,
    day: &str,
    user: &str,
    tenant_id: TenantId,
    query: &LicenseChangeQuery,
    sku: Option<&str>,
) {
    sql.push(&format!(" WHERE {alias}.tenant_id = "))
        .bind(tenant_id.uuid())
        .push(&format!(" AND {alias}.{day} >= "))
        .bind(query.from)
        .push(&format!(" AND {alias}.{day} <= "))
        .bind(query.to);
    if let Some(id) = query.filter.user_id {
        sql.push(&format!(" AND {alias}.{user} = ")).bind(id.uuid());
    }
    if let (Some(column), Some(id)) = (sku, query.filter.sku_id) {
        sql.push(&format!(" AND {alias}.{column} = "))
            .bind(id.uuid());
    }
}

/// Whether the filter's kinds include one of `kinds`.
fn wanted(filter: &LicenseChangeFilter, kinds: &[LicenseChangeKind]) -> bool {
    filter
        .kinds
        .as_ref()
        .is_none_or(|want| want.iter().any(|k| kinds.contains(k)))
}

/// The statement listing the events' keys and the versions they compare.
fn events_sql(backend: DatabaseBackend, tenant_id: TenantId, query: &LicenseChangeQuery) -> Sql {
    use LicenseChangeKind as K;
    let mut sql = Sql {
        backend,
        text: String::new(),
        values: Vec::new(),
    };
    let mut branches = 0;
    let mut union = |sql: &mut Sql| {
        if branches > 0 {
            sql.push(" UNION ALL ");
        }
        branches += 1;
    };
    sql.push("SELECT day, user_id, kind, sku_id, version_id, previous_id FROM (");
    let user_kinds = [
        K::UserAdded,
        K::UserRemoved,
        K::UserRestored,
        K::UserChanged,
    ];
    // User events have no SKU: a SKU filter leaves them out.
    if query.filter.sku_id.is_none() && wanted(&query.filter, &user_kinds) {
        union(&mut sql);
        sql.push(&format!(
            "SELECT u.valid_from AS day, u.id AS user_id, {} AS kind, ",
            version_kind("u")
        ))
        .bind(Uuid::nil())
        .push(
            " AS sku_id, CAST(NULL AS BIGINT) AS version_id, p.id AS previous_id FROM users u \
             LEFT JOIN user_versions p ON p.user_id = u.id AND p.valid_to = u.valid_from",
        );
        narrow(&mut sql, "u", "valid_from", "id", tenant_id, query, None);
        union(&mut sql);
        sql.push(&format!(
            "SELECT v.valid_from AS day, v.user_id AS user_id, {} AS kind, ",
            version_kind("v")
        ))
        .bind(Uuid::nil())
        .push(
            " AS sku_id, v.id AS version_id, p.id AS previous_id FROM user_versions v \
             LEFT JOIN user_versions p ON p.user_id = v.user_id AND p.valid_to = v.valid_from",
        );
        narrow(
            &mut sql,
            "v",
            "valid_from",
            "user_id",
            tenant_id,
            query,
            None,
        );
    }
    if wanted(&query.filter, &[K::LicenseAssigned]) {
        union(&mut sql);
        sql.push(&format!(
            "SELECT l.held_from AS day, l.user_id AS user_id, {} AS kind, l.sku_id AS sku_id, \
             CAST(NULL AS BIGINT) AS version_id, CAST(NULL AS BIGINT) AS previous_id \
             FROM user_licenses l",
            K::LicenseAssigned.code()
        ));
        narrow(
            &mut sql,
            "l",
            "held_from",
            "user_id",
            tenant_id,
            query,
            Some("sku_id"),
        );
        union(&mut sql);
        sql.push(&format!(
            "SELECT h.valid_from AS day, h.user_id AS user_id, {} AS kind, h.sku_id AS sku_id, \
             CAST(NULL AS BIGINT) AS version_id, CAST(NULL AS BIGINT) AS previous_id \
             FROM license_history h",
            K::LicenseAssigned.code()
        ));
        narrow(
            &mut sql,
            "h",
            "valid_from",
            "user_id",
            tenant_id,
            query,
            Some("sku_id"),
        );
    }
    if wanted(&query.filter, &[K::LicenseRemoved]) {
        union(&mut sql);
        sql.push(&format!(
            "SELECT h.valid_to AS day, h.user_id AS user_id, {} AS kind, h.sku_id AS sku_id, \
             CAST(NULL AS BIGINT) AS version_id, CAST(NULL AS BIGINT) AS previous_id \
             FROM license_history h",
            K::LicenseRemoved.code()
        ));
        narrow(
            &mut sql,
            "h",
            "valid_to",
            "user_id",
            tenant_id,
            query,
            Some("sku_id"),
        );
    }
    sql.push(") events WHERE 1 = 1");
    if let Some(kinds) = &query.filter.kinds {
        let codes: Vec<String> = kinds.iter().map(|k| k.code().to_string()).collect();
        sql.push(&format!(" AND kind IN ({})", codes.join(", ")));
    }
    if let Some(after) = &query.after {
        sql.push(" AND (day, user_id, kind, sku_id) > (")
            .bind(after.on)
            .push(", ")
            .bind(after.user_id.uuid())
            .push(", ")
            .bind(after.kind.code())
            .push(", ")
            .bind(after.sku)
            .push(")");
    }
    sql.push(" ORDER BY day, user_id, kind, sku_id LIMIT ")
        .bind(i64::try_from(query.limit).unwrap_or(i64::MAX));
    sql
}

/// One page of `tenant_id`'s events over `query.from..=query.to` (the caller bounds the
/// range), in (day, user, kind, SKU) order.
pub async fn list_license_changes(
    store: &Store,
    tenant_id: TenantId,
    query: &LicenseChangeQuery,
) -> Result<Vec<LicenseChange>, StoreError> {
    let db = store.db();
    if query.filter.kinds.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Vec::new());
    }
    let sql = events_sql(db.get_database_backend(), tenant_id, query);
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            sql.backend,
            sql.text,
            sql.values,
        ))
        .await?;
    struct Row {
        key: LicenseChangeKey,
        version: Option<i64>,
        previous: Option<i64>,
    }
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        let code: i32 = row.try_get_by_index(2)?;
        let kind = LicenseChangeKind::of_code(code).ok_or_else(|| StoreError::Corrupt {
            table: "user_versions",
            detail: format!("unknown license change kind {code}"),
        })?;
        events.push(Row {
            key: LicenseChangeKey {
                on: row.try_get_by_index(0)?,
                user_id: UserId(row.try_get_by_index(1)?),
                kind,
                sku: row.try_get_by_index(3)?,
            },
            version: row.try_get_by_index(4)?,
            previous: row.try_get_by_index(5)?,
        });
    }
    // The versions the user events compare: rows in force, and superseded ones.
    let current: Vec<UserId> = events
        .iter()
        .filter(|e| !e.key.kind.is_license() && e.version.is_none())
        .map(|e| e.key.user_id)
        .collect();
    let scope = TenantScope::Only([tenant_id].into_iter().collect());
    let mut in_force: HashMap<UserId, User> = HashMap::new();
    if !current.is_empty() {
        for (user, _) in users::find_dated_users(store, &scope, &current).await? {
            in_force.insert(user.id, user);
        }
    }
    let ids: Vec<i64> = events
        .iter()
        .flat_map(|e| [e.version, e.previous])
        .flatten()
        .collect();
    let mut superseded: HashMap<i64, User> = HashMap::new();
    if !ids.is_empty() {
        for row in user_version::Entity::find()
            .filter(user_version::Column::TenantId.eq(tenant_id.uuid()))
            .filter(user_version::Column::Id.is_in(ids))
            .all(db)
            .await?
        {
            let id = row.id;
            superseded.insert(id, super::user_versions::version_of(row)?.user);
        }
    }
    let runs = last_runs_on(store, tenant_id, events.iter().map(|e| e.key.on)).await?;
    Ok(events
        .into_iter()
        .map(|e| {
            let user_event = !e.key.kind.is_license();
            LicenseChange {
                before: e.previous.and_then(|id| superseded.get(&id).cloned()),
                after: match e.version {
                    Some(id) => superseded.get(&id).cloned(),
                    None if user_event => in_force.get(&e.key.user_id).cloned(),
                    None => None,
                },
                run: runs.get(&e.key.on).cloned(),
                key: e.key,
            }
        })
        .collect())
}

/// The last succeeded run of `tenant_id` observed on each of `days` (one statement).
async fn last_runs_on(
    store: &Store,
    tenant_id: TenantId,
    days: impl Iterator<Item = NaiveDate>,
) -> Result<HashMap<NaiveDate, ImportRun>, StoreError> {
    let mut days: Vec<NaiveDate> = days.collect();
    days.sort_unstable();
    days.dedup();
    let mut out: HashMap<NaiveDate, ImportRun> = HashMap::new();
    if days.is_empty() {
        return Ok(out);
    }
    for row in import_run::Entity::find()
        .filter(import_run::Column::TenantId.eq(tenant_id.uuid()))
        .filter(import_run::Column::Status.eq(RunStatus::Succeeded.as_str()))
        .filter(import_run::Column::ObservedOn.is_in(days))
        .all(store.db())
        .await?
    {
        let run = import_runs::to_domain(row)?;
        let on = run.observed_on;
        let later =
            |old: &ImportRun| (run.finished_at, run.started_at) > (old.finished_at, old.started_at);
        if out.get(&on).is_none_or(later) {
            out.insert(on, run);
        }
    }
    Ok(out)
}

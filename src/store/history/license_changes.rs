//! `Tenant.licenseChanges`: events read from user versions (`users`, `user_versions`) and
//! license holdings (`user_licenses`, `license_history`) by one ordered, limited statement;
//! then the versions the page's user events compare and the import runs of its days. At most
//! four statements a page, whatever its size.

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, Value};
use uuid::Uuid;

use crate::domain::license_change::{
    LicenseChange, LicenseChangeFilter, LicenseChangeKey, LicenseChangeKind,
};
use crate::domain::{ImportRun, RunStatus, TenantId, TenantScope, User, UserId};
use crate::store::entities::{import_run, user_version};
use crate::store::raw_sql::RawSql;
use crate::store::{Store, StoreError, import_runs, users};

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

/// Where a branch's events come from and what kind they are.
enum Source {
    /// License events of one kind: the rows' `sku_id` is the SKU.
    License(LicenseChangeKind),
    /// User events: the kind follows from the version against its previous one.
    Version,
}

/// One source of events, read in key order from an index on (tenant, day, user[, SKU]).
struct Branch {
    /// The `FROM` clause: the table as `alias`, with its joins.
    from: &'static str,
    alias: &'static str,
    /// The day column of `alias`.
    day: &'static str,
    /// The user column of `alias`.
    user: &'static str,
    source: Source,
    /// The version id and previous version id expressions.
    version: &'static str,
    previous: &'static str,
}

impl Branch {
    /// Appends `SELECT * FROM (…) bN`: this branch's first `query.limit` events after
    /// `query.after`, ordered as the page is, so the page reads at most a page from each
    /// branch.
    fn push(&self, sql: &mut RawSql, n: usize, tenant_id: TenantId, query: &LicenseChangeQuery) {
        let Branch {
            alias: a,
            day,
            user,
            ..
        } = self;
        let (kind, order_last) = match self.source {
            Source::License(kind) => (kind.code().to_string(), format!("{a}.sku_id")),
            Source::Version => (version_kind(a), "kind".to_owned()),
        };
        sql.push(&format!(
            "SELECT * FROM (SELECT {a}.{day} AS day, {a}.{user} AS user_id, {kind} AS kind, "
        ));
        match self.source {
            Source::License(_) => sql.push(&format!("{a}.sku_id")),
            // User events sort before any SKU of theirs: the nil id.
            Source::Version => sql.bind(Uuid::nil()),
        };
        sql.push(&format!(
            " AS sku_id, {} AS version_id, {} AS previous_id FROM {} WHERE {a}.tenant_id = ",
            self.version, self.previous, self.from
        ))
        .bind(tenant_id.uuid());
        // One lower bound, which the index seeks: the key when it is in the range (every
        // later event is past it), else the range's first day.
        let seek = query.after.as_ref().filter(|after| after.on >= query.from);
        if seek.is_none() {
            sql.push(&format!(" AND {a}.{day} >= ")).bind(query.from);
        }
        sql.push(&format!(" AND {a}.{day} <= ")).bind(query.to);
        if let Some(id) = query.filter.user_id {
            sql.push(&format!(" AND {a}.{user} = ")).bind(id.uuid());
        }
        match self.source {
            Source::License(_) => {
                if let Some(id) = query.filter.sku_id {
                    sql.push(&format!(" AND {a}.sku_id = ")).bind(id.uuid());
                }
            }
            Source::Version => {
                if let Some(kinds) = &query.filter.kinds {
                    let codes: Vec<String> = kinds.iter().map(|k| k.code().to_string()).collect();
                    sql.push(&format!(" AND {kind} IN ({})", codes.join(", ")));
                }
            }
        }
        if let Some(after) = seek {
            // Exactly past the key, as a row value over the index's columns where the kind is
            // fixed; a user event's SKU is the nil id, below any key's, so it is past the key
            // when (day, user, kind) is, and (day, user) bounds it for the index.
            // The key's (day, user) and, where the comparison has a third column, its value.
            let key = |sql: &mut RawSql, third: Option<Value>| {
                sql.bind(after.on).push(", ").bind(after.user_id.uuid());
                if let Some(third) = third {
                    sql.push(", ").bind(third);
                }
                sql.push(")");
            };
            match self.source {
                Source::License(k) if k == after.kind => {
                    sql.push(&format!(" AND ({a}.{day}, {a}.{user}, {a}.sku_id) > ("));
                    key(sql, Some(after.sku.into()));
                }
                Source::License(k) => {
                    let op = if k > after.kind { ">=" } else { ">" };
                    sql.push(&format!(" AND ({a}.{day}, {a}.{user}) {op} ("));
                    key(sql, None);
                }
                Source::Version => {
                    sql.push(&format!(" AND ({a}.{day}, {a}.{user}) >= ("));
                    key(sql, None);
                    sql.push(&format!(" AND ({a}.{day}, {a}.{user}, {kind}) > ("));
                    key(sql, Some(after.kind.code().into()));
                }
            }
        }
        sql.push(&format!(
            " ORDER BY {a}.{day}, {a}.{user}, {order_last} LIMIT "
        ))
        .bind(limit(query))
        .push(&format!(") b{n}"));
    }
}

fn limit(query: &LicenseChangeQuery) -> i64 {
    i64::try_from(query.limit).unwrap_or(i64::MAX)
}

/// Whether the filter's kinds include one of `kinds`.
fn wanted(filter: &LicenseChangeFilter, kinds: &[LicenseChangeKind]) -> bool {
    filter
        .kinds
        .as_ref()
        .is_none_or(|want| want.iter().any(|k| kinds.contains(k)))
}

/// The branches the query reads: user versions in force and superseded, licenses held and
/// ended (assigned at their start, removed at their end).
fn branches(filter: &LicenseChangeFilter) -> Vec<Branch> {
    use LicenseChangeKind as K;
    let mut out = Vec::new();
    let user_kinds = [
        K::UserAdded,
        K::UserRemoved,
        K::UserRestored,
        K::UserChanged,
    ];
    // User events have no SKU: a SKU filter leaves them out.
    if filter.sku_id.is_none() && wanted(filter, &user_kinds) {
        out.push(Branch {
            from: "users u LEFT JOIN user_versions p \
                   ON p.user_id = u.id AND p.valid_to = u.valid_from",
            alias: "u",
            day: "valid_from",
            user: "id",
            source: Source::Version,
            version: "CAST(NULL AS BIGINT)",
            previous: "p.id",
        });
        out.push(Branch {
            from: "user_versions v LEFT JOIN user_versions p \
                   ON p.user_id = v.user_id AND p.valid_to = v.valid_from",
            alias: "v",
            day: "valid_from",
            user: "user_id",
            source: Source::Version,
            version: "v.id",
            previous: "p.id",
        });
    }
    let license = |from, alias, day, kind| Branch {
        from,
        alias,
        day,
        user: "user_id",
        source: Source::License(kind),
        version: "CAST(NULL AS BIGINT)",
        previous: "CAST(NULL AS BIGINT)",
    };
    if wanted(filter, &[K::LicenseAssigned]) {
        out.push(license(
            "user_licenses l",
            "l",
            "held_from",
            K::LicenseAssigned,
        ));
        out.push(license(
            "license_history h",
            "h",
            "valid_from",
            K::LicenseAssigned,
        ));
    }
    if wanted(filter, &[K::LicenseRemoved]) {
        out.push(license(
            "license_history h",
            "h",
            "valid_to",
            K::LicenseRemoved,
        ));
    }
    out
}

/// The statement listing the events' keys and the versions they compare: each branch's
/// first page, merged; `None` when the filter leaves no branch.
fn events_sql(
    backend: DatabaseBackend,
    tenant_id: TenantId,
    query: &LicenseChangeQuery,
) -> Option<RawSql> {
    let branches = branches(&query.filter);
    if branches.is_empty() {
        return None;
    }
    let mut sql = RawSql::new(backend);
    sql.push("SELECT day, user_id, kind, sku_id, version_id, previous_id FROM (");
    for (n, branch) in branches.iter().enumerate() {
        if n > 0 {
            sql.push(" UNION ALL ");
        }
        branch.push(&mut sql, n, tenant_id, query);
    }
    sql.push(") events ORDER BY day, user_id, kind, sku_id LIMIT ")
        .bind(limit(query));
    Some(sql)
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
    let Some(sql) = events_sql(db.get_database_backend(), tenant_id, query) else {
        return Ok(Vec::new());
    };
    let rows = db.query_all_raw(sql.statement()).await?;
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

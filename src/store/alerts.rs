//! Alerts and webhook deliveries.
//!
//! Budget alerts are raised inside the transaction of the change that moves a budget (an
//! allocation change or an import), so an alert exists exactly when its change committed: no
//! crossing is lost to a crash and none is raised twice. The alert is the outbox of its
//! webhooks: deliveries are made from it after the commit, each attempt recorded.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::connect::Store;
use super::entities::{
    alert, alert_signal, budget_standing, cost_group, cost_group_budget, tenant_webhook,
    webhook_attempt, webhook_delivery,
};
use super::error::StoreError;
use super::secrets::Sealed;
use super::transaction::{lock_tenant, stored_now};
use crate::domain::alert::{
    AlertKind, BUDGET_SIGNAL_PREFIX, BudgetSignal, WASTE_SIGNAL, budget_signals, crossings,
    waste_step,
};
use crate::domain::allocation::Currency;
use crate::domain::audit::AuditChange;
use crate::domain::budget::{BudgetStatus, assess};
use crate::domain::chargeback::Month;
use crate::domain::{CostGroupId, TenantId, TenantScope};

/// An alert as raised.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    /// Its number, in the order alerts were raised.
    pub seq: i64,
    /// The id its webhook messages carry (`webhook-id`).
    pub id: Uuid,
    /// The tenant.
    pub tenant_id: TenantId,
    /// What it is about.
    pub kind: AlertKind,
    /// When it was raised.
    pub raised_at: DateTime<Utc>,
    /// The webhook payload: `type`, `timestamp` and `data`.
    pub payload: Value,
}

/// Where a delivery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// The partner's endpoint from the settings.
    Partner,
    /// The tenant's own endpoint, set by mutation.
    Tenant,
}

impl Endpoint {
    fn code(self) -> &'static str {
        match self {
            Endpoint::Partner => "PARTNER",
            Endpoint::Tenant => "TENANT",
        }
    }

    fn parse(code: &str) -> Endpoint {
        if code == "TENANT" {
            Endpoint::Tenant
        } else {
            Endpoint::Partner
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not delivered yet; attempted again at `next_attempt_at`.
    Pending,
    /// The endpoint accepted it (a 2xx answer).
    Delivered,
    /// Every attempt failed.
    Failed,
}

impl DeliveryStatus {
    /// The stored and GraphQL name.
    pub fn code(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "PENDING",
            DeliveryStatus::Delivered => "DELIVERED",
            DeliveryStatus::Failed => "FAILED",
        }
    }

    fn parse(code: &str) -> DeliveryStatus {
        match code {
            "DELIVERED" => DeliveryStatus::Delivered,
            "FAILED" => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first.
    pub number: i32,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The endpoint's HTTP status, when it answered.
    pub status_code: Option<i32>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// One alert to one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The delivery.
    pub id: Uuid,
    /// The alert delivered.
    pub alert: StoredAlert,
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// Its URL when the delivery was created.
    pub url: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// When it is attempted next, while pending.
    pub next_attempt_at: DateTime<Utc>,
    /// When the endpoint accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Every attempt so far, oldest first.
    pub attempts: Vec<Attempt>,
}

/// A budget's latest evaluation, for the gauges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetStanding {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The cost group.
    pub cost_group_id: CostGroupId,
    /// The month evaluated.
    pub month: String,
    /// The budget.
    pub amount: Decimal,
    /// The chargeback so far.
    pub actual: Decimal,
    /// The forecast to month end.
    pub forecast: Decimal,
}

/// A tenant's own webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantWebhook {
    /// Where alerts are posted.
    pub url: String,
    /// Its signing secret, sealed.
    pub secret: Sealed,
    /// Who set it.
    pub set_by: String,
    /// When.
    pub set_at: DateTime<Utc>,
}

/// The current time as the store keeps it (microseconds).
pub fn now() -> DateTime<Utc> {
    stored_now()
}

fn corrupt(table: &'static str, detail: String) -> StoreError {
    StoreError::Corrupt { table, detail }
}

fn decimal(table: &'static str, text: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str(text).map_err(|e| corrupt(table, format!("{text:?}: {e}")))
}

/// A new alert row of `kind` for `tenant_id` with `data`.
fn alert_row(tenant_id: TenantId, kind: AlertKind, data: Value) -> alert::ActiveModel {
    let id = Uuid::new_v4();
    let now = stored_now();
    let mut data = data;
    if let Some(fields) = data.as_object_mut() {
        fields.insert("alertId".to_owned(), json!(id.to_string()));
        fields.insert("tenantId".to_owned(), json!(tenant_id.to_string()));
        fields.insert("kind".to_owned(), json!(kind.code()));
    }
    let payload = json!({
        "type": kind.event_type(),
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": data,
    });
    alert::ActiveModel {
        seq: sea_orm::ActiveValue::NotSet,
        id: Set(id),
        tenant_id: Set(tenant_id.uuid()),
        kind: Set(kind.code().to_owned()),
        payload: Set(payload.to_string()),
        fanned_out: Set(false),
        raised_at: Set(now),
    }
}

/// Evaluates every budget of `tenant_id` for the month of its latest import (this month before
/// any) inside `txn`, the transaction of a change that may move them: raises an alert for each
/// signal newly raised, keeps which are raised, and records each budget's standing. A tenant
/// without budgets costs three statements (its budgets read, its budget signals and standings
/// forgotten) and no chargeback. Returns the alerts raised.
pub(crate) async fn evaluate_budgets(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    today: NaiveDate,
) -> Result<usize, StoreError> {
    let budget_rows = cost_group_budget::Entity::find()
        .filter(cost_group_budget::Column::TenantId.eq(tenant_id.uuid()))
        .all(txn)
        .await?;
    if budget_rows.is_empty() {
        // What the budgets removed since raised or stood at goes with them.
        alert_signal::Entity::delete_many()
            .filter(alert_signal::Column::TenantId.eq(tenant_id.uuid()))
            .filter(alert_signal::Column::Signal.starts_with(BUDGET_SIGNAL_PREFIX))
            .exec(txn)
            .await?;
        budget_standing::Entity::delete_many()
            .filter(budget_standing::Column::TenantId.eq(tenant_id.uuid()))
            .exec(txn)
            .await?;
        return Ok(0);
    }
    let signal_rows = alert_signal::Entity::find()
        .filter(alert_signal::Column::TenantId.eq(tenant_id.uuid()))
        .filter(alert_signal::Column::Signal.starts_with(BUDGET_SIGNAL_PREFIX))
        .all(txn)
        .await?;
    let budgets = super::budget_rows::budgets_of_rows(&budget_rows)?;
    let month = Month::of(
        super::import_runs::observed_span(txn, tenant_id)
            .await?
            .map_or(today, |(_, last)| last),
    );
    let chargeback = super::chargeback::month_on(txn, tenant_id, month, today).await?;
    let names: HashMap<Uuid, String> = cost_group::Entity::find()
        .select_only()
        .column(cost_group::Column::Id)
        .column(cost_group::Column::Name)
        .filter(cost_group::Column::TenantId.eq(tenant_id.uuid()))
        .into_tuple::<(Uuid, String)>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    let before: BTreeSet<String> = signal_rows.iter().map(|s| s.signal.clone()).collect();
    let mut now_raised = BTreeSet::new();
    let mut alerts = Vec::new();
    let mut standings = Vec::new();
    let now = stored_now();
    for group in &chargeback.groups {
        let assessment = match assess(group.group_id, &budgets, &chargeback) {
            Ok(Some(a)) => a,
            Ok(None) => continue,
            Err(err) => {
                tracing::warn!(tenant_id = %tenant_id, error = %err, "budget not evaluated");
                continue;
            }
        };
        let signals: Vec<BudgetSignal> = budget_signals(&assessment);
        let (new, raised) = crossings(&before, &signals);
        now_raised.extend(raised);
        let money = |d: Decimal| assessment.currency.show(d).to_string();
        for signal in new {
            alerts.push(alert_row(
                tenant_id,
                signal.kind,
                json!({
                    "costGroupId": group.group_id.to_string(),
                    "costGroupName": names.get(&group.group_id.uuid()),
                    "month": month.to_string(),
                    "threshold": signal.threshold.map(|t| t.to_string()),
                    "amount": money(assessment.amount),
                    "actual": money(assessment.actual),
                    "forecast": money(assessment.forecast),
                    "currency": assessment.currency.code(),
                    "status": status_code(assessment.status),
                }),
            ));
        }
        standings.push(budget_standing::ActiveModel {
            tenant_id: Set(tenant_id.uuid()),
            cost_group_id: Set(group.group_id.uuid()),
            month: Set(month.to_string()),
            amount: Set(assessment.amount.to_string()),
            actual: Set(assessment.actual.to_string()),
            forecast: Set(assessment.forecast.to_string()),
            currency: Set(assessment.currency.code().to_owned()),
            status: Set(status_code(assessment.status).to_owned()),
            evaluated_at: Set(now),
        });
    }
    let fallen: Vec<&String> = before.difference(&now_raised).collect();
    if !fallen.is_empty() {
        alert_signal::Entity::delete_many()
            .filter(alert_signal::Column::TenantId.eq(tenant_id.uuid()))
            .filter(alert_signal::Column::Signal.is_in(fallen.iter().map(|s| s.as_str())))
            .exec(txn)
            .await?;
    }
    let risen: Vec<alert_signal::ActiveModel> = now_raised
        .difference(&before)
        .map(|signal| alert_signal::ActiveModel {
            tenant_id: Set(tenant_id.uuid()),
            signal: Set(signal.clone()),
            raised: Set(true),
            baseline: Set(None),
            updated_at: Set(now),
        })
        .collect();
    if !risen.is_empty() {
        alert_signal::Entity::insert_many(risen)
            .exec_without_returning(txn)
            .await?;
    }
    budget_standing::Entity::delete_many()
        .filter(budget_standing::Column::TenantId.eq(tenant_id.uuid()))
        .exec(txn)
        .await?;
    if !standings.is_empty() {
        budget_standing::Entity::insert_many(standings)
            .exec_without_returning(txn)
            .await?;
    }
    let raised = alerts.len();
    for row in alerts {
        alert::Entity::insert(row)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(raised)
}

fn status_code(status: BudgetStatus) -> &'static str {
    match status {
        BudgetStatus::Under => "UNDER",
        BudgetStatus::AtRisk => "AT_RISK",
        BudgetStatus::Over => "OVER",
    }
}

/// Compares the tenant's monthly waste `total` (in `currency`) with the baseline kept, in one
/// write transaction holding the tenant's lock: growth of more than `step` raises a
/// `WASTE_GROWTH` alert. Returns whether one was raised.
pub async fn record_waste_total(
    store: &Store,
    tenant_id: TenantId,
    total: Decimal,
    currency: Option<Currency>,
    step: Decimal,
) -> Result<bool, StoreError> {
    let txn = store.begin_write().await?;
    lock_tenant(&txn, store.backend(), &TenantScope::All, tenant_id).await?;
    let row = alert_signal::Entity::find_by_id((tenant_id.uuid(), WASTE_SIGNAL.to_owned()))
        .one(&txn)
        .await?;
    let baseline = row
        .as_ref()
        .and_then(|r| r.baseline.as_deref())
        .map(|b| decimal("alert_signals", b))
        .transpose()?;
    let step_taken = waste_step(baseline, total, step);
    if Some(step_taken.baseline) != baseline {
        alert_signal::Entity::insert(alert_signal::ActiveModel {
            tenant_id: Set(tenant_id.uuid()),
            signal: Set(WASTE_SIGNAL.to_owned()),
            raised: Set(false),
            baseline: Set(Some(step_taken.baseline.to_string())),
            updated_at: Set(stored_now()),
        })
        .on_conflict(
            OnConflict::columns([alert_signal::Column::TenantId, alert_signal::Column::Signal])
                .update_columns([
                    alert_signal::Column::Baseline,
                    alert_signal::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    let raised = step_taken.alert.is_some();
    if let Some(growth) = step_taken.alert {
        let show = |d: Decimal| currency.map_or(d, |c| c.show(d)).to_string();
        alert::Entity::insert(alert_row(
            tenant_id,
            AlertKind::WasteGrowth,
            json!({
                "wasteTotal": show(total),
                "wasteGrowth": show(growth),
                "previousTotal": show(total - growth),
                "currency": currency.map(|c| c.code()),
            }),
        ))
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(raised)
}

fn stored_alert(m: alert::Model) -> Result<StoredAlert, StoreError> {
    Ok(StoredAlert {
        seq: m.seq,
        id: m.id,
        tenant_id: TenantId(m.tenant_id),
        kind: AlertKind::parse(&m.kind)
            .ok_or_else(|| corrupt("alerts", format!("alert {}: kind {:?}", m.seq, m.kind)))?,
        raised_at: m.raised_at,
        payload: serde_json::from_str(&m.payload)
            .map_err(|e| corrupt("alerts", format!("alert {}: {e}", m.seq)))?,
    })
}

/// Alerts of `tenant_id` numbered above `after`, oldest first, at most `limit`.
pub async fn list_alerts_after(
    store: &Store,
    tenant_id: TenantId,
    after: i64,
    limit: u64,
) -> Result<Vec<StoredAlert>, StoreError> {
    alert::Entity::find()
        .filter(alert::Column::TenantId.eq(tenant_id.uuid()))
        .filter(alert::Column::Seq.gt(after))
        .order_by_asc(alert::Column::Seq)
        .limit(limit)
        .all(store.db())
        .await?
        .into_iter()
        .map(stored_alert)
        .collect()
}

/// The newest alert's number of `tenant_id` (0 before any).
pub async fn last_alert_seq(store: &Store, tenant_id: TenantId) -> Result<i64, StoreError> {
    Ok(alert::Entity::find()
        .select_only()
        .column_as(alert::Column::Seq.max(), "seq")
        .filter(alert::Column::TenantId.eq(tenant_id.uuid()))
        .into_tuple::<Option<i64>>()
        .one(store.db())
        .await?
        .flatten()
        .unwrap_or(0))
}

/// Creates the webhook deliveries of up to `limit` alerts that have none yet: one to the
/// partner's endpoint (`partner_url`, when set) and one to the tenant's own (when it has one).
/// Each alert is taken in its own transaction by a conditional update, so two replicas never
/// both fan one out. Returns how many alerts were fanned out.
pub async fn fan_out(
    store: &Store,
    partner_url: Option<&str>,
    limit: u64,
) -> Result<usize, StoreError> {
    let waiting = alert::Entity::find()
        .select_only()
        .column(alert::Column::Seq)
        .column(alert::Column::TenantId)
        .filter(alert::Column::FannedOut.eq(false))
        .order_by_asc(alert::Column::Seq)
        .limit(limit)
        .into_tuple::<(i64, Uuid)>()
        .all(store.db())
        .await?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let tenants: BTreeSet<Uuid> = waiting.iter().map(|(_, t)| *t).collect();
    let own: HashMap<Uuid, String> = tenant_webhook::Entity::find()
        .select_only()
        .column(tenant_webhook::Column::TenantId)
        .column(tenant_webhook::Column::Url)
        .filter(tenant_webhook::Column::TenantId.is_in(tenants))
        .into_tuple::<(Uuid, String)>()
        .all(store.db())
        .await?
        .into_iter()
        .collect();
    let mut done = 0;
    for (seq, tenant) in waiting {
        let txn = store.db().begin().await?;
        let taken = alert::Entity::update_many()
            .col_expr(alert::Column::FannedOut, Expr::value(true))
            .filter(alert::Column::Seq.eq(seq))
            .filter(alert::Column::FannedOut.eq(false))
            .exec(&txn)
            .await?;
        if taken.rows_affected == 1 {
            let now = stored_now();
            let targets = partner_url
                .map(|u| (Endpoint::Partner, u.to_owned()))
                .into_iter()
                .chain(own.get(&tenant).map(|u| (Endpoint::Tenant, u.clone())));
            let rows: Vec<webhook_delivery::ActiveModel> = targets
                .map(|(endpoint, url)| webhook_delivery::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    alert_seq: Set(seq),
                    tenant_id: Set(tenant),
                    endpoint: Set(endpoint.code().to_owned()),
                    url: Set(url),
                    status: Set(DeliveryStatus::Pending.code().to_owned()),
                    attempts: Set(0),
                    next_attempt_at: Set(now),
                    lease_until: Set(None),
                    delivered_at: Set(None),
                    created_at: Set(now),
                })
                .collect();
            if !rows.is_empty() {
                webhook_delivery::Entity::insert_many(rows)
                    .exec_without_returning(&txn)
                    .await?;
            }
            done += 1;
        }
        txn.commit().await?;
    }
    Ok(done)
}

/// A delivery due for an attempt, leased to the caller.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// The delivery.
    pub id: Uuid,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// Where to post.
    pub url: String,
    /// Attempts made before this one.
    pub attempts: i32,
    /// The alert's id (`webhook-id`).
    pub message_id: Uuid,
    /// The body to post.
    pub payload: String,
}

/// Leases up to `limit` pending deliveries due by `now` for `lease`, oldest first: each taken by
/// a conditional update, so two dispatchers never attempt one at once.
pub async fn claim_due(
    store: &Store,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: u64,
) -> Result<Vec<DueDelivery>, StoreError> {
    let free = || {
        sea_orm::Condition::any()
            .add(webhook_delivery::Column::LeaseUntil.is_null())
            .add(webhook_delivery::Column::LeaseUntil.lt(now))
    };
    let due = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.code()))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .filter(free())
        .order_by_asc(webhook_delivery::Column::NextAttemptAt)
        .order_by_asc(webhook_delivery::Column::AlertSeq)
        .limit(limit)
        .all(store.db())
        .await?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let payloads: HashMap<i64, (Uuid, String)> = alert::Entity::find()
        .select_only()
        .column(alert::Column::Seq)
        .column(alert::Column::Id)
        .column(alert::Column::Payload)
        .filter(alert::Column::Seq.is_in(due.iter().map(|d| d.alert_seq)))
        .into_tuple::<(i64, Uuid, String)>()
        .all(store.db())
        .await?
        .into_iter()
        .map(|(seq, id, payload)| (seq, (id, payload)))
        .collect();
    let mut out = Vec::with_capacity(due.len());
    for d in due {
        let taken = webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::LeaseUntil,
                Expr::value(now + lease),
            )
            .filter(webhook_delivery::Column::Id.eq(d.id))
            .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.code()))
            .filter(free())
            .exec(store.db())
            .await?;
        if taken.rows_affected != 1 {
            continue;
        }
        let Some((message_id, payload)) = payloads.get(&d.alert_seq).cloned() else {
            continue;
        };
        out.push(DueDelivery {
            id: d.id,
            tenant_id: TenantId(d.tenant_id),
            endpoint: Endpoint::parse(&d.endpoint),
            url: d.url,
            attempts: d.attempts,
            message_id,
            payload,
        });
    }
    Ok(out)
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    /// The endpoint accepted it.
    Delivered,
    /// Attempt again at this time.
    RetryAt(DateTime<Utc>),
    /// No attempt is left.
    Failed,
}

/// Records attempt `attempt` of `delivery` and what follows it, in one transaction, releasing
/// the lease.
pub async fn record_attempt(
    store: &Store,
    delivery: Uuid,
    attempt: &Attempt,
    after: AfterAttempt,
) -> Result<(), StoreError> {
    let txn = store.db().begin().await?;
    webhook_attempt::Entity::insert(webhook_attempt::ActiveModel {
        delivery_id: Set(delivery),
        attempt: Set(attempt.number),
        at: Set(attempt.at),
        status_code: Set(attempt.status_code),
        error: Set(attempt
            .error
            .as_ref()
            .map(|e| e.chars().take(500).collect())),
        duration_ms: Set(attempt.duration_ms),
    })
    .exec_without_returning(&txn)
    .await?;
    let (status, next, delivered) = match after {
        AfterAttempt::Delivered => (DeliveryStatus::Delivered, attempt.at, Some(attempt.at)),
        AfterAttempt::RetryAt(at) => (DeliveryStatus::Pending, at, None),
        AfterAttempt::Failed => (DeliveryStatus::Failed, attempt.at, None),
    };
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(status.code()))
        .col_expr(
            webhook_delivery::Column::Attempts,
            Expr::value(attempt.number),
        )
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
        .col_expr(
            webhook_delivery::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            webhook_delivery::Column::DeliveredAt,
            Expr::value(delivered),
        )
        .filter(webhook_delivery::Column::Id.eq(delivery))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// The deliveries of `tenant_id`, newest alert first, at most `first`, of alerts numbered
/// below `before` when given, with `status` when given; each with its alert and attempts.
/// Three statements.
pub async fn list_deliveries(
    store: &Store,
    tenant_id: TenantId,
    status: Option<DeliveryStatus>,
    before: Option<i64>,
    first: u64,
) -> Result<Vec<Delivery>, StoreError> {
    let mut query = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::TenantId.eq(tenant_id.uuid()));
    if let Some(status) = status {
        query = query.filter(webhook_delivery::Column::Status.eq(status.code()));
    }
    if let Some(before) = before {
        query = query.filter(webhook_delivery::Column::AlertSeq.lt(before));
    }
    let rows = query
        .order_by_desc(webhook_delivery::Column::AlertSeq)
        .order_by_asc(webhook_delivery::Column::Endpoint)
        .limit(first)
        .all(store.db())
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let alerts: HashMap<i64, StoredAlert> = alert::Entity::find()
        .filter(alert::Column::Seq.is_in(rows.iter().map(|r| r.alert_seq)))
        .all(store.db())
        .await?
        .into_iter()
        .map(|m| stored_alert(m).map(|a| (a.seq, a)))
        .collect::<Result<_, _>>()?;
    let mut attempts: HashMap<Uuid, Vec<Attempt>> = HashMap::new();
    for a in webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::DeliveryId.is_in(rows.iter().map(|r| r.id)))
        .order_by_asc(webhook_attempt::Column::Attempt)
        .all(store.db())
        .await?
    {
        attempts.entry(a.delivery_id).or_default().push(Attempt {
            number: a.attempt,
            at: a.at,
            status_code: a.status_code,
            error: a.error,
            duration_ms: a.duration_ms,
        });
    }
    rows.into_iter()
        .map(|r| {
            let alert = alerts.get(&r.alert_seq).cloned().ok_or_else(|| {
                corrupt(
                    "webhook_deliveries",
                    format!("{}: no alert {}", r.id, r.alert_seq),
                )
            })?;
            Ok(Delivery {
                id: r.id,
                alert,
                endpoint: Endpoint::parse(&r.endpoint),
                url: r.url,
                status: DeliveryStatus::parse(&r.status),
                next_attempt_at: r.next_attempt_at,
                delivered_at: r.delivered_at,
                attempts: attempts.remove(&r.id).unwrap_or_default(),
            })
        })
        .collect()
}

/// Every budget's latest standing, for the gauges.
pub async fn list_budget_standings(store: &Store) -> Result<Vec<BudgetStanding>, StoreError> {
    budget_standing::Entity::find()
        .all(store.db())
        .await?
        .into_iter()
        .map(|m| {
            Ok(BudgetStanding {
                tenant_id: TenantId(m.tenant_id),
                cost_group_id: CostGroupId(m.cost_group_id),
                month: m.month,
                amount: decimal("budget_standings", &m.amount)?,
                actual: decimal("budget_standings", &m.actual)?,
                forecast: decimal("budget_standings", &m.forecast)?,
            })
        })
        .collect()
}

/// Sets `tenant_id`'s own webhook endpoint and its sealed secret, replacing one set before;
/// audited as `setTenantWebhook` (the URL only). `NotFound` when the tenant is unknown or out of `scope`.
pub async fn set_tenant_webhook(
    store: &Store,
    scope: &TenantScope,
    tenant_id: TenantId,
    url: &str,
    secret: Sealed,
    actor: &str,
) -> Result<TenantWebhook, StoreError> {
    let txn = store.begin_write().await?;
    lock_tenant(&txn, store.backend(), scope, tenant_id).await?;
    let before = tenant_webhook::Entity::find_by_id(tenant_id.uuid())
        .one(&txn)
        .await?;
    let now = stored_now();
    super::audit::record(
        &txn,
        webhook_audit(
            tenant_id,
            actor,
            "setTenantWebhook",
            before.as_ref(),
            Some(url),
        ),
    )
    .await?;
    tenant_webhook::Entity::insert(tenant_webhook::ActiveModel {
        tenant_id: Set(tenant_id.uuid()),
        url: Set(url.to_owned()),
        secret_ciphertext: Set(secret.ciphertext.clone()),
        secret_nonce: Set(secret.nonce.clone()),
        key_id: Set(secret.key_id.clone()),
        set_by: Set(actor.to_owned()),
        set_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(tenant_webhook::Column::TenantId)
            .update_columns([
                tenant_webhook::Column::Url,
                tenant_webhook::Column::SecretCiphertext,
                tenant_webhook::Column::SecretNonce,
                tenant_webhook::Column::KeyId,
                tenant_webhook::Column::SetBy,
                tenant_webhook::Column::SetAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    Ok(TenantWebhook {
        url: url.to_owned(),
        secret,
        set_by: actor.to_owned(),
        set_at: now,
    })
}

/// Removes `tenant_id`'s own webhook endpoint, audited as `removeTenantWebhook`; returns
/// whether it had one. Deliveries already
/// created stay and are still attempted. `NotFound` when the tenant is unknown or out of
/// `scope`.
pub async fn remove_tenant_webhook(
    store: &Store,
    scope: &TenantScope,
    tenant_id: TenantId,
    actor: &str,
) -> Result<bool, StoreError> {
    let txn = store.begin_write().await?;
    lock_tenant(&txn, store.backend(), scope, tenant_id).await?;
    let before = tenant_webhook::Entity::find_by_id(tenant_id.uuid())
        .one(&txn)
        .await?;
    if before.is_some() {
        tenant_webhook::Entity::delete_by_id(tenant_id.uuid())
            .exec(&txn)
            .await?;
        super::audit::record(
            &txn,
            webhook_audit(
                tenant_id,
                actor,
                "removeTenantWebhook",
                before.as_ref(),
                None,
            ),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(before.is_some())
}

/// The audit entry of a tenant webhook change: the URLs before and after, never the secret.
fn webhook_audit(
    tenant_id: TenantId,
    actor: &str,
    action: &str,
    before: Option<&tenant_webhook::Model>,
    after: Option<&str>,
) -> AuditChange {
    AuditChange {
        tenant_id,
        actor: actor.to_owned(),
        action: action.to_owned(),
        subject_type: "tenantWebhook".to_owned(),
        subject_id: tenant_id.to_string(),
        before: before.map(|m| json!({ "url": m.url })),
        after: after.map(|url| json!({ "url": url })),
        effective_from: None,
    }
}

/// The own webhook endpoints of `tenants`, by tenant.
pub async fn find_tenant_webhooks(
    store: &Store,
    tenants: &[TenantId],
) -> Result<HashMap<TenantId, TenantWebhook>, StoreError> {
    Ok(tenant_webhook::Entity::find()
        .filter(tenant_webhook::Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .all(store.db())
        .await?
        .into_iter()
        .map(|m| {
            (
                TenantId(m.tenant_id),
                TenantWebhook {
                    url: m.url,
                    secret: Sealed {
                        ciphertext: m.secret_ciphertext,
                        nonce: m.secret_nonce,
                        key_id: m.key_id,
                    },
                    set_by: m.set_by,
                    set_at: m.set_at,
                },
            )
        })
        .collect())
}

/// Tenants with a budget or a raised budget signal: the ones a sweep evaluates.
pub async fn tenants_with_budgets(store: &Store) -> Result<Vec<TenantId>, StoreError> {
    let mut out: BTreeSet<Uuid> = cost_group_budget::Entity::find()
        .select_only()
        .column(cost_group_budget::Column::TenantId)
        .distinct()
        .into_tuple::<Uuid>()
        .all(store.db())
        .await?
        .into_iter()
        .collect();
    out.extend(
        alert_signal::Entity::find()
            .select_only()
            .column(alert_signal::Column::TenantId)
            .filter(alert_signal::Column::Signal.starts_with(BUDGET_SIGNAL_PREFIX))
            .distinct()
            .into_tuple::<Uuid>()
            .all(store.db())
            .await?,
    );
    Ok(out.into_iter().map(TenantId).collect())
}

/// Evaluates `tenant_id`'s budgets in a transaction of its own holding the tenant's lock (what
/// a sweep does after a restart, or when the month or day moved on without a change).
pub async fn evaluate_tenant_budgets(
    store: &Store,
    tenant_id: TenantId,
    today: NaiveDate,
) -> Result<usize, StoreError> {
    let txn = store.begin_write().await?;
    lock_tenant(&txn, store.backend(), &TenantScope::All, tenant_id).await?;
    let raised = evaluate_budgets(&txn, tenant_id, today).await?;
    txn.commit().await?;
    Ok(raised)
}

//! Alerts and their webhook deliveries: `BudgetAlert`, `WebhookDelivery`, `WebhookAttempt`,
//! `TenantWebhook`.

use async_graphql::{Enum, ID, Object};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::domain::alert;
use crate::store::alerts::{self as stored, StoredAlert};

/// What an alert is about.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "AlertKind")]
pub enum AlertKind {
    /// A budget's forecast to month end passed one of its thresholds (`threshold`).
    ForecastOverThreshold,
    /// A budget's chargeback so far passed the budget.
    BudgetExceeded,
    /// The tenant's monthly waste total grew by more than the set amount.
    WasteGrowth,
}

impl From<alert::AlertKind> for AlertKind {
    fn from(kind: alert::AlertKind) -> Self {
        match kind {
            alert::AlertKind::ForecastOverThreshold => AlertKind::ForecastOverThreshold,
            alert::AlertKind::BudgetExceeded => AlertKind::BudgetExceeded,
            alert::AlertKind::WasteGrowth => AlertKind::WasteGrowth,
        }
    }
}

/// An alert: a budget crossing a threshold or its amount, or a waste total grown. Raised once
/// per crossing, in the same transaction as the change that crossed it.
pub struct BudgetAlertObject(pub StoredAlert);

impl BudgetAlertObject {
    fn data(&self, key: &str) -> Option<&Value> {
        self.0.payload.get("data").and_then(|d| d.get(key))
    }

    fn text(&self, key: &str) -> Option<String> {
        self.data(key).and_then(Value::as_str).map(str::to_owned)
    }

    fn decimal(&self, key: &str) -> Option<Decimal> {
        self.data(key)
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok())
    }
}

#[Object(name = "BudgetAlert")]
impl BudgetAlertObject {
    /// The alert's id: the `webhook-id` of its webhook messages.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Its number: alerts are numbered in the order they were raised.
    async fn sequence(&self) -> i64 {
        self.0.seq
    }

    /// What it is about.
    async fn kind(&self) -> AlertKind {
        self.0.kind.into()
    }

    /// The tenant.
    async fn tenant_id(&self) -> ID {
        ID(self.0.tenant_id.to_string())
    }

    /// When it was raised.
    async fn raised_at(&self) -> DateTime<Utc> {
        self.0.raised_at
    }

    /// The budgeted cost group (budget alerts).
    async fn cost_group_id(&self) -> Option<ID> {
        self.text("costGroupId").map(ID)
    }

    /// Its name when the alert was raised.
    async fn cost_group_name(&self) -> Option<String> {
        self.text("costGroupName")
    }

    /// The month evaluated, `YYYY-MM` (budget alerts).
    async fn month(&self) -> Option<String> {
        self.text("month")
    }

    /// The threshold passed, in percent (`FORECAST_OVER_THRESHOLD`).
    async fn threshold(&self) -> Option<Decimal> {
        self.decimal("threshold")
    }

    /// The budget (budget alerts).
    async fn amount(&self) -> Option<Decimal> {
        self.decimal("amount")
    }

    /// The chargeback of the month so far (budget alerts).
    async fn actual(&self) -> Option<Decimal> {
        self.decimal("actual")
    }

    /// The forecast to month end (budget alerts).
    async fn forecast(&self) -> Option<Decimal> {
        self.decimal("forecast")
    }

    /// The budget's status then: `UNDER`, `AT_RISK` or `OVER` (budget alerts).
    async fn status(&self) -> Option<String> {
        self.text("status")
    }

    /// The tenant's monthly waste total (`WASTE_GROWTH`).
    async fn waste_total(&self) -> Option<Decimal> {
        self.decimal("wasteTotal")
    }

    /// How much it grew since the last alert or the lowest total since (`WASTE_GROWTH`).
    async fn waste_growth(&self) -> Option<Decimal> {
        self.decimal("wasteGrowth")
    }

    /// ISO 4217 code of the amounts.
    async fn currency(&self) -> Option<String> {
        self.text("currency")
    }

    /// The JSON body its webhook messages carry.
    async fn payload(&self) -> String {
        self.0.payload.to_string()
    }
}

/// Where a delivery stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum WebhookDeliveryStatus {
    /// Not delivered yet; attempted again at `nextAttemptAt`.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed (`TENANTGRAPH_WEBHOOK_MAX_ATTEMPTS`).
    Failed,
}

impl From<WebhookDeliveryStatus> for stored::DeliveryStatus {
    fn from(status: WebhookDeliveryStatus) -> Self {
        match status {
            WebhookDeliveryStatus::Pending => stored::DeliveryStatus::Pending,
            WebhookDeliveryStatus::Delivered => stored::DeliveryStatus::Delivered,
            WebhookDeliveryStatus::Failed => stored::DeliveryStatus::Failed,
        }
    }
}

/// Which endpoint a delivery goes to.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum WebhookEndpoint {
    /// The partner's (`TENANTGRAPH_WEBHOOK_URL`).
    Partner,
    /// The tenant's own (`setTenantWebhook`).
    Tenant,
}

/// One alert to one endpoint.
pub struct WebhookDeliveryObject(pub stored::Delivery);

#[Object(name = "WebhookDelivery")]
impl WebhookDeliveryObject {
    /// The delivery.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The alert delivered.
    async fn alert(&self) -> BudgetAlertObject {
        BudgetAlertObject(self.0.alert.clone())
    }

    /// Which endpoint.
    async fn endpoint(&self) -> WebhookEndpoint {
        match self.0.endpoint {
            stored::Endpoint::Partner => WebhookEndpoint::Partner,
            stored::Endpoint::Tenant => WebhookEndpoint::Tenant,
        }
    }

    /// Its URL when the delivery was created.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// Where it stands.
    async fn status(&self) -> WebhookDeliveryStatus {
        match self.0.status {
            stored::DeliveryStatus::Pending => WebhookDeliveryStatus::Pending,
            stored::DeliveryStatus::Delivered => WebhookDeliveryStatus::Delivered,
            stored::DeliveryStatus::Failed => WebhookDeliveryStatus::Failed,
        }
    }

    /// When it is attempted next (while `PENDING`).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == stored::DeliveryStatus::Pending).then_some(self.0.next_attempt_at)
    }

    /// When the endpoint accepted it.
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }

    /// Every attempt, oldest first.
    async fn attempts(&self) -> Vec<WebhookAttemptObject> {
        self.0
            .attempts
            .iter()
            .cloned()
            .map(WebhookAttemptObject)
            .collect()
    }
}

/// One attempt of a delivery.
pub struct WebhookAttemptObject(stored::Attempt);

#[Object(name = "WebhookAttempt")]
impl WebhookAttemptObject {
    /// 1 for the first.
    async fn number(&self) -> i32 {
        self.0.number
    }

    /// When it was made.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// The endpoint's HTTP status, when it answered.
    async fn status_code(&self) -> Option<i32> {
        self.0.status_code
    }

    /// Why it failed (an error status, a refused connection, a timeout); null when delivered.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }

    /// How long it took, in milliseconds.
    async fn duration_ms(&self) -> i64 {
        self.0.duration_ms
    }
}

/// A tenant's own webhook endpoint (its secret is shown once, when set).
pub struct TenantWebhookObject(pub stored::TenantWebhook);

#[Object(name = "TenantWebhook")]
impl TenantWebhookObject {
    /// Where the tenant's alerts are posted.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// Who set it.
    async fn set_by(&self) -> &str {
        &self.0.set_by
    }

    /// When.
    async fn set_at(&self) -> DateTime<Utc> {
        self.0.set_at
    }
}

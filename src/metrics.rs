//! Prometheus metrics of the process: GraphQL operations, DataLoader batches, SQL statements,
//! pool use. Imports nothing of ours, so every layer may record into it.

use std::collections::HashSet;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Distinct operation names first sent by partner administrators that are kept as labels; later
/// ones are counted as `other`, so that even they can't grow the metric set without bound.
/// Names of the trusted documents don't count against it.
const MAX_ADMIN_OPERATION_LABELS: usize = 200;

/// Who named an operation. Only names the service can vouch for become labels, so that no
/// caller can fill the label set and push everyone else's operations into `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namer {
    /// Any caller: the name is a label only when it is one of the trusted documents' or a
    /// partner administrator has sent it before.
    Caller,
    /// A `partner_admin` principal: the name is a label while there is room among the
    /// administrators' names.
    PartnerAdmin,
}

/// The process's metrics; clone the `Arc` around it.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    batch_size: HistogramVec,
    read_cache: IntCounterVec,
    statements: IntCounter,
    statement_errors: IntCounter,
    statement_seconds: Histogram,
    pool: IntGaugeVec,
    imports: ImportMetrics,
    alerts: AlertMetrics,
    /// Operation names of the trusted documents manifest.
    trusted_names: RwLock<HashSet<String>>,
    /// Operation names partner administrators have sent, at most
    /// [`MAX_ADMIN_OPERATION_LABELS`].
    admin_names: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Outcome label of a GraphQL request.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    /// No errors.
    Ok,
    /// Some errors in the response.
    Errors,
    /// The request could not be parsed.
    Rejected,
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("tenantgraph".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "graphql_requests_total",
                "GraphQL requests by operation name and outcome",
            ),
            &["operation", "outcome"],
        )?;
        let request_seconds = HistogramVec::new(
            HistogramOpts::new(
                "graphql_request_duration_seconds",
                "GraphQL request latency",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["operation"],
        )?;
        let batch_size = HistogramVec::new(
            HistogramOpts::new("dataloader_batch_size", "Keys per DataLoader batch").buckets(vec![
                1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0,
            ]),
            &["loader"],
        )?;
        let read_cache = IntCounterVec::new(
            Opts::new(
                "read_cache_lookups_total",
                "Reads looked up among those kept across query operations, by read and outcome",
            ),
            &["read", "outcome"],
        )?;
        let statements = IntCounter::new("db_statements_total", "SQL statements executed")?;
        let statement_errors =
            IntCounter::new("db_statement_errors_total", "SQL statements that failed")?;
        let statement_seconds = Histogram::with_opts(
            HistogramOpts::new("db_statement_duration_seconds", "SQL statement latency").buckets(
                vec![
                    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0,
                ],
            ),
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Pooled database connections by state",
            ),
            &["state"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_seconds.clone()))?;
        registry.register(Box::new(batch_size.clone()))?;
        registry.register(Box::new(read_cache.clone()))?;
        registry.register(Box::new(statements.clone()))?;
        registry.register(Box::new(statement_errors.clone()))?;
        registry.register(Box::new(statement_seconds.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        let imports = ImportMetrics::register(&registry)?;
        let alerts = AlertMetrics::register(&registry)?;
        Ok(Metrics {
            imports,
            alerts,
            registry,
            requests,
            request_seconds,
            batch_size,
            read_cache,
            statements,
            statement_errors,
            statement_seconds,
            pool,
            trusted_names: RwLock::new(HashSet::new()),
            admin_names: Mutex::new(HashSet::new()),
        })
    }

    /// Labels the operations of the trusted documents manifest by name, whoever sends them.
    pub fn trust_operation_names(&self, names: impl IntoIterator<Item = String>) {
        let mut trusted = self
            .trusted_names
            .write()
            .unwrap_or_else(|e| e.into_inner());
        trusted.extend(names.into_iter().filter(|name| is_label(name)));
    }

    fn operation_label(&self, name: Option<&str>, namer: Namer) -> String {
        let Some(name) = name else {
            return "anonymous".to_owned();
        };
        if !is_label(name) {
            return "other".to_owned();
        }
        let trusted = self
            .trusted_names
            .read()
            .is_ok_and(|trusted| trusted.contains(name));
        if trusted {
            return name.to_owned();
        }
        let Ok(mut seen) = self.admin_names.lock() else {
            return "other".to_owned();
        };
        if seen.contains(name)
            || (namer == Namer::PartnerAdmin && seen.len() < MAX_ADMIN_OPERATION_LABELS)
        {
            seen.insert(name.to_owned());
            name.to_owned()
        } else {
            "other".to_owned()
        }
    }

    /// Records one GraphQL request, labelled with its operation name when `namer` may name
    /// labels (see [`Namer`]), else `other` (`anonymous` without a name).
    pub fn record_request(
        &self,
        operation: Option<&str>,
        namer: Namer,
        outcome: Outcome,
        elapsed: Duration,
    ) {
        let label = self.operation_label(operation, namer);
        let outcome = match outcome {
            Outcome::Ok => "ok",
            Outcome::Errors => "errors",
            Outcome::Rejected => "rejected",
        };
        self.requests
            .with_label_values(&[label.as_str(), outcome])
            .inc();
        self.request_seconds
            .with_label_values(&[label.as_str()])
            .observe(elapsed.as_secs_f64());
    }

    /// Records the number of keys a DataLoader fetched in one batch.
    pub fn record_batch(&self, loader: &'static str, keys: usize) {
        self.batch_size
            .with_label_values(&[loader])
            .observe(keys as f64);
    }

    /// Records a lookup of `read` (`tenant`, `counts`, `subscriptions`, `sku_holders`,
    /// `user_counts`, `user_page`) among the reads kept across query operations: found (`hit`)
    /// or not.
    pub fn record_read_cache(&self, read: &'static str, hit: bool) {
        let outcome = if hit { "hit" } else { "miss" };
        self.read_cache.with_label_values(&[read, outcome]).inc();
    }

    /// Records one executed SQL statement.
    pub fn record_statement(&self, elapsed: Duration, failed: bool) {
        self.statements.inc();
        if failed {
            self.statement_errors.inc();
        }
        self.statement_seconds.observe(elapsed.as_secs_f64());
    }

    /// SQL statements executed so far.
    pub fn statements_total(&self) -> u64 {
        self.statements.get()
    }

    /// Sets the pool gauges.
    pub fn record_pool(&self, open: u32, idle: u32) {
        self.pool.with_label_values(&["open"]).set(i64::from(open));
        self.pool.with_label_values(&["idle"]).set(i64::from(idle));
    }

    /// Records the end of one import run: its status and reason (`none` when it succeeded),
    /// and the users it wrote (added, updated, removed, restored).
    pub fn record_import_run(&self, status: &str, reason: Option<&str>, users_written: u64) {
        self.imports
            .runs
            .with_label_values(&[status, reason.unwrap_or("none")])
            .inc();
        self.imports.users_written.inc_by(users_written);
    }

    /// Records upstream requests repeated, by what was answered (`429`, `503`, `sign_in`,
    /// `transport`, ...).
    pub fn record_import_retries(&self, status: &str, count: u64) {
        self.imports
            .retries
            .with_label_values(&[status])
            .inc_by(count);
    }

    /// Replaces the per-tenant import health gauges: each tenant's last successful import
    /// (Unix seconds, when it has one) and its newest run's status and reason. Tenants gone
    /// since the last scrape disappear, so the series stay bounded by the tenant count.
    pub fn set_import_health<'a>(&self, tenants: impl IntoIterator<Item = TenantImportHealth<'a>>) {
        self.imports.last_success.reset();
        self.imports.last_run.reset();
        for tenant in tenants {
            if let Some(at) = tenant.last_success_unix {
                self.imports
                    .last_success
                    .with_label_values(&[tenant.tenant])
                    .set(at);
            }
            if let Some(status) = tenant.last_status {
                self.imports
                    .last_run
                    .with_label_values(&[
                        tenant.tenant,
                        status,
                        tenant.last_reason.unwrap_or("none"),
                    ])
                    .set(1);
            }
        }
    }

    /// Counts one webhook delivery attempt by what followed it.
    pub fn record_webhook_attempt(&self, outcome: &str) {
        self.alerts.attempts.with_label_values(&[outcome]).inc();
    }

    /// Replaces the budget gauges with `standings`: per tenant and cost group, the month's
    /// actual amount and forecast as ratios of the budget.
    pub fn set_budget_ratios<'a>(&self, standings: impl IntoIterator<Item = BudgetRatio<'a>>) {
        self.alerts.actual.reset();
        self.alerts.forecast.reset();
        for b in standings {
            let labels = [b.tenant, b.cost_group, b.month];
            self.alerts.actual.with_label_values(&labels).set(b.actual);
            self.alerts
                .forecast
                .with_label_values(&labels)
                .set(b.forecast);
        }
    }

    /// Replaces the age of the stored refresh token of each client id, in seconds.
    pub fn set_refresh_token_ages<'a>(&self, ages: impl IntoIterator<Item = (&'a str, f64)>) {
        self.imports.refresh_token_age.reset();
        for (client_id, age) in ages {
            self.imports
                .refresh_token_age
                .with_label_values(&[client_id])
                .set(age);
        }
    }

    /// Renders every metric in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding to a Vec only fails on invalid metric names, which `new` rules out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// One tenant's import health, for [`Metrics::set_import_health`].
#[derive(Debug, Clone, Copy)]
pub struct TenantImportHealth<'a> {
    /// The tenant id.
    pub tenant: &'a str,
    /// When its newest successful import ended, in Unix seconds.
    pub last_success_unix: Option<f64>,
    /// Its newest run's status (`SUCCEEDED`, `FAILED`, `RUNNING`).
    pub last_status: Option<&'a str>,
    /// Its newest run's failure reason.
    pub last_reason: Option<&'a str>,
}

/// One budget's ratios for [`Metrics::set_budget_ratios`].
#[derive(Debug, Clone, Copy)]
pub struct BudgetRatio<'a> {
    /// The tenant's id.
    pub tenant: &'a str,
    /// The cost group's id.
    pub cost_group: &'a str,
    /// `YYYY-MM`.
    pub month: &'a str,
    /// Actual amount over the budget.
    pub actual: f64,
    /// Forecast over the budget.
    pub forecast: f64,
}

/// Webhook deliveries and budgets.
struct AlertMetrics {
    attempts: IntCounterVec,
    actual: GaugeVec,
    forecast: GaugeVec,
}

impl AlertMetrics {
    fn register(registry: &Registry) -> Result<AlertMetrics, prometheus::Error> {
        let labels = ["tenant", "cost_group", "month"];
        let metrics = AlertMetrics {
            attempts: IntCounterVec::new(
                Opts::new(
                    "webhook_attempts_total",
                    "Webhook delivery attempts of this process, by what followed \
                     (delivered, retry, failed)",
                ),
                &["outcome"],
            )?,
            actual: GaugeVec::new(
                Opts::new(
                    "budget_ratio",
                    "Each cost group budget's chargeback so far over its amount (1 = spent)",
                ),
                &labels,
            )?,
            forecast: GaugeVec::new(
                Opts::new(
                    "budget_forecast_ratio",
                    "Each cost group budget's forecast to month end over its amount",
                ),
                &labels,
            )?,
        };
        registry.register(Box::new(metrics.attempts.clone()))?;
        registry.register(Box::new(metrics.actual.clone()))?;
        registry.register(Box::new(metrics.forecast.clone()))?;
        Ok(metrics)
    }
}

/// The importer's metrics.
struct ImportMetrics {
    runs: IntCounterVec,
    retries: IntCounterVec,
    users_written: IntCounter,
    last_success: GaugeVec,
    last_run: IntGaugeVec,
    refresh_token_age: GaugeVec,
}

impl ImportMetrics {
    fn register(registry: &Registry) -> Result<ImportMetrics, prometheus::Error> {
        let metrics = ImportMetrics {
            runs: IntCounterVec::new(
                Opts::new(
                    "import_runs_total",
                    "Import runs ended in this process, by status and failure reason",
                ),
                &["status", "reason"],
            )?,
            retries: IntCounterVec::new(
                Opts::new(
                    "import_upstream_retries_total",
                    "Upstream requests the importer repeated, by what was answered",
                ),
                &["status"],
            )?,
            users_written: IntCounter::new(
                "import_users_written_total",
                "Users added, updated, removed or restored by imports in this process",
            )?,
            last_success: GaugeVec::new(
                Opts::new(
                    "import_last_success_timestamp_seconds",
                    "When each tenant's newest successful import ended (Unix time)",
                ),
                &["tenant"],
            )?,
            last_run: IntGaugeVec::new(
                Opts::new(
                    "import_last_run",
                    "Each tenant's newest import run (1), labelled with its status and reason",
                ),
                &["tenant", "status", "reason"],
            )?,
            refresh_token_age: GaugeVec::new(
                Opts::new(
                    "import_refresh_token_age_seconds",
                    "Age of the stored refresh token (since it was last rotated), per client id",
                ),
                &["client_id"],
            )?,
        };
        registry.register(Box::new(metrics.runs.clone()))?;
        registry.register(Box::new(metrics.retries.clone()))?;
        registry.register(Box::new(metrics.users_written.clone()))?;
        registry.register(Box::new(metrics.last_success.clone()))?;
        registry.register(Box::new(metrics.last_run.clone()))?;
        registry.register(Box::new(metrics.refresh_token_age.clone()))?;
        Ok(metrics)
    }
}

/// Whether `name` may be a label value: a GraphQL name of at most 64 characters.
fn is_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(metrics: &Metrics, name: &str, namer: Namer) {
        metrics.record_request(Some(name), namer, Outcome::Ok, Duration::ZERO);
    }

    fn labelled(metrics: &Metrics, name: &str) -> bool {
        metrics.render().contains(&format!(
            "graphql_requests_total{{operation=\"{name}\",outcome=\"ok\"}}"
        ))
    }

    #[test]
    fn names_from_any_caller_are_other_unless_the_manifest_has_them() {
        let metrics = Metrics::new().unwrap();
        metrics.trust_operation_names(["UsersPage".to_owned(), "bad name!".to_owned()]);
        for i in 0..(MAX_ADMIN_OPERATION_LABELS + 5) {
            record(&metrics, &format!("Spam{i}"), Namer::Caller);
        }
        record(&metrics, "UsersPage", Namer::Caller);
        record(&metrics, "bad name!", Namer::Caller);
        assert!(labelled(&metrics, "UsersPage"));
        assert!(!labelled(&metrics, "Spam0"));
        assert!(metrics.render().contains(&format!(
            "graphql_requests_total{{operation=\"other\",outcome=\"ok\"}} {}",
            MAX_ADMIN_OPERATION_LABELS + 6
        )));
    }

    #[test]
    fn administrators_names_are_labels_up_to_the_cap_and_callers_cannot_take_their_room() {
        let metrics = Metrics::new().unwrap();
        for i in 0..(MAX_ADMIN_OPERATION_LABELS + 5) {
            record(&metrics, &format!("Spam{i}"), Namer::Caller);
        }
        record(&metrics, "Dashboard", Namer::PartnerAdmin);
        assert!(labelled(&metrics, "Dashboard"));
        for i in 1..(MAX_ADMIN_OPERATION_LABELS + 10) {
            record(&metrics, &format!("Admin{i}"), Namer::PartnerAdmin);
        }
        assert!(labelled(
            &metrics,
            &format!("Admin{}", MAX_ADMIN_OPERATION_LABELS - 1)
        ));
        assert!(!labelled(
            &metrics,
            &format!("Admin{MAX_ADMIN_OPERATION_LABELS}")
        ));
        // A name an administrator sent is a label whoever sends it next.
        record(&metrics, "Dashboard", Namer::Caller);
        assert!(
            metrics
                .render()
                .contains("graphql_requests_total{operation=\"Dashboard\",outcome=\"ok\"} 2")
        );
    }

    #[test]
    fn statements_are_counted() {
        let metrics = Metrics::new().unwrap();
        metrics.record_statement(Duration::from_millis(1), false);
        metrics.record_statement(Duration::from_millis(1), true);
        assert_eq!(metrics.statements_total(), 2);
        assert!(
            metrics
                .render()
                .contains("tenantgraph_db_statement_errors_total 1")
        );
    }
}

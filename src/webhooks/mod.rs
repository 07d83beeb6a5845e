//! Alerts after the commit: the webhook dispatcher (fans each alert out to its endpoints, posts
//! it signed as Standard Webhooks describes, retries with backoff, records every attempt), the
//! sweep that re-evaluates every budget (after a restart, and as days pass) and the waste
//! totals, and the waste check after each import of this process.

pub mod public_only;
pub mod signing;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use chrono::Utc;
use futures_util::future::join_all;
use secrecy::ExposeSecret;
use tokio::sync::broadcast;

use crate::config::alerts::{AlertSettings, parse_secret};
use crate::domain::optimization::{SignInAvailability, WasteSettings, optimize};
use crate::domain::{RunStatus, TenantId};
use crate::importer::progress::{Phase, Progress};
use crate::metrics::Metrics;
use crate::store::alerts::{self, AfterAttempt, Attempt, DueDelivery, Endpoint};
use crate::store::secrets::Keyring;
use crate::store::{Store, sign_ins, tenants};

/// Deliveries attempted at once.
const BATCH: u64 = 16;
/// Alerts fanned out per round.
const FAN_OUT_BATCH: u64 = 200;
/// How long a dispatcher holds a delivery it attempts.
const LEASE: Duration = Duration::from_secs(120);
/// How often the dispatcher looks for work while there is none.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// Longest wait between retries.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// A delivery's signing secret, or why there is none.
type Secret = Result<Vec<u8>, String>;

/// The owner a tenant's webhook secret is sealed for.
pub fn secret_owner(tenant_id: TenantId) -> String {
    format!("tenant-webhook:{tenant_id}")
}

/// What the alert tasks share.
pub struct Alerting {
    store: Store,
    settings: AlertSettings,
    keys: Option<Arc<Keyring>>,
    metrics: Arc<Metrics>,
    inactive_days: u32,
    /// Posts to the partner's endpoint.
    client: reqwest::Client,
    /// Posts to tenants' endpoints: public addresses only unless allowed.
    tenant_client: reqwest::Client,
}

impl Alerting {
    /// The alert tasks' shared state; `keys` open tenants' webhook secrets.
    pub fn new(
        store: Store,
        settings: AlertSettings,
        keys: Option<Arc<Keyring>>,
        metrics: Arc<Metrics>,
        inactive_days: u32,
    ) -> Arc<Alerting> {
        let builder = || {
            reqwest::Client::builder()
                .timeout(settings.timeout)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("tenantgraph/", env!("CARGO_PKG_VERSION")))
        };
        let client = builder().build().unwrap_or_default();
        let tenant_client = if settings.allow_private {
            client.clone()
        } else {
            builder()
                .dns_resolver(public_only::PublicResolver)
                .build()
                .unwrap_or_default()
        };
        Arc::new(Alerting {
            store,
            settings,
            keys,
            metrics,
            inactive_days,
            client,
            tenant_client,
        })
    }

    /// Starts the dispatcher and the sweep on the current runtime, and the waste check after
    /// each import of `imports` (this process's importer), when given.
    pub fn start(self: &Arc<Self>, imports: Option<broadcast::Receiver<Progress>>) {
        let me = self.clone();
        tokio::spawn(async move { me.dispatch_forever().await });
        let me = self.clone();
        tokio::spawn(async move { me.sweep_forever().await });
        if let (Some(mut events), Some(_)) = (imports, self.settings.waste_growth) {
            let me = self.clone();
            tokio::spawn(async move {
                loop {
                    match events.recv().await {
                        Ok(p) if p.phase == Phase::Finished && p.status == RunStatus::Succeeded => {
                            me.check_waste(p.tenant_id).await;
                        }
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                }
            });
        }
    }

    async fn dispatch_forever(&self) {
        loop {
            match self.dispatch_round().await {
                Ok(0) => tokio::time::sleep(IDLE_POLL).await,
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "webhook dispatch failed; retrying");
                    tokio::time::sleep(IDLE_POLL).await;
                }
            }
        }
    }

    /// Fans out new alerts and attempts the deliveries due; returns how many it attempted.
    pub async fn dispatch_round(&self) -> Result<usize, crate::store::StoreError> {
        let partner = self
            .settings
            .partner_webhook
            .as_ref()
            .map(|p| p.url.as_str());
        alerts::fan_out(&self.store, partner, FAN_OUT_BATCH).await?;
        let lease = chrono::Duration::from_std(LEASE).unwrap_or_else(|_| chrono::Duration::zero());
        let due = alerts::claim_due(&self.store, Utc::now(), lease, BATCH).await?;
        let attempted = due.len();
        let tenants = self.tenant_secrets(&due).await;
        join_all(due.into_iter().map(|d| {
            let secret = self.secret_of(&d, &tenants);
            self.attempt(d, secret)
        }))
        .await;
        Ok(attempted)
    }

    /// The signing secret of each tenant endpoint among `due`, or why there is none: the
    /// tenants' webhooks read in one statement and each secret opened once per round, however
    /// many of its deliveries are due.
    async fn tenant_secrets(&self, due: &[DueDelivery]) -> HashMap<TenantId, Secret> {
        let tenants: Vec<TenantId> = due
            .iter()
            .filter(|d| d.endpoint == Endpoint::Tenant)
            .map(|d| d.tenant_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if tenants.is_empty() {
            return HashMap::new();
        }
        let all = |why: String| tenants.iter().map(|t| (*t, Err(why.clone()))).collect();
        let Some(keys) = self.keys.as_ref() else {
            return all("no secret key to open the tenant's secret".to_owned());
        };
        let found = match alerts::find_tenant_webhooks(&self.store, &tenants).await {
            Ok(found) => found,
            Err(err) => return all(err.to_string()),
        };
        tenants
            .iter()
            .map(|&tenant| {
                let secret = found
                    .get(&tenant)
                    .ok_or_else(|| "the tenant's webhook was removed".to_owned())
                    .and_then(|hook| {
                        keys.open(&hook.secret, &secret_owner(tenant))
                            .map_err(|e| e.to_string())
                    })
                    .and_then(|secret| {
                        parse_secret("secret", secret.expose_secret()).map_err(|e| e.to_string())
                    });
                (tenant, secret)
            })
            .collect()
    }

    /// The secret bytes `delivery` is signed with, from the partner's settings or `tenants`
    /// (what [`Self::tenant_secrets`] opened), or why there is none.
    fn secret_of(&self, delivery: &DueDelivery, tenants: &HashMap<TenantId, Secret>) -> Secret {
        match delivery.endpoint {
            Endpoint::Partner => self
                .settings
                .partner_webhook
                .as_ref()
                .map(|p| p.secret.expose_secret().to_vec())
                .ok_or_else(|| "no partner webhook is configured any more".to_owned()),
            Endpoint::Tenant => tenants
                .get(&delivery.tenant_id)
                .cloned()
                .unwrap_or_else(|| Err("the tenant's webhook was not read".to_owned())),
        }
    }

    /// One attempt of `delivery` signed with `secret`, recorded with what follows it.
    async fn attempt(&self, delivery: DueDelivery, secret: Secret) {
        let number = delivery.attempts + 1;
        let started = Instant::now();
        let at = alerts::now();
        let (status_code, error) = match secret {
            Err(why) => (None, Some(why)),
            Ok(secret) => self.post(&delivery, &secret).await,
        };
        let delivered = error.is_none();
        let after = if delivered {
            AfterAttempt::Delivered
        } else if number >= self.settings.max_attempts as i32 {
            AfterAttempt::Failed
        } else {
            let wait = self.retry_delay(number);
            AfterAttempt::RetryAt(
                at + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::zero()),
            )
        };
        self.metrics.record_webhook_attempt(match after {
            AfterAttempt::Delivered => "delivered",
            AfterAttempt::RetryAt(_) => "retry",
            AfterAttempt::Failed => "failed",
        });
        if !delivered {
            tracing::warn!(
                delivery_id = %delivery.id,
                tenant_id = %delivery.tenant_id,
                attempt = number,
                status_code,
                error = error.as_deref().unwrap_or(""),
                "webhook delivery attempt failed"
            );
        }
        let attempt = Attempt {
            number,
            at,
            status_code,
            error,
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        };
        if let Err(err) = alerts::record_attempt(&self.store, delivery.id, &attempt, after).await {
            // The lease runs out and the delivery is attempted again.
            tracing::warn!(delivery_id = %delivery.id, error = %err, "webhook attempt not recorded");
        }
    }

    /// Posts `delivery` signed with `secret`: the answer's status, and the error unless 2xx.
    async fn post(&self, delivery: &DueDelivery, secret: &[u8]) -> (Option<i32>, Option<String>) {
        let client = match delivery.endpoint {
            Endpoint::Partner => &self.client,
            Endpoint::Tenant => &self.tenant_client,
        };
        if delivery.endpoint == Endpoint::Tenant && !self.settings.allow_private {
            let refused = url::Url::parse(&delivery.url)
                .map_err(|e| e.to_string())
                .and_then(|u| public_only::refuse_host(&u).map_or(Ok(()), Err));
            if let Err(why) = refused {
                return (None, Some(why));
            }
        }
        let id = delivery.message_id.to_string();
        let timestamp = Utc::now().timestamp();
        let signature = signing::sign(secret, &id, timestamp, &delivery.payload);
        let sent = client
            .post(&delivery.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(signing::ID_HEADER, &id)
            .header(signing::TIMESTAMP_HEADER, timestamp.to_string())
            .header(signing::SIGNATURE_HEADER, signature)
            .body(delivery.payload.clone())
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status();
                let code = Some(i32::from(status.as_u16()));
                if status.is_success() {
                    (code, None)
                } else {
                    (code, Some(format!("the endpoint answered {status}")))
                }
            }
            // Without the URL: it may carry a token in its query.
            Err(err) => (None, Some(err.without_url().to_string())),
        }
    }

    /// The wait before attempt `number + 1`: the retry delay doubled per attempt, with
    /// jitter, at most an hour.
    fn retry_delay(&self, number: i32) -> Duration {
        let n = usize::try_from(number.max(1)).unwrap_or(1);
        backon::ExponentialBuilder::default()
            .with_min_delay(self.settings.retry_delay)
            .with_max_delay(MAX_RETRY_DELAY)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(n)
            .build()
            .nth(n - 1)
            .unwrap_or(MAX_RETRY_DELAY)
    }

    async fn sweep_forever(&self) {
        loop {
            self.sweep().await;
            tokio::time::sleep(self.settings.sweep_interval).await;
        }
    }

    /// Evaluates every budget, and every tenant's waste total when waste alerts are on.
    pub async fn sweep(&self) {
        let today = Utc::now().date_naive();
        match alerts::tenants_with_budgets(&self.store).await {
            Ok(list) => {
                for tenant in list {
                    if let Err(err) =
                        alerts::evaluate_tenant_budgets(&self.store, tenant, today).await
                    {
                        tracing::warn!(tenant_id = %tenant, error = %err, "budgets not evaluated");
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "budget sweep failed"),
        }
        if self.settings.waste_growth.is_some() {
            match tenants::list_tenant_ids(&self.store).await {
                Ok(list) => {
                    for tenant in list {
                        self.check_waste(tenant).await;
                    }
                }
                Err(err) => tracing::warn!(error = %err, "waste sweep failed"),
            }
        }
    }

    /// Compares `tenant`'s monthly waste total with its baseline (waste alerts on).
    pub async fn check_waste(&self, tenant: TenantId) {
        let Some(step) = self.settings.waste_growth else {
            return;
        };
        let result = async {
            let inputs = sign_ins::optimization_inputs(&self.store, tenant, false).await?;
            let settings = WasteSettings {
                as_of: Utc::now().date_naive(),
                inactive_days: self.inactive_days,
                sign_ins_available: matches!(inputs.sign_ins, SignInAvailability::Available { .. }),
            };
            let Ok(found) = optimize(&inputs.users, &inputs.skus, &inputs.prices, &settings) else {
                // Prices in several currencies: no total to compare.
                return Ok(false);
            };
            alerts::record_waste_total(&self.store, tenant, found.saving, found.currency, step)
                .await
        }
        .await;
        if let Err(err) = result {
            tracing::warn!(tenant_id = %tenant, error = %err, "waste total not checked");
        }
    }
}

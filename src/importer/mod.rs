//! The daily import: list the partner's customers in Partner Center (or take a configured
//! list), then read each customer tenant's SKUs and users from Microsoft Graph and commit them
//! per tenant. Imports nothing of `graphql` or `server`.

pub mod clients;
mod commerce;
pub mod error;
pub mod mapping;
pub mod progress;
mod run;
pub mod schedule;
pub mod spool;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use uuid::Uuid;

use self::clients::token::{Resource, TokenClient};
use self::clients::{RetryPolicy, TrafficStats, Upstream, partner_center};
pub use self::error::ImportError;
use self::progress::ProgressHub;
use crate::config::importer::ImporterSettings;
use crate::domain::{ImportRun, ImportTrigger, Tenant, TenantId};
use crate::metrics::Metrics;
use crate::store::import_runs::{self, NewRun, StartRefused};
use crate::store::secrets::Keyring;
use crate::store::{Store, StoreError};

/// Runs imports for this process. Cheap to share (`Arc`).
pub struct Importer {
    store: Store,
    settings: ImporterSettings,
    upstream: Upstream,
    tokens: Option<TokenClient>,
    keys: Option<Keyring>,
    fingerprint: String,
    holder: String,
    progress: ProgressHub,
    metrics: std::sync::OnceLock<Arc<Metrics>>,
    /// Held through each commit. On SQLite one at a time: the commits of this process queue
    /// here instead of on SQLite's busy timeout, which a large tenant's commit outlasts. On
    /// PostgreSQL [`COMMITS_AT_ONCE`].
    commits: Semaphore,
}

/// Import commits in flight at once on PostgreSQL. Each holds a chunk of users and its
/// statements (about 35 MB for chunks of 5,000): eight at once took an import of 50,000-user
/// tenants to 330 MB, four keep it at 230–275 MB, for up to a tenth more wall time in the runs
/// measured (benches/README.md, the importer's peak memory).
const COMMITS_AT_ONCE: usize = 4;

impl std::fmt::Debug for Importer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Importer")
            .field("holder", &self.holder)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

/// What one `run_all` did.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// Runs that ran here, in the order they ended.
    pub runs: Vec<ImportRun>,
    /// Tenants another run or replica was already importing (or had imported in this slot), or
    /// whose last import observed a later date than the one asked for.
    pub skipped: Vec<TenantId>,
}

/// Why `trigger` could not start a run.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// No importer credentials are configured.
    #[error("imports are not configured (TENANTGRAPH_CLIENT_ID, _CLIENT_SECRET, _REFRESH_TOKEN)")]
    NotConfigured,
    /// A run of the tenant is in progress.
    #[error("an import of tenant {tenant_id} is already running")]
    Busy {
        /// The tenant.
        tenant_id: TenantId,
    },
    /// The tenant's last import observed a later date than today (it was recorded with a
    /// future `--as-of`); dates only move forward.
    #[error("tenant {tenant_id}'s last import observed {last}, a later date than today")]
    ObservedBefore {
        /// The tenant.
        tenant_id: TenantId,
        /// The date its last import observed.
        last: NaiveDate,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn fingerprint(token: &SecretString) -> String {
    let digest = Sha256::digest(token.expose_secret().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The keyring of the settings' secret keys; credentials come with keys (`Config::importer`).
fn keyring(settings: &ImporterSettings) -> Result<Keyring, ImportError> {
    let refused = |message: String| ImportError::Refused {
        reason: crate::domain::FailureReason::AppConfiguration,
        code: "NOT_CONFIGURED".to_owned(),
        message,
        policies: Vec::new(),
    };
    let keys = settings.secret_keys.as_ref().ok_or_else(|| {
        refused("TENANTGRAPH_SECRET_KEY is required with importer credentials".to_owned())
    })?;
    Keyring::new(
        keys.current.expose_secret(),
        keys.previous.as_ref().map(|k| k.expose_secret()),
    )
    .map_err(|e| refused(format!("TENANTGRAPH_SECRET_KEY: {e}")))
}

fn holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned());
    let tag = Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &tag[..8])
}

impl Importer {
    /// An importer on `store`. Uses the newest stored refresh token when it was rotated from
    /// the configured one, falling back to the configured one when the token endpoint refuses
    /// a rotated one as expired or revoked; when the configured keys can't decrypt it, warns and
    /// uses the configured token (the next rotation overwrites the row with the current key).
    pub async fn new(store: Store, settings: ImporterSettings) -> Result<Arc<Self>, ImportError> {
        let retry = RetryPolicy {
            max_attempts: settings.max_attempts,
            base_delay: settings.retry_base,
            max_delay: settings.retry_cap,
        };
        let upstream = Upstream::new(settings.http_timeout, retry)?;
        let (tokens, keys, fingerprint) = match &settings.credentials {
            None => (None, None, String::new()),
            Some(credentials) => {
                let keys = keyring(&settings)?;
                let fingerprint = fingerprint(&credentials.refresh_token);
                let stored = import_runs::find_refresh_token(
                    &store,
                    &keys,
                    &credentials.client_id,
                    &fingerprint,
                )
                .await;
                let refresh = match stored {
                    Ok(Some(token)) => token,
                    Ok(None) => credentials.refresh_token.clone(),
                    Err(StoreError::Secret(err)) => {
                        tracing::warn!(
                            error = %err,
                            "the stored refresh token can't be decrypted; using the configured \
                             refresh token"
                        );
                        credentials.refresh_token.clone()
                    }
                    Err(err) => return Err(err.into()),
                };
                let client = TokenClient::new(
                    upstream.clone(),
                    settings.login_url.clone(),
                    credentials.client_id.clone(),
                    credentials.client_secret.clone(),
                    refresh,
                )
                .with_fallback(credentials.refresh_token.clone());
                (Some(client), Some(keys), fingerprint)
            }
        };
        let commits = Semaphore::new(match store.backend() {
            sea_orm::DatabaseBackend::Sqlite => 1,
            _ => COMMITS_AT_ONCE,
        });
        Ok(Arc::new(Importer {
            store,
            settings,
            upstream,
            tokens,
            keys,
            fingerprint,
            holder: holder_name(),
            progress: ProgressHub::default(),
            metrics: std::sync::OnceLock::new(),
            commits,
        }))
    }

    /// Waits for a turn to commit: on SQLite after this process's other commit (one writer at
    /// a time there), on PostgreSQL while [`COMMITS_AT_ONCE`] others run.
    pub(crate) async fn commit_turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        // The semaphore is never closed.
        self.commits.acquire().await.ok()
    }

    /// Records this importer's runs, retries and users written into `metrics` from now on
    /// (the first call wins).
    pub fn record_into(&self, metrics: Arc<Metrics>) {
        let _ = self.metrics.set(metrics);
    }

    /// Where runs are recorded, once [`Importer::record_into`] was called.
    fn metrics(&self) -> Option<&Metrics> {
        self.metrics.get().map(Arc::as_ref)
    }

    /// Whether credentials are configured.
    pub fn is_configured(&self) -> bool {
        self.tokens.is_some()
    }

    /// This process's name in leases and runs.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Live progress of this process's runs.
    pub fn progress(&self) -> &ProgressHub {
        &self.progress
    }

    /// The settings in use.
    pub fn settings(&self) -> &ImporterSettings {
        &self.settings
    }

    fn tokens(&self) -> Result<&TokenClient, ImportError> {
        self.tokens.as_ref().ok_or_else(|| ImportError::Refused {
            reason: crate::domain::FailureReason::AppConfiguration,
            code: "NOT_CONFIGURED".to_owned(),
            message: "TENANTGRAPH_CLIENT_ID, _CLIENT_SECRET and _REFRESH_TOKEN are not set"
                .to_owned(),
            policies: Vec::new(),
        })
    }

    /// The tenants to import: Partner Center's customers, or the configured list. Creates
    /// their rows in the store (refreshing Partner Center's names).
    #[tracing::instrument(skip_all)]
    pub async fn discover(&self) -> Result<Vec<TenantId>, ImportError> {
        let now = Utc::now();
        if let Some(ids) = &self.settings.tenants {
            let tenants: Vec<Tenant> = ids
                .iter()
                .map(|id| Tenant {
                    id: TenantId(*id),
                    customer_id: None,
                    name: id.to_string(),
                    default_domain: None,
                    created_at: now,
                    updated_at: now,
                    last_import_at: None,
                })
                .collect();
            import_runs::upsert_discovered_tenants(&self.store, &tenants, false).await?;
            return Ok(tenants.into_iter().map(|t| t.id).collect());
        }
        let partner = self
            .settings
            .partner_tenant_id
            .ok_or_else(|| ImportError::Refused {
                reason: crate::domain::FailureReason::AppConfiguration,
                code: "NOT_CONFIGURED".to_owned(),
                message: "set TENANTGRAPH_PARTNER_TENANT_ID to list Partner Center customers, or \
                      TENANTGRAPH_IMPORT_TENANTS to import a fixed list"
                    .to_owned(),
                policies: Vec::new(),
            })?;
        let stats = TrafficStats::default();
        let token = self
            .tokens()?
            .access_token(partner, Resource::PartnerCenter, &stats)
            .await?;
        let customers = partner_center::PartnerCenter {
            upstream: &self.upstream,
            base: &self.settings.partner_center_url,
            token: &token,
            correlation_id: Uuid::new_v4(),
            stats: &stats,
        }
        .list_customers()
        .await?;
        let tenants: Vec<Tenant> = customers
            .into_iter()
            .map(|c| Tenant {
                id: TenantId(c.tenant_id),
                customer_id: Some(c.customer_id),
                name: c.name,
                default_domain: c.domain,
                created_at: now,
                updated_at: now,
                last_import_at: None,
            })
            .collect();
        import_runs::upsert_discovered_tenants(&self.store, &tenants, true).await?;
        tracing::info!(customers = tenants.len(), "Partner Center customers listed");
        Ok(tenants.into_iter().map(|t| t.id).collect())
    }

    /// Imports every tenant (or only `only`), `concurrency` at a time; one tenant's failure
    /// never stops the others. `slot` makes a scheduled slot import each tenant once across
    /// replicas. Fails only when the tenants can't be listed.
    pub async fn run_all(
        self: &Arc<Self>,
        trigger: ImportTrigger,
        slot: Option<DateTime<Utc>>,
        only: Option<TenantId>,
    ) -> Result<RunSummary, ImportError> {
        self.run_all_as_of(trigger, slot, only, None).await
    }

    /// As [`Importer::run_all`], recording what each run sees as observed on `as_of` (`None`:
    /// the run's UTC start date). A tenant whose last import observed a later date is skipped.
    pub async fn run_all_as_of(
        self: &Arc<Self>,
        trigger: ImportTrigger,
        slot: Option<DateTime<Utc>>,
        only: Option<TenantId>,
        as_of: Option<NaiveDate>,
    ) -> Result<RunSummary, ImportError> {
        let interrupted = import_runs::interrupt_abandoned_runs(&self.store).await?;
        if interrupted > 0 {
            tracing::warn!(
                runs = interrupted,
                "runs of a stopped process marked INTERRUPTED"
            );
        }
        let mut tenants = self.discover().await?;
        if let Some(only) = only {
            if !tenants.contains(&only) {
                return Err(ImportError::Refused {
                    reason: crate::domain::FailureReason::TenantNotFound,
                    code: "NOT_A_CUSTOMER".to_owned(),
                    message: format!("tenant {only} is not among the customers to import"),
                    policies: Vec::new(),
                });
            }
            tenants = vec![only];
        }
        let gate = Arc::new(Semaphore::new(self.settings.concurrency));
        let mut tasks = tokio::task::JoinSet::new();
        for tenant_id in tenants {
            let importer = self.clone();
            let gate = gate.clone();
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await;
                match importer.claim(tenant_id, trigger, slot, as_of).await {
                    Ok(Ok(run)) => Ok(run::execute(importer.clone(), run).await),
                    Ok(Err(_)) => Err(tenant_id),
                    Err(err) => {
                        tracing::error!(%tenant_id, error = %err, "could not start the run");
                        Err(tenant_id)
                    }
                }
            });
        }
        let mut summary = RunSummary::default();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(run)) => summary.runs.push(run),
                Ok(Err(tenant_id)) => summary.skipped.push(tenant_id),
                Err(err) => tracing::error!(error = %err, "an import task ended abnormally"),
            }
        }
        self.keep_rotated_refresh_token().await;
        Ok(summary)
    }

    /// Starts a run of one tenant in the background and returns it (`RUNNING`).
    pub async fn trigger(
        self: &Arc<Self>,
        tenant_id: TenantId,
        trigger: ImportTrigger,
    ) -> Result<ImportRun, TriggerError> {
        if !self.is_configured() {
            return Err(TriggerError::NotConfigured);
        }
        match self.claim(tenant_id, trigger, None, None).await? {
            Ok(run) => {
                let importer = self.clone();
                let started = run.clone();
                tokio::spawn(async move {
                    run::execute(importer.clone(), run).await;
                    importer.keep_rotated_refresh_token().await;
                });
                Ok(started)
            }
            Err(StartRefused::ObservedBefore { last }) => {
                Err(TriggerError::ObservedBefore { tenant_id, last })
            }
            Err(_) => Err(TriggerError::Busy { tenant_id }),
        }
    }

    async fn claim(
        &self,
        tenant_id: TenantId,
        trigger: ImportTrigger,
        slot: Option<DateTime<Utc>>,
        observed_on: Option<NaiveDate>,
    ) -> Result<Result<ImportRun, StartRefused>, StoreError> {
        let lease = chrono::Duration::from_std(self.settings.lease)
            .unwrap_or_else(|_| chrono::Duration::seconds(120));
        let claimed = import_runs::start_run(
            &self.store,
            &NewRun {
                tenant_id,
                trigger,
                scheduled_for: slot,
                holder: self.holder.clone(),
                lease,
                observed_on,
            },
        )
        .await?;
        match &claimed {
            Err(StartRefused::ObservedBefore { last }) => tracing::warn!(
                %tenant_id,
                %last,
                "tenant skipped: its last import observed a later date"
            ),
            Err(refused) => {
                tracing::info!(%tenant_id, ?refused, "tenant skipped: claimed elsewhere")
            }
            Ok(_) => {}
        }
        Ok(claimed)
    }

    async fn keep_rotated_refresh_token(&self) {
        let (Some(tokens), Some(keys), Some(credentials)) =
            (&self.tokens, &self.keys, &self.settings.credentials)
        else {
            return;
        };
        if let Some(newest) = tokens.take_rotated_refresh_token()
            && let Err(err) = import_runs::save_refresh_token(
                &self.store,
                keys,
                &credentials.client_id,
                &self.fingerprint,
                &newest,
            )
            .await
        {
            tracing::error!(error = %err, "could not keep the rotated refresh token");
        }
    }
}

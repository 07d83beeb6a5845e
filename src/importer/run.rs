//! One tenant's run: token, SKUs, users into the spool, the SKUs again if a license names one
//! they lacked, commerce subscriptions, then one commit. A failure anywhere before the
//! commit's end leaves the tenant's stored data as it was.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;

use super::Importer;
use super::clients::TrafficStats;
use super::clients::graph::{self, GraphClient, Read};
use super::error::ImportError;
use super::mapping::{self, Semantics};
use super::progress::{Phase, Progress};
use super::spool::Spool;
use crate::domain::optimization::{SignInActivity, SignInImport};
use crate::domain::{
    CommerceSubscription, FailureReason, ImportCounts, ImportMode, ImportRun, ImportWarning,
    ImportWarningCode, RunStatus, ServicePlan, SkuId, Subscription, UserChange,
};
use crate::store::import_commit::{self, ImportCommit};
use crate::store::import_runs::{self, ImportBasis, RunEnd};

/// What the fetch phase produced.
struct Fetched {
    mode: ImportMode,
    subscriptions: Vec<Subscription>,
    service_plans: Vec<ServicePlan>,
    unknown_skus: Vec<SkuId>,
    spool: Spool,
    delta_link: Option<String>,
    warnings: Vec<ImportWarning>,
    commerce: Option<Vec<CommerceSubscription>>,
    sign_ins: Option<SignInImport>,
}

/// Runs a claimed run to its end and records the outcome. Never panics into the caller.
#[tracing::instrument(skip_all, fields(tenant_id = %run.tenant_id, run_id = %run.id))]
pub(crate) async fn execute(importer: Arc<Importer>, run: ImportRun) -> ImportRun {
    let stats = Arc::new(TrafficStats::default());
    let heartbeat = {
        let importer = importer.clone();
        let (tenant_id, run_id) = (run.tenant_id, run.id);
        let every = importer.settings.lease / 3;
        let lease = chrono::Duration::from_std(importer.settings.lease)
            .unwrap_or_else(|_| chrono::Duration::seconds(120));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match import_runs::renew_lease(&importer.store, tenant_id, run_id, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(%tenant_id, %run_id, "import lease lost");
                        break;
                    }
                    Err(err) => tracing::warn!(%tenant_id, error = %err, "lease renewal failed"),
                }
            }
        })
    };
    let started = std::time::Instant::now();
    let outcome = fetch_and_commit(&importer, &run, &stats).await;
    heartbeat.abort();
    let (status, reason) = match &outcome {
        Ok(_) => (RunStatus::Succeeded, None),
        Err((_, err)) => (RunStatus::Failed, Some(err.reason())),
    };
    match &outcome {
        Ok(counts) => tracing::info!(
            tenant_id = %run.tenant_id,
            added = counts.users_added,
            updated = counts.users_updated,
            removed = counts.users_removed,
            restored = counts.users_restored,
            pages = counts.pages,
            retries = counts.retries,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "import committed"
        ),
        Err((mode, err)) => {
            tracing::warn!(
                tenant_id = %run.tenant_id,
                reason = err.reason().code(),
                code = err.upstream_code().as_deref().unwrap_or(""),
                error = %err,
                "import failed"
            );
            let end = RunEnd {
                status: RunStatus::Failed,
                mode: *mode,
                reason: Some(err.reason()),
                upstream_code: err.upstream_code(),
                upstream_message: Some(err.upstream_message()),
                remediation: Some(err.remediation(importer.settings.partner_tenant_id)),
                warnings: Vec::new(),
                counts: ImportCounts {
                    pages: stats.pages(),
                    retries: stats.retries(),
                    ..ImportCounts::default()
                },
            };
            if let Err(store_err) = import_runs::finish_run(&importer.store, &run, &end).await {
                tracing::error!(error = %store_err, "could not record the failed run");
            }
        }
    }
    if let Some(metrics) = importer.metrics() {
        let written = outcome.as_ref().map_or(0, |c| {
            c.users_added + c.users_updated + c.users_removed + c.users_restored
        });
        metrics.record_import_run(
            status.as_str(),
            reason.map(|r| r.code()),
            u64::try_from(written).unwrap_or(0),
        );
        for (answered, count) in stats.retries_by_answer() {
            metrics.record_import_retries(answered, count);
        }
    }
    importer.progress.publish(Progress {
        run_id: run.id,
        tenant_id: run.tenant_id,
        phase: Phase::Finished,
        pages: stats.pages(),
        users: 0,
        status,
        reason,
    });
    match import_runs::find_run(&importer.store, run.id).await {
        Ok(Some(ended)) => ended,
        _ => ImportRun {
            status,
            reason,
            ..run
        },
    }
}

async fn fetch_and_commit(
    importer: &Importer,
    run: &ImportRun,
    stats: &TrafficStats,
) -> Result<ImportCounts, (Option<ImportMode>, ImportError)> {
    let fetch_started = std::time::Instant::now();
    let fetched = fetch(importer, run, stats).await.map_err(|e| (None, e))?;
    let mode = Some(fetched.mode);
    tracing::info!(
        tenant_id = %run.tenant_id,
        records = fetched.spool.len(),
        pages = stats.pages(),
        fetch_ms = fetch_started.elapsed().as_millis() as u64,
        "import fetched, committing"
    );
    report(
        importer,
        run,
        stats,
        Phase::Committing,
        fetched.spool.len() as i64,
    );
    let mut reader = fetched
        .spool
        .finish()
        .map_err(|e| (mode, ImportError::Spool(e.to_string())))?;
    let commit = ImportCommit {
        run,
        mode: fetched.mode,
        subscriptions: &fetched.subscriptions,
        unknown_skus: &fetched.unknown_skus,
        service_plans: &fetched.service_plans,
        delta_link: fetched.delta_link.as_deref(),
        seen_at: Utc::now(),
        fetched: ImportCounts {
            pages: stats.pages(),
            retries: stats.retries(),
            ..ImportCounts::default()
        },
        warnings: &fetched.warnings,
        commerce: fetched.commerce.as_deref(),
        sign_ins: fetched.sign_ins.as_ref(),
    };
    let _turn = importer.commit_turn().await;
    import_commit::commit_import(&importer.store, &commit, &mut reader)
        .await
        .map_err(|e| (mode, e.into()))
}

fn report(importer: &Importer, run: &ImportRun, stats: &TrafficStats, phase: Phase, users: i64) {
    importer.progress.publish(Progress {
        run_id: run.id,
        tenant_id: run.tenant_id,
        phase,
        pages: stats.pages(),
        users,
        status: RunStatus::Running,
        reason: None,
    });
}

async fn fetch(
    importer: &Importer,
    run: &ImportRun,
    stats: &TrafficStats,
) -> Result<Fetched, ImportError> {
    let tokens = importer.tokens()?;
    let graph = GraphClient::new(
        &importer.upstream,
        &importer.settings.graph_url,
        tokens,
        run.tenant_id.uuid(),
        stats,
    );
    report(importer, run, stats, Phase::Starting, 0);
    let skus = fetch_skus(&graph, run).await?;
    let basis = import_runs::import_basis(&importer.store, run.tenant_id).await?;
    let mut warnings = Vec::new();
    let users = UserReader {
        importer,
        run,
        stats,
        graph: &graph,
    }
    .read_all(&basis, &mut warnings)
    .await?;
    let sign_ins = read_sign_ins(&graph, run).await;
    let ((mut subscriptions, service_plans), unknown_skus) =
        complete_skus(&graph, run, skus, users.spool.licensed_skus()).await?;
    // After the last SKU read, so that every SKU stored is linked and classified.
    let commerce = super::commerce::read_commerce(
        importer,
        run,
        stats,
        &graph,
        &mut subscriptions,
        &mut warnings,
    )
    .await?;
    Ok(Fetched {
        mode: users.mode,
        subscriptions,
        service_plans,
        unknown_skus,
        spool: users.spool,
        delta_link: users.delta_link,
        warnings,
        commerce,
        sign_ins,
    })
}

/// Every user's sign-in activity, listed apart from the users (delta queries do not return
/// it; reading it costs one request per 500 users). Graph refusing it (a tenant without
/// Entra ID P1/P2 answers 403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant`; a
/// missing `AuditLog.Read.All` answers 403 too) is recorded as unavailable with its code and
/// message, and fails nothing. Any other failure keeps what the last import stored (`None`).
async fn read_sign_ins(graph: &GraphClient<'_>, run: &ImportRun) -> Option<SignInImport> {
    let mut rows = Vec::new();
    let outcome: Result<(), ImportError> = async {
        let mut url = graph.sign_ins_url()?;
        loop {
            let page = graph::parse_sign_in_page(&graph.get(&url, Read::Listing).await?)?;
            for user in page.value {
                let id = mapping::user_id(&user.id)?;
                let a = user.sign_in_activity;
                rows.push((
                    id,
                    SignInActivity {
                        last_sign_in: a.as_ref().and_then(|a| a.last_sign_in_date_time),
                        last_non_interactive_sign_in: a
                            .as_ref()
                            .and_then(|a| a.last_non_interactive_sign_in_date_time),
                        last_successful_sign_in: a
                            .as_ref()
                            .and_then(|a| a.last_successful_sign_in_date_time),
                        observed_at: Utc::now(),
                    },
                ));
            }
            match page.next_link {
                Some(next) => url = graph.link(&next)?,
                None => return Ok(()),
            }
        }
    }
    .await;
    match outcome {
        Ok(()) => Some(SignInImport::Read(rows)),
        Err(ImportError::Refused { code, message, .. }) => {
            tracing::info!(tenant_id = %run.tenant_id, code = %code, "sign-in activity refused");
            Some(SignInImport::Refused { code, message })
        }
        Err(err) => {
            tracing::warn!(tenant_id = %run.tenant_id, error = %err, "sign-in activity not read, keeping the last read");
            None
        }
    }
}

fn new_spool() -> Result<Spool, ImportError> {
    Spool::new().map_err(|e| ImportError::Spool(e.to_string()))
}

/// `$deltatoken=latest`: a link for "now". Graph refusing it fails nothing: this run stores
/// no link, and the next one starts with an initial delta round, which ends in a link.
async fn latest_delta_link(
    graph: &GraphClient<'_>,
    warnings: &mut Vec<ImportWarning>,
) -> Result<Option<String>, ImportError> {
    let refused = match graph.get(&graph.latest_delta_url()?, Read::Listing).await {
        Ok(body) => match graph::parse_users_page(&body) {
            Ok(page) if page.delta_link.is_some() => return Ok(page.delta_link),
            Ok(_) => "the answer carried no @odata.deltaLink".to_owned(),
            Err(err) => err.to_string(),
        },
        // The token itself failing fails the listing too; say so with its own reason.
        Err(err @ ImportError::Refused { .. })
            if err.reason() != FailureReason::InvalidUpstreamData =>
        {
            return Err(err);
        }
        Err(err) => err.to_string(),
    };
    warnings.push(ImportWarning {
        code: ImportWarningCode::DeltaLatestRefused,
        message: format!(
            "$deltatoken=latest was not answered with a delta link ({refused}); the users were \
             listed without one, and the next run starts with an initial delta round"
        ),
    });
    Ok(None)
}

/// A `subscribedSkus` answer: the SKUs and their service plans.
type Skus = (Vec<Subscription>, Vec<ServicePlan>);

/// The tenant's SKUs once its users are read. When a license names a SKU the first
/// `subscribedSkus` answer lacked (bought between the two reads, or orphaned), the SKUs are
/// read once more and the second answer is used. Returns the SKUs and the licensed SKUs that
/// answer still lacks, in SKU order.
async fn complete_skus(
    graph: &GraphClient<'_>,
    run: &ImportRun,
    first: Skus,
    licensed: &HashSet<SkuId>,
) -> Result<(Skus, Vec<SkuId>), ImportError> {
    let missing = |skus: &Skus| {
        let listed: HashSet<SkuId> = skus.0.iter().map(|s| s.sku_id).collect();
        let mut missing: Vec<SkuId> = licensed.difference(&listed).copied().collect();
        missing.sort_unstable();
        missing
    };
    let first_missing = missing(&first);
    if first_missing.is_empty() {
        return Ok((first, first_missing));
    }
    let again = fetch_skus(graph, run).await?;
    let still_missing = missing(&again);
    // SKUs found on the second read are stored like any other: the run's data is complete,
    // and a purchase between two reads needs nothing from an operator (so no warning).
    tracing::info!(
        tenant_id = %run.tenant_id,
        missing = first_missing.len(),
        still_missing = still_missing.len(),
        "licenses named SKUs subscribedSkus did not list; read it again"
    );
    Ok((again, still_missing))
}

async fn fetch_skus(graph: &GraphClient<'_>, run: &ImportRun) -> Result<Skus, ImportError> {
    let now = Utc::now();
    let mut url = graph.url("subscribedSkus")?;
    let mut subscriptions = Vec::new();
    let mut plans = Vec::new();
    loop {
        let page = graph::parse_skus_page(&graph.get(&url, Read::Listing).await?)?;
        for sku in page.value {
            let (subscription, sku_plans) = mapping::subscription(run.tenant_id, sku, now)?;
            if subscriptions
                .iter()
                .any(|s: &Subscription| s.sku_id == subscription.sku_id)
            {
                return Err(ImportError::Malformed {
                    message: format!("subscribedSkus lists SKU {} twice", subscription.sku_id),
                });
            }
            subscriptions.push(subscription);
            plans.extend(sku_plans);
        }
        match page.next_link {
            Some(next) => url = graph.link(&next)?,
            None => return Ok((subscriptions, plans)),
        }
    }
}

/// What reading a tenant's users needs.
struct UserReader<'a> {
    importer: &'a Importer,
    run: &'a ImportRun,
    stats: &'a TrafficStats,
    graph: &'a GraphClient<'a>,
}

/// A tenant's users as read: how, the spool of records, the delta link to keep.
struct UsersRead {
    mode: ImportMode,
    spool: Spool,
    delta_link: Option<String>,
}

impl UserReader<'_> {
    /// Reads the tenant's users: the changes since the stored delta link, or (without one, or
    /// when Graph refuses it) every user.
    async fn read_all(
        &self,
        basis: &ImportBasis,
        warnings: &mut Vec<ImportWarning>,
    ) -> Result<UsersRead, ImportError> {
        if let Some(link) = &basis.delta_link {
            let mut spool = new_spool()?;
            let url = self.graph.link(link)?;
            match self
                .read(url, Semantics::Changes, &mut spool, warnings)
                .await
            {
                Ok(delta_link) => {
                    return Ok(UsersRead {
                        mode: ImportMode::Delta,
                        spool,
                        delta_link,
                    });
                }
                Err(ImportError::DeltaExpired { code, expired }) => {
                    tracing::info!(tenant_id = %self.run.tenant_id, code = %code, "delta link rejected, importing in full");
                    // Expiry is routine (7 days); anything else is worth telling the operator.
                    if !expired {
                        warnings.push(ImportWarning {
                            code: ImportWarningCode::DeltaLinkRefused,
                            message: format!(
                                "Graph refused the stored delta link ({code}); every user was \
                                 listed instead and a new link was taken"
                            ),
                        });
                    }
                    warnings.retain(|w| w.code != ImportWarningCode::PageTokenExpired);
                }
                Err(other) => return Err(other),
            }
        }

        let mut spool = new_spool()?;
        let delta_link = if basis.initial_delta_next
            || basis.present_users >= self.importer.settings.large_tenant_users
        {
            // Large tenants: 999 users a page through an initial delta round, whose
            // `manager@delta` carries the managers (reference §4.3), and which ends in a delta
            // link. Also the way back to a delta link after `$deltatoken=latest` was refused.
            let url = self.graph.delta_url()?;
            self.read(url, Semantics::InitialDelta, &mut spool, warnings)
                .await?
        } else {
            // Take the delta link first, so that changes made while listing are replayed next
            // run.
            let latest = latest_delta_link(self.graph, warnings).await?;
            let url = self.graph.users_url()?;
            self.read(url, Semantics::Listing, &mut spool, warnings)
                .await?;
            latest
        };
        Ok(UsersRead {
            mode: ImportMode::Full,
            spool,
            delta_link,
        })
    }

    /// Follows a user listing or delta round from `url` to its end, spooling every record.
    /// A page token that expired while paging (`Directory_ExpiredPageToken`) restarts the
    /// round once, with an empty spool. Returns the delta link the last page carried, if any.
    async fn read(
        &self,
        url: url::Url,
        semantics: Semantics,
        spool: &mut Spool,
        warnings: &mut Vec<ImportWarning>,
    ) -> Result<Option<String>, ImportError> {
        match self.read_once(url.clone(), semantics, spool).await {
            Err(ImportError::Refused { code, message, .. })
                if code == EXPIRED_PAGE_TOKEN
                    && !warnings
                        .iter()
                        .any(|w| w.code == ImportWarningCode::PageTokenExpired) =>
            {
                tracing::info!(tenant_id = %self.run.tenant_id, "page token expired, reading again from the start");
                warnings.push(ImportWarning {
                    code: ImportWarningCode::PageTokenExpired,
                    message: format!(
                        "a page token expired while paging ({message}); the listing was read \
                         again from its first page"
                    ),
                });
                *spool = new_spool()?;
                self.read_once(url, semantics, spool).await
            }
            other => other,
        }
    }

    async fn read_once(
        &self,
        mut url: url::Url,
        semantics: Semantics,
        spool: &mut Spool,
    ) -> Result<Option<String>, ImportError> {
        let read = match semantics {
            Semantics::Listing => Read::Listing,
            Semantics::InitialDelta => Read::Delta,
            Semantics::Changes => Read::StoredDelta,
        };
        let mut users = 0i64;
        loop {
            let body = self.graph.get(&url, read).await?;
            let page = graph::parse_users_page(&body)?;
            drop(body);
            for user in page.value {
                let change = mapping::user_change(user, semantics)?;
                // An initial round may report users already gone; they are simply not present.
                if semantics == Semantics::InitialDelta && matches!(change, UserChange::Removed(_))
                {
                    continue;
                }
                spool
                    .push(change)
                    .map_err(|e| ImportError::Spool(e.to_string()))?;
                users += 1;
            }
            report(self.importer, self.run, self.stats, Phase::Users, users);
            match (page.next_link, page.delta_link) {
                (Some(next), _) => url = self.graph.link(&next)?,
                (None, delta_link) => return Ok(delta_link),
            }
        }
    }
}

/// Graph's code for a `$skiptoken` that waited too long (reference §3).
const EXPIRED_PAGE_TOKEN: &str = "Directory_ExpiredPageToken";

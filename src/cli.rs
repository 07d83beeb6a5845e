//! The command line: `serve`, `migrate`, `import`, `schema`, `simulate`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::importer::ImporterSettings;
use crate::config::telemetry::LogFormat;
use crate::config::{Config, Overrides, Settings, SettingsError};
use crate::domain::{Cursor, ImportTrigger, PageRequest, TenantId, TenantScope};
use crate::importer::Importer;
use crate::metrics::Metrics;
use crate::server::{self, ServerParts};
use crate::store::{StatementObserver, Store, StoreError, import_runs};
use crate::{demo, graphql, import_report, importer, simulator, store, telemetry};
use std::collections::HashMap;

/// tenantgraph: every CSP customer's Microsoft 365 tenant, as a federated GraphQL API.
#[derive(Debug, Parser)]
#[command(name = "tenantgraph", version, about)]
pub struct Cli {
    /// TOML file with settings (flags and TENANTGRAPH_* variables win over it).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log line format.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the GraphQL API (applies pending migrations first).
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080; env: TENANTGRAPH_BIND].
        #[arg(long, value_name = "ADDR")]
        bind: Option<std::net::SocketAddr>,
        /// Start on SQLite with the deterministic demo data set, ready to query.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending migrations to the store and exit.
    Migrate,
    /// Import every customer tenant once (or one), show progress, print a summary; exits
    /// non-zero when any tenant failed.
    #[command(after_help = IMPORT_SETTINGS)]
    Import {
        /// Import only this tenant (Entra tenant id).
        #[arg(long, value_name = "ID")]
        tenant: Option<String>,
        /// Record the import as observed on this date (backfills, tests, demos): not after
        /// today (UTC), and not before the date a tenant's last import observed.
        #[arg(long, value_name = "YYYY-MM-DD")]
        as_of: Option<chrono::NaiveDate>,
    },
    /// Print the federation SDL of the GraphQL schema.
    Schema,
    /// Run the Microsoft stand-in (Entra token endpoint, Partner Center, Graph) until stopped.
    Simulate(SimulateArgs),
}

/// The settings `tenantgraph import` reads, shown by `import --help`.
const IMPORT_SETTINGS: &str = "\
Settings (TENANTGRAPH_* environment variables, or the same keys in the --config file):
  required:
    TENANTGRAPH_CLIENT_ID               the importer app's client id
    TENANTGRAPH_CLIENT_SECRET[_FILE]    its client secret
    TENANTGRAPH_REFRESH_TOKEN[_FILE]    the service user's refresh token (secure application model)
    TENANTGRAPH_SECRET_KEY[_FILE]       32 bytes, base64: encrypts the rotated refresh token
                                        kept in the store
    TENANTGRAPH_PARTNER_TENANT_ID       the partner's tenant id, to list Partner Center customers
      or TENANTGRAPH_IMPORT_TENANTS     a comma-separated list of tenant ids to import instead
  optional:
    TENANTGRAPH_DATABASE_URL            default sqlite://tenantgraph.db?mode=rwc
    TENANTGRAPH_LOGIN_URL, TENANTGRAPH_PARTNER_CENTER_URL, TENANTGRAPH_GRAPH_URL
                                        default: Microsoft's public cloud
All settings, their defaults and meaning: config.default.toml.";

/// Refuses `import` settings that could not import anything: no credentials, or neither a
/// partner tenant nor a tenant list. Checked before the store is opened (or created).
fn check_import_settings(settings: &ImporterSettings) -> Result<(), SettingsError> {
    if settings.credentials.is_none() {
        return Err(SettingsError::missing(
            "importer credentials",
            "set TENANTGRAPH_CLIENT_ID, TENANTGRAPH_CLIENT_SECRET and TENANTGRAPH_REFRESH_TOKEN \
             (see tenantgraph import --help)",
        ));
    }
    if settings.partner_tenant_id.is_none() && settings.tenants.is_none() {
        return Err(SettingsError::missing(
            "TENANTGRAPH_PARTNER_TENANT_ID",
            "set it to list Partner Center customers, or set TENANTGRAPH_IMPORT_TENANTS to \
             import a fixed list (see tenantgraph import --help)",
        ));
    }
    Ok(())
}

/// Flags of `tenantgraph simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9400")]
    pub bind: std::net::SocketAddr,
    /// Number of customer tenants.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub tenants: usize,
    /// Users of each tenant on day 0.
    #[arg(long, value_name = "M", default_value_t = 50)]
    pub users_per_tenant: usize,
    /// Seed of the generated data.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Starting day (the data changes from day to day).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub day: u32,
    /// Latency added to every response, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Inject a failure: `<SELECTOR>=<KIND>[:ARGS]`, SELECTOR `*`, a 0-based index or a GUID.
    #[arg(long = "fault", value_name = "SPEC")]
    pub faults: Vec<simulator::FaultSpec>,
    /// Name members in their tenant's verified custom domain (`…@alpenhof-demo.ch`) rather
    /// than in `onmicrosoft.com`, as `serve --demo` does.
    #[arg(long)]
    pub custom_domains: bool,
    /// Client id the token endpoint accepts [default: tenantgraph-sim-client].
    #[arg(long)]
    pub client_id: Option<String>,
    /// Client secret the token endpoint accepts [default: sim-client-secret].
    #[arg(long)]
    pub client_secret: Option<String>,
    /// Initial refresh token the token endpoint accepts [default: sim-initial-refresh-token].
    #[arg(long)]
    pub refresh_token: Option<String>,
    /// The partner tenant id (Partner Center tokens are redeemed there).
    #[arg(long, value_name = "GUID")]
    pub partner_tenant_id: Option<uuid::Uuid>,
}

/// Why a command failed; settings errors exit with status 2, others with 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A setting is invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl CliError {
    /// Process exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Settings(_) => 2,
            _ => 1,
        }
    }
}

impl Cli {
    fn config(&self) -> Result<Config, SettingsError> {
        let mut overrides = Overrides {
            log_format: self.log_format,
            ..Overrides::default()
        };
        if let Command::Serve { bind, demo } = &self.command {
            overrides.bind = *bind;
            overrides.demo = *demo;
        }
        Settings::load(self.config.as_deref(), &overrides)
    }
}

/// Runs the parsed command to completion.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    if let Command::Schema = cli.command {
        print!("{}", graphql::federation_sdl(&graphql::build()));
        return Ok(());
    }
    if let Command::Simulate(args) = cli.command {
        return simulate(args, cli.log_format.unwrap_or_default()).await;
    }
    let config = cli.config()?;
    // `serve` refuses to start without a usable authentication mode, before touching the store.
    let auth = match cli.command {
        Command::Serve { .. } => Some(config.auth()?),
        _ => None,
    };
    // So do `serve` and `import` with importer credentials but no key to encrypt the rotated
    // refresh token with (`--demo` makes its own key).
    if matches!(cli.command, Command::Serve { .. } | Command::Import { .. }) && !config.demo {
        config.importer()?;
    }
    // `import` without what it needs fails before it opens (or creates) the store.
    if let Command::Import { .. } = cli.command {
        check_import_settings(&config.importer()?)?;
    }
    // Dropped when the command ends, however it ends: exports the spans still queued.
    let _telemetry = telemetry::init(
        config.telemetry.log_format,
        &config.telemetry.log_level,
        config.telemetry.otlp.as_ref(),
    );
    let metrics = Arc::new(Metrics::new().map_err(|e| CliError::Other(e.to_string()))?);
    let observer: StatementObserver = {
        let metrics = metrics.clone();
        Arc::new(move |s| {
            metrics.record_statement(s.elapsed, s.failed);
            telemetry::record_statement(s.db_system(), s.sql_text(), s.elapsed, s.failed);
        })
    };
    let store_settings = &config.store;
    let store = Store::connect(store_settings, Some(observer)).await?;
    crate::store::migrate(&store).await?;
    match cli.command {
        Command::Migrate => {
            tracing::info!(url = %store_settings.masked_url(), "migrations applied");
            Ok(())
        }
        Command::Serve { .. } => {
            let Some(auth) = auth else {
                return Err(CliError::Other(
                    "authentication settings were not read".to_owned(),
                ));
            };
            if matches!(auth.mode, crate::config::auth::AuthMode::None) {
                tracing::warn!(
                    bind = %config.bind,
                    "authentication is off (TENANTGRAPH_AUTH_MODE=none): every request acts as \
                     partner administrator on every tenant; loopback only"
                );
            }
            // `--demo` imports from the built-in simulator, through the real importer path.
            let (importer_settings, demo_simulator) = if config.demo {
                let (demo_settings, sim) = demo::upstream(&config.settings)
                    .await
                    .map_err(CliError::Other)?;
                (demo_settings.check()?.importer()?, Some(sim))
            } else {
                (config.importer()?, None)
            };
            let importer = Importer::new(store.clone(), importer_settings)
                .await
                .map_err(|e| CliError::Other(format!("cannot start the importer: {e}")))?;
            if let Some(sim) = &demo_simulator {
                demo::import_with_past(&importer, &store, sim)
                    .await
                    .map_err(CliError::Other)?;
            }
            let _schedule = match (&importer.settings().schedule, importer.is_configured()) {
                (Some(cron), true) => Some(tokio::spawn(importer::schedule::run(
                    importer.clone(),
                    cron.clone(),
                ))),
                (Some(_), false) => {
                    tracing::warn!(
                        "scheduled imports are off: TENANTGRAPH_CLIENT_ID, _CLIENT_SECRET and \
                         _REFRESH_TOKEN are not set"
                    );
                    None
                }
                (None, _) => None,
            };
            let metrics_bind = config.telemetry.metrics_bind;
            let running = server::start(
                config.bind,
                ServerParts {
                    store,
                    metrics,
                    graphiql: config.graphiql,
                    importer: importer.is_configured().then(|| importer.clone()),
                    api: config.api.clone(),
                    auth,
                    metrics_bind,
                    audit_retention: config.audit_retention,
                    history_retention_days: config.history_retention_days,
                    alerts: Some(config.alerts.clone()),
                },
            )
            .map_err(|e| {
                let metrics = metrics_bind.map_or_else(String::new, |m| format!(" and {m}"));
                CliError::Other(format!("cannot listen on {}{metrics}: {e}", config.bind))
            })?;
            let handles = [
                Some(running.server.handle()),
                running.metrics_handle.clone(),
            ];
            stop_on_signal(handles.into_iter().flatten().collect())
                .map_err(|e| CliError::Other(format!("cannot install signal handlers: {e}")))?;
            let metrics_addr = running
                .metrics_addr
                .map_or_else(|| "off".to_owned(), |a| format!("http://{a}/metrics"));
            tracing::info!(
                addr = %running.addr,
                metrics = %metrics_addr,
                audit_retention_days = config.settings.audit.audit_retention_days,
                history_retention_days = config.settings.audit.history_retention_days,
                demo = config.demo,
                "serving GraphQL at /graphql"
            );
            let stopped = running.server.await;
            if let Some(handle) = running.metrics_handle {
                handle.stop(true).await;
            }
            stopped.map_err(|e| CliError::Other(format!("server stopped: {e}")))?;
            tracing::info!("shut down");
            Ok(())
        }
        Command::Import { tenant, as_of } => import(store, &config, tenant.as_deref(), as_of).await,
        Command::Schema | Command::Simulate(_) => Ok(()),
    }
}

async fn import(
    store: Store,
    config: &Config,
    tenant: Option<&str>,
    as_of: Option<chrono::NaiveDate>,
) -> Result<(), CliError> {
    let only = tenant
        .map(|t| t.parse::<TenantId>())
        .transpose()
        .map_err(|e| CliError::Other(format!("--tenant: {e}")))?;
    if let Some(as_of) = as_of {
        check_as_of(&store, as_of, only).await?;
    }
    let importer = Importer::new(store.clone(), config.importer()?)
        .await
        .map_err(|e| CliError::Other(format!("cannot start the importer: {e}")))?;
    let display = tokio::spawn(import_report::follow(
        importer.progress().subscribe_all(),
        store.clone(),
    ));
    let result = importer
        .run_all_as_of(ImportTrigger::Cli, None, only, as_of)
        .await;
    // Let the last reports draw before the table.
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    display.abort();
    let summary = result.map_err(|e| {
        CliError::Other(format!(
            "cannot list the tenants to import: {} ({}); {}",
            e,
            e.reason().code(),
            e.reason().remediation()
        ))
    })?;
    let names = tenant_names(&store).await?;
    println!("{}", import_report::summary_table(&summary.runs, &names));
    for run in summary.runs.iter().filter(|r| r.reason.is_some()) {
        let name = names.get(&run.tenant_id).cloned().unwrap_or_default();
        println!(
            "{name} ({}): {} {}: {}\n  what to do: {}",
            run.tenant_id,
            run.reason.map(|r| r.code()).unwrap_or_default(),
            run.upstream_code.as_deref().unwrap_or(""),
            run.upstream_message.as_deref().unwrap_or(""),
            run.remediation().unwrap_or_default()
        );
    }
    if !summary.skipped.is_empty() {
        println!(
            "{} tenant(s) skipped: another run was importing them, or their last import \
             observed a later date",
            summary.skipped.len()
        );
    }
    let failed = summary.runs.iter().filter(|r| r.reason.is_some()).count();
    if failed > 0 {
        return Err(CliError::Other(format!(
            "{failed} of {} tenant imports failed",
            summary.runs.len()
        )));
    }
    Ok(())
}

/// Refuses an `--as-of` date after today (UTC) or before the date a tenant's last import
/// observed (all stored tenants, or `only`), naming the tenants and their dates.
async fn check_as_of(
    store: &Store,
    as_of: chrono::NaiveDate,
    only: Option<TenantId>,
) -> Result<(), CliError> {
    let today = chrono::Utc::now().date_naive();
    if as_of > today {
        return Err(CliError::Other(format!(
            "--as-of {as_of} is after today ({today}, UTC): an import records what it observed"
        )));
    }
    let mut later: Vec<(TenantId, chrono::NaiveDate)> = import_runs::last_observed_dates(store)
        .await?
        .into_iter()
        .filter(|(tenant, last)| *last > as_of && only.is_none_or(|o| o == *tenant))
        .collect();
    if later.is_empty() {
        return Ok(());
    }
    later.sort_by_key(|(tenant, last)| (*last, *tenant));
    let names = tenant_names(store).await?;
    let listed: Vec<String> = later
        .iter()
        .map(|(tenant, last)| {
            let name = names.get(tenant).map_or("", String::as_str);
            format!("{name} ({tenant}) last observed {last}")
        })
        .collect();
    Err(CliError::Other(format!(
        "--as-of {as_of} is before the last import of {} tenant(s): {}; dates per tenant only \
         move forward (import with a date on or after the latest of these, or import the \
         other tenants with --tenant)",
        later.len(),
        listed.join(", ")
    )))
}

async fn tenant_names(store: &Store) -> Result<HashMap<TenantId, String>, CliError> {
    let mut names = HashMap::new();
    let mut after = None;
    loop {
        let page = store::tenants::list_tenants(
            store,
            &TenantScope::All,
            None,
            &PageRequest::new(Some(500), after.clone())
                .map_err(|e| CliError::Other(e.to_string()))?,
        )
        .await?;
        for tenant in &page.items {
            names.insert(tenant.id, tenant.name.clone());
        }
        match page.items.last() {
            Some(last) if page.has_next_page => {
                after = Some(Cursor {
                    ordering: store::tenants::TENANT_ORDERING.to_owned(),
                    key: last.name.clone(),
                    id: last.id.uuid(),
                })
            }
            _ => return Ok(names),
        }
    }
}

/// Runs the simulator until SIGINT/SIGTERM; needs no settings file and no database.
async fn simulate(args: SimulateArgs, log_format: LogFormat) -> Result<(), CliError> {
    let _telemetry = telemetry::init(log_format, "info", None);
    let defaults = simulator::SimulatorConfig::default();
    let config = simulator::SimulatorConfig {
        tenants: args.tenants,
        users_per_tenant: args.users_per_tenant,
        seed: args.seed,
        day: args.day,
        partner_tenant_id: args.partner_tenant_id.unwrap_or(defaults.partner_tenant_id),
        client_id: args.client_id.unwrap_or(defaults.client_id),
        client_secret: args.client_secret.unwrap_or(defaults.client_secret),
        refresh_token: args.refresh_token.unwrap_or(defaults.refresh_token),
        latency: std::time::Duration::from_millis(args.latency_ms),
        faults: args.faults.into_iter().map(Into::into).collect(),
        custom_domains: args.custom_domains,
        ..defaults
    };
    let running = simulator::start(config, args.bind)
        .await
        .map_err(|e| CliError::Other(format!("cannot listen on {}: {e}", args.bind)))?;
    let base = running.base_url();
    tracing::info!(
        base_url = %base,
        tenants = args.tenants,
        users_per_tenant = args.users_per_tenant,
        TENANTGRAPH_PARTNER_TENANT_ID = %running.config().partner_tenant_id,
        TENANTGRAPH_CLIENT_ID = %running.config().client_id,
        TENANTGRAPH_LOGIN_URL = %base,
        TENANTGRAPH_PARTNER_CENTER_URL = %base,
        TENANTGRAPH_GRAPH_URL = %base,
        "simulator listening; point tenantgraph at it with these settings"
    );
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())
            .map_err(|e| CliError::Other(format!("cannot install signal handlers: {e}")))?;
        let mut interrupt = signal(SignalKind::interrupt())
            .map_err(|e| CliError::Other(format!("cannot install signal handlers: {e}")))?;
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    }
    tracing::info!("shutdown signal received, stopping the simulator");
    running.stop().await;
    Ok(())
}

/// Stops the servers (the API, then the metrics listener) gracefully (in-flight requests finish,
/// up to 10 s) on SIGTERM or SIGINT.
/// The handlers are registered before this returns.
fn stop_on_signal(handles: Vec<actix_web::dev::ServerHandle>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("shutdown signal received, finishing in-flight requests");
        for handle in handles {
            handle.stop(true).await;
        }
    });
    Ok(())
}

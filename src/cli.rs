//! The command line: `serve`, `migrate`, `import`, `schema`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::{LogFormat, Overrides, Settings, SettingsError};
use crate::domain::{Cursor, ImportTrigger, PageRequest, TenantId, TenantScope};
use crate::importer::Importer;
use crate::metrics::Metrics;
use crate::server::{self, ServerParts};
use crate::store::{StatementObserver, Store, StoreError};
use crate::{demo, graphql, import_report, store, telemetry};
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
    Import {
        /// Import only this tenant (Entra tenant id).
        #[arg(long, value_name = "ID")]
        tenant: Option<String>,
    },
    /// Print the federation SDL of the GraphQL schema.
    Schema,
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
    fn settings(&self) -> Result<Settings, SettingsError> {
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
    let settings = cli.settings()?;
    telemetry::init(settings.log_format, &settings.log_level);
    let metrics = Arc::new(Metrics::new().map_err(|e| CliError::Other(e.to_string()))?);
    let observer: StatementObserver = {
        let metrics = metrics.clone();
        Arc::new(move |s| metrics.record_statement(s.elapsed, s.failed))
    };
    let store_settings = settings.store();
    let store = Store::connect(&store_settings, Some(observer)).await?;
    store.migrate().await?;
    match cli.command {
        Command::Migrate => {
            tracing::info!(url = %store_settings.masked_url(), "migrations applied");
            Ok(())
        }
        Command::Serve { .. } => {
            if settings.demo {
                let counts = demo::seed(&store).await?;
                tracing::info!(
                    tenants = counts.tenants,
                    users = counts.users,
                    "demo data loaded"
                );
            }
            let running = server::start(
                settings.bind,
                ServerParts {
                    store,
                    metrics,
                    graphiql: settings.graphiql,
                    importer: None,
                },
            )
            .map_err(|e| CliError::Other(format!("cannot listen on {}: {e}", settings.bind)))?;
            stop_on_signal(running.server.handle())
                .map_err(|e| CliError::Other(format!("cannot install signal handlers: {e}")))?;
            tracing::info!(addr = %running.addr, demo = settings.demo, "serving GraphQL at /graphql");
            running
                .server
                .await
                .map_err(|e| CliError::Other(format!("server stopped: {e}")))?;
            tracing::info!("shut down");
            Ok(())
        }
        Command::Import { tenant } => import(store, &settings, tenant.as_deref()).await,
        Command::Schema => Ok(()),
    }
}

async fn import(store: Store, settings: &Settings, tenant: Option<&str>) -> Result<(), CliError> {
    let only = tenant
        .map(|t| t.parse::<TenantId>())
        .transpose()
        .map_err(|e| CliError::Other(format!("--tenant: {e}")))?;
    let importer = Importer::new(store.clone(), settings.importer()?)
        .await
        .map_err(|e| CliError::Other(format!("cannot start the importer: {e}")))?;
    if !importer.is_configured() {
        return Err(CliError::Settings(SettingsError::missing(
            "importer credentials",
            "set TENANTGRAPH_CLIENT_ID, TENANTGRAPH_CLIENT_SECRET and TENANTGRAPH_REFRESH_TOKEN",
        )));
    }
    let names = tenant_names(&store).await?;
    let display = tokio::spawn(import_report::follow(
        importer.progress().subscribe_all(),
        names,
    ));
    let result = importer.run_all(ImportTrigger::Cli, None, only).await;
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
            "{} tenant(s) skipped: another run was importing them",
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

/// Stops the server gracefully (in-flight requests finish, up to 10 s) on SIGTERM or SIGINT.
/// The handlers are registered before this returns.
fn stop_on_signal(handle: actix_web::dev::ServerHandle) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("shutdown signal received, finishing in-flight requests");
        handle.stop(true).await;
    });
    Ok(())
}

//! The command line: `serve`, `migrate`, `schema`, `simulate`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::{LogFormat, Overrides, Settings, SettingsError};
use crate::metrics::Metrics;
use crate::server::{self, ServerParts};
use crate::store::{StatementObserver, Store, StoreError};
use crate::{demo, graphql, simulator, telemetry};

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
    /// Print the federation SDL of the GraphQL schema.
    Schema,
    /// Run the Microsoft stand-in (Entra token endpoint, Partner Center, Graph) until stopped.
    Simulate(SimulateArgs),
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
    if let Command::Simulate(args) = cli.command {
        return simulate(args, cli.log_format.unwrap_or_default()).await;
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
        Command::Schema | Command::Simulate(_) => Ok(()),
    }
}

/// Runs the simulator until SIGINT/SIGTERM; needs no settings file and no database.
async fn simulate(args: SimulateArgs, log_format: LogFormat) -> Result<(), CliError> {
    telemetry::init(log_format, "info");
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

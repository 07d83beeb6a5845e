//! The binary's importer settings for a run against the simulator.

use std::process::Command;

use tenantgraph::simulator::SimulatorConfig;

use super::SECRET_KEY;

/// Points `command`'s importer at the simulator serving `config` on `base`, storing into `db`.
pub(crate) fn import_from_simulator<'c>(
    command: &'c mut Command,
    base: &str,
    config: &SimulatorConfig,
    db: &str,
) -> &'c mut Command {
    command
        .env("TENANTGRAPH_DATABASE_URL", db)
        .env("TENANTGRAPH_LOGIN_URL", base)
        .env("TENANTGRAPH_PARTNER_CENTER_URL", base)
        .env("TENANTGRAPH_GRAPH_URL", base)
        .env("TENANTGRAPH_CLIENT_ID", &config.client_id)
        .env("TENANTGRAPH_CLIENT_SECRET", &config.client_secret)
        .env("TENANTGRAPH_REFRESH_TOKEN", &config.refresh_token)
        .env("TENANTGRAPH_SECRET_KEY", SECRET_KEY)
        .env(
            "TENANTGRAPH_PARTNER_TENANT_ID",
            config.partner_tenant_id.to_string(),
        )
}

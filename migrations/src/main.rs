//! SeaORM's migration CLI for tenantgraph's store: `cargo run -p migrations -- up|down|status`.

use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    cli::run_cli(migrations::Migrator).await;
}

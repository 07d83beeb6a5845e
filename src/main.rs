//! The `tenantgraph` binary: parse the command line, run it, map errors to exit codes.

use clap::Parser;

#[actix_web::main]
async fn main() {
    let cli = tenantgraph::cli::Cli::parse();
    if let Err(err) = tenantgraph::cli::run(cli).await {
        eprintln!("tenantgraph: {err}");
        std::process::exit(err.exit_code());
    }
}

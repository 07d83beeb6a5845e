//! The `tenantgraph` binary: parse the command line, run it, map errors to exit codes.

use clap::Parser;

// Rows are allocated on the database driver's threads and freed on the HTTP workers; glibc's
// allocator spent a third of the CPU time of a users page on that (perf, benches/users_page.sh).
// Built with `no_thp`: transparent huge pages would double the idle resident memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() {
    let cli = tenantgraph::cli::Cli::parse();
    if let Err(err) = tenantgraph::cli::run(cli).await {
        eprintln!("tenantgraph: {err}");
        std::process::exit(err.exit_code());
    }
}

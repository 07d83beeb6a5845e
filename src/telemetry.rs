//! The tracing subscriber: log format and filter. Request ids come from `TracingLogger` in
//! `server`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::telemetry::LogFormat;

/// Installs the global subscriber writing to stderr. `filter` is a `tracing` filter such as
/// `info`; it has been checked by `config`.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal: a file, a pipe or a journal would get escape codes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // A second init (in tests) keeps the first subscriber; that's fine.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

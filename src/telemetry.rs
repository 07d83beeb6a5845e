//! The tracing subscriber: log format and filter, and, when `TENANTGRAPH_OTLP_ENDPOINT` is set,
//! the OpenTelemetry exporter of spans (OTLP over HTTP, protobuf). Request ids come from
//! `TracingLogger` in `server`.
//!
//! Spans are exported by the SDK's batch processor on a thread of its own: ending a span only
//! queues it (a full queue drops it), so a slow or absent collector never holds up a request.
//! With the endpoint unset no exporter exists, and the spans made only for export (GraphQL
//! operation, DataLoader batch, SQL statement, upstream call) are not made: see
//! [`exporting`].

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::telemetry::{LogFormat, OtlpSettings};

/// The tracer of the exporting subscriber; set once, when the subscriber with the exporter is
/// installed.
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// The longest `db.query.text` exported, in bytes: a multi-row upsert of an import runs to tens
/// of kilobytes of placeholders.
const MAX_QUERY_TEXT: usize = 4096;

/// How long one export may take before the batch is dropped.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether spans are exported: the endpoint is set and the exporting subscriber is the
/// process's. Spans made only for export are skipped when this is false.
pub fn exporting() -> bool {
    TRACER.get().is_some()
}

/// Holds the exporter while the process runs; dropping it exports the spans still queued
/// (waiting at most the export timeout).
#[must_use = "dropping the guard shuts the exporter down"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(error = %err, "spans still queued could not be exported");
        }
    }
}

/// Installs the global subscriber writing to stderr, plus the OTLP exporter when `otlp` is
/// set. `filter` is a `tracing` filter such as `info`; it has been checked by `config`. It
/// filters the log lines only: the exporter gets tenantgraph's spans at `info` whatever it says.
pub fn init(format: LogFormat, filter: &str, otlp: Option<&OtlpSettings>) -> Telemetry {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let without_export = |filter: EnvFilter| {
        // The filter applies to every layer, as before there was an exporter: nothing is
        // recorded that no log line shows. A second init (in tests) keeps the first
        // subscriber; that's fine.
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(log_lines(format))
            .try_init();
        Telemetry { provider: None }
    };
    let Some(otlp) = otlp else {
        return without_export(filter);
    };
    let provider = match provider(otlp) {
        Ok(provider) => provider,
        Err(err) => {
            let telemetry = without_export(filter);
            tracing::error!(error = %err, "cannot start the OTLP exporter: no spans are exported");
            return telemetry;
        }
    };
    let tracer = provider.tracer("tenantgraph");
    let spans = tracing_opentelemetry::layer()
        .with_tracer(tracer.clone())
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_target(false)
        .with_filter(Targets::new().with_target("tenantgraph", LevelFilter::INFO));
    let installed = tracing_subscriber::registry()
        .with(log_lines(format).with_filter(filter))
        .with(spans)
        .try_init();
    if installed.is_err() {
        // Another subscriber is the process's: its spans would not reach this tracer.
        let _ = provider.shutdown();
        return Telemetry { provider: None };
    }
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let _ = TRACER.set(tracer);
    tracing::info!(
        endpoint = %otlp.masked_url(),
        service = %otlp.service_name,
        "exporting spans over OTLP"
    );
    Telemetry {
        provider: Some(provider),
    }
}

/// The layer writing log lines to stderr in `format`.
fn log_lines<S>(format: LogFormat) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    // Colours only for a terminal: a file, a pipe or a journal would get escape codes.
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
        LogFormat::Pretty => fmt.compact().boxed(),
    }
}

/// The tracer provider with a batch exporter to the collector.
fn provider(otlp: &OtlpSettings) -> Result<SdkTracerProvider, String> {
    // The exporter's HTTP client is a reqwest client, which needs the TLS provider.
    crate::install_tls_provider();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(otlp.traces_url.clone())
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let resource = Resource::builder_empty()
        .with_service_name(otlp.service_name.clone())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The caller's trace context from W3C `traceparent`/`tracestate` headers, made the parent of
/// `span` (the request's); does nothing unless [`exporting`]. A missing or malformed header
/// leaves the request the root of a trace of its own.
pub fn continue_callers_trace(
    span: &tracing::Span,
    traceparent: Option<&str>,
    tracestate: Option<&str>,
) {
    if !exporting() {
        return;
    }
    let Some(traceparent) = traceparent else {
        return;
    };
    let mut headers = std::collections::HashMap::with_capacity(2);
    headers.insert("traceparent".to_owned(), traceparent.to_owned());
    if let Some(tracestate) = tracestate {
        headers.insert("tracestate".to_owned(), tracestate.to_owned());
    }
    let parent =
        opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// One SQL statement, exported as a client span under the current span, timed by the store:
/// `system` is `db.system` (`sqlite`, `postgresql`), `sql` the statement with placeholders
/// (never its bound values). Does nothing unless [`exporting`] inside a sampled span.
pub fn record_statement(system: &'static str, sql: &str, elapsed: Duration, failed: bool) {
    let Some(tracer) = TRACER.get() else {
        return;
    };
    let parent: Context = tracing::Span::current().context();
    if !parent.span().span_context().is_sampled() {
        return;
    }
    let operation = sql
        .split_whitespace()
        .next()
        .unwrap_or("SQL")
        .to_ascii_uppercase();
    let end = SystemTime::now();
    let start = end.checked_sub(elapsed).unwrap_or(end);
    let mut span = tracer
        .span_builder(operation.clone())
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes([
            KeyValue::new("db.system", system),
            KeyValue::new("db.system.name", system),
            KeyValue::new("db.operation.name", operation),
            KeyValue::new("db.query.text", truncated(sql, MAX_QUERY_TEXT).to_owned()),
        ])
        .start_with_context(tracer, &parent);
    if failed {
        span.set_status(Status::error("statement failed"));
    }
    span.end_with_timestamp(end);
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncated(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_text_is_cut_at_a_character_boundary() {
        assert_eq!(truncated("SELECT 1", 64), "SELECT 1");
        assert_eq!(truncated("SELECT 'é'", 9), "SELECT '");
        assert_eq!(truncated("SELECT 'é'", 10), "SELECT 'é");
    }

    #[test]
    fn nothing_is_exported_without_an_endpoint() {
        let _telemetry = init(LogFormat::Pretty, "info", None);
        assert!(!exporting());
        // No tracer: a statement is dropped before anything is made.
        record_statement("sqlite", "SELECT 1", Duration::from_millis(1), false);
    }
}

//! HTTP clients of Microsoft's services: the Entra token endpoint, Partner Center and Graph.
//! Wire types are declared here from shared/reference, never shared with the simulator.
//! [`Upstream`] sends requests with bounded retries on 429, 5xx and dropped connections.

pub mod graph;
pub mod partner_center;
pub mod token;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::HeaderMap;
use tracing::Instrument;

use super::error::ImportError;

/// Counters of one run's upstream traffic.
#[derive(Debug, Default)]
pub struct TrafficStats {
    /// Pages (responses with data) fetched.
    pub pages: AtomicI64,
    /// Requests repeated after a retryable failure.
    pub retries: AtomicI64,
    /// Those repeats by what was answered (`429`, `503`, `sign_in`, `transport`, ...).
    retried_by: Mutex<BTreeMap<&'static str, u64>>,
}

impl TrafficStats {
    /// Counts one fetched page.
    pub fn page(&self) {
        self.pages.fetch_add(1, Ordering::Relaxed);
    }

    /// Pages so far.
    pub fn pages(&self) -> i64 {
        self.pages.load(Ordering::Relaxed)
    }

    /// Retries so far.
    pub fn retries(&self) -> i64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Counts one repeated request and what it answered.
    fn retried(&self, answered: &'static str) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        *self
            .retried_by
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(answered)
            .or_insert(0) += 1;
    }

    /// Retries so far by what was answered.
    pub fn retries_by_answer(&self) -> Vec<(&'static str, u64)> {
        self.retried_by
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(answer, count)| (*answer, *count))
            .collect()
    }
}

/// How often and how long to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First backoff delay without `Retry-After` (doubles each time, with jitter).
    pub base_delay: Duration,
    /// Longest wait, `Retry-After` included.
    pub max_delay: Duration,
}

/// A complete upstream answer (the body read to its end).
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: bytes::Bytes,
}

/// A failed attempt that may be retried.
#[derive(Debug)]
enum Attempt {
    Throttled {
        retry_after: Option<Duration>,
        detail: String,
    },
    Unavailable {
        retry_after: Option<Duration>,
        code: Option<String>,
        detail: String,
    },
}

impl Attempt {
    /// What was answered, as a metrics label from a fixed set.
    fn answered(&self) -> &'static str {
        match self {
            Attempt::Throttled { .. } => "429",
            Attempt::Unavailable { code, detail, .. } => match code.as_deref() {
                _ if detail.starts_with("body cut off") => "transport",
                Some("500") => "500",
                Some("502") => "502",
                Some("503") => "503",
                Some("504") => "504",
                Some(_) => "sign_in",
                None => "transport",
            },
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Attempt::Throttled { retry_after, .. } | Attempt::Unavailable { retry_after, .. } => {
                *retry_after
            }
        }
    }
}

/// An HTTP client with the importer's retry policy.
#[derive(Debug, Clone)]
pub struct Upstream {
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl Upstream {
    /// A client with `timeout` per request.
    pub fn new(timeout: Duration, retry: RetryPolicy) -> Result<Self, ImportError> {
        crate::install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("tenantgraph/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(32)
            .build()
            .map_err(|e| ImportError::Unavailable {
                attempts: 0,
                code: None,
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Upstream { http, retry })
    }

    /// The underlying client, to build requests.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends the request `build` makes, retrying 429, 500, 502, 503, 504 and transport errors
    /// (a dropped connection mid-body included) up to the policy's attempts. Any other status
    /// comes back as an [`Answer`] for the caller to interpret.
    pub async fn send<F>(&self, build: F, stats: &TrafficStats) -> Result<Answer, ImportError>
    where
        F: Fn() -> reqwest::RequestBuilder,
    {
        self.send_retrying(build, stats, |_, _| None).await
    }

    /// [`Upstream::send`], also retrying (with the same backoff) any answer for which
    /// `transient(status, body)` names an error code: the token endpoint's transient sign-in
    /// errors come as 400s (reference §1.6).
    pub async fn send_retrying<F, T>(
        &self,
        build: F,
        stats: &TrafficStats,
        transient: T,
    ) -> Result<Answer, ImportError>
    where
        F: Fn() -> reqwest::RequestBuilder,
        T: Fn(u16, &[u8]) -> Option<String>,
    {
        let attempt = || async {
            let (client, request) = build().build_split();
            let request = request.map_err(|e| Attempt::Unavailable {
                retry_after: None,
                code: None,
                detail: transport_detail(&e),
            })?;
            let span = upstream_span(&request);
            let answer = attempt_once(&client, request, &transient)
                .instrument(span.clone())
                .await;
            if let Err(err) = &answer {
                span.record("error.type", err.answered());
                span.record("otel.status_code", "ERROR");
            }
            answer
        };
        let policy = self.retry;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.base_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.max_attempts.saturating_sub(1) as usize)
            .with_jitter();
        let result = attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .adjust(|err: &Attempt, delay| {
                // `None` means the attempts are used up; Retry-After never extends them.
                delay.map(|d| err.retry_after().map_or(d, |r| r.min(policy.max_delay)))
            })
            .notify(|err: &Attempt, delay| {
                stats.retried(err.answered());
                tracing::debug!(?delay, error = ?err, "upstream request retried");
            })
            .await;
        result.map_err(|err| match err {
            Attempt::Throttled { detail, .. } => ImportError::Throttled {
                attempts: policy.max_attempts,
                message: detail,
            },
            Attempt::Unavailable { code, detail, .. } => ImportError::Unavailable {
                attempts: policy.max_attempts,
                code,
                message: detail,
            },
        })
    }
}

/// One attempt of [`Upstream::send_retrying`]: sends `request` and reads the answer, classifying
/// what is retried.
async fn attempt_once<T>(
    client: &reqwest::Client,
    request: reqwest::Request,
    transient: &T,
) -> Result<Answer, Attempt>
where
    T: Fn(u16, &[u8]) -> Option<String>,
{
    let response = client
        .execute(request)
        .await
        .map_err(|e| Attempt::Unavailable {
            retry_after: None,
            code: None,
            detail: transport_detail(&e),
        })?;
    let status = response.status().as_u16();
    tracing::Span::current().record("http.response.status_code", status);
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(|e| Attempt::Unavailable {
        retry_after: None,
        code: Some(status.to_string()),
        detail: format!("body cut off: {}", transport_detail(&e)),
    })?;
    let retry_after = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    match status {
        429 => Err(Attempt::Throttled {
            retry_after,
            detail: snippet(&body),
        }),
        500 | 502 | 503 | 504 => Err(Attempt::Unavailable {
            retry_after,
            code: Some(status.to_string()),
            detail: format!("HTTP {status}: {}", snippet(&body)),
        }),
        _ if status != 200 && transient(status, &body).is_some() => Err(Attempt::Unavailable {
            retry_after,
            code: transient(status, &body),
            detail: format!("HTTP {status}: {}", snippet(&body)),
        }),
        _ => Ok(Answer {
            status,
            headers,
            body,
        }),
    }
}

/// The client span of one upstream request while spans are exported: method, server and the
/// URL without its query (which may carry tokens, such as a delta link's) or credentials.
fn upstream_span(request: &reqwest::Request) -> tracing::Span {
    if !crate::telemetry::exporting() {
        return tracing::Span::none();
    }
    let url = request.url();
    let mut full = url.clone();
    full.set_query(None);
    full.set_fragment(None);
    let _ = full.set_username("");
    let _ = full.set_password(None);
    tracing::info_span!(
        "upstream request",
        otel.name = %request.method(),
        otel.kind = "client",
        http.request.method = %request.method(),
        server.address = url.host_str().unwrap_or_default(),
        server.port = url.port_or_known_default(),
        url.full = %full,
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    )
}

/// A transport error without the request URL (which may carry tokens in query strings).
fn transport_detail(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_body() || err.is_decode() {
        "body read failed"
    } else {
        "request failed"
    };
    let mut detail = kind.to_owned();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    detail
}

/// The start of a body, for error messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        out.push('…');
    }
    out
}

//! Test support: a real server on port 0 over its own database (SQLite file, or a fresh
//! PostgreSQL database when `TENANTGRAPH_TEST_DATABASE_URL` is set), and GraphQL helpers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tenantgraph::config::Settings;
use tenantgraph::config::alerts::AlertSettings;
use tenantgraph::config::api::ApiSettings;
use tenantgraph::config::auth::AuthSettings;
use tenantgraph::config::store::StoreSettings;
use tenantgraph::importer::Importer;
use tenantgraph::metrics::Metrics;
use tenantgraph::server::{self, ServerParts};
use tenantgraph::store::secrets::Keyring;
use tenantgraph::store::{StatementObserver, Store};
use tokio::sync::OnceCell;

pub(crate) mod csv_body;
pub(crate) mod demo;
pub(crate) mod simulated_import;
pub(crate) mod snapshot;

/// `TENANTGRAPH_SECRET_KEY` of the tests that import with credentials (32 bytes, base64).
pub(crate) const SECRET_KEY: &str = "jXKhcYw2UWzr5Y41vgYU+WEN6axVDi9zhTF2JwPJTz0=";

/// The keyring of base64 keys, as `TENANTGRAPH_SECRET_KEY` and `_PREVIOUS` give them.
pub(crate) fn keyring(current: &str, previous: Option<&str>) -> Keyring {
    use base64::Engine as _;
    let decode = |key: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(key)
            .unwrap()
    };
    Keyring::new(&decode(current), previous.map(decode).as_deref()).unwrap()
}

/// A spawned process that is killed and reaped when dropped, so that a test failing before it
/// stops its server leaves no process behind.
pub(crate) struct KillOnDrop(pub(crate) std::process::Child);

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Both fail harmlessly when the test already stopped and reaped the process.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// The backends every store test runs on: SQLite always, PostgreSQL when configured.
/// Without the PostgreSQL variable the skip is printed, or fails the run under `CI=true`.
pub(crate) fn backends() -> Vec<Backend> {
    if std::env::var("TENANTGRAPH_TEST_DATABASE_URL").is_ok() {
        vec![Backend::Sqlite, Backend::Postgres]
    } else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but TENANTGRAPH_TEST_DATABASE_URL is not set: PostgreSQL cases would be skipped"
        );
        eprintln!("TENANTGRAPH_TEST_DATABASE_URL not set: PostgreSQL cases skipped");
        vec![Backend::Sqlite]
    }
}

/// A database that exists for one test and is removed afterwards.
pub(crate) struct TestDatabase {
    pub(crate) url: String,
    _dir: Option<tempfile::TempDir>,
    drop_pg: Option<(String, String)>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.drop_pg.take() {
            // Drop runs outside async code; use a short-lived runtime on its own thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    if let Ok(admin) =
                        Store::connect(&StoreSettings::for_url(&admin_url), None).await
                    {
                        let _ = admin
                            .execute_raw(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

static SWEPT: OnceCell<()> = OnceCell::const_new();

fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("TENANTGRAPH_TEST_DATABASE_URL is a URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

/// Another connection pool to `store`'s database, which records the SQL of each statement it
/// runs in the list returned beside it.
pub(crate) async fn recording_store(store: &Store) -> (Store, Arc<Mutex<Vec<String>>>) {
    let statements: Arc<Mutex<Vec<String>>> = Arc::default();
    let observer: StatementObserver = {
        let statements = statements.clone();
        Arc::new(move |s| statements.lock().unwrap().push(s.sql()))
    };
    let store = Store::connect(&StoreSettings::for_url(store.url()), Some(observer))
        .await
        .unwrap();
    (store, statements)
}

/// Creates an empty database on `backend`.
pub(crate) async fn database(backend: Backend) -> TestDatabase {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            TestDatabase {
                url,
                _dir: Some(dir),
                drop_pg: None,
            }
        }
        Backend::Postgres => {
            let admin_url = std::env::var("TENANTGRAPH_TEST_DATABASE_URL").unwrap();
            let admin = Store::connect(&StoreSettings::for_url(&admin_url), None)
                .await
                .unwrap();
            SWEPT
                .get_or_init(|| async {
                    sweep_old_databases(&admin_url).await;
                })
                .await;
            let name = format!("tg_test_{}", uuid::Uuid::new_v4().simple());
            admin
                .execute_raw(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            admin.close().await.unwrap();
            TestDatabase {
                url: with_database(&admin_url, &name),
                _dir: None,
                drop_pg: Some((admin_url, name)),
            }
        }
    }
}

/// Drops `tg_test_*` databases left by runs that were killed (older than an hour).
async fn sweep_old_databases(admin_url: &str) {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let Ok(db) = Database::connect(admin_url).await else {
        return;
    };
    let sql = "SELECT d.datname FROM pg_database d WHERE d.datname LIKE 'tg\\_test\\_%' \
               AND (pg_stat_file('base/' || d.oid || '/PG_VERSION', true)).modification < now() - interval '1 hour'";
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_default();
    for row in rows {
        if let Ok(name) = row.try_get::<String>("", "datname") {
            let _ = db
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
    let _ = db.close().await;
}

/// A running server with its own database.
pub(crate) struct TestApp {
    pub(crate) backend: Backend,
    pub(crate) addr: SocketAddr,
    /// The metrics listener's address, apart from the API's.
    pub(crate) metrics_addr: SocketAddr,
    pub(crate) store: Store,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) client: reqwest::Client,
    statements: Arc<Mutex<Option<Vec<String>>>>,
    db: Arc<TestDatabase>,
    handle: actix_web::dev::ServerHandle,
}

impl TestApp {
    /// Starts a server on an empty, migrated database.
    pub(crate) async fn empty(backend: Backend) -> TestApp {
        TestApp::start(backend, None, test_api(), AuthSettings::none()).await
    }

    /// Starts a server on an empty, migrated database that authenticates requests as `auth`
    /// says, with an importer built from `importer` when given.
    pub(crate) async fn with_auth(
        backend: Backend,
        auth: AuthSettings,
        importer: Option<Settings>,
    ) -> TestApp {
        TestApp::start(backend, importer, test_api(), auth).await
    }

    /// Starts a server on an empty, migrated database without the read cache: every operation
    /// reads the store, so statement counts are the same for a first and a repeated read.
    pub(crate) async fn uncached(backend: Backend) -> TestApp {
        let api = ApiSettings {
            read_cache_bytes: 0,
            ..test_api()
        };
        TestApp::start(backend, None, api, AuthSettings::none()).await
    }

    /// Starts a server on an empty, migrated database with these API settings (limits,
    /// introspection, CORS).
    pub(crate) async fn with_api(backend: Backend, api: ApiSettings) -> TestApp {
        TestApp::start(backend, None, api, AuthSettings::none()).await
    }

    /// Starts a server on an empty, migrated database with these API settings, authenticating
    /// requests as `auth` says.
    pub(crate) async fn with_api_and_auth(
        backend: Backend,
        api: ApiSettings,
        auth: AuthSettings,
    ) -> TestApp {
        TestApp::start(backend, None, api, auth).await
    }

    /// Starts a server on an empty, migrated database, with an importer built from `settings`.
    pub(crate) async fn with_importer(backend: Backend, settings: Settings) -> TestApp {
        TestApp::start(backend, Some(settings), test_api(), AuthSettings::none()).await
    }

    /// Starts a server on an empty, migrated database whose webhook dispatcher and alert sweep
    /// run with `alerts` (other test servers run neither, so that statement counts hold).
    pub(crate) async fn with_alerts(backend: Backend, alerts: AlertSettings) -> TestApp {
        TestApp::start_with(
            backend,
            None,
            test_api(),
            AuthSettings::none(),
            Some(alerts),
        )
        .await
    }

    async fn start(
        backend: Backend,
        importer: Option<Settings>,
        api: ApiSettings,
        auth: AuthSettings,
    ) -> TestApp {
        TestApp::start_with(backend, importer, api, auth, None).await
    }

    /// Starts a server on an empty, migrated database with these API settings, its webhook
    /// dispatcher and alert sweep running with `alerts`.
    pub(crate) async fn with_api_and_alerts(
        backend: Backend,
        api: ApiSettings,
        alerts: AlertSettings,
    ) -> TestApp {
        TestApp::start_with(backend, None, api, AuthSettings::none(), Some(alerts)).await
    }

    /// Another server on this app's database, as a restarted process would be, its webhook
    /// dispatcher and alert sweep running with `alerts`.
    pub(crate) async fn restarted(&self, alerts: AlertSettings) -> TestApp {
        TestApp::on_database(
            self.backend,
            self.db.clone(),
            None,
            test_api(),
            AuthSettings::none(),
            Some(alerts),
        )
        .await
    }

    /// Stops serving (what is in flight finishes).
    pub(crate) async fn stop(&self) {
        self.handle.stop(true).await;
    }

    async fn start_with(
        backend: Backend,
        importer: Option<Settings>,
        api: ApiSettings,
        auth: AuthSettings,
        alerts: Option<AlertSettings>,
    ) -> TestApp {
        let db = Arc::new(database(backend).await);
        TestApp::on_database(backend, db, importer, api, auth, alerts).await
    }

    async fn on_database(
        backend: Backend,
        db: Arc<TestDatabase>,
        importer: Option<Settings>,
        api: ApiSettings,
        auth: AuthSettings,
        alerts: Option<AlertSettings>,
    ) -> TestApp {
        // reqwest is built without a default TLS crypto provider; the test client needs one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let metrics = Arc::new(Metrics::new().unwrap());
        let statements: Arc<Mutex<Option<Vec<String>>>> = Arc::default();
        let observer: StatementObserver = {
            let metrics = metrics.clone();
            let statements = statements.clone();
            Arc::new(move |s| {
                metrics.record_statement(s.elapsed, s.failed);
                if let Some(log) = statements.lock().unwrap().as_mut() {
                    log.push(s.sql());
                }
            })
        };
        let store = Store::connect(&StoreSettings::for_url(&db.url), Some(observer))
            .await
            .unwrap();
        tenantgraph::store::migrate(&store).await.unwrap();
        let importer = match importer {
            None => None,
            Some(settings) => Some(
                Importer::new(store.clone(), settings.check().unwrap().importer().unwrap())
                    .await
                    .unwrap(),
            ),
        };
        let running = server::start(
            "127.0.0.1:0".parse().unwrap(),
            ServerParts {
                store: store.clone(),
                metrics: metrics.clone(),
                graphiql: true,
                importer,
                api,
                auth,
                metrics_bind: Some("127.0.0.1:0".parse().unwrap()),
                audit_retention: None,
                history_retention_days: None,
                alerts,
            },
        )
        .unwrap();
        let handle = running.server.handle();
        tokio::spawn(running.server);
        TestApp {
            backend,
            addr: running.addr,
            metrics_addr: running.metrics_addr.unwrap(),
            store,
            metrics,
            client: client(),
            statements,
            db,
            handle,
        }
    }

    /// Starts a server on the demo data set.
    pub(crate) async fn demo(backend: Backend) -> TestApp {
        let app = TestApp::empty(backend).await;
        demo::seed(&app.store).await;
        app
    }

    /// The demo data on a server without the read cache (see [`TestApp::uncached`]).
    pub(crate) async fn demo_uncached(backend: Backend) -> TestApp {
        let app = TestApp::uncached(backend).await;
        demo::seed(&app.store).await;
        app
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// GETs `path` and returns the body as text.
    pub(crate) async fn get_text(&self, path: &str) -> String {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        response.text().await.unwrap()
    }

    /// Scrapes the metrics listener's `/metrics`.
    pub(crate) async fn scrape_metrics(&self) -> String {
        let url = format!("http://{}/metrics", self.metrics_addr);
        let response = self.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// POSTs a query with variables and returns the whole JSON response.
    pub(crate) async fn post(&self, query: &str, variables: Value) -> Value {
        serde_json::from_str(&self.post_text(query, variables).await).unwrap()
    }

    /// POSTs a query with variables and returns the response's text, keys in the order the
    /// server wrote them.
    pub(crate) async fn post_text(&self, query: &str, variables: Value) -> String {
        let response = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// POSTs a query that must succeed and returns its `data`.
    pub(crate) async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.post(query, variables).await;
        assert!(
            body.get("errors").is_none(),
            "{} on {:?}: {body:#}",
            query,
            self.backend
        );
        body["data"].clone()
    }

    /// Runs a query and returns its response and the SQL of every statement it executed.
    pub(crate) async fn traced(&self, query: &str, variables: Value) -> (Value, Vec<String>) {
        self.start_recording();
        let body = self.post(query, variables).await;
        (body, self.stop_recording())
    }

    /// Starts recording the SQL of every statement the server runs, for requests and
    /// background tasks alike.
    pub(crate) fn start_recording(&self) {
        *self.statements.lock().unwrap() = Some(Vec::new());
    }

    /// Stops recording and returns what was recorded since [`Self::start_recording`].
    pub(crate) fn stop_recording(&self) -> Vec<String> {
        self.statements.lock().unwrap().take().unwrap_or_default()
    }

    /// Runs a query and returns its response and the SQL statements it executed.
    pub(crate) async fn counted(&self, query: &str, variables: Value) -> (Value, u64) {
        let before = self.metrics.statements_total();
        let body = self.post(query, variables).await;
        (body, self.metrics.statements_total() - before)
    }
}

/// An HTTP client for tests (installs the TLS provider reqwest needs first).
/// The default API settings without rate limits: tests send requests faster than any client
/// should, and only the rate limit tests are about limiting them.
/// An operation on the demo data that runs well over a millisecond even in a fast machine's
/// debug build (every user of every tenant with their manager and licenses) and stays within
/// the default operation limits: for the timeout tests, whose timer fires on the runtime's next
/// millisecond tick.
pub(crate) const SLOW_QUERY: &str = "{ tenants(first: 5) { edges { node { users(first: 500) { \
    edges { node { id manager { id } licenses { skuId } } } } } } } }";

pub(crate) fn test_api() -> ApiSettings {
    ApiSettings {
        rate_limits: tenantgraph::config::rate_limits::RateLimits::off(),
        ..ApiSettings::default()
    }
}

pub(crate) fn client() -> reqwest::Client {
    tenantgraph::install_tls_provider();
    reqwest::Client::new()
}

/// `extensions.code` of the first error of a response.
pub(crate) fn first_error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

/// The demo data set, for expected values.
pub(crate) fn demo_data() -> Vec<(
    snapshot::TenantSnapshot,
    Vec<tenantgraph::domain::CostGroup>,
)> {
    demo::data()
}

/// The next text message of a WebSocket as JSON, skipping pings and pongs.
pub(crate) async fn read_json<S>(socket: &mut S) -> Value
where
    S: futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match socket.next().await.unwrap().unwrap() {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// A client WebSocket to a test server.
pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a `graphql-transport-ws` WebSocket to `/graphql` of the server at `addr`, sending
/// `origin` as the `Origin` header when given; the server's refusal of the upgrade is the error.
pub(crate) async fn ws_open(
    addr: impl std::fmt::Display,
    origin: Option<&str>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let origin = origin.map(|o| ("Origin", o));
    ws_open_with_headers(addr, origin.as_slice()).await
}

/// Opens a `graphql-transport-ws` WebSocket to `/graphql` of the server at `addr` with these
/// extra request headers; the server's refusal of the upgrade is the error.
pub(crate) async fn ws_open_with_headers(
    addr: impl std::fmt::Display,
    extra: &[(&'static str, &str)],
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/graphql")
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    for (name, value) in extra {
        headers.insert(*name, value.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

/// Opens a WebSocket to the server at `addr` and has `connection_init` with `payload`
/// acknowledged.
pub(crate) async fn ws_connect(addr: impl std::fmt::Display, payload: Value) -> Socket {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let mut socket = ws_open(addr, None).await.unwrap();
    let init = serde_json::json!({ "type": "connection_init", "payload": payload });
    socket.send(Message::text(init.to_string())).await.unwrap();
    let ack = read_json(&mut socket).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    socket
}

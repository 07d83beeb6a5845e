//! Budget alerts and their webhooks on every backend: a budget moved across its thresholds
//! raises one alert per crossing, posted to a receiver on loopback signed as Standard Webhooks
//! describes, retried after the receiver refused it, every attempt queryable; a thousand
//! budget changes deliver each crossing exactly once across a restart; the budget gauges.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tenantgraph::config::alerts::{AlertSettings, PartnerWebhook};
use uuid::Uuid;

use crate::chargeback::{Scenario, scenario};
use crate::support::{TestApp, backends};

const SET: &str = r#"mutation SetBudget($g: ID!, $a: Decimal!) {
    setCostGroupBudget(input: { costGroupId: $g, fromMonth: "2025-01", amount: $a,
        currency: "EUR" }) { id } }"#;

const DELIVERIES: &str = r#"query Deliveries($t: ID!, $before: Int) { tenant(id: $t) {
    webhookDeliveries(first: 500, beforeSequence: $before) { id endpoint url status deliveredAt
        attempts { number statusCode error }
        alert { id sequence kind costGroupId costGroupName month threshold amount actual
            forecast currency status } } } }"#;

/// The signing secret's bytes.
const SECRET: [u8; 32] = [42; 32];

/// What the receiver saw of one message id.
#[derive(Default)]
struct Seen {
    refused: usize,
    accepted: usize,
    body: Option<Value>,
}

/// A webhook receiver on loopback that refuses each message `refuse` times before accepting
/// it, and checks every signature itself (from the specification, not the server's code).
#[derive(Clone)]
struct Receiver {
    refuse: usize,
    secret: Arc<Mutex<Vec<u8>>>,
    seen: Arc<Mutex<HashMap<String, Seen>>>,
    bad_signatures: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start(refuse: usize) -> (Receiver, String) {
        let receiver = Receiver {
            refuse,
            secret: Arc::new(Mutex::new(SECRET.to_vec())),
            seen: Arc::default(),
            bad_signatures: Arc::default(),
        };
        let state = web::Data::new(receiver.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/hook", web::post().to(receive))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let addr = server.addrs()[0];
        tokio::spawn(server.run());
        (receiver, format!("http://{addr}/hook"))
    }

    fn accepted(&self) -> usize {
        self.seen
            .lock()
            .unwrap()
            .values()
            .filter(|s| s.accepted > 0)
            .count()
    }

    /// Waits until `n` messages were accepted (at most a minute).
    async fn wait_for(&self, n: usize) {
        for _ in 0..600 {
            if self.accepted() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{} of {n} messages accepted after a minute",
            self.accepted()
        );
    }
}

async fn receive(req: HttpRequest, body: String, state: web::Data<Receiver>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, &state.secret.lock().unwrap());
    let expected = STANDARD.encode(hmac::sign(
        &key,
        format!("{id}.{timestamp}.{body}").as_bytes(),
    ));
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    if signature != format!("v1,{expected}") || !fresh {
        state.bad_signatures.lock().unwrap().push(id);
        return HttpResponse::Unauthorized().finish();
    }
    let mut seen = state.seen.lock().unwrap();
    let entry = seen.entry(id).or_default();
    if entry.refused < state.refuse {
        entry.refused += 1;
        return HttpResponse::ServiceUnavailable().finish();
    }
    entry.accepted += 1;
    entry.body = serde_json::from_str(&body).ok();
    HttpResponse::NoContent().finish()
}

fn settings(url: &str) -> AlertSettings {
    AlertSettings {
        partner_webhook: Some(PartnerWebhook {
            url: url.parse().unwrap(),
            secret: secrecy::SecretSlice::from(SECRET.to_vec()),
        }),
        retry_delay: Duration::from_millis(20),
        ..AlertSettings::default()
    }
}

async fn set_budget(app: &TestApp, s: &Scenario, amount: &str) {
    app.data(SET, json!({ "g": s.sales.to_string(), "a": amount }))
        .await;
}

/// Every delivery of the tenant, newest alert first, paging by alert number.
async fn deliveries(app: &TestApp, tenant: Uuid) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut before = Value::Null;
    loop {
        let data = app
            .data(
                DELIVERIES,
                json!({ "t": tenant.to_string(), "before": before }),
            )
            .await;
        let page = data["tenant"]["webhookDeliveries"]
            .as_array()
            .unwrap()
            .clone();
        let Some(last) = page.last() else {
            return out;
        };
        before = last["alert"]["sequence"].clone();
        out.extend(page);
    }
}

/// The tenant's `n` deliveries once none is pending any more: the receiver may have taken a
/// message before the server recorded the attempt (at most a minute).
async fn settled(app: &TestApp, tenant: Uuid, n: usize) -> Vec<Value> {
    for _ in 0..600 {
        let all = deliveries(app, tenant).await;
        if all.len() >= n && all.iter().all(|d| d["status"] != "PENDING") {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{n} deliveries of tenant {tenant} not settled after a minute");
}

#[tokio::test]
async fn a_budget_crossing_is_one_alert_posted_signed_and_retried_until_the_receiver_takes_it() {
    for backend in backends() {
        let (receiver, url) = Receiver::start(2).await;
        let app = TestApp::with_alerts(backend, settings(&url)).await;
        let s = scenario(&app).await;
        // January 2025, the month of the tenant's last import: Sales is charged 31.00, all of
        // the month billed. 100 is far off; 20 is passed by the forecast at 80 % and 100 %, and
        // by the actual amount.
        set_budget(&app, &s, "100").await;
        set_budget(&app, &s, "20").await;
        set_budget(&app, &s, "20.00").await;
        set_budget(&app, &s, "100").await;
        set_budget(&app, &s, "20").await;
        // Company has no budget of its own: it rolls Sales' up against its subtree, which is
        // charged the same 31.00, so it crosses with Sales.
        receiver.wait_for(12).await;
        let all = settled(&app, s.tenant, 12).await;
        assert!(receiver.bad_signatures.lock().unwrap().is_empty());
        {
            let seen = receiver.seen.lock().unwrap();
            assert_eq!(seen.len(), 12, "one message per crossing, no more");
            for (id, msg) in seen.iter() {
                assert_eq!((msg.refused, msg.accepted), (2, 1), "message {id}");
                let body = msg.body.as_ref().unwrap();
                assert_eq!(body["data"]["alertId"], id.as_str());
                assert_eq!(body["data"]["month"], "2025-01");
            }
            let mut types: Vec<(String, Value)> = seen
                .values()
                .filter(|m| m.body.as_ref().unwrap()["data"]["costGroupId"] == s.sales.to_string())
                .map(|m| {
                    let b = m.body.as_ref().unwrap();
                    (
                        b["type"].as_str().unwrap().to_owned(),
                        b["data"]["threshold"].clone(),
                    )
                })
                .collect();
            types.sort_by_key(|(t, th)| (t.clone(), th.to_string()));
            let f = "budget.forecast_over_threshold".to_owned();
            let e = "budget.exceeded".to_owned();
            assert_eq!(
                types,
                vec![
                    (e.clone(), Value::Null),
                    (e, Value::Null),
                    (f.clone(), json!("100")),
                    (f.clone(), json!("100")),
                    (f.clone(), json!("80")),
                    (f, json!("80")),
                ]
            );
        }
        assert_eq!(all.len(), 12, "{all:?}");
        for d in &all {
            assert_eq!(d["status"], "DELIVERED", "{d}");
            assert_eq!(d["endpoint"], "PARTNER");
            assert_eq!(d["url"], url.as_str());
            let codes: Vec<Value> = d["attempts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["statusCode"].clone())
                .collect();
            assert_eq!(codes, vec![json!(503), json!(503), json!(204)], "{d}");
            assert!(
                d["attempts"][0]["error"].as_str().unwrap().contains("503"),
                "{d}"
            );
            assert_eq!(d["attempts"][2]["error"], Value::Null);
            let alert = &d["alert"];
            let name = if alert["costGroupId"] == s.sales.to_string() {
                "Sales"
            } else {
                assert_eq!(alert["costGroupId"], s.company.to_string());
                "Company"
            };
            assert_eq!(alert["costGroupName"], name);
            assert_eq!(
                (
                    alert["amount"].as_str(),
                    alert["actual"].as_str(),
                    alert["currency"].as_str()
                ),
                (Some("20.00"), Some("31.00"), Some("EUR"))
            );
            assert_eq!(alert["status"], "OVER");
        }
        // Another tenant's deliveries are its own.
        assert!(deliveries(&app, s.other).await.is_empty());
        // The gauge: Sales' January chargeback over its budget, 31.00 / 20.
        let metrics = app.scrape_metrics().await;
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with("tenantgraph_budget_ratio{")
                    && l.contains(&format!("cost_group=\"{}\"", s.sales))
            })
            .unwrap_or_else(|| panic!("no budget gauge of Sales:\n{metrics}"));
        assert!(line.contains("month=\"2025-01\""), "{line}");
        assert!(line.ends_with(" 1.55"), "{line}");
        assert!(
            metrics.contains("tenantgraph_webhook_attempts_total{outcome=\"retry\"} 24"),
            "{metrics}"
        );
    }
}

#[tokio::test]
async fn a_thousand_budget_changes_deliver_each_crossing_exactly_once_across_a_restart() {
    for backend in backends() {
        let (receiver, url) = Receiver::start(0).await;
        // The first process runs no dispatcher: what it raises waits in the store.
        let first = TestApp::empty(backend).await;
        let s = scenario(&first).await;
        for i in 0..500 {
            set_budget(&first, &s, if i % 2 == 0 { "20" } else { "100" }).await;
        }
        first.stop().await;
        assert_eq!(receiver.accepted(), 0);
        let second = first.restarted(settings(&url)).await;
        for i in 500..1000 {
            set_budget(&second, &s, if i % 2 == 0 { "20" } else { "100" }).await;
        }
        // 500 changes to 20, each after one to 100 (or none): three crossings each, of Sales
        // and of Company (which rolls Sales' budget up).
        receiver.wait_for(3000).await;
        let all = settled(&second, s.tenant, 3000).await;
        {
            let seen = receiver.seen.lock().unwrap();
            assert_eq!(seen.len(), 3000);
            assert!(seen.values().all(|m| m.accepted == 1 && m.refused == 0));
        }
        assert_eq!(all.len(), 3000);
        assert!(all.iter().all(|d| d["status"] == "DELIVERED"
            && d["attempts"].as_array().unwrap().len() == 1));
    }
}

/// Makes `total` the tenant's waste baseline: forgets the baseline kept and waits for the sweep
/// to take the total it sees as the new one, again until that is `total` (at most a minute).
/// The sweep runs while the scenario is written row by row, and a baseline it took from a
/// half-written state stays (a growth within the step does not move it), so waiting for the
/// baseline alone can wait forever.
async fn reset_waste_baseline(db: &sea_orm::DatabaseConnection, tenant: Uuid, total: Decimal) {
    use sea_orm::EntityTrait;
    use tenantgraph::store::entities::alert_signal;
    let key = (tenant, "waste".to_owned());
    let mut seen = Vec::new();
    for _ in 0..12 {
        alert_signal::Entity::delete_by_id(key.clone())
            .exec(db)
            .await
            .unwrap();
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let row = alert_signal::Entity::find_by_id(key.clone())
                .one(db)
                .await
                .unwrap();
            if let Some(baseline) = row.and_then(|r| r.baseline) {
                let baseline = baseline.parse::<Decimal>().unwrap();
                if baseline == total {
                    return;
                }
                seen.push(baseline);
                break;
            }
        }
    }
    panic!("the waste baseline of tenant {tenant} is not {total} after a minute: {seen:?}");
}

#[tokio::test]
async fn a_grown_waste_total_is_an_alert_on_the_subscription() {
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use tenantgraph::store::entities::subscription;

    for backend in backends() {
        let app = TestApp::with_alerts(
            backend,
            AlertSettings {
                waste_growth: Some(Decimal::from(50)),
                sweep_interval: Duration::from_millis(200),
                ..AlertSettings::default()
            },
        )
        .await;
        let s = scenario(&app).await;
        // Four idle seats of the priced SKU (62.00 a month today): 248.00 of waste.
        let db = crate::importer::store_db(&app.store).await;
        subscription::Entity::update_many()
            .col_expr(
                subscription::Column::PrepaidEnabled,
                Expr::col(subscription::Column::ConsumedUnits).add(4),
            )
            .filter(subscription::Column::TenantId.eq(s.tenant))
            .filter(subscription::Column::SkuId.eq(s.sku))
            .exec(&db)
            .await
            .unwrap();
        // The sweep takes that total as the baseline.
        let total = app
            .data(
                "query Waste($t: ID!) { tenant(id: $t) { optimization { monthlySaving } } }",
                json!({ "t": s.tenant.to_string() }),
            )
            .await["tenant"]["optimization"]["monthlySaving"]
            .as_str()
            .unwrap()
            .parse::<rust_decimal::Decimal>()
            .unwrap();
        reset_waste_baseline(&db, s.tenant, total).await;
        // The subscription starts after the last alert so far, wherever the server is when it
        // reads the subscription.
        let last = tenantgraph::store::alerts::last_alert_seq(&app.store, s.tenant.into())
            .await
            .unwrap();
        let mut socket = crate::support::ws_connect(app.addr, json!({})).await;
        {
            use futures_util::SinkExt;
            use tokio_tungstenite::tungstenite::Message;
            let start = json!({ "id": "1", "type": "subscribe", "payload": {
                "query": "subscription Alerts($t: ID!, $after: Int) { budgetAlerts(tenantId: $t, \
                    afterSequence: $after) { sequence kind wasteTotal wasteGrowth currency \
                    costGroupId } }",
                "variables": { "t": s.tenant.to_string(), "after": last } } });
            socket.send(Message::text(start.to_string())).await.unwrap();
        }
        let today = chrono::Utc::now().date_naive().to_string();
        app.data(
            r#"mutation Price($input: SetLicensePriceInput!) {
                setLicensePrice(input: $input) { monthlyUnitPrice } }"#,
            json!({ "input": { "tenantId": s.tenant.to_string(), "skuId": s.sku.to_string(),
                "monthlyUnitPrice": "100.00", "currency": "EUR", "effectiveFrom": today } }),
        )
        .await;
        let event = tokio::time::timeout(
            Duration::from_secs(60),
            crate::support::read_json(&mut socket),
        )
        .await
        .expect("no alert within a minute");
        assert_eq!(event["type"], "next", "{event}");
        let alert = &event["payload"]["data"]["budgetAlerts"];
        assert_eq!(alert["kind"], "WASTE_GROWTH", "{event}");
        assert!(alert["sequence"].as_i64().unwrap() > last, "{event}");
        assert_eq!(alert["currency"], "EUR");
        assert_eq!(alert["costGroupId"], Value::Null);
        // Four seats at 100.00 instead of 62.00.
        assert_eq!(alert["wasteGrowth"], "152.00", "{event}");
    }
}

#[tokio::test]
async fn a_tenants_own_endpoint_gets_its_alerts_signed_with_the_secret_shown_once() {
    use secrecy::SecretSlice;
    use tenantgraph::config::secrets::SecretKeys;

    const SET_HOOK: &str = r#"mutation SetHook($t: ID!, $url: String!) {
        setTenantWebhook(input: { tenantId: $t, url: $url }) { url signingSecret setAt } }"#;
    for backend in backends() {
        let (receiver, url) = Receiver::start(0).await;
        let api = tenantgraph::config::api::ApiSettings {
            cursor_keys: Some(SecretKeys {
                current: SecretSlice::from(vec![9u8; 32]),
                previous: None,
            }),
            ..crate::support::test_api()
        };
        // The receiver is on loopback, which a tenant's endpoint may only be when allowed.
        let alerts = AlertSettings {
            allow_private: true,
            ..AlertSettings::default()
        };
        let app = TestApp::with_api_and_alerts(backend, api, alerts).await;
        let s = scenario(&app).await;
        let t = s.tenant.to_string();
        let bad = app
            .post(SET_HOOK, json!({ "t": t, "url": "ftp://example.com/x" }))
            .await;
        assert_eq!(
            crate::support::first_error_code(&bad),
            "BAD_USER_INPUT",
            "{bad}"
        );
        let set = app.data(SET_HOOK, json!({ "t": t, "url": url })).await;
        let secret = set["setTenantWebhook"]["signingSecret"].as_str().unwrap();
        let bytes = STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap())
            .unwrap();
        assert_eq!(bytes.len(), 32);
        *receiver.secret.lock().unwrap() = bytes;
        let shown = app
            .data(
                "query Hook($t: ID!) { tenant(id: $t) { webhook { url setBy } } }",
                json!({ "t": t }),
            )
            .await;
        assert_eq!(shown["tenant"]["webhook"]["url"], url.as_str());
        assert!(
            !shown.to_string().contains(secret),
            "the secret is shown once only"
        );
        app.start_recording();
        set_budget(&app, &s, "20").await;
        receiver.wait_for(6).await;
        assert!(receiver.bad_signatures.lock().unwrap().is_empty());
        let all = settled(&app, s.tenant, 6).await;
        assert_eq!(all.len(), 6);
        // The six deliveries of one commit are attempted in one round, which reads and opens
        // the tenant's secret once, not once per attempt.
        let secret_reads = app
            .stop_recording()
            .iter()
            .filter(|q| q.contains("tenant_webhooks") && q.contains("secret_ciphertext"))
            .count();
        assert!(
            (1..6).contains(&secret_reads),
            "{secret_reads} reads of the tenant's webhook for 6 deliveries"
        );
        assert!(
            all.iter()
                .all(|d| d["endpoint"] == "TENANT" && d["status"] == "DELIVERED")
        );
        let removed = app
            .data(
                "mutation RemoveHook($t: ID!) { removeTenantWebhook(tenantId: $t) }",
                json!({ "t": t }),
            )
            .await;
        assert_eq!(removed["removeTenantWebhook"], true);
        // Not allowed by default: an internal address; and without a secret key there is
        // nothing to seal a secret with.
        let keyless = TestApp::empty(backend).await;
        let k = scenario(&keyless).await;
        let internal = keyless
            .post(
                SET_HOOK,
                json!({ "t": k.tenant.to_string(), "url": "http://169.254.169.254/latest" }),
            )
            .await;
        assert_eq!(
            crate::support::first_error_code(&internal),
            "BAD_USER_INPUT"
        );
        assert!(
            internal.to_string().contains("not a public address"),
            "{internal}"
        );
        let refused = keyless
            .post(
                SET_HOOK,
                json!({ "t": k.tenant.to_string(), "url": "https://hooks.example.com/x" }),
            )
            .await;
        assert_eq!(
            crate::support::first_error_code(&refused),
            "CONFLICT",
            "{refused}"
        );
        assert!(
            refused.to_string().contains("TENANTGRAPH_SECRET_KEY"),
            "{refused}"
        );
    }
}

#[tokio::test]
async fn alerts_past_their_retention_go_with_their_deliveries_unless_one_still_waits() {
    use chrono::Utc;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, PaginatorTrait};
    use tenantgraph::server::alert_retention::prune_once;
    use tenantgraph::store::entities::{alert, webhook_attempt, webhook_delivery};

    for backend in backends() {
        let (receiver, url) = Receiver::start(0).await;
        let app = TestApp::with_alerts(backend, settings(&url)).await;
        let s = scenario(&app).await;
        set_budget(&app, &s, "20").await;
        receiver.wait_for(6).await;
        let all = settled(&app, s.tenant, 6).await;
        assert_eq!(all.len(), 6);
        let db = &crate::importer::store_db(&app.store).await;
        // One delivery waits for a retry tomorrow: its alert stays whatever its age.
        let waiting = Uuid::parse_str(all[0]["id"].as_str().unwrap()).unwrap();
        webhook_delivery::ActiveModel {
            id: Set(waiting),
            status: Set("PENDING".to_owned()),
            next_attempt_at: Set(Utc::now() + chrono::Duration::days(1)),
            ..Default::default()
        }
        .update(db)
        .await
        .unwrap();
        // Within the retention nothing goes.
        let now = Utc::now();
        assert_eq!(prune_once(&app.store, 90, now, 2).await.unwrap().removed, 0);
        assert_eq!(alert::Entity::find().count(db).await.unwrap(), 6);
        // 91 days on, the five ended alerts go, two per statement, with their deliveries and
        // attempts.
        let later = now + chrono::Duration::days(91);
        let prune = prune_once(&app.store, 90, later, 2).await.unwrap();
        assert_eq!((prune.removed, prune.batches), (5, 3), "{prune:?}");
        let left = deliveries(&app, s.tenant).await;
        assert_eq!(left.len(), 1, "{left:#?}");
        assert_eq!(left[0]["id"], waiting.to_string());
        assert_eq!(left[0]["status"], "PENDING");
        assert_eq!(alert::Entity::find().count(db).await.unwrap(), 1);
        assert_eq!(webhook_delivery::Entity::find().count(db).await.unwrap(), 1);
        assert_eq!(webhook_attempt::Entity::find().count(db).await.unwrap(), 1);
        // Pruning again removes nothing more.
        assert_eq!(
            prune_once(&app.store, 90, later, 2).await.unwrap().removed,
            0
        );
    }
}

//! `tenantgraph simulate`: runs without settings or a database, serves tokens, stops on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::KillOnDrop;

#[tokio::test]
async fn simulate_needs_no_database_logs_its_urls_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantgraph"))
        .args([
            "simulate",
            "--bind",
            "127.0.0.1:0",
            "--tenants",
            "2",
            "--client-secret",
            "hush-hush-secret",
            "--fault",
            "1=mfa-required",
            "--log-format",
            "json",
        ])
        // Unreachable on purpose: simulate must not touch the store.
        .env(
            "TENANTGRAPH_DATABASE_URL",
            "postgres://app:pw@127.0.0.1:1/tg",
        )
        .stderr(Stdio::piped())
        .spawn()
        .map(KillOnDrop)
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |needle: &str| -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            seen.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
        panic!("no log line containing {needle:?}");
    };
    let listening: serde_json::Value =
        serde_json::from_str(&wait_for("simulator listening")).unwrap();
    let base = listening["base_url"].as_str().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{listening}");
    for key in [
        "TENANTGRAPH_LOGIN_URL",
        "TENANTGRAPH_PARTNER_CENTER_URL",
        "TENANTGRAPH_GRAPH_URL",
    ] {
        assert_eq!(listening[key], base.as_str(), "{key}");
    }

    let partner = listening["TENANTGRAPH_PARTNER_TENANT_ID"].as_str().unwrap();
    let body = "grant_type=refresh_token&client_id=tenantgraph-sim-client\
        &client_secret=hush-hush-secret&refresh_token=sim-initial-refresh-token\
        &scope=https%3A%2F%2Fapi.partnercenter.microsoft.com%2Fuser_impersonation";
    let response = crate::support::client()
        .post(format!("{base}/{partner}/oauth2/v2.0/token"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_for("shutdown signal received");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert!(
        seen.iter().all(|line| !line.contains("hush-hush-secret")),
        "the client secret is never logged"
    );
}

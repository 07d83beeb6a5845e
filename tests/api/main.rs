//! Integration tests: the real server (the same `server::start` that `serve` uses) on port 0,
//! each test on its own database, on SQLite and, when configured, PostgreSQL.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail loudly on setup errors"
)]

mod aggregates;
mod alerts;
mod allocation_rules;
mod budgets;
mod bulk_changes;
mod chargeback;
mod cli;
mod commerce;
mod conformance;
mod cost_groups;
mod cost_reports;
mod diagnostics;
mod doc_examples;
mod effective_dates;
mod evaluation;
mod expensive_operations;
mod exports;
mod federation;
mod history;
mod http;
mod import_commit;
mod import_edge_cases;
mod importer;
mod imports;
mod indexes;
mod licensing;
mod limits;
mod logs;
mod manager_contacts;
mod operations;
mod optimization;
mod otlp;
mod overrides;
mod persisted;
mod prices;
mod rate_limits;
mod read_cache;
mod reads;
mod secrets;
mod security;
mod session_expiry;
mod simulator;
mod split_rules;
mod statements;
mod support;
mod text_inputs;
mod unknown_skus;
mod user_versions;

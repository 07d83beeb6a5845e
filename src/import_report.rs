//! What `tenantgraph import` shows: a progress bar per tenant on a terminal (plain lines
//! otherwise) and a summary table at the end.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

use comfy_table::Table;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::broadcast;

use crate::domain::{ImportRun, TenantId, TenantScope};
use crate::importer::progress::{Phase, Progress};
use crate::store::{Store, tenants};

/// Draws progress until the channel closes or the task is dropped. Names tenants by their
/// name in `store`, read when a tenant's first report arrives (its run has created the row).
pub async fn follow(mut events: broadcast::Receiver<Progress>, store: Store) {
    let mut names: HashMap<TenantId, String> = HashMap::new();
    let terminal = std::io::stderr().is_terminal();
    let multi = MultiProgress::with_draw_target(if terminal {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let style = ProgressStyle::with_template("{spinner} {prefix:<32} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut bars: HashMap<TenantId, ProgressBar> = HashMap::new();
    let mut phases: HashMap<TenantId, Phase> = HashMap::new();
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => break,
        };
        let name = match names.get(&event.tenant_id) {
            Some(name) => name.clone(),
            None => {
                let found =
                    tenants::find_tenants(&store, &TenantScope::All, &[event.tenant_id]).await;
                let name = found
                    .ok()
                    .and_then(|mut t| t.pop())
                    .map_or_else(|| event.tenant_id.to_string(), |t| t.name);
                names.insert(event.tenant_id, name.clone());
                name
            }
        };
        let text = match event.phase {
            Phase::Starting => "token and SKUs".to_owned(),
            Phase::Users => format!("{} pages, {} users read", event.pages, event.users),
            Phase::Committing => format!("committing {} users", event.users),
            Phase::Finished => match event.reason {
                None => format!("{} ({} pages)", event.status, event.pages),
                Some(reason) => format!("{} {}", event.status, reason.code()),
            },
        };
        if terminal {
            let bar = bars.entry(event.tenant_id).or_insert_with(|| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_prefix(clip(&name, 32));
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            });
            if event.phase == Phase::Finished {
                bar.finish_with_message(text);
            } else {
                bar.set_message(text);
            }
        } else if phases.insert(event.tenant_id, event.phase) != Some(event.phase) {
            // Plain lines: one per phase change, not per page.
            eprintln!("{name}: {text}");
        }
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// The summary table of a finished import, one row per tenant.
pub fn summary_table(runs: &[ImportRun], names: &HashMap<TenantId, String>) -> String {
    let mut table = Table::new();
    table.set_header([
        "tenant", "status", "mode", "added", "updated", "removed", "restored", "licenses", "SKUs",
        "pages", "retries", "seconds", "reason",
    ]);
    let mut rows: Vec<&ImportRun> = runs.iter().collect();
    rows.sort_by_key(|r| names.get(&r.tenant_id).cloned().unwrap_or_default());
    for run in rows {
        let c = &run.counts;
        table.add_row([
            names
                .get(&run.tenant_id)
                .cloned()
                .unwrap_or_else(|| run.tenant_id.to_string()),
            run.status.to_string(),
            run.mode.map(|m| m.to_string()).unwrap_or_default(),
            c.users_added.to_string(),
            c.users_updated.to_string(),
            c.users_removed.to_string(),
            c.users_restored.to_string(),
            c.licenses.to_string(),
            c.skus.to_string(),
            c.pages.to_string(),
            c.retries.to_string(),
            run.duration()
                .map(|d| format!("{:.1}", d.num_milliseconds() as f64 / 1000.0))
                .unwrap_or_default(),
            run.reason.map(|r| r.code().to_owned()).unwrap_or_default(),
        ]);
    }
    table.to_string()
}

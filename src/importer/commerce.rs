//! A customer's commerce subscriptions (Partner Center), joined to its SKUs through Graph's
//! directory subscriptions, and each SKU's billing (reference §2.3). Neither call fails the
//! tenant: what could not be read is a warning on the run.

use super::Importer;
use super::clients::TrafficStats;
use super::clients::graph::{self, GraphClient, Read};
use super::clients::partner_center::{PartnerCenter, WireSubscription};
use super::clients::token::Resource;
use super::error::ImportError;
use crate::domain::commerce::{classify_sku, link_commerce_to_skus};
use crate::domain::{
    CommerceSubscription, DirectorySubscription, ImportRun, ImportWarning, ImportWarningCode,
    Subscription,
};
use chrono::{DateTime, Utc};

/// Reads the customer's commerce and directory subscriptions, links them to `skus` and sets
/// each SKU's billing. Returns the commerce subscriptions to store, `None` when Partner Center
/// could not be read (the stored ones stay).
pub(super) async fn read_commerce(
    importer: &Importer,
    run: &ImportRun,
    stats: &TrafficStats,
    graph: &GraphClient<'_>,
    skus: &mut [Subscription],
    warnings: &mut Vec<ImportWarning>,
) -> Result<Option<Vec<CommerceSubscription>>, ImportError> {
    let unavailable = |why: String| ImportWarning {
        code: ImportWarningCode::CommerceSubscriptionsUnavailable,
        message: format!(
            "Partner Center's subscriptions of the customer were not read ({why}); those stored \
             earlier were kept"
        ),
    };
    let mut commerce = match importer.settings.partner_tenant_id {
        None => {
            warnings.push(unavailable(
                "TENANTGRAPH_PARTNER_TENANT_ID is not set".to_owned(),
            ));
            None
        }
        Some(partner) => match partner_subscriptions(importer, run, stats, partner).await {
            Ok(list) => Some(list),
            Err(err) if is_token_refusal(&err) => return Err(err),
            Err(err) => {
                warnings.push(unavailable(err.to_string()));
                None
            }
        },
    };
    let directory = match directory_subscriptions(graph).await {
        Ok(list) => Some(list),
        Err(err) if is_token_refusal(&err) => return Err(err),
        Err(err) => {
            warnings.push(ImportWarning {
                code: ImportWarningCode::DirectorySubscriptionsRefused,
                message: format!(
                    "Graph's directory/subscriptions could not be read ({err}); it needs \
                     Organization.Read.All consented and Directory Readers. Commerce \
                     subscriptions are stored without the SKU they back"
                ),
            });
            None
        }
    };
    if let (Some(commerce), Some(directory)) = (commerce.as_mut(), directory.as_deref()) {
        link_commerce_to_skus(commerce, directory, skus);
    }
    let linked = commerce.as_deref().unwrap_or_default();
    let free = &importer.settings.free_skus;
    for sku in skus.iter_mut() {
        sku.billing = classify_sku(sku, linked, directory.as_deref(), free);
    }
    Ok(commerce)
}

/// A refusal of the token itself (the tenant's sign-in): the rest of the run fails the same
/// way, so it is not a warning.
fn is_token_refusal(err: &ImportError) -> bool {
    matches!(err, ImportError::Refused { code, .. } if code.starts_with("AADSTS"))
}

async fn partner_subscriptions(
    importer: &Importer,
    run: &ImportRun,
    stats: &TrafficStats,
    partner: uuid::Uuid,
) -> Result<Vec<CommerceSubscription>, ImportError> {
    let token = importer
        .tokens()?
        .access_token(partner, Resource::PartnerCenter, stats)
        .await?;
    let wire = PartnerCenter {
        upstream: &importer.upstream,
        base: &importer.settings.partner_center_url,
        token: &token,
        correlation_id: run.id.uuid(),
        stats,
    }
    .list_subscriptions(&run.tenant_id.to_string())
    .await?;
    wire.into_iter()
        .map(|w| commerce_subscription(run, w))
        .collect()
}

fn commerce_subscription(
    run: &ImportRun,
    w: WireSubscription,
) -> Result<CommerceSubscription, ImportError> {
    let date = |field: &str, value: Option<String>| -> Result<Option<DateTime<Utc>>, ImportError> {
        value
            .filter(|v| !v.is_empty())
            .map(|v| {
                DateTime::parse_from_rfc3339(&v)
                    .map(|d| d.with_timezone(&Utc))
                    .map_err(|e| ImportError::Malformed {
                        message: format!("subscription {} has {field} {v:?}: {e}", w.id),
                    })
            })
            .transpose()
    };
    if w.id.is_empty() || w.id.len() > 64 {
        return Err(ImportError::Malformed {
            message: format!("a Partner Center subscription has the id {:?}", w.id),
        });
    }
    Ok(CommerceSubscription {
        tenant_id: run.tenant_id,
        start_date: date("effectiveStartDate", w.effective_start_date)?,
        commitment_end_date: date("commitmentEndDate", w.commitment_end_date)?,
        id: w.id,
        offer_name: w.offer_name.unwrap_or_default(),
        offer_id: w.offer_id.unwrap_or_default(),
        friendly_name: w.friendly_name.filter(|n| !n.is_empty()),
        quantity: w.quantity.unwrap_or(0),
        unit_type: w.unit_type,
        status: w.status.unwrap_or_else(|| "none".to_owned()),
        billing_cycle: w.billing_cycle,
        term_duration: w.term_duration,
        auto_renew: w.auto_renew_enabled.unwrap_or(false),
        is_trial: w.is_trial.unwrap_or(false),
        billing_type: w.billing_type,
        parent_subscription_id: w.parent_subscription_id.filter(|p| !p.is_empty()),
        sku_id: None,
    })
}

async fn directory_subscriptions(
    graph: &GraphClient<'_>,
) -> Result<Vec<DirectorySubscription>, ImportError> {
    let mut url = graph.url(&format!(
        "directory/subscriptions?$select={}",
        graph::DIRECTORY_SUBSCRIPTION_SELECT
    ))?;
    let mut out = Vec::new();
    loop {
        let page =
            graph::parse_directory_subscriptions_page(&graph.get(&url, Read::Listing).await?)?;
        out.extend(page.value.into_iter().map(|d| DirectorySubscription {
            id: d.id,
            commerce_subscription_id: d.commerce_subscription_id,
            is_trial: d.is_trial.unwrap_or(false),
        }));
        match page.next_link {
            Some(next) => url = graph.link(&next)?,
            None => return Ok(out),
        }
    }
}

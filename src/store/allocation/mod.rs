//! A tenant's allocation data (cost groups, rules, overrides, prices) and its stored evaluation,
//! behind one front: callers outside use only what is re-exported here.
//!
//! Every mutation takes one path, `write::TenantWrite`: the tenant locked, the change written,
//! the allocation re-evaluated as far as the change reaches, the change audited, then committed.
//! The modules import one another one way only: the writers (`cost_groups`, `rules`,
//! `overrides`, `prices`) use `write` and `reads`; `write` uses `evaluation`, `backdated` and
//! `configurations`; `bulk` (many overrides or cost groups at once) uses `write`, `reads` and
//! the audit forms of `overrides` and `cost_groups`; `scheduled` (listing and cancelling scheduled changes) uses `write` and
//! `configurations`; `evaluation` uses `backdated`, which uses `configurations`; both use
//! `reads`, which uses none of them; `import_evaluation` (for the import's commit) uses
//! `evaluation`, `backdated`, `configurations` and `reads`; `diagnostics` (reading the rule
//! diagnostics, explaining a user) uses `evaluation`, `backdated` and `reads`; `evaluation`,
//! `import_evaluation` and `diagnostics` keep diagnostics through `stored_diagnostics`, which
//! uses none of them. No module here imports this front.

mod backdated;
mod budgets;
mod bulk;
pub(crate) mod configurations;
mod cost_groups;
mod diagnostics;
mod evaluation;
mod import_evaluation;
mod overrides;
mod prices;
pub(crate) mod reads;
mod rules;
mod scheduled;
mod stored_diagnostics;
mod write;

pub use budgets::{list_budgets_of_tenants, remove_budget, set_budget};
pub use bulk::{BulkOutcome, BulkRequest, set_cost_groups, set_overrides};
pub use cost_groups::{
    CostGroupChanges, NewCostGroup, create_cost_group, delete_cost_group, update_cost_group,
};
pub use diagnostics::{explain_allocation, list_diagnostics_of_tenants};
pub use evaluation::{
    EvaluationSummary, Preview, ReportInputs, evaluate_tenant, list_allocations_of_users,
    list_report_inputs, preview_allocation,
};
pub(crate) use import_evaluation::ImportEvaluation;
pub use overrides::{clear_override, set_override};
pub use prices::set_price;
pub(crate) use reads::list_prices_of_tenants_on;
pub use reads::{
    PriceEntry, find_cost_groups, find_rules, list_children_of_cost_groups,
    list_cost_groups_of_tenants, list_price_entries_of_tenants, list_rules_of_cost_groups,
    list_rules_of_tenants,
};
pub use rules::{
    AllocationRuleChanges, create_rule, delete_rule, present_managers_of_tenant, reorder_rules,
    update_rule,
};
pub use scheduled::{cancel_scheduled_changes, list_scheduled_changes};
pub use stored_diagnostics::TenantDiagnostics;
/// The one write path of a tenant's data, for writes outside allocation (SKU billing).
pub(crate) use write::TenantWrite;
pub use write::promote_scheduled_changes;

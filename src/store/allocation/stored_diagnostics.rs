//! The rule diagnostics as stored in `allocation_evaluations.diagnostics`: the counts with the
//! rules they were counted for, to and from JSON. Imports no other allocation module.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::AllocationRuleId;
use crate::domain::allocation::{Attribute, DiagnosticsTally};
use crate::store::error::StoreError;

/// A tenant's diagnostics counts, with the rules they were counted for in evaluation order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantDiagnostics {
    /// The rules evaluated (enabled, targeting an existing group), by priority then id.
    pub rules: Vec<AllocationRuleId>,
    /// The counts.
    pub tally: DiagnosticsTally,
}

/// The diagnostics as stored in `allocation_evaluations.diagnostics`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredDiagnostics {
    rules: Vec<Uuid>,
    matched: Vec<(Uuid, u64)>,
    placed: Vec<(Uuid, u64)>,
    /// (rule, earlier rule, users).
    overlaps: Vec<(Uuid, Uuid, u64)>,
    unallocated_users: u64,
    /// (attribute name, value, users).
    unallocated_values: Vec<(String, String, u64)>,
}

/// The stored JSON of `d`.
pub(super) fn diagnostics_json(d: &TenantDiagnostics) -> serde_json::Value {
    let t = &d.tally;
    let by_rule = |m: &BTreeMap<AllocationRuleId, u64>| -> Vec<(Uuid, u64)> {
        m.iter().map(|(r, n)| (r.uuid(), *n)).collect()
    };
    serde_json::json!(StoredDiagnostics {
        rules: d.rules.iter().map(|r| r.uuid()).collect(),
        matched: by_rule(&t.matched),
        placed: by_rule(&t.placed),
        overlaps: t
            .overlaps
            .iter()
            .map(|((r, e), n)| (r.uuid(), e.uuid(), *n))
            .collect(),
        unallocated_users: t.unallocated_users,
        unallocated_values: t
            .unallocated_values
            .iter()
            .map(|((a, v), n)| (a.to_string(), v.clone(), *n))
            .collect(),
    })
}

/// The diagnostics stored for `tenant_id`; `Corrupt` when they can't be read.
pub(super) fn diagnostics_of_json(
    tenant_id: Uuid,
    value: serde_json::Value,
) -> Result<TenantDiagnostics, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "allocation_evaluations",
        detail: format!("diagnostics of tenant {tenant_id}: {detail}"),
    };
    let s: StoredDiagnostics = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
    let by_rule = |v: Vec<(Uuid, u64)>| -> BTreeMap<AllocationRuleId, u64> {
        v.into_iter()
            .map(|(r, n)| (AllocationRuleId(r), n))
            .collect()
    };
    let mut unallocated_values = BTreeMap::new();
    for (name, value, n) in s.unallocated_values {
        let attribute = Attribute::from_name(&name)
            .ok_or_else(|| corrupt(format!("unknown attribute {name:?}")))?;
        unallocated_values.insert((attribute, value), n);
    }
    Ok(TenantDiagnostics {
        rules: s.rules.into_iter().map(AllocationRuleId).collect(),
        tally: DiagnosticsTally {
            matched: by_rule(s.matched),
            placed: by_rule(s.placed),
            overlaps: s
                .overlaps
                .into_iter()
                .map(|(r, e, n)| ((AllocationRuleId(r), AllocationRuleId(e)), n))
                .collect(),
            unallocated_users: s.unallocated_users,
            unallocated_values,
        },
    })
}

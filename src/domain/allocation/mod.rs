//! Cost allocation: rules and overrides that place users in cost groups, prices, the engine that
//! evaluates them and the reconciled cost report. Pure: std and small pure crates only; must not
//! import SeaORM, async-graphql, actix, reqwest or tokio.

pub mod bulk;
pub mod configuration;
pub mod diagnostics;
pub mod engine;
pub mod overrides;
pub mod price;
pub mod report;
pub mod rule;

#[cfg(test)]
pub(crate) mod test_support;

pub use configuration::{Configuration, ConfigurationChange};
pub use diagnostics::{
    DiagnosticsTally, HINT_ATTRIBUTES, HINTS_PER_ATTRIBUTE, Hint, RuleDiagnostics, RuleVerdict,
};
pub use engine::{
    AllocationInput, AllocationSource, ConditionTrial, Evaluator, Explanation, RuleTrial,
    UserAllocation, evaluate,
};
pub use overrides::{
    MAX_PERCENT_DECIMALS, Override, OverrideError, Share, check_shares, moved_shares,
};
pub use price::{
    Currency, MAX_PRICE_DECIMALS, MAX_UNIT_PRICE, Price, PriceError, price_on, prices_in_force,
};
pub use report::{
    CostLine, CostReport, GroupCost, ReportError, SkuCost, Tally, cost_report, report_from_tally,
    tally,
};
pub use rule::{
    AllocationRule, AllocationRuleEntry, Attribute, CompiledRule, Condition, MAX_PATTERN_LEN,
    MAX_REGEX_SIZE, MAX_VALUES, Operator, RuleError, RuleOrderError, check_managers,
    check_rule_order, check_targets, named_managers, validate_conditions,
};

//! SeaORM entities, one per table. Only `store` uses them; the rest of the code sees domain types.

pub mod allocation_configuration;
pub mod allocation_evaluation;
pub mod allocation_history;
pub mod allocation_override;
pub mod allocation_override_share;
pub mod allocation_rule;
pub mod audit_log;
pub mod chargeback_month;
pub mod commerce_quantity_history;
pub mod commerce_subscription;
pub mod cost_group;
pub mod import_run;
pub mod license_history;
pub mod license_price;
pub mod partner_credential;
pub mod service_plan;
pub mod sku_billing_override;
pub mod sku_count_history;
pub mod subscription;
pub mod tenant;
pub mod tenant_import_state;
pub mod user;
pub mod user_allocation;
pub mod user_license;
pub mod user_license_assignment;
pub mod user_version;

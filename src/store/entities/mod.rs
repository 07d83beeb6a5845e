//! SeaORM entities, one per table. Only `store` uses them; the rest of the code sees domain types.

pub mod cost_group;
pub mod service_plan;
pub mod subscription;
pub mod tenant;
pub mod user;
pub mod user_license;

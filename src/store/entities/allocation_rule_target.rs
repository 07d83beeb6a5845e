//! Table `allocation_rule_targets`: a cost group an allocation rule places its users in, with its
//! percentage and its place in the rule's list (one row of 100 for a single-target rule).

use sea_orm::entity::prelude::*;

/// A row of `allocation_rule_targets`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "allocation_rule_targets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub rule_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub cost_group_id: Uuid,
    pub tenant_id: Uuid,
    pub percent: String,
    pub position: i32,
}

/// The rule a target belongs to: rules are read with their targets in one statement.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The rule.
    #[sea_orm(
        belongs_to = "super::allocation_rule::Entity",
        from = "Column::RuleId",
        to = "super::allocation_rule::Column::Id"
    )]
    Rule,
}

impl Related<super::allocation_rule::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Rule.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

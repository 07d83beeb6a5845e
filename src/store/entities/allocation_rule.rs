//! Table `allocation_rules`: a tenant's ordered rules placing users in cost groups; their
//! targets are in `allocation_rule_targets` (`cost_group_id` repeats the first).

use sea_orm::entity::prelude::*;

/// A row of `allocation_rules`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "allocation_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub cost_group_id: Uuid,
    pub priority: i32,
    pub enabled: bool,
    pub conditions: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// The rule's targets, read with it in one statement (`find_with_related`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The cost groups the rule places its users in.
    #[sea_orm(has_many = "super::allocation_rule_target::Entity")]
    Targets,
}

impl Related<super::allocation_rule_target::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Targets.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

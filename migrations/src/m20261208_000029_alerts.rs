//! Alerts and their webhook deliveries.
//!
//! - `alert_signals`: per tenant, the signals an evaluation last saw (a budget's forecast over
//!   one of its thresholds, a budget's actual over its amount, the waste total's baseline), so
//!   that an alert is raised once per crossing;
//! - `budget_standings`: each budget's latest evaluation (the Prometheus gauges read it);
//! - `alerts`: every alert raised, numbered in the order raised (the outbox of the webhooks);
//! - `webhook_deliveries`: one per alert and endpoint, with its state and next attempt;
//! - `webhook_attempts`: every attempt of a delivery;
//! - `tenant_webhooks`: a tenant's own endpoint, its signing secret sealed with the store key.
//!
//! Everything goes with its tenant.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000001_create_tenant::Tenants;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

fn tenant_fk(
    name: &str,
    table: impl IntoIden + 'static,
    col: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AlertSignals::Table)
                    .if_not_exists()
                    .col(uuid(AlertSignals::TenantId))
                    .col(string_len(AlertSignals::Signal, 200))
                    .col(boolean(AlertSignals::Raised))
                    .col(string_null(AlertSignals::Baseline))
                    .col(timestamp_with_time_zone(AlertSignals::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(AlertSignals::TenantId)
                            .col(AlertSignals::Signal),
                    )
                    .foreign_key(&mut tenant_fk(
                        "fk_alert_signals_tenant",
                        AlertSignals::Table,
                        AlertSignals::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BudgetStandings::Table)
                    .if_not_exists()
                    .col(uuid(BudgetStandings::TenantId))
                    .col(uuid(BudgetStandings::CostGroupId))
                    .col(string_len(BudgetStandings::Month, 7))
                    .col(string(BudgetStandings::Amount))
                    .col(string(BudgetStandings::Actual))
                    .col(string(BudgetStandings::Forecast))
                    .col(string_len(BudgetStandings::Currency, 3))
                    .col(string_len(BudgetStandings::Status, 16))
                    .col(timestamp_with_time_zone(BudgetStandings::EvaluatedAt))
                    .primary_key(
                        Index::create()
                            .col(BudgetStandings::TenantId)
                            .col(BudgetStandings::CostGroupId),
                    )
                    .foreign_key(&mut tenant_fk(
                        "fk_budget_standings_tenant",
                        BudgetStandings::Table,
                        BudgetStandings::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alerts::Table)
                    .if_not_exists()
                    .col(big_integer(Alerts::Seq).auto_increment().primary_key())
                    .col(uuid_uniq(Alerts::Id))
                    .col(uuid(Alerts::TenantId))
                    .col(string_len(Alerts::Kind, 32))
                    .col(text(Alerts::Payload))
                    .col(boolean(Alerts::FannedOut))
                    .col(timestamp_with_time_zone(Alerts::RaisedAt))
                    .foreign_key(&mut tenant_fk(
                        "fk_alerts_tenant",
                        Alerts::Table,
                        Alerts::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_alerts_tenant_seq")
                    .table(Alerts::Table)
                    .col(Alerts::TenantId)
                    .col(Alerts::Seq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_alerts_fanned_out")
                    .table(Alerts::Table)
                    .col(Alerts::FannedOut)
                    .col(Alerts::Seq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .if_not_exists()
                    .col(uuid(WebhookDeliveries::Id).primary_key())
                    .col(big_integer(WebhookDeliveries::AlertSeq))
                    .col(uuid(WebhookDeliveries::TenantId))
                    .col(string_len(WebhookDeliveries::Endpoint, 16))
                    .col(text(WebhookDeliveries::Url))
                    .col(string_len(WebhookDeliveries::Status, 16))
                    .col(integer(WebhookDeliveries::Attempts))
                    .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::LeaseUntil))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::DeliveredAt,
                    ))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .foreign_key(&mut tenant_fk(
                        "fk_webhook_deliveries_tenant",
                        WebhookDeliveries::Table,
                        WebhookDeliveries::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_alert")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::AlertSeq)
                            .to(Alerts::Table, Alerts::Seq)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_due")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_tenant")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::TenantId)
                    .col(WebhookDeliveries::AlertSeq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .if_not_exists()
                    .col(uuid(WebhookAttempts::DeliveryId))
                    .col(integer(WebhookAttempts::Attempt))
                    .col(timestamp_with_time_zone(WebhookAttempts::At))
                    .col(integer_null(WebhookAttempts::StatusCode))
                    .col(string_len_null(WebhookAttempts::Error, 500))
                    .col(big_integer(WebhookAttempts::DurationMs))
                    .primary_key(
                        Index::create()
                            .col(WebhookAttempts::DeliveryId)
                            .col(WebhookAttempts::Attempt),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_attempts_delivery")
                            .from(WebhookAttempts::Table, WebhookAttempts::DeliveryId)
                            .to(WebhookDeliveries::Table, WebhookDeliveries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TenantWebhooks::Table)
                    .if_not_exists()
                    .col(uuid(TenantWebhooks::TenantId).primary_key())
                    .col(text(TenantWebhooks::Url))
                    .col(binary(TenantWebhooks::SecretCiphertext))
                    .col(binary(TenantWebhooks::SecretNonce))
                    .col(string_len(TenantWebhooks::KeyId, 64))
                    .col(string(TenantWebhooks::SetBy))
                    .col(timestamp_with_time_zone(TenantWebhooks::SetAt))
                    .foreign_key(&mut tenant_fk(
                        "fk_tenant_webhooks_tenant",
                        TenantWebhooks::Table,
                        TenantWebhooks::TenantId,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            TenantWebhooks::Table.into_iden(),
            WebhookAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            Alerts::Table.into_iden(),
            BudgetStandings::Table.into_iden(),
            AlertSignals::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum AlertSignals {
    Table,
    TenantId,
    Signal,
    Raised,
    Baseline,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BudgetStandings {
    Table,
    TenantId,
    CostGroupId,
    Month,
    Amount,
    Actual,
    Forecast,
    Currency,
    Status,
    EvaluatedAt,
}

#[derive(DeriveIden)]
enum Alerts {
    Table,
    Seq,
    Id,
    TenantId,
    Kind,
    Payload,
    FannedOut,
    RaisedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    AlertSeq,
    TenantId,
    Endpoint,
    Url,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    DeliveredAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    DeliveryId,
    Attempt,
    At,
    StatusCode,
    Error,
    DurationMs,
}

#[derive(DeriveIden)]
enum TenantWebhooks {
    Table,
    TenantId,
    Url,
    SecretCiphertext,
    SecretNonce,
    KeyId,
    SetBy,
    SetAt,
}

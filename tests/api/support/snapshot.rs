//! Seeding a test database with a whole tenant: the tenant is discovered and its data committed
//! through the importer's own path (`import_runs::start_run`, `import_commit::commit_import`),
//! so seeded data is exactly what an import would have stored. Cost groups, which no import
//! writes, are inserted as they are (fixed ids, no audit entries).

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, EntityTrait};
use tenantgraph::domain::imported_user::{FieldSet, ImportedUser};
use tenantgraph::domain::optimization::SignInImport;
use tenantgraph::domain::{
    AssignedBy, AssignedLicense, CostGroup, CostGroupId, ImportCounts, ImportMode, ImportTrigger,
    LicenseAssignment, LicenseAssignmentState, ServicePlan, Subscription, Tenant, User, UserChange,
};
use tenantgraph::store::Store;
use tenantgraph::store::entities::cost_group;
use tenantgraph::store::import_commit::{ChangeSource, CommitError, ImportCommit, commit_import};
use tenantgraph::store::import_runs::{self, NewRun};

/// Everything imported for one tenant.
#[derive(Debug, Clone)]
pub(crate) struct TenantSnapshot {
    /// The tenant row.
    pub(crate) tenant: Tenant,
    /// Its subscribed SKUs.
    pub(crate) subscriptions: Vec<Subscription>,
    /// The service plans of those SKUs.
    pub(crate) service_plans: Vec<ServicePlan>,
    /// Its present users.
    pub(crate) users: Vec<User>,
    /// Licenses assigned to those users; each names a SKU of `subscriptions`.
    pub(crate) licenses: Vec<AssignedLicense>,
    /// How those licenses are assigned (failed assignments included), by user in upstream
    /// order.
    pub(crate) assignments: Vec<LicenseAssignment>,
}

/// A direct, working assignment for each of `licenses`: what Graph reports for licenses no
/// group assigns.
pub(crate) fn direct_assignments(licenses: &[AssignedLicense]) -> Vec<LicenseAssignment> {
    licenses
        .iter()
        .map(|l| LicenseAssignment {
            user_id: l.user_id,
            tenant_id: l.tenant_id,
            detail: LicenseAssignmentState {
                sku_id: l.sku_id,
                assigned_by: AssignedBy::Direct,
                state: "Active".to_owned(),
                error: None,
                disabled_plans: l.disabled_plans.clone(),
                last_updated: None,
            },
        })
        .collect()
}

/// The records of a full import: every user of the snapshot, with every property sent.
struct Records(std::vec::IntoIter<UserChange>);

impl ChangeSource for Records {
    fn next_chunk(&mut self, max: usize) -> Result<Option<Vec<UserChange>>, String> {
        let chunk: Vec<UserChange> = self.0.by_ref().take(max).collect();
        Ok((!chunk.is_empty()).then_some(chunk))
    }
}

/// The record a full import would have read for `user`.
fn record(user: &User, snapshot: &TenantSnapshot) -> UserChange {
    UserChange::Present(Box::new(ImportedUser {
        id: Some(user.id),
        present: FieldSet::ALL,
        display_name: Some(user.display_name.clone()),
        given_name: user.given_name.clone(),
        surname: user.surname.clone(),
        user_principal_name: Some(user.user_principal_name.clone()),
        mail: user.mail.clone(),
        user_type: user.user_type.clone(),
        account_enabled: user.account_enabled,
        job_title: user.job_title.clone(),
        department: user.department.clone(),
        company_name: user.company_name.clone(),
        office_location: user.office_location.clone(),
        street_address: user.street_address.clone(),
        city: user.city.clone(),
        state: user.state.clone(),
        postal_code: user.postal_code.clone(),
        country: user.country.clone(),
        preferred_language: user.preferred_language.clone(),
        usage_location: user.usage_location.clone(),
        extension_attributes: user.extension_attributes.clone(),
        manager_id: user.manager_id,
        manager_contact: user.manager_contact.clone(),
        licenses: snapshot
            .licenses
            .iter()
            .filter(|l| l.user_id == user.id)
            .map(|l| (l.sku_id, l.disabled_plans.clone()))
            .collect(),
        license_assignments: snapshot
            .assignments
            .iter()
            .filter(|a| a.user_id == user.id)
            .map(|a| a.detail.clone())
            .collect(),
    }))
}

/// Stores `snapshot` as a successful full import seen at `seen_at`: the tenant row is created
/// (or renamed) as discovery does, then one run commits the SKUs, plans, users and licenses in
/// one transaction. Users missing from the snapshot are soft-deleted, returning ones restored.
pub(crate) async fn replace_tenant(
    store: &Store,
    snapshot: &TenantSnapshot,
    seen_at: DateTime<Utc>,
) -> Result<ImportCounts, CommitError> {
    replace_tenant_with_sign_ins(store, snapshot, seen_at, None).await
}

/// As [`replace_tenant`], the import also storing `sign_ins` (what it read of the users'
/// sign-in activity, or upstream's refusal).
pub(crate) async fn replace_tenant_with_sign_ins(
    store: &Store,
    snapshot: &TenantSnapshot,
    seen_at: DateTime<Utc>,
    sign_ins: Option<&SignInImport>,
) -> Result<ImportCounts, CommitError> {
    import_runs::upsert_discovered_tenants(store, std::slice::from_ref(&snapshot.tenant), true)
        .await?;
    let run = import_runs::start_run(
        store,
        &NewRun {
            tenant_id: snapshot.tenant.id,
            trigger: ImportTrigger::Cli,
            scheduled_for: None,
            holder: "test-seed".to_owned(),
            lease: chrono::Duration::seconds(120),
            observed_on: None,
        },
    )
    .await?
    .map_err(|refused| CommitError::Invalid(format!("run not started: {refused:?}")))?;
    let commit = ImportCommit {
        run: &run,
        mode: ImportMode::Full,
        subscriptions: &snapshot.subscriptions,
        unknown_skus: &[],
        service_plans: &snapshot.service_plans,
        delta_link: None,
        seen_at,
        warnings: &[],
        commerce: None,
        sign_ins,
        fetched: ImportCounts::default(),
    };
    let records: Vec<UserChange> = snapshot.users.iter().map(|u| record(u, snapshot)).collect();
    let result = commit_import(store, &commit, &mut Records(records.into_iter())).await;
    if result.is_err() {
        // As the importer does: a refused commit ends its run, so the lease is free again.
        let end = import_runs::RunEnd {
            status: tenantgraph::domain::RunStatus::Failed,
            mode: Some(ImportMode::Full),
            reason: Some(tenantgraph::domain::FailureReason::InvalidUpstreamData),
            upstream_code: None,
            upstream_message: None,
            remediation: None,
            warnings: Vec::new(),
            counts: ImportCounts::default(),
        };
        import_runs::finish_run(store, &run, &end).await?;
    }
    result
}

/// Inserts cost groups with their ids, parents before children, without audit entries (no
/// mutation made them).
pub(crate) async fn upsert_cost_groups(store: &Store, groups: &[CostGroup]) {
    let db = sea_orm::Database::connect(store.url()).await.unwrap();
    for group in groups {
        cost_group::Entity::insert(cost_group::ActiveModel {
            id: Set(group.id.uuid()),
            tenant_id: Set(group.tenant_id.uuid()),
            parent_id: Set(group.parent_id.map(CostGroupId::uuid)),
            name: Set(group.name.clone()),
            code: Set(group.code.clone()),
            description: Set(group.description.clone()),
            created_at: Set(group.created_at),
            updated_at: Set(group.updated_at),
        })
        .exec_without_returning(&db)
        .await
        .unwrap();
    }
    db.close().await.unwrap();
}

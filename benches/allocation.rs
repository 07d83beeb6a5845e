//! The allocation engine on one core: 100,000 users against 50 and 500 rules, each rule one of
//! the condition kinds (extension attribute, two conditions with STARTS_WITH and IN, MATCHES,
//! reports-to, has-license), most failing for most users so every user meets many rules.
//! Then 500 rules with rule diagnostics off (`Evaluator::allocate`) against on
//! (`Evaluator::allocate_diagnosed`: every rule tested for every user, matches, overlaps and
//! unallocated users' values counted), for the rules above (no user placed) and for the same
//! rules with the extension attribute ones placing a fifth of the users ("placing").
//! Run: `cargo bench --bench allocation`.

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use tenantgraph::domain::allocation::{
    AllocationInput, AllocationRule, Attribute, CompiledRule, Condition, DiagnosticsTally,
    Evaluator, Operator, Share, evaluate,
};
use tenantgraph::domain::ids::AllocationRuleId;
use tenantgraph::domain::{AssignedLicense, CostGroupId, SkuId, TenantId, User, UserId};
use uuid::Uuid;

const USERS: u128 = 100_000;
const DEPARTMENTS: [&str; 8] = [
    "Sales",
    "IT",
    "Finance",
    "HR",
    "Legal",
    "Support",
    "Marketing",
    "Data",
];

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0000 + n)
}

fn users() -> Vec<User> {
    let seen: DateTime<Utc> = DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
    (0..USERS)
        .map(|n| {
            let mut extension_attributes: [Option<String>; 15] = Default::default();
            extension_attributes[4] = Some(format!("CC-{}", n % 500));
            User {
                id: UserId(id(n + 1)),
                tenant_id: TenantId(id(0)),
                display_name: format!("User {n}"),
                given_name: None,
                surname: None,
                user_principal_name: format!("user{n}@example.com"),
                mail: None,
                user_type: Some("Member".into()),
                account_enabled: Some(true),
                job_title: None,
                department: Some(DEPARTMENTS[(n % 8) as usize].into()),
                company_name: None,
                office_location: None,
                street_address: None,
                city: Some(format!("City {}", n % 97)),
                state: None,
                postal_code: None,
                country: Some(["Germany", "France", "Schweiz"][(n % 3) as usize].into()),
                preferred_language: None,
                usage_location: None,
                extension_attributes,
                manager_id: (n > 0).then(|| UserId(id(n / 10 + 1))),
                manager_contact: None,
                first_seen_at: seen,
                last_seen_at: seen,
                deleted_at: None,
            }
        })
        .collect()
}

fn condition(attribute: Attribute, operator: Operator, values: &[&str]) -> Condition {
    Condition::new(
        attribute,
        operator,
        values.iter().map(|v| (*v).to_owned()).collect(),
    )
    .expect("a valid condition")
}

fn rules(count: u128, group: CostGroupId) -> Vec<CompiledRule> {
    rules_from(count, group, 1000)
}

/// `count` rules; the extension attribute rule `i` tests for `cc-{first_code + i}` (users have
/// `CC-0` to `CC-499`).
fn rules_from(count: u128, group: CostGroupId, first_code: u128) -> Vec<CompiledRule> {
    (0..count)
        .map(|i| {
            let conditions = match i % 5 {
                0 => vec![condition(
                    Attribute::ExtensionAttribute(5),
                    Operator::Equals,
                    &[&format!("cc-{}", first_code + i)],
                )],
                1 => vec![
                    condition(Attribute::Department, Operator::StartsWith, &["nothing"]),
                    condition(Attribute::Country, Operator::In, &["germany", "france"]),
                ],
                2 => vec![condition(
                    Attribute::City,
                    Operator::Matches,
                    &[&format!("^city {}$", i + 100)],
                )],
                3 => vec![condition(
                    Attribute::ReportsTo,
                    Operator::Equals,
                    &[&id(USERS + 10 + i).to_string()],
                )],
                _ => vec![condition(
                    Attribute::HasLicenseOfSku,
                    Operator::Equals,
                    &[&id(0xFFFF_0000 + i).to_string()],
                )],
            };
            AllocationRule {
                id: AllocationRuleId(id(0xAAAA_0000 + i)),
                tenant_id: TenantId(id(0)),
                targets: vec![Share::whole(group)],
                priority: i as i32,
                enabled: true,
                conditions,
            }
            .compile()
            .expect("a valid rule")
        })
        .collect()
}

fn engine(c: &mut Criterion) {
    let users = users();
    let licenses: Vec<AssignedLicense> = users
        .iter()
        .enumerate()
        .map(|(i, u)| AssignedLicense {
            user_id: u.id,
            tenant_id: u.tenant_id,
            sku_id: SkuId(id(0xE0 + (i % 4) as u128)),
            disabled_plans: vec![],
        })
        .collect();
    let group = CostGroupId(id(0xC0));
    let mut bench = c.benchmark_group("evaluate 100000 users");
    bench.sample_size(10);
    for count in [50, 500] {
        let rules = rules(count, group);
        let input = AllocationInput {
            users: &users,
            licenses: &licenses,
            rules: &rules,
            overrides: &[],
            cost_groups: &[group],
        };
        bench.bench_function(format!("{count} rules"), |b| {
            b.iter(|| evaluate(std::hint::black_box(&input)))
        });
    }
    bench.finish();

    let mut bench = c.benchmark_group("diagnostics 100000 users x 500 rules");
    bench.sample_size(10);
    for (name, first_code) in [("", 1000), ("placing ", 0)] {
        let rules = rules_from(500, group, first_code);
        let links: Vec<(UserId, Option<UserId>)> =
            users.iter().map(|u| (u.id, u.manager_id)).collect();
        // Built as `evaluate` builds it, each time, for both.
        let evaluator = || {
            let mut e = Evaluator::new(&rules, &[], std::slice::from_ref(&group));
            e.set_managers(&links);
            e
        };
        bench.bench_function(format!("{name}off"), |b| {
            b.iter(|| evaluator().allocate(std::hint::black_box(&users), &licenses))
        });
        bench.bench_function(format!("{name}on"), |b| {
            b.iter(|| {
                let mut diagnostics = DiagnosticsTally::default();
                let out = evaluator().allocate_diagnosed(
                    std::hint::black_box(&users),
                    &licenses,
                    &mut diagnostics,
                );
                (out, diagnostics)
            })
        });
    }
    bench.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);

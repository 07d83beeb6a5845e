//! Allocation rules: conditions on user attributes, their validation, and the compiled form the
//! engine evaluates (regexes built and values case-folded once, not per user).
//! Pure; must not import SeaORM, async-graphql, actix or reqwest.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, Utc};

use regex::{Regex, RegexBuilder};
use thiserror::Error;

use super::overrides::{OverrideError, Share, check_shares};
use crate::domain::error::clip;
use crate::domain::ids::{AllocationRuleId, CostGroupId, SkuId, TenantId, UserId};
use crate::domain::user::{EXTENSION_ATTRIBUTES, User};

/// Longest `MATCHES` pattern accepted, in characters.
pub const MAX_PATTERN_LEN: usize = 512;

/// Size limit of a compiled `MATCHES` regex, in bytes (`RegexBuilder::size_limit`).
pub const MAX_REGEX_SIZE: usize = 256 * 1024;

/// Most values one condition may carry (for `IN`).
pub const MAX_VALUES: usize = 1000;

/// The user attribute a condition reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Attribute {
    /// `department`.
    Department,
    /// `companyName`.
    CompanyName,
    /// `jobTitle`.
    JobTitle,
    /// `officeLocation`.
    OfficeLocation,
    /// `city`.
    City,
    /// `state`.
    State,
    /// `country`.
    Country,
    /// `postalCode`.
    PostalCode,
    /// `usageLocation`.
    UsageLocation,
    /// `preferredLanguage`.
    PreferredLanguage,
    /// `userType` (`Member`, `Guest`).
    UserType,
    /// The part of `userPrincipalName` after its last `@`; missing when there is no `@`.
    UpnDomain,
    /// `mail`.
    Mail,
    /// `extensionAttribute1` to `extensionAttribute15`; the number is 1-based.
    ExtensionAttribute(u8),
    /// Whether the user holds a license of the SKU whose GUID is the value.
    HasLicenseOfSku,
    /// Whether the user whose GUID is the value is the user's manager, directly or through any
    /// chain of managers. In a manager cycle everyone on the cycle reports to everyone on it.
    ReportsTo,
    /// `accountEnabled` as `true` or `false`; missing when Graph did not say.
    AccountEnabled,
    /// The user id (GUID) of the user's direct manager; missing when the user has none.
    Manager,
}

/// A text attribute other than the extension attributes: the attribute, its name (as
/// [`Attribute`]'s `Display` writes it) and its raw value in a user, `None` when missing.
type TextAttribute = (Attribute, &'static str, fn(&User) -> Option<&str>);

/// Every text attribute but the extension attributes, each once. An attribute's place here is
/// its slot in the per-user cache; extension attribute `n` takes the slot `n - 1` places after
/// the last of these.
const TEXT_ATTRIBUTES: [TextAttribute; 14] = [
    (Attribute::Department, "department", |u| {
        u.department.as_deref()
    }),
    (Attribute::CompanyName, "companyName", |u| {
        u.company_name.as_deref()
    }),
    (Attribute::JobTitle, "jobTitle", |u| u.job_title.as_deref()),
    (Attribute::OfficeLocation, "officeLocation", |u| {
        u.office_location.as_deref()
    }),
    (Attribute::City, "city", |u| u.city.as_deref()),
    (Attribute::State, "state", |u| u.state.as_deref()),
    (Attribute::Country, "country", |u| u.country.as_deref()),
    (Attribute::PostalCode, "postalCode", |u| {
        u.postal_code.as_deref()
    }),
    (Attribute::UsageLocation, "usageLocation", |u| {
        u.usage_location.as_deref()
    }),
    (Attribute::PreferredLanguage, "preferredLanguage", |u| {
        u.preferred_language.as_deref()
    }),
    (Attribute::UserType, "userType", |u| u.user_type.as_deref()),
    (Attribute::UpnDomain, "upnDomain", |u| {
        u.user_principal_name
            .rsplit_once('@')
            .map(|(_, domain)| domain)
    }),
    (Attribute::Mail, "mail", |u| u.mail.as_deref()),
    (Attribute::AccountEnabled, "accountEnabled", |u| {
        u.account_enabled
            .map(|on| if on { "true" } else { "false" })
    }),
];

/// The attributes read from a user's relations, by their names.
const RELATION_ATTRIBUTES: [(Attribute, &str); 3] = [
    (Attribute::HasLicenseOfSku, "hasLicenseOfSku"),
    (Attribute::ReportsTo, "reportsTo"),
    (Attribute::Manager, "manager"),
];

/// Number of text attribute slots: [`TEXT_ATTRIBUTES`] and the fifteen extension attributes.
pub(crate) const TEXT_SLOTS: usize = TEXT_ATTRIBUTES.len() + EXTENSION_ATTRIBUTES;

impl Attribute {
    /// Index of a text attribute in the per-user cache; `None` for SKU and manager attributes.
    fn slot(self) -> Option<usize> {
        if let Attribute::ExtensionAttribute(n) = self {
            // Numbered from 1; a number outside 1..=15 has no slot (`check_shape` refuses it).
            return usize::from(n)
                .checked_sub(1)
                .map(|index| TEXT_ATTRIBUTES.len() + index)
                .filter(|slot| *slot < TEXT_SLOTS);
        }
        TEXT_ATTRIBUTES.iter().position(|(a, ..)| *a == self)
    }

    /// The attribute of a name as [`Attribute`]'s `Display` writes it (`department`,
    /// `extensionAttribute7`, `reportsTo`); `None` for any other name.
    pub fn from_name(name: &str) -> Option<Attribute> {
        if let Some(n) = name.strip_prefix("extensionAttribute") {
            return n
                .parse::<u8>()
                .ok()
                .filter(|v| (1..=15).contains(v) && v.to_string() == n)
                .map(Attribute::ExtensionAttribute);
        }
        named()
            .find(|(_, text)| *text == name)
            .map(|(attribute, _)| attribute)
    }
}

/// Every attribute but the extension attributes, with its name.
fn named() -> impl Iterator<Item = (Attribute, &'static str)> {
    TEXT_ATTRIBUTES
        .iter()
        .map(|(attribute, name, _)| (*attribute, *name))
        .chain(RELATION_ATTRIBUTES)
}

/// The raw value of text slot `slot` of `user`; `None` when missing.
pub(crate) fn slot_value(user: &User, slot: usize) -> Option<&str> {
    match TEXT_ATTRIBUTES.get(slot) {
        Some((_, _, read)) => read(user),
        None => user
            .extension_attributes
            .get(slot - TEXT_ATTRIBUTES.len())?
            .as_deref(),
    }
}

/// The raw value of text attribute `attribute` of `user`; `None` when missing or when the
/// attribute is not a text attribute.
pub(crate) fn slot_value_of(user: &User, attribute: Attribute) -> Option<&str> {
    slot_value(user, attribute.slot()?)
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Attribute::ExtensionAttribute(n) = self {
            return write!(f, "extensionAttribute{n}");
        }
        let name = named()
            .find(|(a, _)| a == self)
            .map_or("", |(_, name)| name);
        f.write_str(name)
    }
}

impl Operator {
    /// Every operator.
    pub const ALL: [Operator; 9] = [
        Operator::Equals,
        Operator::NotEquals,
        Operator::Contains,
        Operator::StartsWith,
        Operator::EndsWith,
        Operator::In,
        Operator::NotIn,
        Operator::Matches,
        Operator::IsEmpty,
    ];

    /// The operator of a name as its `Display` writes it (`EQUALS`); `None` for any other.
    pub fn from_name(name: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|o| o.to_string() == name)
    }
}

/// How a condition compares the attribute with its values.
///
/// A missing attribute reads as the empty string: `IS_EMPTY` holds, `EQUALS` a (non-empty) value
/// fails, `NOT_EQUALS` and `NOT_IN` hold, `CONTAINS`/`STARTS_WITH`/`ENDS_WITH`/`IN` fail, and
/// `MATCHES` tests the pattern against `""`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// The whole value equals the one given value.
    Equals,
    /// The whole value differs from the one given value.
    NotEquals,
    /// The value contains the one given value.
    Contains,
    /// The value starts with the one given value.
    StartsWith,
    /// The value ends with the one given value.
    EndsWith,
    /// The value equals any of one or more given values.
    In,
    /// The value equals none of one or more given values.
    NotIn,
    /// The one given regex matches somewhere in the value (anchor it with `^…$` for a whole match).
    Matches,
    /// The value is missing or empty; takes no values.
    IsEmpty,
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operator::Equals => "EQUALS",
            Operator::NotEquals => "NOT_EQUALS",
            Operator::Contains => "CONTAINS",
            Operator::StartsWith => "STARTS_WITH",
            Operator::EndsWith => "ENDS_WITH",
            Operator::In => "IN",
            Operator::NotIn => "NOT_IN",
            Operator::Matches => "MATCHES",
            Operator::IsEmpty => "IS_EMPTY",
        })
    }
}

/// A rule or condition that cannot be used, naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleError {
    /// A rule without conditions.
    #[error("conditions must not be empty: a rule needs at least one condition")]
    NoConditions,
    /// The operator takes another number of values.
    #[error("{operator} takes {expected}, got {got} values")]
    WrongValueCount {
        /// The operator.
        operator: Operator,
        /// What it takes, e.g. "exactly one value".
        expected: &'static str,
        /// How many were given.
        got: usize,
    },
    /// More values than [`MAX_VALUES`].
    #[error("values must hold at most {max} entries, got {got}")]
    TooManyValues {
        /// The limit.
        max: usize,
        /// How many were given.
        got: usize,
    },
    /// An empty string among the values (use `IS_EMPTY` to test for a missing value).
    #[error("values[{index}] must not be empty; use IS_EMPTY to test for a missing value")]
    EmptyValue {
        /// Position of the empty value.
        index: usize,
    },
    /// A `MATCHES` pattern longer than [`MAX_PATTERN_LEN`].
    #[error("MATCHES pattern must be at most {max} characters, got {got}")]
    PatternTooLong {
        /// The limit.
        max: usize,
        /// The pattern's length in characters.
        got: usize,
    },
    /// A `MATCHES` pattern that does not compile or compiles too large.
    #[error("MATCHES pattern {pattern:?} is not a valid regex: {reason}")]
    InvalidPattern {
        /// The pattern, shortened.
        pattern: String,
        /// The regex crate's explanation.
        reason: String,
    },
    /// An extension attribute number outside 1..=15.
    #[error("extensionAttribute must be numbered 1 to 15, got {got}")]
    ExtensionAttributeOutOfRange {
        /// The number given.
        got: u8,
    },
    /// A SKU or user value that is not a GUID.
    #[error("{attribute} takes GUID values, got {value:?}")]
    NotAGuid {
        /// The attribute.
        attribute: Attribute,
        /// The rejected value, shortened.
        value: String,
    },
    /// An operator that makes no sense for the attribute.
    #[error("{operator} cannot be used with {attribute}; use {allowed}")]
    OperatorNotAllowed {
        /// The attribute.
        attribute: Attribute,
        /// The operator.
        operator: Operator,
        /// The operators it takes, e.g. "EQUALS, NOT_EQUALS, IN or NOT_IN".
        allowed: &'static str,
    },
    /// An `accountEnabled` value other than `true` or `false`.
    #[error("accountEnabled takes \"true\" or \"false\", got {value:?}")]
    NotABoolean {
        /// The rejected value, shortened.
        value: String,
    },
    /// A `manager` value that is not a present user of the rule's tenant.
    #[error("manager {value} is not a user of this tenant")]
    UnknownManager {
        /// The user id given.
        value: UserId,
    },
    /// A problem with a rule's targets (the shares it splits its users into).
    #[error("targets{}: {}", .0.field(), .0.detail())]
    InTargets(OverrideError),
    /// A problem in one condition of a rule.
    #[error("conditions[{index}]: {source}")]
    InCondition {
        /// Position of the condition in the rule.
        index: usize,
        /// What is wrong with it.
        #[source]
        source: Box<RuleError>,
    },
}

/// One test on a user attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The attribute read.
    pub attribute: Attribute,
    /// The comparison.
    pub operator: Operator,
    /// The values compared with: none for `IS_EMPTY`, one or more for `IN` and `NOT_IN`, exactly
    /// one otherwise.
    pub values: Vec<String>,
    /// Compare case-sensitively; `false` (the default) folds case with Unicode lowercasing.
    pub case_sensitive: bool,
}

impl Condition {
    /// A case-insensitive condition, validated.
    ///
    /// # Errors
    /// [`RuleError`] naming the problem, as [`Condition::validate`].
    pub fn new(
        attribute: Attribute,
        operator: Operator,
        values: Vec<String>,
    ) -> Result<Self, RuleError> {
        let condition = Condition {
            attribute,
            operator,
            values,
            case_sensitive: false,
        };
        condition.validate()?;
        Ok(condition)
    }

    /// Checks the condition can be evaluated.
    ///
    /// # Errors
    /// The first problem found: a wrong number of values for the operator, an empty value, an
    /// extension attribute outside 1..=15, an operator other than `EQUALS`, `NOT_EQUALS`, `IN` or
    /// `NOT_IN` on `hasLicenseOfSku`/`reportsTo` (those and `IS_EMPTY` on `manager` and
    /// `accountEnabled`), a value there that is not a GUID (not `true` or `false` for
    /// `accountEnabled`), or a `MATCHES` regex that is too long, does not compile or exceeds
    /// [`MAX_REGEX_SIZE`].
    pub fn validate(&self) -> Result<(), RuleError> {
        self.compile().map(|_| ())
    }

    fn check_shape(&self) -> Result<(), RuleError> {
        if let Attribute::ExtensionAttribute(n) = self.attribute
            && !(1..=EXTENSION_ATTRIBUTES).contains(&usize::from(n))
        {
            return Err(RuleError::ExtensionAttributeOutOfRange { got: n });
        }
        let listed = matches!(
            self.operator,
            Operator::Equals | Operator::NotEquals | Operator::In | Operator::NotIn
        );
        let allowed = match self.attribute {
            Attribute::HasLicenseOfSku | Attribute::ReportsTo if !listed => {
                Some("EQUALS, NOT_EQUALS, IN or NOT_IN")
            }
            Attribute::Manager | Attribute::AccountEnabled
                if !listed && self.operator != Operator::IsEmpty =>
            {
                Some("EQUALS, NOT_EQUALS, IN, NOT_IN or IS_EMPTY")
            }
            _ => None,
        };
        if let Some(allowed) = allowed {
            return Err(RuleError::OperatorNotAllowed {
                attribute: self.attribute,
                operator: self.operator,
                allowed,
            });
        }
        let got = self.values.len();
        let expected = match self.operator {
            Operator::IsEmpty if got != 0 => Some("no values"),
            Operator::In | Operator::NotIn if got == 0 => Some("one or more values"),
            Operator::IsEmpty | Operator::In | Operator::NotIn => None,
            _ if got != 1 => Some("exactly one value"),
            _ => None,
        };
        if let Some(expected) = expected {
            return Err(RuleError::WrongValueCount {
                operator: self.operator,
                expected,
                got,
            });
        }
        if got > MAX_VALUES {
            return Err(RuleError::TooManyValues {
                max: MAX_VALUES,
                got,
            });
        }
        if let Some(index) = self.values.iter().position(|v| v.is_empty()) {
            return Err(RuleError::EmptyValue { index });
        }
        Ok(())
    }

    /// The validated, ready-to-evaluate form of this condition.
    pub(crate) fn compile(&self) -> Result<CompiledCondition, RuleError> {
        self.check_shape()?;
        let negate = matches!(self.operator, Operator::NotEquals | Operator::NotIn);
        let test = match self.attribute {
            Attribute::HasLicenseOfSku => Test::Sku {
                negate,
                skus: self.parse_guids::<SkuId>()?,
            },
            Attribute::ReportsTo => Test::ReportsTo {
                negate,
                managers: self.parse_guids::<UserId>()?,
            },
            Attribute::Manager => Test::Manager {
                negate,
                // `IS_EMPTY`: no manager is "none of no one" negated.
                managers: self.parse_guids::<UserId>()?,
                empty: self.operator == Operator::IsEmpty,
            },
            text => {
                if text == Attribute::AccountEnabled {
                    self.check_booleans()?;
                }
                // check_shape vouched that every other attribute is a text slot.
                let slot = text.slot().unwrap_or_default();
                // `true`/`false` are accepted in any case, so they are always compared folded.
                let fold = !self.case_sensitive || text == Attribute::AccountEnabled;
                let value = |v: &String| {
                    if fold { v.to_lowercase() } else { v.clone() }
                };
                let first = self.values.first().map(value).unwrap_or_default();
                let op = match self.operator {
                    Operator::Equals => TextOp::Equals(first),
                    Operator::NotEquals => TextOp::NotEquals(first),
                    Operator::Contains => TextOp::Contains(first),
                    Operator::StartsWith => TextOp::StartsWith(first),
                    Operator::EndsWith => TextOp::EndsWith(first),
                    Operator::In => TextOp::In(self.values.iter().map(value).collect()),
                    Operator::NotIn => TextOp::NotIn(self.values.iter().map(value).collect()),
                    Operator::Matches => TextOp::Matches(self.build_regex()?),
                    Operator::IsEmpty => TextOp::IsEmpty,
                };
                // Regexes fold case themselves; they read the raw value.
                let fold = fold && !matches!(op, TextOp::Matches(_) | TextOp::IsEmpty);
                Test::Text { slot, fold, op }
            }
        };
        Ok(CompiledCondition { test })
    }

    fn check_booleans(&self) -> Result<(), RuleError> {
        match self
            .values
            .iter()
            .find(|v| !["true", "false"].contains(&v.to_lowercase().as_str()))
        {
            Some(v) => Err(RuleError::NotABoolean { value: clip(v) }),
            None => Ok(()),
        }
    }

    fn parse_guids<T: std::str::FromStr>(&self) -> Result<Vec<T>, RuleError> {
        self.values
            .iter()
            .map(|v| {
                v.trim().parse::<T>().map_err(|_| RuleError::NotAGuid {
                    attribute: self.attribute,
                    value: clip(v),
                })
            })
            .collect()
    }

    fn build_regex(&self) -> Result<Regex, RuleError> {
        let pattern = self.values.first().map(String::as_str).unwrap_or_default();
        let len = pattern.chars().count();
        if len > MAX_PATTERN_LEN {
            return Err(RuleError::PatternTooLong {
                max: MAX_PATTERN_LEN,
                got: len,
            });
        }
        RegexBuilder::new(pattern)
            .case_insensitive(!self.case_sensitive)
            .size_limit(MAX_REGEX_SIZE)
            .dfa_size_limit(MAX_REGEX_SIZE)
            .build()
            .map_err(|e| RuleError::InvalidPattern {
                pattern: clip(pattern),
                reason: e.to_string(),
            })
    }
}

/// "Users matching all these conditions go to that cost group"; one of a tenant's ordered rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationRule {
    /// The rule.
    pub id: AllocationRuleId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// The cost groups matching users go to, with their percentages: one share of 100 for a
    /// single-target rule, several for a split rule. Validated as an override's shares are
    /// (above 0, at most two decimals, each group once, summing to exactly 100).
    pub targets: Vec<Share>,
    /// Lower runs first; ties are broken by id.
    pub priority: i32,
    /// Disabled rules are kept but never match.
    pub enabled: bool,
    /// All must hold; at least one.
    pub conditions: Vec<Condition>,
}

impl AllocationRule {
    /// The first of the rule's targets: the only one of a single-target rule.
    pub fn first_target(&self) -> Option<CostGroupId> {
        self.targets.first().map(|s| s.cost_group)
    }

    /// Whether one of the rule's targets is `group`.
    pub fn targets_group(&self, group: CostGroupId) -> bool {
        self.targets.iter().any(|s| s.cost_group == group)
    }

    /// Whether the rule places its users in more than one cost group.
    pub fn is_split(&self) -> bool {
        self.targets.len() > 1
    }

    /// Checks the rule's targets, that it has conditions and that each is valid.
    ///
    /// # Errors
    /// [`RuleError::InTargets`] naming the first bad target, [`RuleError::NoConditions`], or
    /// [`RuleError::InCondition`] naming the first bad condition.
    pub fn validate(&self) -> Result<(), RuleError> {
        self.compile().map(|_| ())
    }

    /// Validates the rule and builds its evaluable form (regexes compiled, values folded).
    ///
    /// # Errors
    /// As [`AllocationRule::validate`].
    pub fn compile(&self) -> Result<CompiledRule, RuleError> {
        check_targets(&self.targets)?;
        Ok(CompiledRule {
            rule: self.clone(),
            conditions: compile_conditions(&self.conditions)?,
        })
    }
}

/// Checks that `conditions` could be a rule's: at least one, each valid.
///
/// # Errors
/// As [`AllocationRule::validate`].
pub fn validate_conditions(conditions: &[Condition]) -> Result<(), RuleError> {
    compile_conditions(conditions).map(|_| ())
}

/// Checks that `targets` could be a rule's: at least one, each above 0 with at most
/// [`MAX_PERCENT_DECIMALS`](super::MAX_PERCENT_DECIMALS) decimals, no group twice, summing to
/// exactly 100.
///
/// # Errors
/// [`RuleError::InTargets`] with the first problem found.
pub fn check_targets(targets: &[Share]) -> Result<(), RuleError> {
    check_shares(targets).map_err(RuleError::InTargets)
}

/// The user ids `manager` conditions of `conditions` name (values that are not GUIDs, which
/// validation refuses, are left out).
pub fn named_managers(conditions: &[Condition]) -> Vec<UserId> {
    conditions
        .iter()
        .filter(|c| c.attribute == Attribute::Manager)
        .flat_map(|c| c.values.iter().filter_map(|v| v.trim().parse().ok()))
        .collect()
}

/// Checks that every `manager` value of `conditions` names a user `known` accepts (a present
/// user of the rule's tenant).
///
/// # Errors
/// [`RuleError::InCondition`] with [`RuleError::UnknownManager`] for the first that does not.
pub fn check_managers(
    conditions: &[Condition],
    known: impl Fn(UserId) -> bool,
) -> Result<(), RuleError> {
    for (index, c) in conditions.iter().enumerate() {
        let unknown = named_managers(std::slice::from_ref(c))
            .into_iter()
            .find(|m| !known(*m));
        if let Some(value) = unknown {
            return Err(RuleError::InCondition {
                index,
                source: Box::new(RuleError::UnknownManager { value }),
            });
        }
    }
    Ok(())
}

fn compile_conditions(conditions: &[Condition]) -> Result<Vec<CompiledCondition>, RuleError> {
    if conditions.is_empty() {
        return Err(RuleError::NoConditions);
    }
    conditions
        .iter()
        .enumerate()
        .map(|(index, c)| {
            c.compile().map_err(|e| RuleError::InCondition {
                index,
                source: Box::new(e),
            })
        })
        .collect()
}

/// A rule as stored, with when it was created and last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationRuleEntry {
    /// The rule.
    pub rule: AllocationRule,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed (its priority included).
    pub updated_at: DateTime<Utc>,
}

/// A new order of a tenant's rules that does not list each of them exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("ruleIds must list each rule of the tenant exactly once; {}", self.details())]
pub struct RuleOrderError {
    /// Rules of the tenant left out.
    pub missing: Vec<AllocationRuleId>,
    /// Ids that are not rules of the tenant.
    pub unknown: Vec<AllocationRuleId>,
    /// Ids listed more than once.
    pub duplicated: Vec<AllocationRuleId>,
}

impl RuleOrderError {
    /// `missing: …; unknown: …; duplicated: …`, leaving out empty lists.
    fn details(&self) -> String {
        [
            ("missing", &self.missing),
            ("unknown", &self.unknown),
            ("duplicated", &self.duplicated),
        ]
        .into_iter()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(label, ids)| {
            let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
            format!("{label}: {}", ids.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
    }
}

/// Checks that `order` lists each of `rules` (a tenant's rules) exactly once.
///
/// # Errors
/// [`RuleOrderError`] naming the rules missing, the ids unknown and the ids listed twice, each in
/// the order first met.
pub fn check_rule_order(
    rules: &[AllocationRuleId],
    order: &[AllocationRuleId],
) -> Result<(), RuleOrderError> {
    let known: HashSet<AllocationRuleId> = rules.iter().copied().collect();
    let mut seen = HashSet::with_capacity(order.len());
    let mut err = RuleOrderError {
        missing: Vec::new(),
        unknown: Vec::new(),
        duplicated: Vec::new(),
    };
    for &id in order {
        if !seen.insert(id) {
            if !err.duplicated.contains(&id) {
                err.duplicated.push(id);
            }
        } else if !known.contains(&id) {
            err.unknown.push(id);
        }
    }
    err.missing = rules
        .iter()
        .filter(|r| !seen.contains(r))
        .copied()
        .collect();
    if err.missing.is_empty() && err.unknown.is_empty() && err.duplicated.is_empty() {
        Ok(())
    } else {
        Err(err)
    }
}

/// A validated rule with its conditions ready to evaluate; built by [`AllocationRule::compile`].
#[derive(Debug, Clone)]
pub struct CompiledRule {
    rule: AllocationRule,
    conditions: Vec<CompiledCondition>,
}

impl CompiledRule {
    /// The rule as written.
    pub fn rule(&self) -> &AllocationRule {
        &self.rule
    }

    pub(crate) fn conditions(&self) -> &[CompiledCondition] {
        &self.conditions
    }

    /// Managers named by `reportsTo` conditions of this rule.
    pub(crate) fn managers(&self) -> impl Iterator<Item = UserId> + '_ {
        self.conditions
            .iter()
            .flat_map(|c| match &c.test {
                Test::ReportsTo { managers, .. } => managers.as_slice(),
                _ => &[][..],
            })
            .copied()
    }

    /// Users named by `manager` conditions of this rule (direct managers), each as often as
    /// named.
    pub fn direct_managers(&self) -> impl Iterator<Item = UserId> + '_ {
        self.conditions
            .iter()
            .flat_map(|c| match &c.test {
                Test::Manager { managers, .. } => managers.as_slice(),
                _ => &[][..],
            })
            .copied()
    }
}

/// A condition ready to evaluate.
#[derive(Debug, Clone)]
pub(crate) struct CompiledCondition {
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    Text {
        slot: usize,
        fold: bool,
        op: TextOp,
    },
    Sku {
        negate: bool,
        skus: Vec<SkuId>,
    },
    ReportsTo {
        negate: bool,
        managers: Vec<UserId>,
    },
    Manager {
        negate: bool,
        managers: Vec<UserId>,
        empty: bool,
    },
}

#[derive(Debug, Clone)]
enum TextOp {
    Equals(String),
    NotEquals(String),
    Contains(String),
    StartsWith(String),
    EndsWith(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Matches(Regex),
    IsEmpty,
}

/// What a condition needs to know about one user; text values are read and case-folded at most
/// once per user, whatever the number of conditions reading them.
pub(crate) struct UserFacts<'u> {
    user: &'u User,
    folded: [std::cell::OnceCell<Cow<'u, str>>; TEXT_SLOTS],
    /// SKUs the user holds a license of.
    skus: &'u [SkuId],
    /// Managers named by some rule that the user reports to, directly or not.
    managers: &'u [UserId],
}

impl<'u> UserFacts<'u> {
    /// Facts about `user`, holding `skus` and reporting to `managers` (the rule-named ones).
    pub(crate) fn new(user: &'u User, skus: &'u [SkuId], managers: &'u [UserId]) -> Self {
        UserFacts {
            user,
            folded: std::array::from_fn(|_| std::cell::OnceCell::new()),
            skus,
            managers,
        }
    }

    fn raw(&self, slot: usize) -> &'u str {
        slot_value(self.user, slot).unwrap_or_default()
    }

    fn folded(&self, slot: usize) -> &str {
        self.folded[slot].get_or_init(|| {
            let raw = self.raw(slot);
            if raw.bytes().any(|b| !b.is_ascii() || b.is_ascii_uppercase()) {
                Cow::Owned(raw.to_lowercase())
            } else {
                Cow::Borrowed(raw)
            }
        })
    }
}

impl CompiledCondition {
    /// The user's own values this condition reads, as an explanation shows them: the raw text
    /// (none when missing or empty), the SKUs the user holds, the rule-named managers the user
    /// reports to, or the direct manager's id. Never another user's data.
    pub(crate) fn user_values(&self, facts: &UserFacts<'_>) -> Vec<String> {
        match &self.test {
            Test::Text { slot, .. } => {
                let raw = facts.raw(*slot);
                if raw.is_empty() {
                    Vec::new()
                } else {
                    vec![raw.to_owned()]
                }
            }
            Test::Sku { .. } => facts.skus.iter().map(ToString::to_string).collect(),
            Test::ReportsTo { .. } => facts.managers.iter().map(ToString::to_string).collect(),
            Test::Manager { .. } => facts
                .user
                .manager_id
                .iter()
                .map(|m| m.to_string())
                .collect(),
        }
    }

    /// Whether the condition holds for the user.
    pub(crate) fn holds(&self, facts: &UserFacts<'_>) -> bool {
        match &self.test {
            Test::Sku { negate, skus } => skus.iter().any(|s| facts.skus.contains(s)) != *negate,
            Test::ReportsTo { negate, managers } => {
                managers.iter().any(|m| facts.managers.contains(m)) != *negate
            }
            Test::Manager {
                negate,
                managers,
                empty,
            } => match facts.user.manager_id {
                _ if *empty => facts.user.manager_id.is_none(),
                Some(m) => managers.contains(&m) != *negate,
                None => *negate,
            },
            Test::Text { slot, fold, op } => {
                let value = if *fold {
                    facts.folded(*slot)
                } else {
                    facts.raw(*slot)
                };
                match op {
                    TextOp::Equals(v) => value == v,
                    TextOp::NotEquals(v) => value != v,
                    TextOp::Contains(v) => value.contains(v.as_str()),
                    TextOp::StartsWith(v) => value.starts_with(v.as_str()),
                    TextOp::EndsWith(v) => value.ends_with(v.as_str()),
                    TextOp::In(vs) => vs.iter().any(|v| v == value),
                    TextOp::NotIn(vs) => vs.iter().all(|v| v != value),
                    TextOp::Matches(re) => re.is_match(value),
                    TextOp::IsEmpty => value.is_empty(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::allocation::test_support::{guid, user};
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    fn cond(attribute: Attribute, operator: Operator, values: &[&str]) -> Condition {
        Condition {
            attribute,
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
            case_sensitive: false,
        }
    }

    fn holds_for(c: &Condition, u: &User) -> bool {
        holds_with(c, u, &[], &[])
    }

    fn holds_with(c: &Condition, u: &User, skus: &[SkuId], managers: &[UserId]) -> bool {
        let compiled = c.compile().unwrap();
        compiled.holds(&UserFacts::new(u, skus, managers))
    }

    #[test]
    fn every_operator_on_department_behaves_as_documented() {
        let mut u = user(1);
        u.department = Some("Sales EMEA".into());
        let cases: &[(Operator, &[&str], bool)] = &[
            (Operator::Equals, &["sales emea"], true),
            (Operator::Equals, &["Sales"], false),
            (Operator::NotEquals, &["SALES EMEA"], false),
            (Operator::NotEquals, &["Marketing"], true),
            (Operator::Contains, &["es em"], true),
            (Operator::Contains, &["apac"], false),
            (Operator::StartsWith, &["SALES"], true),
            (Operator::StartsWith, &["emea"], false),
            (Operator::EndsWith, &["Emea"], true),
            (Operator::EndsWith, &["sales"], false),
            (Operator::In, &["Marketing", "sales emea"], true),
            (Operator::In, &["Marketing", "Sales"], false),
            (Operator::Matches, &["^sales\\s+(emea|apac)$"], true),
            (Operator::Matches, &["^emea"], false),
            (Operator::IsEmpty, &[], false),
        ];
        for (operator, values, expected) in cases {
            let c = cond(Attribute::Department, *operator, values);
            assert_eq!(holds_for(&c, &u), *expected, "{operator} {values:?}");
        }
    }

    #[test]
    fn a_missing_attribute_reads_as_empty() {
        let u = user(1);
        let cases: &[(Operator, &[&str], bool)] = &[
            (Operator::IsEmpty, &[], true),
            (Operator::Equals, &["x"], false),
            (Operator::NotEquals, &["x"], true),
            (Operator::Contains, &["x"], false),
            (Operator::StartsWith, &["x"], false),
            (Operator::EndsWith, &["x"], false),
            (Operator::In, &["x", "y"], false),
            (Operator::Matches, &["^$"], true),
        ];
        for (operator, values, expected) in cases {
            let c = cond(Attribute::City, *operator, values);
            assert_eq!(holds_for(&c, &u), *expected, "{operator} {values:?}");
        }
    }

    #[test]
    fn an_empty_string_value_counts_as_empty() {
        let mut u = user(1);
        u.city = Some(String::new());
        assert!(holds_for(
            &cond(Attribute::City, Operator::IsEmpty, &[]),
            &u
        ));
    }

    #[test]
    fn each_text_attribute_reads_its_own_field() {
        let mut u = user(1);
        u.department = Some("d".into());
        u.company_name = Some("co".into());
        u.job_title = Some("jt".into());
        u.office_location = Some("ol".into());
        u.city = Some("ci".into());
        u.state = Some("st".into());
        u.country = Some("cn".into());
        u.postal_code = Some("pc".into());
        u.usage_location = Some("ul".into());
        u.preferred_language = Some("pl".into());
        u.user_type = Some("ut".into());
        u.user_principal_name = "someone@Contoso.COM".into();
        u.mail = Some("ma".into());
        for n in 0..15 {
            u.extension_attributes[n] = Some(format!("ext{}", n + 1));
        }
        let mut cases = vec![
            (Attribute::Department, "d".to_string()),
            (Attribute::CompanyName, "co".into()),
            (Attribute::JobTitle, "jt".into()),
            (Attribute::OfficeLocation, "ol".into()),
            (Attribute::City, "ci".into()),
            (Attribute::State, "st".into()),
            (Attribute::Country, "cn".into()),
            (Attribute::PostalCode, "pc".into()),
            (Attribute::UsageLocation, "ul".into()),
            (Attribute::PreferredLanguage, "pl".into()),
            (Attribute::UserType, "ut".into()),
            (Attribute::UpnDomain, "contoso.com".into()),
            (Attribute::Mail, "ma".into()),
        ];
        for n in 1..=15u8 {
            cases.push((Attribute::ExtensionAttribute(n), format!("EXT{n}")));
        }
        for (attribute, value) in &cases {
            let c = cond(*attribute, Operator::Equals, &[value]);
            assert!(holds_for(&c, &u), "{attribute} = {value}");
            // No other attribute holds the same value.
            let others = cases.iter().filter(|(a, _)| a != attribute);
            for (other, _) in others {
                let c = cond(*other, Operator::Equals, &[value]);
                assert!(!holds_for(&c, &u), "{other} should not be {value}");
            }
        }
    }

    #[test]
    fn upn_domain_is_the_part_after_the_last_at_sign() {
        let mut u = user(1);
        u.user_principal_name = "john#EXT#@fabrikam@contoso.onmicrosoft.com".into();
        let c = cond(
            Attribute::UpnDomain,
            Operator::Equals,
            &["contoso.onmicrosoft.com"],
        );
        assert!(holds_for(&c, &u));
        u.user_principal_name = "no-at-sign".into();
        assert!(holds_for(
            &cond(Attribute::UpnDomain, Operator::IsEmpty, &[]),
            &u
        ));
    }

    #[test]
    fn case_insensitive_matching_folds_unicode() {
        let mut u = user(1);
        u.city = Some("ZÜRICH".into());
        u.department = Some("ΟΔΥΣΣΕΥΣ".into());
        assert!(holds_for(
            &cond(Attribute::City, Operator::Equals, &["zürich"]),
            &u
        ));
        assert!(holds_for(
            &cond(Attribute::Department, Operator::StartsWith, &["οδυσ"]),
            &u
        ));
        assert!(holds_for(
            &cond(Attribute::City, Operator::Matches, &["^zü"]),
            &u
        ));
    }

    #[test]
    fn case_sensitive_conditions_compare_exactly() {
        let mut u = user(1);
        u.city = Some("Zürich".into());
        let mut c = cond(Attribute::City, Operator::Equals, &["zürich"]);
        c.case_sensitive = true;
        assert!(!holds_for(&c, &u));
        c.values = vec!["Zürich".into()];
        assert!(holds_for(&c, &u));
        let mut re = cond(Attribute::City, Operator::Matches, &["^zü"]);
        re.case_sensitive = true;
        assert!(!holds_for(&re, &u));
    }

    #[test]
    fn has_license_of_sku_checks_the_users_skus() {
        let u = user(1);
        let e3 = SkuId(guid(100));
        let e5 = SkuId(guid(101));
        let e3_text = e3.to_string();
        let e5_text = e5.to_string();
        let has = cond(Attribute::HasLicenseOfSku, Operator::Equals, &[&e3_text]);
        let lacks = cond(Attribute::HasLicenseOfSku, Operator::NotEquals, &[&e3_text]);
        let any = cond(
            Attribute::HasLicenseOfSku,
            Operator::In,
            &[&e5_text, &e3_text],
        );
        assert!(holds_with(&has, &u, &[e3], &[]));
        assert!(!holds_with(&lacks, &u, &[e3], &[]));
        assert!(holds_with(&any, &u, &[e3], &[]));
        assert!(!holds_with(&has, &u, &[e5], &[]));
        assert!(holds_with(&lacks, &u, &[], &[]));
    }

    #[test]
    fn reports_to_checks_the_precomputed_managers() {
        let u = user(1);
        let boss = UserId(guid(7));
        let boss_text = boss.to_string();
        let c = cond(Attribute::ReportsTo, Operator::Equals, &[&boss_text]);
        assert!(holds_with(&c, &u, &[], &[boss]));
        assert!(!holds_with(&c, &u, &[], &[]));
        let not = cond(Attribute::ReportsTo, Operator::NotEquals, &[&boss_text]);
        assert!(holds_with(&not, &u, &[], &[]));
    }

    #[test]
    fn not_in_holds_exactly_when_in_does_not_for_every_attribute_kind() {
        let mut u = user(1);
        u.department = Some("Sales".into());
        u.manager_id = Some(UserId(guid(7)));
        let sku = SkuId(guid(100)).to_string();
        let other_sku = SkuId(guid(101)).to_string();
        let boss = UserId(guid(7)).to_string();
        let stranger = UserId(guid(8)).to_string();
        let cases: &[(Attribute, &[&str])] = &[
            (Attribute::Department, &["sales", "it"]),
            (Attribute::Department, &["hr", "it"]),
            (Attribute::City, &["x"]),
            (Attribute::AccountEnabled, &["TRUE"]),
            (Attribute::AccountEnabled, &["false"]),
            (Attribute::HasLicenseOfSku, &[&sku]),
            (Attribute::HasLicenseOfSku, &[&other_sku]),
            (Attribute::ReportsTo, &[&boss, &stranger]),
            (Attribute::ReportsTo, &[&stranger]),
            (Attribute::Manager, &[&boss]),
            (Attribute::Manager, &[&stranger]),
        ];
        for (attribute, values) in cases {
            let skus = [SkuId(guid(100))];
            let managers = [UserId(guid(7))];
            let is_in = holds_with(
                &cond(*attribute, Operator::In, values),
                &u,
                &skus,
                &managers,
            );
            let not_in = holds_with(
                &cond(*attribute, Operator::NotIn, values),
                &u,
                &skus,
                &managers,
            );
            assert_ne!(is_in, not_in, "{attribute} {values:?}");
        }
    }

    #[test]
    fn account_enabled_reads_true_false_or_missing() {
        let mut u = user(1);
        let cases: &[(Option<bool>, Operator, &[&str], bool)] = &[
            (Some(true), Operator::Equals, &["true"], true),
            (Some(true), Operator::Equals, &["False"], false),
            (Some(false), Operator::Equals, &["false"], true),
            (Some(false), Operator::NotEquals, &["true"], true),
            (Some(false), Operator::NotIn, &["true", "false"], false),
            (None, Operator::Equals, &["true"], false),
            (None, Operator::NotIn, &["true", "false"], true),
            (None, Operator::IsEmpty, &[], true),
            (Some(true), Operator::IsEmpty, &[], false),
        ];
        for (enabled, operator, values, expected) in cases {
            u.account_enabled = *enabled;
            let mut c = cond(Attribute::AccountEnabled, *operator, values);
            assert_eq!(
                holds_for(&c, &u),
                *expected,
                "{enabled:?} {operator} {values:?}"
            );
            // Values are accepted in any case, so case sensitivity changes nothing.
            c.case_sensitive = true;
            assert_eq!(
                holds_for(&c, &u),
                *expected,
                "{enabled:?} {operator} {values:?}"
            );
        }
    }

    #[test]
    fn manager_compares_the_direct_manager_only() {
        let mut u = user(1);
        let boss = UserId(guid(7)).to_string();
        let grand_boss = UserId(guid(9)).to_string();
        u.manager_id = Some(UserId(guid(7)));
        // The chain above the direct manager is what REPORTS_TO reads, not MANAGER.
        let reached = [UserId(guid(7)), UserId(guid(9))];
        let check = |operator, values: &[&str], u: &User| {
            holds_with(
                &cond(Attribute::Manager, operator, values),
                u,
                &[],
                &reached,
            )
        };
        assert!(check(Operator::Equals, &[&boss], &u));
        assert!(!check(Operator::Equals, &[&grand_boss], &u));
        assert!(check(Operator::NotEquals, &[&grand_boss], &u));
        assert!(check(Operator::In, &[&grand_boss, &boss], &u));
        assert!(!check(Operator::NotIn, &[&boss], &u));
        assert!(!check(Operator::IsEmpty, &[], &u));
        u.manager_id = None;
        assert!(check(Operator::IsEmpty, &[], &u));
        assert!(!check(Operator::Equals, &[&boss], &u));
        assert!(check(Operator::NotEquals, &[&boss], &u));
        assert!(check(Operator::NotIn, &[&boss], &u));
    }

    #[test]
    fn explanations_show_only_the_users_own_values() {
        let mut u = user(1);
        u.department = Some("Sales".into());
        u.manager_id = Some(UserId(guid(7)));
        let skus = [SkuId(guid(100))];
        let managers = [UserId(guid(9))];
        let facts = UserFacts::new(&u, &skus, &managers);
        let values = |attribute, operator, v: &[&str]| {
            cond(attribute, operator, v)
                .compile()
                .unwrap()
                .user_values(&facts)
        };
        let any = UserId(guid(5)).to_string();
        assert_eq!(
            values(Attribute::Department, Operator::Equals, &["x"]),
            ["Sales"]
        );
        assert!(values(Attribute::City, Operator::IsEmpty, &[]).is_empty());
        assert_eq!(
            values(Attribute::AccountEnabled, Operator::Equals, &["true"]),
            ["true"]
        );
        assert_eq!(
            values(Attribute::Manager, Operator::Equals, &[&any]),
            [UserId(guid(7)).to_string()]
        );
        assert_eq!(
            values(Attribute::HasLicenseOfSku, Operator::NotIn, &[&any]),
            [SkuId(guid(100)).to_string()]
        );
        assert_eq!(
            values(Attribute::ReportsTo, Operator::In, &[&any]),
            [UserId(guid(9)).to_string()]
        );
    }

    #[test]
    fn validation_errors_name_the_problem() {
        let long = "a".repeat(MAX_PATTERN_LEN + 1);
        let cases: Vec<(Condition, &str)> = vec![
            (
                cond(Attribute::City, Operator::Equals, &[]),
                "EQUALS takes exactly one value, got 0 values",
            ),
            (
                cond(Attribute::City, Operator::Contains, &["a", "b"]),
                "CONTAINS takes exactly one value, got 2 values",
            ),
            (
                cond(Attribute::City, Operator::In, &[]),
                "IN takes one or more values, got 0 values",
            ),
            (
                cond(Attribute::City, Operator::IsEmpty, &["x"]),
                "IS_EMPTY takes no values, got 1 values",
            ),
            (
                cond(Attribute::City, Operator::In, &["a", ""]),
                "values[1] must not be empty",
            ),
            (
                cond(Attribute::City, Operator::Matches, &["(unclosed"]),
                "MATCHES pattern \"(unclosed\" is not a valid regex",
            ),
            (
                cond(Attribute::City, Operator::Matches, &[&long]),
                "MATCHES pattern must be at most 512 characters, got 513",
            ),
            (
                cond(
                    Attribute::City,
                    Operator::Matches,
                    &["\\w{200}\\w{200}\\w{100}"],
                ),
                "is not a valid regex",
            ),
            (
                cond(Attribute::ExtensionAttribute(0), Operator::IsEmpty, &[]),
                "extensionAttribute must be numbered 1 to 15, got 0",
            ),
            (
                cond(Attribute::ExtensionAttribute(16), Operator::IsEmpty, &[]),
                "extensionAttribute must be numbered 1 to 15, got 16",
            ),
            (
                cond(Attribute::HasLicenseOfSku, Operator::Equals, &["E3"]),
                "hasLicenseOfSku takes GUID values, got \"E3\"",
            ),
            (
                cond(Attribute::ReportsTo, Operator::In, &["not-a-guid"]),
                "reportsTo takes GUID values, got \"not-a-guid\"",
            ),
            (
                cond(Attribute::ReportsTo, Operator::Contains, &["x"]),
                "CONTAINS cannot be used with reportsTo",
            ),
            (
                cond(Attribute::HasLicenseOfSku, Operator::IsEmpty, &[]),
                "IS_EMPTY cannot be used with hasLicenseOfSku; use EQUALS, NOT_EQUALS, IN or NOT_IN",
            ),
            (
                cond(Attribute::City, Operator::NotIn, &[]),
                "NOT_IN takes one or more values, got 0 values",
            ),
            (
                cond(Attribute::AccountEnabled, Operator::Equals, &["yes"]),
                "accountEnabled takes \"true\" or \"false\", got \"yes\"",
            ),
            (
                cond(Attribute::AccountEnabled, Operator::In, &["true", "0"]),
                "got \"0\"",
            ),
            (
                cond(Attribute::AccountEnabled, Operator::Contains, &["t"]),
                "CONTAINS cannot be used with accountEnabled",
            ),
            (
                cond(Attribute::Manager, Operator::Equals, &["boss"]),
                "manager takes GUID values, got \"boss\"",
            ),
            (
                cond(Attribute::Manager, Operator::Matches, &["^a"]),
                "MATCHES cannot be used with manager",
            ),
        ];
        for (c, expected) in cases {
            let err = c.validate().unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn too_many_values_are_refused() {
        let values: Vec<String> = (0..=MAX_VALUES).map(|i| i.to_string()).collect();
        let c = Condition {
            attribute: Attribute::City,
            operator: Operator::In,
            values,
            case_sensitive: false,
        };
        assert_eq!(
            c.validate(),
            Err(RuleError::TooManyValues {
                max: MAX_VALUES,
                got: MAX_VALUES + 1
            })
        );
    }

    #[test]
    fn a_rule_without_conditions_is_refused() {
        let rule = AllocationRule {
            id: AllocationRuleId(guid(1)),
            tenant_id: TenantId(guid(2)),
            targets: vec![Share::whole(CostGroupId(guid(3)))],
            priority: 0,
            enabled: true,
            conditions: vec![],
        };
        assert_eq!(rule.validate(), Err(RuleError::NoConditions));
    }

    #[test]
    fn split_targets_are_checked_as_override_shares_are_and_named_as_targets() {
        let split = |targets: &[(u128, Decimal)]| AllocationRule {
            id: AllocationRuleId(guid(1)),
            tenant_id: TenantId(guid(2)),
            targets: targets
                .iter()
                .map(|(g, percent)| Share {
                    cost_group: CostGroupId(guid(*g)),
                    percent: *percent,
                })
                .collect(),
            priority: 0,
            enabled: true,
            conditions: vec![cond(Attribute::City, Operator::IsEmpty, &[])],
        };
        let ok = split(&[(3, dec!(60)), (4, dec!(40))]);
        assert_eq!(ok.validate(), Ok(()));
        assert!(ok.is_split());
        assert_eq!(ok.first_target(), Some(CostGroupId(guid(3))));
        assert!(ok.targets_group(CostGroupId(guid(4))));
        let cases: Vec<(Vec<(u128, Decimal)>, &str)> = vec![
            (vec![], "targets: must not be empty"),
            (
                vec![(3, dec!(60)), (4, dec!(30))],
                "targets: must sum to exactly 100, got 90",
            ),
            (
                vec![(3, dec!(66.667)), (4, dec!(33.333))],
                "targets[0].percent: must have at most 2 decimal places, got 66.667",
            ),
            (
                vec![(3, dec!(100)), (4, dec!(0))],
                "targets[1].percent: must be greater than 0, got 0",
            ),
            (
                vec![(3, dec!(110)), (4, dec!(-10))],
                "targets[1].percent: must be greater than 0, got -10",
            ),
            (
                vec![(3, dec!(50)), (3, dec!(50))],
                "targets[1].costGroupId: 00000000-0000-0000-0000-000000000003 appears twice",
            ),
        ];
        for (targets, expected) in cases {
            let err = split(&targets).validate().unwrap_err().to_string();
            assert!(
                err.starts_with(expected),
                "{err:?} should start with {expected:?}"
            );
        }
    }

    #[test]
    fn a_rule_error_names_the_bad_condition() {
        let rule = AllocationRule {
            id: AllocationRuleId(guid(1)),
            tenant_id: TenantId(guid(2)),
            targets: vec![Share::whole(CostGroupId(guid(3)))],
            priority: 0,
            enabled: true,
            conditions: vec![
                cond(Attribute::City, Operator::IsEmpty, &[]),
                cond(Attribute::City, Operator::Matches, &["["]),
            ],
        };
        let err = rule.validate().unwrap_err().to_string();
        assert!(err.starts_with("conditions[1]: MATCHES pattern"), "{err}");
    }

    #[test]
    fn manager_values_must_name_known_users() {
        let boss = UserId(guid(7));
        let conditions = [
            cond(Attribute::Department, Operator::Equals, &["x"]),
            cond(
                Attribute::Manager,
                Operator::In,
                &[&boss.to_string(), &guid(8).to_string()],
            ),
        ];
        assert_eq!(named_managers(&conditions), [boss, UserId(guid(8))]);
        assert_eq!(check_managers(&conditions, |_| true), Ok(()));
        let err = check_managers(&conditions, |m| m == boss).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "conditions[1]: manager {} is not a user of this tenant",
                guid(8)
            )
        );
    }

    #[test]
    fn a_new_order_must_list_each_rule_once() {
        let [a, b, c, x] = [1, 2, 3, 9].map(|n| AllocationRuleId(guid(n)));
        assert_eq!(check_rule_order(&[a, b, c], &[c, a, b]), Ok(()));
        assert_eq!(check_rule_order(&[], &[]), Ok(()));
        let err = check_rule_order(&[a, b, c], &[b, x, b, b]).unwrap_err();
        assert_eq!(
            err,
            RuleOrderError {
                missing: vec![a, c],
                unknown: vec![x],
                duplicated: vec![b],
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "ruleIds must list each rule of the tenant exactly once; \
                 missing: {a}, {c}; unknown: {x}; duplicated: {b}"
            )
        );
    }

    #[test]
    fn conditions_alone_validate_as_a_rule_would() {
        assert_eq!(validate_conditions(&[]), Err(RuleError::NoConditions));
        let bad = [cond(Attribute::City, Operator::In, &[])];
        assert!(matches!(
            validate_conditions(&bad),
            Err(RuleError::InCondition { index: 0, .. })
        ));
    }

    #[test]
    fn guid_values_are_accepted_in_any_case() {
        let c = Condition::new(
            Attribute::HasLicenseOfSku,
            Operator::Equals,
            vec!["05E9A617-0261-4CEE-BB44-138D3EF5D965".into()],
        );
        assert!(c.is_ok());
    }

    #[test]
    fn attribute_and_operator_names_read_back_as_written() {
        let attributes = named()
            .map(|(attribute, _)| attribute)
            .chain((1..=15).map(Attribute::ExtensionAttribute));
        for a in attributes {
            assert_eq!(Attribute::from_name(&a.to_string()), Some(a));
        }
        for bad in [
            "extensionAttribute0",
            "extensionAttribute16",
            "extensionAttribute07",
            "Department",
            "",
        ] {
            assert_eq!(Attribute::from_name(bad), None, "{bad}");
        }
        for o in Operator::ALL {
            assert_eq!(Operator::from_name(&o.to_string()), Some(o));
        }
        assert_eq!(Operator::from_name("equals"), None);
    }
}

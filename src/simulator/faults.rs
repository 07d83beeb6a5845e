//! Injected failures: which tenant, what kind, how many times; and the `--fault` spec parser.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use uuid::Uuid;

/// The SKU the `unknown-sku` fault gives a license of: `subscribedSkus` never lists it.
pub const ORPHANED_SKU_ID: Uuid = Uuid::from_u128(0x0b5e_7c1d_4a2f_4e6b_9c3d_8e1f_2a4b_6c8d);

/// Which tenants a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantSelector {
    /// Every customer tenant and the partner tenant.
    All,
    /// The customer tenant at this 0-based position in Partner Center order.
    Index(usize),
    /// The tenant with this id (a customer or the partner tenant).
    Id(Uuid),
}

/// A failure the simulator injects for the selected tenants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The next `count` Partner Center/Graph requests answer 429 with `Retry-After`.
    Throttle {
        /// How many requests are throttled.
        count: u32,
        /// The `Retry-After` value in seconds.
        retry_after_secs: u32,
    },
    /// The next `count` requests answer 503 `serviceNotAvailable`.
    Unavailable {
        /// How many requests fail.
        count: u32,
    },
    /// The next `count` requests answer 504.
    GatewayTimeout {
        /// How many requests fail.
        count: u32,
    },
    /// The next `count` requests answer 401 `InvalidAuthenticationToken`, as when an access
    /// token was revoked before its expiry.
    RevokedToken {
        /// How many requests fail.
        count: u32,
    },
    /// Extra latency for the tenant's token and API requests.
    Latency(Duration),
    /// Token requests fail with AADSTS53003 (Conditional Access) and policy ids in `claims`.
    ConditionalAccess,
    /// Token requests fail with AADSTS50076 (`interaction_required`).
    MfaRequired,
    /// Token requests fail with AADSTS700082 (refresh token unused too long).
    RefreshTokenExpired,
    /// Token requests fail with AADSTS65001 (`consent_required`).
    ConsentMissing,
    /// Token requests fail with AADSTS90002 (tenant not found).
    TenantNotFound,
    /// Graph answers 403 `Authorization_RequestDenied` on users, delta, subscribedSkus and
    /// directory/subscriptions.
    NoDelegatedAccess,
    /// Graph answers 403 `Authorization_RequestDenied` on `/directory/subscriptions` only, as
    /// when `Organization.Read.All` was not consented (tokens leave it out of `scope`).
    DirectorySubscriptionsRefused,
    /// Graph answers 403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant` to a users
    /// listing that selects `signInActivity`, as for a tenant without Entra ID P1/P2.
    SignInActivityRefused,
    /// The `page`-th (1-based) users or delta page answers 200 with a truncated JSON body.
    MalformedPage {
        /// The 1-based page number.
        page: u32,
    },
    /// The `page`-th users or delta page drops the connection mid-body `count` times.
    DropConnection {
        /// The 1-based page number.
        page: u32,
        /// How many times the connection is dropped before the page is served.
        count: u32,
    },
    /// Following a `$deltatoken` link answers 400 `syncStateNotFound`.
    DeltaTokenExpired,
    /// Following a stored `$deltatoken` link answers `status` (a 4xx) with Graph's error body.
    DeltaLinkRefused {
        /// The HTTP status (400 to 499).
        status: u32,
    },
    /// `$deltatoken=latest` answers 400 `Request_UnsupportedQuery`.
    DeltaLatestRefused,
    /// The `page`-th (1-based, 2 or later) users or delta page answers 400
    /// `Directory_ExpiredPageToken`, `count` times.
    ExpiredPageToken {
        /// The 1-based page number.
        page: u32,
        /// How many times.
        count: u32,
    },
    /// The next `count` token requests fail with the transient AADSTS `code` (50033, 90006,
    /// 90033 or 90055).
    SignInTransient {
        /// How many requests fail.
        count: u32,
        /// The AADSTS code.
        code: u32,
    },
    /// Token requests fail because the service account itself is blocked: AADSTS50055
    /// (password expired), 50057 (disabled), 50053 (locked) or 530034 (sign-in risk).
    ServiceAccount {
        /// The AADSTS code.
        code: u32,
    },
    /// The tenant's first user (who never leaves) holds a license of [`ORPHANED_SKU_ID`],
    /// which `subscribedSkus` never lists, in `/users` and in delta rounds (set it before the
    /// first import: a delta reports the user only when something else changes).
    UnknownSku,
    /// The first `subscribedSkus` answer since the fault was set leaves out the first SKU
    /// that users hold, as if it was bought between two reads; later answers list it.
    SkuBoughtLate,
    /// Organizational contacts expanded as managers come with "limited information", as for a
    /// caller without read access to contacts: `@odata.type` and `id`, names null (reference
    /// §4.3).
    ContactsLimited,
}

/// One `--fault` command-line value: `<SELECTOR>=<KIND>[:ARGS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSpec {
    /// The tenants it applies to.
    pub selector: TenantSelector,
    /// What happens.
    pub fault: Fault,
}

/// Why a `--fault` value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultSpecError {
    /// No `=` between selector and kind.
    #[error("fault spec must look like <SELECTOR>=<KIND>[:ARGS], got {0:?}")]
    Shape(String),
    /// The selector is neither `*`, an index nor a GUID.
    #[error("fault selector must be `*`, a 0-based tenant index or a tenant GUID, got {0:?}")]
    Selector(String),
    /// Unknown fault kind.
    #[error(
        "unknown fault kind {0:?}; expected one of throttle, unavailable, gateway-timeout, revoked-token, \
         latency, conditional-access, mfa-required, refresh-token-expired, consent-missing, \
         tenant-not-found, no-delegated-access, malformed-page, drop-connection, \
         delta-token-expired, delta-link-refused, delta-latest-refused, expired-page-token, \
         sign-in-transient, service-account, directory-subscriptions-refused, \
         sign-in-activity-refused, unknown-sku, \
         sku-bought-late, contacts-limited"
    )]
    Kind(String),
    /// A numeric argument is missing or not a number.
    #[error("fault {kind} needs {what} as a whole number, got {got:?}")]
    Number {
        /// The fault kind.
        kind: String,
        /// Which argument.
        what: &'static str,
        /// What was given.
        got: String,
    },
    /// A number outside what the kind accepts.
    #[error("fault {kind} takes {what} {allowed}, got {got}")]
    OutOfRange {
        /// The fault kind.
        kind: String,
        /// Which argument.
        what: &'static str,
        /// The values allowed.
        allowed: &'static str,
        /// What was given.
        got: u32,
    },
    /// More arguments than the kind takes.
    #[error("fault {kind} takes at most {max} argument(s), got {got:?}")]
    TooManyArgs {
        /// The fault kind.
        kind: String,
        /// Most arguments allowed.
        max: usize,
        /// The arguments given.
        got: String,
    },
}

impl FromStr for TenantSelector {
    type Err = FaultSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "*" {
            Ok(TenantSelector::All)
        } else if let Ok(index) = s.parse::<usize>() {
            Ok(TenantSelector::Index(index))
        } else if let Ok(id) = Uuid::parse_str(s) {
            Ok(TenantSelector::Id(id))
        } else {
            Err(FaultSpecError::Selector(s.to_owned()))
        }
    }
}

impl FromStr for FaultSpec {
    type Err = FaultSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (selector, kind) = s
            .split_once('=')
            .ok_or_else(|| FaultSpecError::Shape(s.to_owned()))?;
        let selector = selector.parse()?;
        let mut parts = kind.trim().split(':');
        let name = parts.next().unwrap_or_default().to_owned();
        let args: Vec<&str> = parts.collect();
        let number = |position: usize, what: &'static str, default: Option<u32>| match (
            args.get(position),
            default,
        ) {
            (None, Some(value)) => Ok(value),
            (got, _) => got
                .and_then(|v| v.trim().parse::<u32>().ok())
                .ok_or_else(|| FaultSpecError::Number {
                    kind: name.clone(),
                    what,
                    got: got.copied().unwrap_or_default().to_owned(),
                }),
        };
        let at_most = |max: usize| {
            if args.len() > max {
                Err(FaultSpecError::TooManyArgs {
                    kind: name.clone(),
                    max,
                    got: args.join(":"),
                })
            } else {
                Ok(())
            }
        };
        let fault = match name.as_str() {
            "throttle" => {
                at_most(2)?;
                Fault::Throttle {
                    count: number(0, "COUNT", None)?,
                    retry_after_secs: number(1, "RETRY_AFTER_SECS", Some(1))?,
                }
            }
            "unavailable" => {
                at_most(1)?;
                Fault::Unavailable {
                    count: number(0, "COUNT", None)?,
                }
            }
            "gateway-timeout" => {
                at_most(1)?;
                Fault::GatewayTimeout {
                    count: number(0, "COUNT", None)?,
                }
            }
            "revoked-token" => {
                at_most(1)?;
                Fault::RevokedToken {
                    count: number(0, "COUNT", None)?,
                }
            }
            "latency" => {
                at_most(1)?;
                Fault::Latency(Duration::from_millis(u64::from(number(0, "MS", None)?)))
            }
            "malformed-page" => {
                at_most(1)?;
                Fault::MalformedPage {
                    page: number(0, "PAGE", None)?,
                }
            }
            "drop-connection" => {
                at_most(2)?;
                Fault::DropConnection {
                    page: number(0, "PAGE", None)?,
                    count: number(1, "COUNT", Some(1))?,
                }
            }
            "delta-link-refused" => {
                at_most(1)?;
                let status = number(0, "STATUS", Some(400))?;
                in_range(
                    &name,
                    "STATUS",
                    "from 400 to 499 (not 401, 403, 429)",
                    status,
                    |s| (400..500).contains(&s) && !matches!(s, 401 | 403 | 429),
                )?;
                Fault::DeltaLinkRefused { status }
            }
            "expired-page-token" => {
                at_most(2)?;
                let page = number(0, "PAGE", Some(2))?;
                in_range(&name, "PAGE", "2 or later", page, |p| p >= 2)?;
                Fault::ExpiredPageToken {
                    page,
                    count: number(1, "COUNT", Some(1))?,
                }
            }
            "sign-in-transient" => {
                at_most(2)?;
                let code = number(1, "CODE", Some(90033))?;
                in_range(&name, "CODE", "50033, 90006, 90033 or 90055", code, |c| {
                    matches!(c, 50033 | 90006 | 90033 | 90055)
                })?;
                Fault::SignInTransient {
                    count: number(0, "COUNT", Some(1))?,
                    code,
                }
            }
            "service-account" => {
                at_most(1)?;
                let code = number(0, "CODE", Some(50055))?;
                in_range(&name, "CODE", "50055, 50057, 50053 or 530034", code, |c| {
                    matches!(c, 50055 | 50057 | 50053 | 530034)
                })?;
                Fault::ServiceAccount { code }
            }
            simple => {
                let fault = match simple {
                    "delta-latest-refused" => Fault::DeltaLatestRefused,
                    "conditional-access" => Fault::ConditionalAccess,
                    "mfa-required" => Fault::MfaRequired,
                    "refresh-token-expired" => Fault::RefreshTokenExpired,
                    "consent-missing" => Fault::ConsentMissing,
                    "tenant-not-found" => Fault::TenantNotFound,
                    "no-delegated-access" => Fault::NoDelegatedAccess,
                    "delta-token-expired" => Fault::DeltaTokenExpired,
                    "directory-subscriptions-refused" => Fault::DirectorySubscriptionsRefused,
                    "sign-in-activity-refused" => Fault::SignInActivityRefused,
                    "unknown-sku" => Fault::UnknownSku,
                    "sku-bought-late" => Fault::SkuBoughtLate,
                    "contacts-limited" => Fault::ContactsLimited,
                    other => return Err(FaultSpecError::Kind(other.to_owned())),
                };
                at_most(0)?;
                fault
            }
        };
        Ok(FaultSpec { selector, fault })
    }
}

fn in_range(
    kind: &str,
    what: &'static str,
    allowed: &'static str,
    got: u32,
    ok: impl Fn(u32) -> bool,
) -> Result<(), FaultSpecError> {
    if ok(got) {
        Ok(())
    } else {
        Err(FaultSpecError::OutOfRange {
            kind: kind.to_owned(),
            what,
            allowed,
            got,
        })
    }
}

impl From<FaultSpec> for (TenantSelector, Fault) {
    fn from(spec: FaultSpec) -> Self {
        (spec.selector, spec.fault)
    }
}

/// The faults in force plus how often each counted fault fired per tenant.
#[derive(Debug, Default)]
pub(crate) struct FaultTable {
    faults: Vec<(TenantSelector, Fault)>,
    /// (fault position, tenant) → times fired.
    fired: HashMap<(usize, Uuid), u32>,
}

/// A counted failure to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transient {
    Throttle { retry_after_secs: u32 },
    Unavailable,
    GatewayTimeout,
    Unauthorized,
}

impl FaultTable {
    pub(crate) fn new(faults: Vec<(TenantSelector, Fault)>) -> FaultTable {
        FaultTable {
            faults,
            fired: HashMap::new(),
        }
    }

    fn matching<'a>(
        &'a self,
        tenant: Uuid,
        customers: &'a [Uuid],
    ) -> impl Iterator<Item = (usize, &'a Fault)> + 'a {
        self.faults
            .iter()
            .enumerate()
            .filter(move |(_, (selector, _))| match selector {
                TenantSelector::All => true,
                TenantSelector::Index(i) => customers.get(*i) == Some(&tenant),
                TenantSelector::Id(id) => *id == tenant,
            })
            .map(|(position, (_, fault))| (position, fault))
    }

    /// Whether an uncounted fault matching `wanted` applies to the tenant.
    pub(crate) fn has(
        &self,
        tenant: Uuid,
        customers: &[Uuid],
        wanted: impl Fn(&Fault) -> bool,
    ) -> bool {
        self.matching(tenant, customers)
            .any(|(_, fault)| wanted(fault))
    }

    /// The first uncounted fault for the tenant that `pick` takes, as `pick` reads it.
    pub(crate) fn first<T>(
        &self,
        tenant: Uuid,
        customers: &[Uuid],
        pick: impl Fn(&Fault) -> Option<T>,
    ) -> Option<T> {
        self.matching(tenant, customers)
            .find_map(|(_, fault)| pick(fault))
    }

    /// The first token-endpoint fault for the tenant.
    pub(crate) fn token_fault(&self, tenant: Uuid, customers: &[Uuid]) -> Option<Fault> {
        self.matching(tenant, customers)
            .map(|(_, fault)| fault)
            .find(|fault| {
                matches!(
                    fault,
                    Fault::ConditionalAccess
                        | Fault::MfaRequired
                        | Fault::RefreshTokenExpired
                        | Fault::ConsentMissing
                        | Fault::TenantNotFound
                        | Fault::ServiceAccount { .. }
                )
            })
            .cloned()
    }

    /// Sum of the extra latencies for the tenant.
    pub(crate) fn latency(&self, tenant: Uuid, customers: &[Uuid]) -> Duration {
        self.matching(tenant, customers)
            .filter_map(|(_, fault)| match fault {
                Fault::Latency(d) => Some(*d),
                _ => None,
            })
            .sum()
    }

    /// Consumes one use of the first counted 429/503/504 fault that has uses left.
    pub(crate) fn take_transient(&mut self, tenant: Uuid, customers: &[Uuid]) -> Option<Transient> {
        self.take_counted(tenant, customers, |fault| match fault {
            Fault::Throttle {
                count,
                retry_after_secs,
            } => Some((
                *count,
                Transient::Throttle {
                    retry_after_secs: *retry_after_secs,
                },
            )),
            Fault::Unavailable { count } => Some((*count, Transient::Unavailable)),
            Fault::GatewayTimeout { count } => Some((*count, Transient::GatewayTimeout)),
            Fault::RevokedToken { count } => Some((*count, Transient::Unauthorized)),
            _ => None,
        })
    }

    /// Consumes one use of a counted transient sign-in fault; its AADSTS code.
    pub(crate) fn take_sign_in_transient(
        &mut self,
        tenant: Uuid,
        customers: &[Uuid],
    ) -> Option<u32> {
        self.take_counted(tenant, customers, |fault| match fault {
            Fault::SignInTransient { count, code } => Some((*count, *code)),
            _ => None,
        })
    }

    /// The first matching fault, by `pick` returning its use count and answer, that has uses
    /// left; counts one use.
    fn take_counted<T>(
        &mut self,
        tenant: Uuid,
        customers: &[Uuid],
        pick: impl Fn(&Fault) -> Option<(u32, T)>,
    ) -> Option<T> {
        let found = self
            .matching(tenant, customers)
            .find_map(|(position, fault)| {
                let (count, answer) = pick(fault)?;
                let fired = self.fired.get(&(position, tenant)).copied().unwrap_or(0);
                (fired < count).then_some((position, answer))
            });
        let (position, answer) = found?;
        *self.fired.entry((position, tenant)).or_insert(0) += 1;
        Some(answer)
    }

    /// Consumes the one use of a `SkuBoughtLate` fault for the tenant: whether this
    /// `subscribedSkus` answer leaves the SKU out.
    pub(crate) fn take_sku_bought_late(&mut self, tenant: Uuid, customers: &[Uuid]) -> bool {
        self.take_counted(tenant, customers, |fault| {
            matches!(fault, Fault::SkuBoughtLate).then_some((1, ()))
        })
        .is_some()
    }

    /// What to do with the `page`-th page of a listing: serve it broken, drop it, or serve it.
    pub(crate) fn take_page_fault(
        &mut self,
        tenant: Uuid,
        customers: &[Uuid],
        page: u32,
    ) -> Option<PageFault> {
        let found = self
            .matching(tenant, customers)
            .find_map(|(position, fault)| match fault {
                Fault::MalformedPage { page: p } if *p == page => {
                    Some((position, PageFault::Malformed, None))
                }
                Fault::DropConnection { page: p, count } if *p == page => {
                    let fired = self.fired.get(&(position, tenant)).copied().unwrap_or(0);
                    (fired < *count).then_some((position, PageFault::Drop, Some(())))
                }
                Fault::ExpiredPageToken { page: p, count } if *p == page => {
                    let fired = self.fired.get(&(position, tenant)).copied().unwrap_or(0);
                    (fired < *count).then_some((position, PageFault::ExpiredToken, Some(())))
                }
                _ => None,
            });
        let (position, fault, counted) = found?;
        if counted.is_some() {
            *self.fired.entry((position, tenant)).or_insert(0) += 1;
        }
        Some(fault)
    }
}

/// How a users or delta page is spoiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageFault {
    Malformed,
    Drop,
    ExpiredToken,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_fault_kind_parses() {
        let cases = [
            (
                "*=throttle:3",
                TenantSelector::All,
                Fault::Throttle {
                    count: 3,
                    retry_after_secs: 1,
                },
            ),
            (
                "0=throttle:2:7",
                TenantSelector::Index(0),
                Fault::Throttle {
                    count: 2,
                    retry_after_secs: 7,
                },
            ),
            (
                "1=unavailable:4",
                TenantSelector::Index(1),
                Fault::Unavailable { count: 4 },
            ),
            (
                "*=gateway-timeout:1",
                TenantSelector::All,
                Fault::GatewayTimeout { count: 1 },
            ),
            (
                "*=latency:250",
                TenantSelector::All,
                Fault::Latency(Duration::from_millis(250)),
            ),
            (
                "2=conditional-access",
                TenantSelector::Index(2),
                Fault::ConditionalAccess,
            ),
            (
                "2=mfa-required",
                TenantSelector::Index(2),
                Fault::MfaRequired,
            ),
            (
                "*=refresh-token-expired",
                TenantSelector::All,
                Fault::RefreshTokenExpired,
            ),
            (
                "0=consent-missing",
                TenantSelector::Index(0),
                Fault::ConsentMissing,
            ),
            (
                "0=tenant-not-found",
                TenantSelector::Index(0),
                Fault::TenantNotFound,
            ),
            (
                "0=no-delegated-access",
                TenantSelector::Index(0),
                Fault::NoDelegatedAccess,
            ),
            (
                "0=malformed-page:2",
                TenantSelector::Index(0),
                Fault::MalformedPage { page: 2 },
            ),
            (
                "0=drop-connection:1",
                TenantSelector::Index(0),
                Fault::DropConnection { page: 1, count: 1 },
            ),
            (
                "0=drop-connection:3:2",
                TenantSelector::Index(0),
                Fault::DropConnection { page: 3, count: 2 },
            ),
            (
                "0=delta-token-expired",
                TenantSelector::Index(0),
                Fault::DeltaTokenExpired,
            ),
            (
                "0=delta-link-refused",
                TenantSelector::Index(0),
                Fault::DeltaLinkRefused { status: 400 },
            ),
            (
                "0=delta-link-refused:404",
                TenantSelector::Index(0),
                Fault::DeltaLinkRefused { status: 404 },
            ),
            (
                "1=delta-latest-refused",
                TenantSelector::Index(1),
                Fault::DeltaLatestRefused,
            ),
            (
                "0=expired-page-token",
                TenantSelector::Index(0),
                Fault::ExpiredPageToken { page: 2, count: 1 },
            ),
            (
                "0=expired-page-token:3:2",
                TenantSelector::Index(0),
                Fault::ExpiredPageToken { page: 3, count: 2 },
            ),
            (
                "*=sign-in-transient:2",
                TenantSelector::All,
                Fault::SignInTransient {
                    count: 2,
                    code: 90033,
                },
            ),
            (
                "*=sign-in-transient:1:50033",
                TenantSelector::All,
                Fault::SignInTransient {
                    count: 1,
                    code: 50033,
                },
            ),
            (
                "*=service-account",
                TenantSelector::All,
                Fault::ServiceAccount { code: 50055 },
            ),
            (
                "*=service-account:530034",
                TenantSelector::All,
                Fault::ServiceAccount { code: 530034 },
            ),
            (
                "1=directory-subscriptions-refused",
                TenantSelector::Index(1),
                Fault::DirectorySubscriptionsRefused,
            ),
            ("0=unknown-sku", TenantSelector::Index(0), Fault::UnknownSku),
            (
                "*=sku-bought-late",
                TenantSelector::All,
                Fault::SkuBoughtLate,
            ),
            (
                "2=contacts-limited",
                TenantSelector::Index(2),
                Fault::ContactsLimited,
            ),
        ];
        for (text, selector, fault) in cases {
            assert_eq!(
                text.parse::<FaultSpec>(),
                Ok(FaultSpec { selector, fault }),
                "{text}"
            );
        }
        let id = "285f489e-dcff-4d56-9faf-41b5bb7c2dd0";
        let spec: FaultSpec = format!("{id}=mfa-required").parse().unwrap();
        assert_eq!(
            spec.selector,
            TenantSelector::Id(Uuid::parse_str(id).unwrap())
        );
    }

    #[test]
    fn bad_fault_specs_name_what_was_wrong() {
        let message = |text: &str| text.parse::<FaultSpec>().unwrap_err().to_string();
        assert!(message("throttle:3").contains("<SELECTOR>=<KIND>"));
        assert!(message("x=throttle:3").contains("selector"));
        assert!(message("*=explode").contains("\"explode\""));
        assert!(message("*=throttle").contains("COUNT"));
        assert!(message("*=throttle:many").contains("\"many\""));
        assert!(message("*=latency:1:2").contains("at most 1"));
        assert!(message("*=mfa-required:1").contains("at most 0"));
        assert!(message("*=directory-subscriptions-refused:2").contains("at most 0"));
        assert!(message("*=explode").contains("directory-subscriptions-refused"));
        assert!(message("*=explode").contains("contacts-limited"));
        assert!(message("*=unknown-sku:1").contains("at most 0"));
        assert!(message("*=delta-link-refused:403").contains("not 401, 403, 429"));
        assert!(message("*=expired-page-token:1").contains("2 or later"));
        assert!(message("*=sign-in-transient:1:53003").contains("90055"));
        assert!(message("*=service-account:70008").contains("530034"));
    }

    #[test]
    fn a_sku_bought_late_is_missing_from_the_first_answer_only() {
        let a = Uuid::from_u128(1);
        let mut table = FaultTable::new(vec![(TenantSelector::Index(0), Fault::SkuBoughtLate)]);
        assert!(table.take_sku_bought_late(a, &[a]));
        assert!(!table.take_sku_bought_late(a, &[a]));
        let b = Uuid::from_u128(2);
        assert!(!table.take_sku_bought_late(b, &[a, b]), "another tenant");
    }

    #[test]
    fn counted_faults_fire_per_tenant_then_stop() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let customers = [a, b];
        let mut table =
            FaultTable::new(vec![(TenantSelector::All, Fault::Unavailable { count: 1 })]);
        assert_eq!(
            table.take_transient(a, &customers),
            Some(Transient::Unavailable)
        );
        assert_eq!(table.take_transient(a, &customers), None);
        assert_eq!(
            table.take_transient(b, &customers),
            Some(Transient::Unavailable)
        );
    }
}

//! Overrides: a user pinned by hand to one cost group or split across several by percentage.
//! Pure; must not import SeaORM, async-graphql, actix or reqwest.

use std::collections::HashSet;

use rust_decimal::Decimal;
use thiserror::Error;

use crate::domain::ids::{CostGroupId, UserId};

/// Most decimal places a share's percentage may have (`33.33` is fine, `33.333` is not).
pub const MAX_PERCENT_DECIMALS: u32 = 2;

/// A part of a user's cost going to one cost group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The cost group.
    pub cost_group: CostGroupId,
    /// Percentage of the user's licenses, greater than 0 and at most 100.
    pub percent: Decimal,
}

impl Share {
    /// The whole of a user's cost to one group.
    pub fn whole(cost_group: CostGroupId) -> Self {
        Share {
            cost_group,
            percent: Decimal::ONE_HUNDRED,
        }
    }

    /// The share as a fraction of one (`percent / 100`), exact.
    pub fn fraction(&self) -> Decimal {
        // Dividing by 100 only moves the decimal point: exact for every valid percent.
        self.percent / Decimal::ONE_HUNDRED
    }
}

/// Checks that `shares` split a whole: at least one, each above 0 with at most
/// [`MAX_PERCENT_DECIMALS`] decimal places, no group twice, summing to exactly 100. What an
/// override's shares and a split rule's targets must both be.
///
/// # Errors
/// The first problem found, as an [`OverrideError`].
pub fn check_shares(shares: &[Share]) -> Result<(), OverrideError> {
    if shares.is_empty() {
        return Err(OverrideError::NoShares);
    }
    let mut seen = HashSet::with_capacity(shares.len());
    let mut sum = Decimal::ZERO;
    for (index, share) in shares.iter().enumerate() {
        if share.percent <= Decimal::ZERO {
            return Err(OverrideError::NotPositive {
                index,
                percent: share.percent,
            });
        }
        if share.percent.normalize().scale() > MAX_PERCENT_DECIMALS {
            return Err(OverrideError::TooPrecise {
                index,
                percent: share.percent,
            });
        }
        if !seen.insert(share.cost_group) {
            return Err(OverrideError::DuplicateGroup {
                index,
                cost_group: share.cost_group,
            });
        }
        sum = sum.checked_add(share.percent).unwrap_or(Decimal::MAX);
    }
    if sum != Decimal::ONE_HUNDRED {
        return Err(OverrideError::SumNot100 { sum });
    }
    Ok(())
}

/// `shares` with cost group `from`'s share moved to `to`: added to the share `to` already has,
/// or taking `from`'s place. Still a whole when `shares` was.
pub fn moved_shares(shares: &[Share], from: CostGroupId, to: CostGroupId) -> Vec<Share> {
    let mut out: Vec<Share> = Vec::with_capacity(shares.len());
    for s in shares {
        let group = if s.cost_group == from {
            to
        } else {
            s.cost_group
        };
        match out.iter_mut().find(|k| k.cost_group == group) {
            Some(kept) => kept.percent += s.percent,
            None => out.push(Share {
                cost_group: group,
                percent: s.percent,
            }),
        }
    }
    out
}

/// Shares that do not split a whole, naming what is wrong; the message names the list
/// `shares`, as an override's input does ([`OverrideError::field`] and
/// [`OverrideError::detail`] let another list, a rule's `targets`, be named instead).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OverrideError {
    /// No shares at all.
    #[error("shares must not be empty: an override needs at least one share")]
    NoShares,
    /// A share of zero or less.
    #[error("shares[{index}].percent must be greater than 0, got {percent}")]
    NotPositive {
        /// Position of the share.
        index: usize,
        /// Its percentage.
        percent: Decimal,
    },
    /// A share with too many decimal places.
    #[error(
        "shares[{index}].percent must have at most {MAX_PERCENT_DECIMALS} decimal places, got {percent}"
    )]
    TooPrecise {
        /// Position of the share.
        index: usize,
        /// Its percentage.
        percent: Decimal,
    },
    /// Two shares for the same group.
    #[error("shares[{index}].costGroupId {cost_group} appears twice; merge the shares")]
    DuplicateGroup {
        /// Position of the second share of the group.
        index: usize,
        /// The group.
        cost_group: CostGroupId,
    },
    /// Shares not adding up to 100.
    #[error("shares must sum to exactly 100, got {sum}")]
    SumNot100 {
        /// Their sum.
        sum: Decimal,
    },
}

impl OverrideError {
    /// The field at fault below the list: `[1].percent`, `[2].costGroupId`, or `""` for the
    /// list as a whole.
    pub fn field(&self) -> String {
        match self {
            OverrideError::NotPositive { index, .. } | OverrideError::TooPrecise { index, .. } => {
                format!("[{index}].percent")
            }
            OverrideError::DuplicateGroup { index, .. } => format!("[{index}].costGroupId"),
            OverrideError::NoShares | OverrideError::SumNot100 { .. } => String::new(),
        }
    }

    /// What is wrong with [`OverrideError::field`], without naming it.
    pub fn detail(&self) -> String {
        match self {
            OverrideError::NoShares => "must not be empty: give at least one".to_owned(),
            OverrideError::NotPositive { percent, .. } => {
                format!("must be greater than 0, got {percent}")
            }
            OverrideError::TooPrecise { percent, .. } => {
                format!("must have at most {MAX_PERCENT_DECIMALS} decimal places, got {percent}")
            }
            OverrideError::DuplicateGroup { cost_group, .. } => {
                format!("{cost_group} appears twice; merge the two")
            }
            OverrideError::SumNot100 { sum } => format!("must sum to exactly 100, got {sum}"),
        }
    }
}

/// A user's allocation set by hand; wins over every rule. Built only through [`Override::new`],
/// so its shares always sum to exactly 100.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    user_id: UserId,
    shares: Vec<Share>,
}

impl Override {
    /// A validated override.
    ///
    /// # Errors
    /// The first problem found: no shares, a share of 0 or less, a share with more than
    /// [`MAX_PERCENT_DECIMALS`] decimal places, a group named twice, or a sum other than 100.
    pub fn new(user_id: UserId, shares: Vec<Share>) -> Result<Self, OverrideError> {
        check_shares(&shares)?;
        Ok(Override { user_id, shares })
    }

    /// The whole user to one group.
    pub fn pin(user_id: UserId, cost_group: CostGroupId) -> Self {
        Override {
            user_id,
            shares: vec![Share::whole(cost_group)],
        }
    }

    /// The user.
    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    /// The shares, in the order given; they sum to exactly 100.
    pub fn shares(&self) -> &[Share] {
        &self.shares
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::allocation::test_support::guid;
    use rust_decimal_macros::dec;

    fn share(group: u128, percent: Decimal) -> Share {
        Share {
            cost_group: CostGroupId(guid(group)),
            percent,
        }
    }

    #[test]
    fn a_three_way_split_of_thirds_is_accepted() {
        let o = Override::new(
            UserId(guid(1)),
            vec![
                share(1, dec!(33.33)),
                share(2, dec!(33.33)),
                share(3, dec!(33.34)),
            ],
        )
        .unwrap();
        assert_eq!(o.shares().len(), 3);
    }

    #[test]
    fn trailing_zeros_do_not_count_as_decimals() {
        assert!(Override::new(UserId(guid(1)), vec![share(1, dec!(100.0000))]).is_ok());
    }

    #[test]
    fn invalid_overrides_are_refused_with_the_problem_named() {
        let user = UserId(guid(1));
        let cases: Vec<(Vec<Share>, &str)> = vec![
            (vec![], "shares must not be empty"),
            (
                vec![share(1, dec!(0)), share(2, dec!(100))],
                "shares[0].percent must be greater than 0, got 0",
            ),
            (
                vec![share(1, dec!(-10)), share(2, dec!(110))],
                "shares[0].percent must be greater than 0, got -10",
            ),
            (
                vec![share(1, dec!(33.333)), share(2, dec!(66.667))],
                "shares[0].percent must have at most 2 decimal places, got 33.333",
            ),
            (
                vec![share(1, dec!(50)), share(1, dec!(50))],
                "shares[1].costGroupId 00000000-0000-0000-0000-000000000001 appears twice",
            ),
            (
                vec![
                    share(1, dec!(33.33)),
                    share(2, dec!(33.33)),
                    share(3, dec!(33.33)),
                ],
                "shares must sum to exactly 100, got 99.99",
            ),
            (
                vec![share(1, dec!(60)), share(2, dec!(60))],
                "shares must sum to exactly 100, got 120",
            ),
        ];
        for (shares, expected) in cases {
            let err = Override::new(user, shares).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn moving_a_share_merges_it_into_the_target_group() {
        let shares = [share(1, dec!(60)), share(2, dec!(30)), share(3, dec!(10))];
        let gid = |n| CostGroupId(guid(n));
        assert_eq!(
            moved_shares(&shares, gid(3), gid(1)),
            vec![share(1, dec!(70)), share(2, dec!(30))]
        );
        assert_eq!(
            moved_shares(&shares, gid(2), gid(9)),
            vec![share(1, dec!(60)), share(9, dec!(30)), share(3, dec!(10))]
        );
    }

    #[test]
    fn a_pin_is_one_whole_share() {
        let o = Override::pin(UserId(guid(1)), CostGroupId(guid(2)));
        assert_eq!(o.shares(), &[share(2, dec!(100))]);
        assert_eq!(o.shares()[0].fraction(), Decimal::ONE);
    }
}

//! Each user's `signInActivity`: most members signed in within the last month, about one in
//! ten has not for four months to a year, and one in twenty never did. Dates count back from
//! the moment of the request (not the simulated day), so a user's activity keeps its distance
//! from "now" whatever day the simulator serves.

use chrono::{DateTime, Duration, Utc};

use super::{TAG_SIGN_IN, World, hash};

/// The three dates of a user's `signInActivity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SimSignIns {
    pub(crate) last_sign_in: Option<DateTime<Utc>>,
    pub(crate) last_non_interactive_sign_in: Option<DateTime<Utc>>,
    pub(crate) last_successful_sign_in: Option<DateTime<Utc>>,
}

impl World {
    /// The user's sign-in activity as seen at `now`; `None` for a user who never signed in
    /// (Graph then sends `"signInActivity": null`).
    pub(crate) fn sign_ins(
        &self,
        tenant: usize,
        index: u32,
        now: DateTime<Utc>,
    ) -> Option<SimSignIns> {
        let h = hash(&[self.seed, TAG_SIGN_IN, tenant as u64, u64::from(index)]);
        let seconds = |shift: u32, range_days: u64, from_days: u64| {
            let days = from_days + (h >> shift) % range_days;
            Duration::seconds((days * 86_400 + (h >> 40) % 86_400) as i64)
        };
        match h % 20 {
            0 => None,
            1 | 2 => {
                // Gone quiet: nothing for 120 to 420 days, background refreshes stopped too.
                let interactive = now - seconds(8, 300, 120);
                Some(SimSignIns {
                    last_sign_in: Some(interactive),
                    last_non_interactive_sign_in: Some(interactive + Duration::days(3)),
                    last_successful_sign_in: Some(interactive),
                })
            }
            _ => {
                let interactive = now - seconds(8, 30, 0);
                let background = now - seconds(16, 3, 0);
                Some(SimSignIns {
                    last_sign_in: Some(interactive),
                    last_non_interactive_sign_in: Some(background),
                    last_successful_sign_in: Some(interactive.max(background)),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn some_users_never_signed_in_some_stopped_and_most_are_recent() {
        let world = World::new(1, 1, 400);
        let now = Utc::now();
        let all: Vec<_> = (0..400).map(|i| world.sign_ins(0, i, now)).collect();
        let never = all.iter().filter(|s| s.is_none()).count();
        let quiet = all
            .iter()
            .flatten()
            .filter(|s| s.last_successful_sign_in < Some(now - Duration::days(119)))
            .count();
        assert!((5..=40).contains(&never), "{never} never signed in");
        assert!((15..=70).contains(&quiet), "{quiet} quiet");
        assert_eq!(world.sign_ins(0, 7, now), world.sign_ins(0, 7, now));
    }
}

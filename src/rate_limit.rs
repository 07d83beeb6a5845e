//! Request rate limits: a token bucket (GCRA, from `governor`) per principal, and one per
//! client address for requests without a valid token, so that no caller can take the service
//! for itself. State is in-process: each replica limits its own share of the traffic.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::rate_limits::{Bucket, RateLimits};
use crate::domain::Principal;
use crate::domain::audit::ANONYMOUS;

/// Time between two sweeps of the buckets that have refilled completely (and so hold no
/// information worth keeping).
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// Who a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// An authenticated principal, by its name (`oid`, else `sub`).
    Principal(String),
    /// A client address: the caller when authentication is off, or a caller without a
    /// valid token.
    Address(IpAddr),
}

impl Caller {
    /// The caller `principal` is counted as: its name, or its client address when
    /// authentication is off and every request is the same anonymous administrator.
    pub fn of(principal: &Principal, address: IpAddr) -> Caller {
        if principal.name == ANONYMOUS {
            Caller::Address(address)
        } else {
            Caller::Principal(principal.name.clone())
        }
    }
}

/// A request refused because its caller's bucket is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// When the next request would be allowed.
    pub retry_after: Duration,
    /// The bucket that ran empty.
    pub bucket: Bucket,
}

impl Limited {
    /// Whole seconds to wait, rounded up and at least 1 (the `Retry-After` header's unit).
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs();
        if self.retry_after.subsec_nanos() > 0 || secs == 0 {
            secs + 1
        } else {
            secs
        }
    }

    /// The message a refused client reads.
    pub fn message(&self) -> String {
        format!(
            "rate limit exceeded: at most {} requests per second, {} at once, per caller; \
             retry after {} s",
            self.bucket.per_second,
            self.bucket.burst,
            self.retry_after_secs()
        )
    }
}

/// One keyed limiter with the bucket it was made from.
struct Keyed<K: std::hash::Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    bucket: Bucket,
}

impl<K: std::hash::Hash + Eq + Clone> Keyed<K> {
    fn new(bucket: Bucket) -> Self {
        let quota =
            Quota::per_second(NonZeroU32::new(bucket.per_second).unwrap_or(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(bucket.burst).unwrap_or(NonZeroU32::MIN));
        Keyed {
            limiter: DefaultKeyedRateLimiter::dashmap(quota),
            bucket,
        }
    }

    fn check(&self, key: &K) -> Result<(), Limited> {
        self.limiter.check_key(key).map_err(|not_until| {
            self.limited(not_until.wait_time_from(DefaultClock::default().now()))
        })
    }

    fn check_n(&self, key: &K, n: NonZeroU32) -> Result<(), Limited> {
        match self.limiter.check_key_n(key, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                Err(self.limited(not_until.wait_time_from(DefaultClock::default().now())))
            }
            // More than the bucket holds: settings keep batches within the burst, so this
            // only says to wait for a full bucket.
            Err(_) => Err(self.limited(Duration::from_secs_f64(
                f64::from(self.bucket.burst) / f64::from(self.bucket.per_second),
            ))),
        }
    }

    /// A refusal from this bucket, to retry after `retry_after`.
    fn limited(&self, retry_after: Duration) -> Limited {
        Limited {
            retry_after,
            bucket: self.bucket,
        }
    }

    fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The rate limits of the whole server, shared by every worker.
pub struct RateLimiter {
    principals: Option<Keyed<Caller>>,
    unauthenticated: Option<Keyed<IpAddr>>,
}

impl RateLimiter {
    /// Limits as `limits` says; a bucket left unset is no limit.
    pub fn new(limits: RateLimits) -> Self {
        RateLimiter {
            principals: limits.principal.map(Keyed::new),
            unauthenticated: limits.unauthenticated.map(Keyed::new),
        }
    }

    /// Starts sweeping `limiter` every 30 seconds on the current tokio runtime, off the
    /// request path, until the last other reference to it is dropped.
    pub fn sweep_in_background(limiter: &Arc<RateLimiter>) {
        let limiter: Weak<RateLimiter> = Arc::downgrade(limiter);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_INTERVAL);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                let Some(limiter) = limiter.upgrade() else {
                    break;
                };
                limiter.sweep();
            }
        });
    }

    /// Takes one request from `caller`'s bucket, or says how long to wait.
    pub fn check(&self, caller: &Caller) -> Result<(), Limited> {
        self.principals.as_ref().map_or(Ok(()), |k| k.check(caller))
    }

    /// Takes `n` requests at once from `caller`'s bucket (the operations of a batch), or
    /// none when they are not all there.
    pub fn check_n(&self, caller: &Caller, n: u32) -> Result<(), Limited> {
        let Some(n) = NonZeroU32::new(n) else {
            return Ok(());
        };
        self.principals
            .as_ref()
            .map_or(Ok(()), |k| k.check_n(caller, n))
    }

    /// Takes one request from the bucket of a client address whose token is missing or
    /// refused.
    pub fn check_unauthenticated(&self, address: IpAddr) -> Result<(), Limited> {
        self.unauthenticated
            .as_ref()
            .map_or(Ok(()), |k| k.check(&address))
    }

    /// Forgets the callers whose buckets are full again, so that the state stays as small as
    /// the set of recently active callers.
    pub fn sweep(&self) {
        if let Some(k) = &self.principals {
            k.sweep();
        }
        if let Some(k) = &self.unauthenticated {
            k.sweep();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl<K: std::hash::Hash + Eq + Clone> Keyed<K> {
        fn len(&self) -> usize {
            self.limiter.len()
        }
    }

    impl RateLimiter {
        /// Callers with a bucket kept (principals and addresses).
        fn tracked(&self) -> usize {
            self.principals.as_ref().map_or(0, Keyed::len)
                + self.unauthenticated.as_ref().map_or(0, Keyed::len)
        }
    }

    fn limiter(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter::new(RateLimits {
            principal: Bucket::new(per_second, burst),
            unauthenticated: Bucket::new(1, 2),
        })
    }

    #[test]
    fn a_caller_gets_its_burst_then_waits_while_others_are_unaffected() {
        let limits = limiter(1, 3);
        let alice = Caller::Principal("alice".into());
        for _ in 0..3 {
            limits.check(&alice).unwrap();
        }
        let refused = limits.check(&alice).unwrap_err();
        assert!(refused.retry_after > Duration::from_millis(500));
        assert!(refused.retry_after <= Duration::from_secs(1));
        assert_eq!(refused.retry_after_secs(), 1);
        assert!(
            refused
                .message()
                .contains("at most 1 requests per second, 3 at once")
        );
        limits
            .check(&Caller::Principal("bob".into()))
            .expect("another principal has its own bucket");
        limits
            .check(&Caller::Address([127, 0, 0, 1].into()))
            .expect("an address is a caller of its own");
    }

    #[test]
    fn unauthenticated_requests_are_counted_per_address_in_their_own_bucket() {
        let limits = limiter(100, 100);
        let address: IpAddr = [10, 0, 0, 7].into();
        limits.check_unauthenticated(address).unwrap();
        limits.check_unauthenticated(address).unwrap();
        assert!(limits.check_unauthenticated(address).is_err());
        limits
            .check_unauthenticated([10, 0, 0, 8].into())
            .expect("another address has its own bucket");
        limits
            .check(&Caller::Address(address))
            .expect("an authenticated caller's bucket is a different one");
    }

    #[test]
    fn a_batch_takes_all_its_operations_or_none() {
        let limits = limiter(1, 10);
        let erin = Caller::Principal("erin".into());
        limits.check_n(&erin, 6).unwrap();
        assert!(limits.check_n(&erin, 5).is_err(), "4 left");
        limits
            .check_n(&erin, 4)
            .expect("a refused batch took nothing");
        assert!(limits.check(&erin).is_err());
    }

    #[test]
    fn a_sweep_forgets_the_callers_whose_buckets_refilled() {
        let limits = limiter(1000, 1);
        limits.check(&Caller::Principal("frank".into())).unwrap();
        limits.check_unauthenticated([10, 0, 0, 9].into()).unwrap();
        assert_eq!(limits.tracked(), 2);
        std::thread::sleep(Duration::from_millis(5));
        limits.sweep();
        // Frank's bucket of 1 refilled after 1 ms; the address's refills at 1 per second.
        assert_eq!(limits.tracked(), 1);
        limits
            .check_unauthenticated([10, 0, 0, 9].into())
            .expect("the address still has its second request");
        assert!(limits.check_unauthenticated([10, 0, 0, 9].into()).is_err());
    }

    #[test]
    fn no_bucket_means_no_limit() {
        let limits = RateLimiter::new(RateLimits::off());
        for _ in 0..10_000 {
            limits.check(&Caller::Principal("p".into())).unwrap();
            limits.check_unauthenticated([10, 0, 0, 1].into()).unwrap();
        }
    }

    #[test]
    fn anonymous_principals_are_counted_by_address() {
        let address: IpAddr = [192, 0, 2, 1].into();
        assert_eq!(
            Caller::of(&Principal::unauthenticated_admin(), address),
            Caller::Address(address)
        );
    }
}

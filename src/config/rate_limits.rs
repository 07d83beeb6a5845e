//! Rate limits: a token bucket per principal, and one per client address for requests whose
//! token is missing or refused.

use serde::{Deserialize, Serialize};

use super::SettingsError;

/// The rate limits as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateLimitSection {
    /// Requests (HTTP requests, WebSocket connections and WebSocket operations) one principal
    /// may make per second, sustained; 0 turns the limit off. Without authentication (mode
    /// `none`) the client address stands for the principal.
    pub rate_limit_per_second: u32,
    /// Requests one principal may make at once above the sustained rate (the bucket's size).
    pub rate_limit_burst: u32,
    /// Requests per second from one client address whose token is missing or refused; 0: off.
    pub rate_limit_unauthenticated_per_second: u32,
    /// Bucket size for requests from one client address without a valid token.
    pub rate_limit_unauthenticated_burst: u32,
}

impl Default for RateLimitSection {
    fn default() -> Self {
        RateLimitSection {
            rate_limit_per_second: 50,
            rate_limit_burst: 100,
            rate_limit_unauthenticated_per_second: 5,
            rate_limit_unauthenticated_burst: 20,
        }
    }
}

impl RateLimitSection {
    /// Refuses a bucket that can't hold one request while its rate is on, and a principal's
    /// bucket smaller than a whole batch (`max_batch`, when batching is on): a batch takes one
    /// request per operation.
    pub(super) fn check(&self, max_batch: Option<usize>) -> Result<RateLimits, SettingsError> {
        for (key, per_second, burst) in [
            (
                "TENANTGRAPH_RATE_LIMIT_BURST",
                self.rate_limit_per_second,
                self.rate_limit_burst,
            ),
            (
                "TENANTGRAPH_RATE_LIMIT_UNAUTHENTICATED_BURST",
                self.rate_limit_unauthenticated_per_second,
                self.rate_limit_unauthenticated_burst,
            ),
        ] {
            if per_second > 0 && burst == 0 {
                return Err(SettingsError::new(
                    key,
                    "expected at least 1 while its rate per second is above 0",
                ));
            }
        }
        if let Some(max_batch) = max_batch
            && self.rate_limit_per_second > 0
            && (self.rate_limit_burst as usize) < max_batch
        {
            return Err(SettingsError::new(
                "TENANTGRAPH_RATE_LIMIT_BURST",
                format!(
                    "expected at least TENANTGRAPH_GRAPHQL_MAX_BATCH ({max_batch}): a batch takes \
                     one request per operation"
                ),
            ));
        }
        Ok(RateLimits {
            principal: Bucket::new(self.rate_limit_per_second, self.rate_limit_burst),
            unauthenticated: Bucket::new(
                self.rate_limit_unauthenticated_per_second,
                self.rate_limit_unauthenticated_burst,
            ),
        })
    }
}

/// Token buckets limiting how fast callers may send requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Per authenticated principal (per client address when authentication is off).
    pub principal: Option<Bucket>,
    /// Per client address, for requests whose token is missing or refused.
    pub unauthenticated: Option<Bucket>,
}

impl RateLimits {
    /// No rate limits at all.
    pub fn off() -> Self {
        RateLimits {
            principal: None,
            unauthenticated: None,
        }
    }
}

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    /// Sustained requests per second (at least 1).
    pub per_second: u32,
    /// Requests allowed at once (at least 1).
    pub burst: u32,
}

impl Bucket {
    /// The bucket of a rate and size; `None` (no limit) when the rate is 0.
    pub fn new(per_second: u32, burst: u32) -> Option<Bucket> {
        (per_second > 0).then_some(Bucket {
            per_second,
            burst: burst.max(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_buckets_must_hold_a_request_and_a_whole_batch() {
        let section = RateLimitSection {
            rate_limit_unauthenticated_burst: 0,
            ..RateLimitSection::default()
        };
        let err = section.check(None).unwrap_err().to_string();
        assert!(
            err.contains("TENANTGRAPH_RATE_LIMIT_UNAUTHENTICATED_BURST"),
            "{err}"
        );
        let section = RateLimitSection {
            rate_limit_burst: 5,
            ..RateLimitSection::default()
        };
        let err = section.check(Some(10)).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid setting TENANTGRAPH_RATE_LIMIT_BURST: expected at least \
             TENANTGRAPH_GRAPHQL_MAX_BATCH (10): a batch takes one request per operation"
        );
        assert!(section.check(None).is_ok());
        // A limit turned off needs no bucket size.
        let section = RateLimitSection {
            rate_limit_per_second: 0,
            rate_limit_burst: 0,
            ..RateLimitSection::default()
        };
        assert_eq!(section.check(Some(10)).unwrap().principal, None);
    }
}

//! Reads kept across requests for as long as the store's data stays as it was when they were
//! read. The data changes when an import, a mutation or the service's own bookkeeping (alerts,
//! webhooks, retention) commits, so a dashboard asking the same page again between two commits
//! is answered from memory after one cheap statement (the store's [`DataVersion`]) instead of
//! the page's statements.
//!
//! Only query operations use it: a mutation reads what it has just written, and a subscription
//! outlives any version. A query operation reads the version before its DataLoaders' first
//! statement, so every row they hold was read after it; what it reads is kept with that version
//! and served only to an operation that found that same version (see
//! [`crate::store::data_version`]): never stale, whatever process committed.

use std::hash::Hash;
use std::sync::Arc;

use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::{DefaultHashBuilder, OptionsBuilder};
use tokio::sync::OnceCell;

use crate::store::{DataVersion, Store};

/// What an entry costs beyond its estimated size: the cache's own bookkeeping, the version, the
/// key. An empty read still counts this much.
const ENTRY_BYTES: u64 = 512;

/// Shards of each cache. quick_cache refuses an entry heavier than one shard can hold, so fewer
/// shards keep large pages; four still spread the locks of concurrent operations.
const SHARDS: usize = 4;

/// A read kept with the version it was read under and its estimated size.
struct Kept<V> {
    version: DataVersion,
    value: V,
    bytes: u64,
}

/// Weighs a kept read by its estimated size in bytes.
#[derive(Clone)]
struct BySize;

impl<K, V> quick_cache::Weighter<K, Arc<Kept<V>>> for BySize {
    fn weight(&self, _key: &K, kept: &Arc<Kept<V>>) -> u64 {
        kept.bytes
    }
}

/// Values of `V` by `K`, each kept with its version; at most about `bytes` of them, the least
/// used given up first.
pub struct Versioned<K, V> {
    entries: Cache<K, Arc<Kept<V>>, BySize>,
}

impl<K, V> Versioned<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    /// An empty cache of about `bytes`.
    pub fn new(bytes: u64) -> Self {
        // quick_cache sizes its tables from the expected number of entries, a few KiB each;
        // bounded so that a large setting does not allocate them all at the start.
        let estimated = usize::try_from(bytes / 4096)
            .unwrap_or(usize::MAX)
            .clamp(16, 1 << 16);
        let options = OptionsBuilder::new()
            .estimated_items_capacity(estimated)
            .weight_capacity(bytes.max(1))
            .shards(SHARDS)
            .build();
        let entries = match options {
            Ok(options) => Cache::with_options(
                options,
                BySize,
                DefaultHashBuilder::default(),
                DefaultLifecycle::default(),
            ),
            // The builder refuses only a missing capacity, which is always set above.
            Err(_) => Cache::with_weighter(estimated, bytes.max(1), BySize),
        };
        Versioned { entries }
    }

    /// The value of `key` read under `version`, if it is kept.
    pub fn get(&self, key: &K, version: &DataVersion) -> Option<V> {
        self.entries
            .get(key)
            .filter(|kept| kept.version == *version)
            .map(|kept| kept.value.clone())
    }

    /// Keeps `value`, read under `version`, of about `bytes` (plus [`ENTRY_BYTES`]). A value
    /// heavier than about a quarter of the cache (one shard) is not kept.
    pub fn insert(&self, key: K, version: DataVersion, value: V, bytes: u64) {
        self.entries.insert(
            key,
            Arc::new(Kept {
                version,
                value,
                bytes: bytes.saturating_add(ENTRY_BYTES),
            }),
        );
    }
}

/// The store's data version as one query operation sees it: read once, before the first
/// statement of any of its DataLoaders, and then the same for the whole operation. An
/// operation that reads nothing through its loaders reads no version.
pub struct RequestVersion {
    store: Store,
    version: OnceCell<Option<DataVersion>>,
}

impl RequestVersion {
    /// Nothing read yet.
    pub fn new(store: Store) -> Self {
        RequestVersion {
            store,
            version: OnceCell::new(),
        }
    }

    /// The version, or `None` where the store has none or it could not be read (then the
    /// operation reads everything from the store, as without a cache).
    pub async fn get(&self) -> Option<&DataVersion> {
        self.version
            .get_or_init(|| async {
                match self.store.data_version().await {
                    Ok(version) => version,
                    Err(err) => {
                        tracing::warn!(error = %err, "data version not read: reading without the cache");
                        None
                    }
                }
            })
            .await
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::store::StoreSettings;

    #[tokio::test]
    async fn a_value_is_served_only_under_the_version_it_was_read_under() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
        let store = Store::connect(&StoreSettings::for_url(&url), None)
            .await
            .unwrap();
        crate::store::migrate(&store).await.unwrap();
        let cache: Versioned<u32, &str> = Versioned::new(1 << 20);
        let before = store.data_version().await.unwrap().unwrap();
        cache.insert(1, before.clone(), "read before", 100);
        assert_eq!(cache.get(&1, &before), Some("read before"));
        store
            .execute_raw("CREATE TABLE t (x INTEGER)")
            .await
            .unwrap();
        let after = store.data_version().await.unwrap().unwrap();
        assert_eq!(cache.get(&1, &after), None);
        assert_eq!(cache.get(&2, &before), None);
    }

    #[test]
    fn values_beyond_the_size_are_given_up() {
        let version = DataVersion::for_tests(1);
        let cache: Versioned<u32, u32> = Versioned::new(10_000);
        for key in 0..100 {
            cache.insert(key, version.clone(), key, 1_000);
        }
        let kept = (0..100)
            .filter(|k| cache.get(k, &version).is_some())
            .count();
        assert!((1..=10).contains(&kept), "{kept} of 100 kept");
    }
}

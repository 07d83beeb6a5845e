//! Reads kept across requests for as long as the store's data stays as it was when they were
//! read. The data changes only when an import or a mutation commits, so a dashboard asking
//! the same page again between two commits is answered from memory after one cheap statement
//! (the store's [`DataVersion`]) instead of the page's statements.
//!
//! Only query operations use it: a mutation reads what it has just written, and a subscription
//! outlives any version. Each kept read carries the version taken before it was read, and is
//! served only to a request that finds the store at that same version (see
//! [`crate::store::data_version`]): never stale, whatever process committed.

use std::hash::Hash;
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::store::{DataVersion, Store};

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
        kept.bytes.max(1)
    }
}

/// Values of `V` by `K`, each kept with its version; at most about `bytes` of them, the least
/// used given up first.
pub struct Versioned<K, V> {
    entries: quick_cache::sync::Cache<K, Arc<Kept<V>>, BySize>,
}

impl<K, V> Versioned<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    /// An empty cache of about `bytes`.
    pub fn new(bytes: u64) -> Self {
        // quick_cache sizes its tables from the expected number of entries: a few KiB each.
        let estimated = usize::try_from(bytes / 4096).unwrap_or(usize::MAX).max(16);
        Versioned {
            entries: quick_cache::sync::Cache::with_weighter(estimated, bytes.max(1), BySize),
        }
    }

    /// The value of `key` read under `version`, if it is kept.
    pub fn get(&self, key: &K, version: &DataVersion) -> Option<V> {
        self.entries
            .get(key)
            .filter(|kept| kept.version == *version)
            .map(|kept| kept.value.clone())
    }

    /// Keeps `value`, read under `version`, of about `bytes`. A value larger than the whole
    /// cache is not kept.
    pub fn insert(&self, key: K, version: DataVersion, value: V, bytes: u64) {
        self.entries.insert(
            key,
            Arc::new(Kept {
                version,
                value,
                bytes,
            }),
        );
    }
}

/// The store's data version as one request sees it: read once, at the first kept read the
/// request asks for, and then the same for the whole request.
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
    /// request reads everything from the store, as without a cache).
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

//! What a retention pruning removed, and the batch loop the prunings share: one short `DELETE`
//! after another until one removes fewer than a batch.

use std::future::Future;

use super::error::StoreError;

/// What one pruning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Rows removed, across every tenant (rows their foreign keys cascade to not counted).
    pub removed: u64,
    /// `DELETE` statements run, each its own short transaction.
    pub batches: u32,
}

impl Pruned {
    /// Counts one statement that removed `removed` rows.
    pub(crate) fn add_batch(&mut self, removed: u64) {
        self.removed += removed;
        self.batches += 1;
    }

    /// Runs `delete` (a statement removing at most `batch` rows, returning how many it removed)
    /// again and again, counting each, until one removes fewer than `batch`.
    pub(crate) async fn in_batches<F, Fut>(
        &mut self,
        batch: u64,
        mut delete: F,
    ) -> Result<(), StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<u64, StoreError>>,
    {
        loop {
            let removed = delete().await?;
            self.add_batch(removed);
            if removed < batch {
                return Ok(());
            }
        }
    }
}

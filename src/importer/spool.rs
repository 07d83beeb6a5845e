//! A run's spool: user records are appended to an unnamed temporary file as pages arrive and
//! read back in chunks by the commit, so a tenant of any size passes through bounded memory.
//! The file has no name on disk and disappears with the process, even a killed one.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};

use crate::domain::{SkuId, UserChange};
use crate::store::import_commit::ChangeSource;

/// Appends records; [`Spool::finish`] turns it into a reader.
pub struct Spool {
    writer: BufWriter<File>,
    records: u64,
    licensed: HashSet<SkuId>,
}

impl Spool {
    /// A new empty spool in the system's temporary directory.
    pub fn new() -> std::io::Result<Self> {
        Ok(Spool {
            writer: BufWriter::with_capacity(256 * 1024, tempfile::tempfile()?),
            records: 0,
            licensed: HashSet::new(),
        })
    }

    /// Records written so far.
    pub fn len(&self) -> u64 {
        self.records
    }

    /// The SKUs the records written so far hold licenses of.
    pub fn licensed_skus(&self) -> &HashSet<SkuId> {
        &self.licensed
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Appends one change: a line of JSON, the change with its field names.
    pub fn push(&mut self, change: UserChange) -> std::io::Result<()> {
        if let UserChange::Present(user) = &change {
            self.licensed
                .extend(user.licenses.iter().map(|(sku, _)| *sku));
        }
        serde_json::to_writer(&mut self.writer, &change)?;
        self.writer.write_all(b"\n")?;
        self.records += 1;
        Ok(())
    }

    /// Flushes and rewinds for reading.
    pub fn finish(self) -> std::io::Result<SpoolReader> {
        let mut file = self.writer.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        Ok(SpoolReader {
            reader: BufReader::with_capacity(256 * 1024, file),
            line: String::new(),
        })
    }
}

/// Reads a finished spool back, in write order.
pub struct SpoolReader {
    reader: BufReader<File>,
    line: String,
}

impl ChangeSource for SpoolReader {
    fn next_chunk(&mut self, max: usize) -> Result<Option<Vec<UserChange>>, String> {
        let mut chunk = Vec::with_capacity(max.min(4096));
        while chunk.len() < max {
            self.line.clear();
            let read = self
                .reader
                .read_line(&mut self.line)
                .map_err(|e| e.to_string())?;
            if read == 0 {
                break;
            }
            let change: UserChange =
                serde_json::from_str(&self.line).map_err(|e| format!("corrupt record: {e}"))?;
            chunk.push(change);
        }
        Ok((!chunk.is_empty()).then_some(chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        AssignedBy, ContactId, FieldSet, GroupId, ImportedUser, LicenseAssignmentState,
        ManagerContact, ServicePlanId, SkuId, UserId,
    };
    use uuid::Uuid;

    #[test]
    fn records_come_back_in_order_and_in_chunks_and_their_skus_are_known() {
        let mut spool = Spool::new().unwrap();
        let mut user = ImportedUser {
            id: Some(UserId(Uuid::from_u128(1))),
            present: FieldSet::ALL,
            display_name: Some("山田 太郎".into()),
            user_principal_name: Some("taro@example.com".into()),
            account_enabled: Some(false),
            manager_id: Some(UserId(Uuid::from_u128(3))),
            licenses: vec![(
                SkuId(Uuid::from_u128(7)),
                vec![ServicePlanId(Uuid::from_u128(8))],
            )],
            license_assignments: vec![LicenseAssignmentState {
                sku_id: SkuId(Uuid::from_u128(7)),
                assigned_by: AssignedBy::Group(GroupId(Uuid::from_u128(9))),
                state: "ActiveWithError".into(),
                error: Some("MutuallyExclusiveViolation".into()),
                disabled_plans: vec![ServicePlanId(Uuid::from_u128(8))],
                last_updated: chrono::DateTime::from_timestamp(1_750_000_000, 123_456_000),
            }],
            ..ImportedUser::default()
        };
        user.extension_attributes[14] = Some("CC-1".into());
        spool
            .push(UserChange::Present(Box::new(user.clone())))
            .unwrap();
        spool
            .push(UserChange::Removed(UserId(Uuid::from_u128(2))))
            .unwrap();
        let contact_managed = ImportedUser {
            id: Some(UserId(Uuid::from_u128(4))),
            manager_id: None,
            manager_contact: Some(ManagerContact {
                id: ContactId(Uuid::from_u128(5)),
                display_name: Some("Beat Keller (extern)".into()),
                mail: None,
            }),
            licenses: vec![(SkuId(Uuid::from_u128(9)), vec![])],
            ..user.clone()
        };
        spool
            .push(UserChange::Present(Box::new(contact_managed.clone())))
            .unwrap();
        assert_eq!(
            spool.licensed_skus(),
            &HashSet::from([SkuId(Uuid::from_u128(7)), SkuId(Uuid::from_u128(9))])
        );
        let mut reader = spool.finish().unwrap();
        let first = reader.next_chunk(2).unwrap().unwrap();
        assert_eq!(first[0], UserChange::Present(Box::new(user.clone())));
        assert_eq!(first[1], UserChange::Removed(UserId(Uuid::from_u128(2))));
        assert_eq!(
            reader.next_chunk(2).unwrap().unwrap(),
            [UserChange::Present(Box::new(contact_managed))]
        );
        assert_eq!(reader.next_chunk(2).unwrap(), None);
    }
}

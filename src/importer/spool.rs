//! A run's spool: user records are appended to an unnamed temporary file as pages arrive and
//! read back in chunks by the commit, so a tenant of any size passes through bounded memory.
//! The file has no name on disk and disappears with the process, even a killed one.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{
    EXTENSION_ATTRIBUTES, FieldSet, ImportedUser, ServicePlanId, SkuId, UserChange, UserId,
};
use crate::store::import_commit::ChangeSource;

#[derive(Serialize, Deserialize)]
struct Record {
    id: Uuid,
    /// `None` for a user removed upstream.
    user: Option<SpooledUser>,
}

#[derive(Serialize, Deserialize)]
struct SpooledUser {
    present: u32,
    /// displayName … usageLocation, in `FIELDS` order.
    text: [Option<String>; 17],
    account_enabled: Option<bool>,
    extension_attributes: [Option<String>; EXTENSION_ATTRIBUTES],
    manager_id: Option<Uuid>,
    licenses: Vec<(Uuid, Vec<Uuid>)>,
}

/// Appends records; [`Spool::finish`] turns it into a reader.
pub struct Spool {
    writer: BufWriter<File>,
    records: u64,
}

impl Spool {
    /// A new empty spool in the system's temporary directory.
    pub fn new() -> std::io::Result<Self> {
        Ok(Spool {
            writer: BufWriter::with_capacity(256 * 1024, tempfile::tempfile()?),
            records: 0,
        })
    }

    /// Records written so far.
    pub fn len(&self) -> u64 {
        self.records
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Appends one change.
    pub fn push(&mut self, change: UserChange) -> std::io::Result<()> {
        let record = match change {
            UserChange::Removed(id) => Record {
                id: id.uuid(),
                user: None,
            },
            UserChange::Present(u) => Record {
                id: u.id.map_or(Uuid::nil(), UserId::uuid),
                user: Some(SpooledUser {
                    present: u.present.bits(),
                    text: [
                        u.display_name,
                        u.given_name,
                        u.surname,
                        u.user_principal_name,
                        u.mail,
                        u.user_type,
                        u.job_title,
                        u.department,
                        u.company_name,
                        u.office_location,
                        u.street_address,
                        u.city,
                        u.state,
                        u.postal_code,
                        u.country,
                        u.preferred_language,
                        u.usage_location,
                    ],
                    account_enabled: u.account_enabled,
                    extension_attributes: u.extension_attributes,
                    manager_id: u.manager_id.map(UserId::uuid),
                    licenses: u
                        .licenses
                        .into_iter()
                        .map(|(sku, plans)| {
                            (sku.uuid(), plans.into_iter().map(|p| p.uuid()).collect())
                        })
                        .collect(),
                }),
            },
        };
        serde_json::to_writer(&mut self.writer, &record)?;
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
            let record: Record =
                serde_json::from_str(&self.line).map_err(|e| format!("corrupt record: {e}"))?;
            chunk.push(to_change(record));
        }
        Ok((!chunk.is_empty()).then_some(chunk))
    }
}

fn to_change(record: Record) -> UserChange {
    let id = UserId(record.id);
    let Some(u) = record.user else {
        return UserChange::Removed(id);
    };
    let [
        display_name,
        given_name,
        surname,
        user_principal_name,
        mail,
        user_type,
        job_title,
        department,
        company_name,
        office_location,
        street_address,
        city,
        state,
        postal_code,
        country,
        preferred_language,
        usage_location,
    ] = u.text;
    UserChange::Present(Box::new(ImportedUser {
        id: Some(id),
        present: FieldSet::from_bits(u.present),
        display_name,
        given_name,
        surname,
        user_principal_name,
        mail,
        user_type,
        account_enabled: u.account_enabled,
        job_title,
        department,
        company_name,
        office_location,
        street_address,
        city,
        state,
        postal_code,
        country,
        preferred_language,
        usage_location,
        extension_attributes: u.extension_attributes,
        manager_id: u.manager_id.map(UserId),
        licenses: u
            .licenses
            .into_iter()
            .map(|(sku, plans)| (SkuId(sku), plans.into_iter().map(ServicePlanId).collect()))
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_order_and_in_chunks() {
        let mut spool = Spool::new().unwrap();
        let user = ImportedUser {
            id: Some(UserId(Uuid::from_u128(1))),
            present: FieldSet::ALL,
            display_name: Some("山田 太郎".into()),
            user_principal_name: Some("taro@example.com".into()),
            licenses: vec![(
                SkuId(Uuid::from_u128(7)),
                vec![ServicePlanId(Uuid::from_u128(8))],
            )],
            ..ImportedUser::default()
        };
        spool
            .push(UserChange::Present(Box::new(user.clone())))
            .unwrap();
        spool
            .push(UserChange::Removed(UserId(Uuid::from_u128(2))))
            .unwrap();
        spool
            .push(UserChange::Present(Box::new(user.clone())))
            .unwrap();
        let mut reader = spool.finish().unwrap();
        let first = reader.next_chunk(2).unwrap().unwrap();
        assert_eq!(first[0], UserChange::Present(Box::new(user.clone())));
        assert_eq!(first[1], UserChange::Removed(UserId(Uuid::from_u128(2))));
        assert_eq!(reader.next_chunk(2).unwrap().unwrap().len(), 1);
        assert_eq!(reader.next_chunk(2).unwrap(), None);
    }
}

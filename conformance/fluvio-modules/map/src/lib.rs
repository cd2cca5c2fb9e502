//! Upper-cases the ASCII letters of each value (other bytes pass through) and keeps the key.
use fluvio_smartmodule::{eyre, smartmodule, Result, SmartModuleRecord, RecordData};

#[smartmodule(map)]
pub fn map(record: &SmartModuleRecord) -> Result<(Option<RecordData>, RecordData)> {
    let value = record.value.as_ref();
    if value.starts_with(b"reject") {
        return Err(eyre!("cannot map a value marked reject"));
    }
    let upper: Vec<u8> = value.iter().map(|b| b.to_ascii_uppercase()).collect();
    Ok((record.key.clone(), upper.into()))
}

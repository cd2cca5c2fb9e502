//! Splits each value at commas into one record per piece, each with the original key.
use fluvio_smartmodule::{eyre, smartmodule, Result, SmartModuleRecord, RecordData};

#[smartmodule(array_map)]
pub fn array_map(record: &SmartModuleRecord) -> Result<Vec<(Option<RecordData>, RecordData)>> {
    let value = record.value.as_ref();
    if value.starts_with(b"reject") {
        return Err(eyre!("array_map cannot split a value marked reject"));
    }
    Ok(value
        .split(|b| *b == b',')
        .filter(|piece| !piece.is_empty())
        .map(|piece| (record.key.clone(), RecordData::from(piece.to_vec())))
        .collect())
}

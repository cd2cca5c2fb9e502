//! Drops odd-length values; reverses the even ones and keys them by their length in decimal.
use fluvio_smartmodule::{eyre, smartmodule, Result, SmartModuleRecord, RecordData};

#[smartmodule(filter_map)]
pub fn filter_map(record: &SmartModuleRecord) -> Result<Option<(Option<RecordData>, RecordData)>> {
    let value = record.value.as_ref();
    if value.starts_with(b"reject") {
        return Err(eyre!("filter_map refuses {} bytes marked reject", value.len()));
    }
    if value.len() % 2 == 1 {
        return Ok(None);
    }
    let reversed: Vec<u8> = value.iter().rev().copied().collect();
    Ok(Some((Some(value.len().to_string().into()), reversed.into())))
}

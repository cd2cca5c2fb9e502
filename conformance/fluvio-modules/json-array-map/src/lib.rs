//! Expands a JSON array value into one record per element (re-serialized); anything else is an error.
use fluvio_smartmodule::{smartmodule, Result, SmartModuleRecord, RecordData};

#[smartmodule(array_map)]
pub fn array_map(record: &SmartModuleRecord) -> Result<Vec<(Option<RecordData>, RecordData)>> {
    let items: Vec<serde_json::Value> = serde_json::from_slice(record.value.as_ref())?;
    items
        .into_iter()
        .map(|item| Ok((None, RecordData::from(serde_json::to_vec(&item)?))))
        .collect()
}

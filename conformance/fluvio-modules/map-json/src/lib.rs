//! Projects a structured log to three fields: the serde counterpart of examples/map-json.
use fluvio_smartmodule::{smartmodule, Result, SmartModuleRecord, RecordData};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Log { level: String, message: String, ts: u64 }

#[derive(Serialize)]
struct Short { level: String, message: String, ts: u64 }

#[smartmodule(map)]
pub fn map(record: &SmartModuleRecord) -> Result<(Option<RecordData>, RecordData)> {
    let log: Log = serde_json::from_slice(record.value.as_ref())?;
    let short = Short { level: log.level, message: log.message, ts: log.ts };
    Ok((record.key.clone(), serde_json::to_vec(&short)?.into()))
}

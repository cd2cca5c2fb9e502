//! Keeps structured logs whose level is above debug: Fluvio's `filter_json` example, the serde
//! counterpart of examples/filter-json (same records kept, same errors).
use fluvio_smartmodule::{smartmodule, Result, SmartModuleRecord};
use serde::Deserialize;

#[derive(PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
enum LogLevel { Trace, Debug, Info, Warn, Error }

#[derive(Deserialize)]
struct StructuredLog {
    level: LogLevel,
    #[serde(rename = "message")]
    _message: String,
}

#[smartmodule(filter)]
pub fn filter(record: &SmartModuleRecord) -> Result<bool> {
    let log = serde_json::from_slice::<StructuredLog>(record.value.as_ref())?;
    Ok(log.level > LogLevel::Debug)
}

//! Counts the history it is shown in look_back, then prefixes each value with that count, the
//! record's absolute offset and timestamp, and counts on. A history value `poison` is refused.
use std::sync::atomic::{AtomicU64, Ordering};

use fluvio_smartmodule::{eyre, smartmodule, Result, SmartModuleRecord, RecordData};

static SEEN: AtomicU64 = AtomicU64::new(0);

#[smartmodule(look_back)]
pub fn look_back(record: &SmartModuleRecord) -> Result<()> {
    if record.value.as_ref() == b"poison" {
        return Err(eyre!("history record at offset {} is poison", record.offset()));
    }
    SEEN.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

#[smartmodule(map)]
pub fn map(record: &SmartModuleRecord) -> Result<(Option<RecordData>, RecordData)> {
    let seen = SEEN.fetch_add(1, Ordering::Relaxed);
    let mut out = format!("{seen}@{}t{}:", record.offset(), record.timestamp()).into_bytes();
    out.extend_from_slice(record.value.as_ref());
    Ok((record.key.clone(), out.into()))
}

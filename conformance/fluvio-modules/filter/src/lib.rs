//! Keeps records whose value contains the letter `a`; rejects values starting with `reject`.
use fluvio_smartmodule::{eyre, smartmodule, Result, SmartModuleRecord};

#[smartmodule(filter)]
pub fn filter(record: &SmartModuleRecord) -> Result<bool> {
    let value = record.value.as_ref();
    if value.starts_with(b"reject") {
        return Err(eyre!("value at offset {} is marked reject", record.offset()));
    }
    Ok(value.contains(&b'a'))
}

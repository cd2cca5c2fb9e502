//! Keeps values containing the `contains` parameter, which init requires.
use std::sync::OnceLock;

use fluvio_smartmodule::dataplane::smartmodule::{SmartModuleExtraParams, SmartModuleInitError};
use fluvio_smartmodule::{eyre, smartmodule, Result, SmartModuleRecord};

static NEEDLE: OnceLock<Vec<u8>> = OnceLock::new();

#[smartmodule(init)]
fn init(params: SmartModuleExtraParams) -> Result<()> {
    match params.get("contains") {
        Some(needle) if !needle.is_empty() => {
            NEEDLE.set(needle.as_bytes().to_vec()).map_err(|_| eyre!("init called twice"))
        }
        Some(_) => Err(eyre!("the contains parameter is empty")),
        None => Err(SmartModuleInitError::MissingParam("contains".to_string()).into()),
    }
}

#[smartmodule(filter)]
pub fn filter(record: &SmartModuleRecord) -> Result<bool> {
    let needle = NEEDLE.get().ok_or_else(|| eyre!("init did not run"))?;
    Ok(record.value.as_ref().windows(needle.len()).any(|w| w == needle.as_slice()))
}

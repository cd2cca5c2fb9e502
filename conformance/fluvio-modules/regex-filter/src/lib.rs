//! Keeps UTF-8 values matching the `regex` parameter (default `^[a-z]+$`); a bad pattern fails init.
use std::sync::OnceLock;

use fluvio_smartmodule::dataplane::smartmodule::SmartModuleExtraParams;
use fluvio_smartmodule::{eyre, smartmodule, Result, SmartModuleRecord};
use regex::Regex;

static PATTERN: OnceLock<Regex> = OnceLock::new();

#[smartmodule(init)]
fn init(params: SmartModuleExtraParams) -> Result<()> {
    let source = params.get("regex").map(String::as_str).unwrap_or("^[a-z]+$");
    let re = Regex::new(source).map_err(|e| eyre!("bad regex {source:?}: {e}"))?;
    PATTERN.set(re).map_err(|_| eyre!("init called twice"))
}

#[smartmodule(filter)]
pub fn filter(record: &SmartModuleRecord) -> Result<bool> {
    let re = PATTERN.get().ok_or_else(|| eyre!("init did not run"))?;
    match std::str::from_utf8(record.value.as_ref()) {
        Ok(text) => Ok(re.is_match(text)),
        Err(_) => Ok(false),
    }
}

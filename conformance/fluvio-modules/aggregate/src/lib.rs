//! Running total of value bytes seen, as decimal text; an accumulator that is not a number is an error.
use fluvio_smartmodule::{eyre, smartmodule, Result, SmartModuleRecord, RecordData};

#[smartmodule(aggregate)]
pub fn aggregate(accumulator: RecordData, current: &SmartModuleRecord) -> Result<RecordData> {
    let text = std::str::from_utf8(accumulator.as_ref())?;
    let total: u64 = if text.is_empty() { 0 } else { text.trim().parse().map_err(|_| eyre!("accumulator {text:?} is not a number"))? };
    if current.value.as_ref().starts_with(b"reject") {
        return Err(eyre!("aggregate stops at a value marked reject (total so far {total})"));
    }
    Ok((total + current.value.len() as u64).to_string().into())
}

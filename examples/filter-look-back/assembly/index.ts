// Monotonic filter with look-back — Fluvio's `filter_look_back` example: `look_back` stores the
// last value (u64) of the history records; the filter keeps values strictly greater than the
// stored one and then stores them.
//
//     #[smartmodule(look_back)]
//     pub fn look_back(record: &SmartModuleRecord) -> Result<()> {
//         let last_value: u64 = std::str::from_utf8(record.value.as_ref())?.parse()?;
//         PREV.store(last_value, Ordering::SeqCst);
//         Ok(())
//     }
//     #[smartmodule(filter)]
//     pub fn filter(record: &SmartModuleRecord) -> Result<bool> {
//         let current: u64 = std::str::from_utf8(record.value.as_ref())?.parse()?;
//         if current > PREV.load(Ordering::SeqCst) { PREV.store(current, Ordering::SeqCst); Ok(true) } else { Ok(false) }
//     }
import { Record, runFilter, runLookBack, failed } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

let last: u64 = 0;

export function look_back(ptr: i32, len: i32, version: i32): i32 {
  return runLookBack(ptr, len, version, (r: Record): void => {
    if (!r.value.requireUtf8()) return;
    let v = r.value.parseU64();
    if (!failed()) last = v;
  });
}

export function filter(ptr: i32, len: i32, version: i32): i32 {
  return runFilter(ptr, len, version, (r: Record): bool => {
    if (!r.value.requireUtf8()) return false;
    let v = r.value.parseU64();
    if (failed() || v <= last) return false;
    last = v;
    return true;
  });
}

// Keeps records whose value contains "a" — Fluvio's `filter` example:
//
//     #[smartmodule(filter)]
//     pub fn filter(record: &SmartModuleRecord) -> Result<bool> {
//         let string = std::str::from_utf8(record.value.as_ref())?;
//         Ok(string.contains('a'))
//     }
//
// A value that is not UTF-8 ends the batch with a runtime error, like the `?` above.
import { Record, runFilter } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

export function filter(ptr: i32, len: i32, version: i32): i32 {
  return runFilter(ptr, len, version, (r: Record): bool => r.value.requireUtf8() && r.value.includes("a"));
}

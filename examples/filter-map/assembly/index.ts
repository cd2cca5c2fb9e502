// Keeps even numbers and halves them — Fluvio's `filter_map` example:
//
//     #[smartmodule(filter_map)]
//     pub fn filter_map(record: &SmartModuleRecord) -> Result<Option<(Option<RecordData>, RecordData)>> {
//         let key = record.key.clone();
//         let string = String::from_utf8_lossy(record.value.as_ref()).to_string();
//         let int: i32 = string.parse()?;
//         if int % 2 == 0 {
//             let output = int / 2;
//             Ok(Some((key.clone(), RecordData::from(output.to_string()))))
//         } else {
//             Ok(None)
//         }
//     }
import { Out, Record, runFilterMap, parseI32 } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

export function filter_map(ptr: i32, len: i32, version: i32): i32 {
  return runFilterMap(ptr, len, version, (r: Record, out: Out): bool => {
    let n = parseI32(r.valueStringLossy());
    if (n % 2 != 0) return false;
    out.value((n / 2).toString());
    return true;
  });
}

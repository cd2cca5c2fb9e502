// Doubles numbers — Fluvio's `map_double` example (i32 arithmetic, wrapping as release Rust does):
//
//     #[smartmodule(map)]
//     pub fn map(record: &SmartModuleRecord) -> Result<(Option<RecordData>, RecordData)> {
//         let key = record.key.clone();
//         let string = std::str::from_utf8(record.value.as_ref())?;
//         let int = string.parse::<i32>()?;
//         let value = (int * 2).to_string();
//         Ok((key, value.into()))
//     }
import { Out, Record, runMap } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

export function map(ptr: i32, len: i32, version: i32): i32 {
  return runMap(ptr, len, version, (r: Record, out: Out): void => {
    if (!r.value.requireUtf8()) return;
    let n = r.value.parseI32();
    out.value((n * 2).toString());
  });
}

// Upper-cases every value, keeping the key — the `map` template of `smdk generate`:
//
//     #[smartmodule(map)]
//     pub fn map(record: &SmartModuleRecord) -> Result<(Option<RecordData>, RecordData)> {
//         let key = record.key.clone();
//         let string = std::str::from_utf8(record.value.as_ref())?;
//         let value = string.to_uppercase();
//         Ok((key, value.into()))
//     }
import { Out, Record, runMap } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

export function map(ptr: i32, len: i32, version: i32): i32 {
  return runMap(ptr, len, version, (r: Record, out: Out): void => {
    out.value(r.valueString().toUpperCase());
  });
}

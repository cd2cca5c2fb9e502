// Bench baseline: examples/array-map-json as it was with the tree reader. Compared with the
// on-demand reader by bench/sdk-json.ts.
//
// Splits a JSON array into one record per element — Fluvio's `array_map_json_array` example:
//
//     #[smartmodule(array_map)]
//     pub fn array_map(record: &SmartModuleRecord) -> Result<Vec<(Option<RecordData>, RecordData)>> {
//         let array: Vec<serde_json::Value> = serde_json::from_slice(record.value.as_ref())?;
//         let strings: Vec<String> = array.into_iter()
//             .map(|value| serde_json::to_string(&value))
//             .collect::<core::result::Result<_, _>>()?;
//         Ok(strings.into_iter().map(|s| (None, RecordData::from(s))).collect())
//     }
//
// Elements are re-serialized as serde_json does (compact, object keys sorted). Outputs are new
// records (no key, deltas 0).
import { ArrayOut, Record, runArrayMap, parseJson, fail, jsonPosition } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

export function array_map(ptr: i32, len: i32, version: i32): i32 {
  return runArrayMap(ptr, len, version, (r: Record, out: ArrayOut): void => {
    const v = parseJson(r.value);
    if (v === null) return;
    if (!v.isArray) { fail(`invalid type: ${v.describe()}, expected a sequence${jsonPosition(1)}`); return; }
    for (let i = 0; i < v.length; i++) out.push(v.at(i).stringify());
  });
}

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
// Elements are written as serde_json writes them (compact, object keys sorted, floats as serde prints them).
// The array is walked on demand: strings without escapes, integers and decimals already in serde's
// shortest form (`12.5`) are copied from the input as they are (that is serde's text), other
// elements are re-written. Outputs are new
// records (no key, deltas 0).
import { ArrayOut, Json, JsonType, Record, runArrayMap, fail, jsonWriter, parseJsonBytes } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

function element(v: Json, out: ArrayOut): void {
  let t = v.type;
  if (t == JsonType.String) { out.push(jsonWriter().stringOf(v)); return; }
  if (t == JsonType.Number) { out.push(jsonWriter().numberOf(v)); return; }
  // objects, arrays, literals: serde_json's Value writer (sorted keys)
  let tree = parseJsonBytes(v.ptr, v.byteLength);
  if (tree !== null) out.push(tree.stringify());
}

export function array_map(ptr: i32, len: i32, version: i32): i32 {
  return runArrayMap(ptr, len, version, (r: Record, out: ArrayOut): void => {
    let v = r.value.json();
    if (!v.exists) return;
    if (!v.isArray) { fail("invalid type: " + describe(v.type) + ", expected a sequence"); return; }
    let it = v.items();
    while (it.next()) element(it.value, out);
  });
}

function describe(t: JsonType): string {
  switch (t) {
    case JsonType.Object: return "map";
    case JsonType.String: return "string";
    case JsonType.Number: return "number";
    case JsonType.Bool: return "boolean";
    default: return "null";
  }
}

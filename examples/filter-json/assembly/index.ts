// Keeps structured logs whose "level" is info, warn or error — Fluvio's `filter_json` example,
// read on demand: only the "level" member is looked at, compared in place, nothing is allocated.
//
//     #[smartmodule(filter)]
//     pub fn filter(record: &SmartModuleRecord) -> Result<bool> {
//         let log = serde_json::from_slice::<StructuredLog>(record.value.as_ref())?;
//         Ok(log.level > LogLevel::Debug)
//     }
//
// A record that is not JSON ends the batch with `invalid JSON at byte N: ...`; a log without a
// known level with `missing field `level`` or `unknown variant ...` (serde's words, no position).
// Other members (the message included) are not read, but the whole document is checked.
import { Json, Record, runFilter, fail, failed } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

function keep(level: Json): bool {
  if (level.equals("info") || level.equals("warn") || level.equals("error")) return true;
  if (level.equals("debug") || level.equals("trace") || failed()) return false;
  if (!level.exists) return fail("missing field `level`");
  return fail("unknown variant `" + level.str() + "`, expected one of `trace`, `debug`, `info`, `warn`, `error`");
}

export function filter(ptr: i32, len: i32, version: i32): i32 {
  return runFilter(ptr, len, version, (r: Record): bool => keep(r.value.json().get("level")));
}

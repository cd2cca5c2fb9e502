// Keeps structured logs whose "level" is info, warn or error — Fluvio's `filter_json` example,
// read on demand: the "level" and "message" members are looked up and compared in place.
//
//     #[derive(PartialEq, Eq, PartialOrd, Ord, Deserialize)]
//     #[serde(rename_all = "lowercase")]
//     enum LogLevel { Trace, Debug, Info, Warn, Error }
//     #[derive(Deserialize)]
//     struct StructuredLog { level: LogLevel, #[serde(rename = "message")] _message: String }
//
//     #[smartmodule(filter)]
//     pub fn filter(record: &SmartModuleRecord) -> Result<bool> {
//         let log = serde_json::from_slice::<StructuredLog>(record.value.as_ref())?;
//         Ok(log.level > LogLevel::Debug)
//     }
//
// A record that is not JSON ends the batch with `invalid JSON at byte N: ...`; a log that is not a
// StructuredLog with serde's words for the field at fault (no position). Both fields are checked as
// serde's derive checks them (the message must be a string, a `[level, message]` pair is accepted),
// so the same records are kept; a repeated member counts once, the last, as in JSON.parse. The
// whole document is checked, but nothing is allocated unless a level is unknown.
import { Json, Record, runFilter, fail } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

function keep(log: Json): bool {
  if (!log.exists) return false; // not JSON: already reported
  let level: Json, message: Json;
  if (log.isObject) {
    level = log.get("level");
    message = log.get("message");
    if (!level.exists) return fail("missing field `level`");
    if (!message.exists) return fail("missing field `message`");
  } else if (log.isArray) {
    let n = log.length;
    if (n < 2) return fail("invalid length " + n.toString() + ", expected struct StructuredLog with 2 elements");
    if (n > 2) return fail("trailing characters");
    level = log.at(0);
    message = log.at(1);
  } else {
    return fail("invalid type: expected struct StructuredLog");
  }
  if (!level.isString) return fail("invalid type for `level`: expected variant identifier");
  if (!message.isString) return fail("invalid type for `message`: expected a string");
  if (level.equals("info") || level.equals("warn") || level.equals("error")) return true;
  if (level.equals("debug") || level.equals("trace")) return false;
  return fail("unknown variant `" + level.str() + "`, expected one of `trace`, `debug`, `info`, `warn`, `error`");
}

export function filter(ptr: i32, len: i32, version: i32): i32 {
  return runFilter(ptr, len, version, (r: Record): bool => keep(r.value.json()));
}

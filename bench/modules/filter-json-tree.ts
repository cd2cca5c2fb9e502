// Bench baseline: examples/filter-json as it was with the tree reader (parseJson builds every value,
// serde_json-compatible errors). Compared with the on-demand reader by bench/sdk-json.ts.
//
// Keeps structured logs whose "level" is info, warn or error — Fluvio's `filter_json` example:
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
// A record that is not such a log ends the batch with serde_json's error text as the hint
// (fields checked in input order, unknown fields ignored, as serde's derive does).
import { Record, runFilter, parseJson, fail, jsonPosition, JsonValue } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

const LEVELS = ["trace", "debug", "info", "warn", "error"];
const EXPECTING = "struct StructuredLog with 2 elements";

/** The level's rank (index in LEVELS), or -1 after reporting serde's error. */
function levelOf(level: JsonValue): i32 {
  if (!level.isString) {
    fail(`invalid type: ${level.describe()}, expected variant identifier${jsonPosition(level.end)}`);
    return -1;
  }
  const rank = LEVELS.indexOf(level.str);
  if (rank < 0) {
    fail(`unknown variant \`${level.str}\`, expected one of \`trace\`, \`debug\`, \`info\`, \`warn\`, \`error\`${jsonPosition(level.end)}`);
  }
  return rank;
}

function checkMessage(message: JsonValue): bool {
  if (message.isString) return true;
  fail(`invalid type: ${message.describe()}, expected a string${jsonPosition(message.end)}`);
  return false;
}

function rank(r: Record): i32 {
  const log = parseJson(r.value);
  if (log === null) return -1;
  if (log.isArray) {
    // serde's derive also accepts the struct as a sequence [level, message]
    if (log.length < 2) { fail(`invalid length ${log.length.toString()}, expected ${EXPECTING}${jsonPosition(log.end)}`); return -1; }
    const lv = levelOf(log.at(0));
    if (lv < 0 || !checkMessage(log.at(1))) return -1;
    if (log.length > 2) { fail(`trailing characters${jsonPosition(log.at(2).end - 1)}`); return -1; }
    return lv;
  }
  if (!log.isObject) {
    fail(`invalid type: ${log.describe()}, expected struct StructuredLog${jsonPosition(log.end)}`);
    return -1;
  }
  const keys = log.keys!;
  const values = log.values!;
  let lv = -1;
  let seenLevel = false;
  let seenMessage = false;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k === "level") {
      if (seenLevel) { fail(`duplicate field \`level\`${jsonPosition(log.keyEnds![i])}`); return -1; }
      seenLevel = true;
      lv = levelOf(values[i]);
      if (lv < 0) return -1;
    } else if (k === "message") {
      if (seenMessage) { fail(`duplicate field \`message\`${jsonPosition(log.keyEnds![i])}`); return -1; }
      seenMessage = true;
      if (!checkMessage(values[i])) return -1;
    }
  }
  if (!seenLevel) { fail(`missing field \`level\`${jsonPosition(log.end)}`); return -1; }
  if (!seenMessage) { fail(`missing field \`message\`${jsonPosition(log.end)}`); return -1; }
  return lv;
}

export function filter(ptr: i32, len: i32, version: i32): i32 {
  return runFilter(ptr, len, version, (r: Record): bool => rank(r) > 1);
}

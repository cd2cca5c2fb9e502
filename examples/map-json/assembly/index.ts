// Projects structured logs to a smaller object: `{"level":…,"message":…,"ts":…}` keeps three
// members of a larger log (host, tags, nested request data and so on are dropped). In Rust:
//
//     #[derive(Deserialize)]
//     struct Log { level: String, message: String, ts: u64 }       // other fields ignored
//     #[derive(Serialize)]
//     struct Short { level: String, message: String, ts: u64 }
//
//     #[smartmodule(map)]
//     pub fn map(record: &SmartModuleRecord) -> Result<(Option<RecordData>, RecordData)> {
//         let log: Log = serde_json::from_slice(record.value.as_ref())?;
//         let short = Short { level: log.level, message: log.message, ts: log.ts };
//         Ok((record.key.clone(), serde_json::to_vec(&short)?.into()))
//     }
//
// The output is byte-identical to that serde_json::to_vec (fields in struct order, serde's string
// escaping). Typed decoding is a class with a `decode` from the on-demand reader and an `encode`
// to the SDK's JsonWriter; strings are copied from the input (escapes rewritten in serde's form).
import { Json, JsonWriter, Out, Record, runMap, fail, jsonWriter } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

class Short {
  level: Json = new Json();
  message: Json = new Json();
  ts: u64 = 0;

  /** Reads the three fields; reports serde's error for a missing or mistyped one and returns false. */
  decode(log: Json): bool {
    if (!log.exists) return false; // not JSON: already reported
    if (!log.isObject) return fail("invalid type: expected struct Log");
    this.level = log.get("level");
    this.message = log.get("message");
    let ts = log.get("ts");
    if (!this.level.exists) return fail("missing field `level`");
    if (!this.level.isString) return fail("invalid type for `level`: expected a string");
    if (!this.message.exists) return fail("missing field `message`");
    if (!this.message.isString) return fail("invalid type for `message`: expected a string");
    if (!ts.exists) return fail("missing field `ts`");
    if (!ts.isExactInteger || ts.f64() < 0) return fail("invalid type for `ts`: expected u64");
    this.ts = ts.u64();
    return true;
  }

  encode(w: JsonWriter): JsonWriter {
    return w.beginObject()
      .key("level").stringOf(this.level)
      .key("message").stringOf(this.message)
      .key("ts").u64(this.ts)
      .endObject();
  }
}

// @ts-ignore: decorator
@lazy const short = new Short();

export function map(ptr: i32, len: i32, version: i32): i32 {
  return runMap(ptr, len, version, (r: Record, out: Out): void => {
    if (short.decode(r.value.json())) out.value(short.encode(jsonWriter()));
  });
}

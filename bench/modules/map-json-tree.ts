// Bench baseline: examples/map-json written with the tree reader (parseJson builds every value,
// then the three fields are written with quoteJson). Compared with the on-demand reader by
// bench/sdk-json.ts.
import { Out, Record, runMap, parseJson, fail, quoteJson } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

export function map(ptr: i32, len: i32, version: i32): i32 {
  return runMap(ptr, len, version, (r: Record, out: Out): void => {
    const log = parseJson(r.value);
    if (log === null) return;
    const level = log.get("level");
    const message = log.get("message");
    const ts = log.get("ts");
    if (level === null || !level.isString) { fail("missing field `level`"); return; }
    if (message === null || !message.isString) { fail("missing field `message`"); return; }
    if (ts === null || !ts.isI64 || ts.asI64() < 0) { fail("missing field `ts`"); return; }
    out.value(`{\"level\":${quoteJson(level.str)},\"message\":${quoteJson(message.str)},\"ts\":${ts.asI64().toString()}}`);
  });
}

// Incremental average of JSON numbers; the accumulator is JSON `{"average":<f64>,"count":<n>}` —
// modelled on Fluvio's `aggregate_average` example:
//
//     #[derive(Default, Serialize, Deserialize)]
//     struct IncrementalAverage { average: f64, count: u32 }
//     impl IncrementalAverage {
//         fn add_value(&mut self, value: f64) {
//             self.count += 1;
//             self.average += (value - self.average) / f64::from(self.count);
//         }
//     }
//     #[smartmodule(aggregate)]
//     pub fn aggregate(accumulator: RecordData, current: &SmartModuleRecord) -> Result<RecordData> {
//         let mut average: IncrementalAverage = serde_json::from_slice(accumulator.as_ref()).unwrap_or_default();
//         let value: f64 = serde_json::from_slice(current.value.as_ref())?;
//         average.add_value(value);
//         Ok(serde_json::to_vec(&average)?.into())
//     }
//
// Output values are byte-identical to serde_json's (f64 printed like ryu: `2.0`, `2.5`).
import { Bytes, Out, Record, runAggregate, parseJson, fail, clearError, formatF64Json, jsonPosition, JsonValue } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

export function aggregate(ptr: i32, len: i32, version: i32): i32 {
  return runAggregate(ptr, len, version, (acc: Bytes, r: Record, out: Out): void => {
    // unwrap_or_default(): anything unreadable starts from {average: 0, count: 0}
    let average: f64 = 0;
    let count: u32 = 0;
    let state: JsonValue | null = null;
    if (!acc.isEmpty) {
      state = parseJson(acc);
      clearError(); // unwrap_or_default: not an error
    }
    if (state !== null && state.isObject) {
      let a = state.get("average");
      let c = state.get("count");
      if (a !== null && a.isNumber && c !== null && c.isI64 && c.asI64() >= 0 && c.asI64() <= <i64>u32.MAX_VALUE) {
        average = a.asF64();
        count = <u32>c.asI64();
      }
    }
    let v = parseJson(r.value);
    if (v === null) return;
    if (!v.isNumber) { fail("invalid type: " + v.describe() + ", expected f64" + jsonPosition(r.value.length)); return; }
    count += 1;
    average += (v.asF64() - average) / <f64>count;
    out.value("{\"average\":" + formatF64Json(average) + ",\"count\":" + count.toString() + "}");
  });
}

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
// Read on demand and written with the SDK's JsonWriter: output values are byte-identical to
// serde_json's (fields in struct order, f64 printed as serde_json prints it: `2.0`, `2.5`, `1e+21`).
import { Bytes, Json, Out, Record, runAggregate, fail, isJson, jsonWriter } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

class IncrementalAverage {
  average: f64 = 0;
  count: u32 = 0;

  /** serde's `from_slice(..).unwrap_or_default()`: anything unreadable is the default. */
  static decode(acc: Bytes): IncrementalAverage {
    let s = new IncrementalAverage();
    if (acc.isEmpty || !isJson(acc.ptr, acc.length)) return s;
    let j = acc.json();
    let a = j.get("average");
    let c = j.get("count");
    if (a.isNumber && c.isExactInteger && c.i64() >= 0 && c.i64() <= <i64>u32.MAX_VALUE) {
      s.average = a.f64();
      s.count = <u32>c.i64();
    }
    return s;
  }

  add(value: f64): void {
    this.count += 1;
    this.average += (value - this.average) / <f64>this.count;
  }

  encode(out: Out): void {
    out.value(jsonWriter().beginObject().key("average").f64(this.average).key("count").u64(this.count).endObject());
  }
}

export function aggregate(ptr: i32, len: i32, version: i32): i32 {
  return runAggregate(ptr, len, version, (acc: Bytes, r: Record, out: Out): void => {
    let v: Json = r.value.json();
    if (!v.exists) return; // not JSON: the error is reported
    if (!v.isNumber) { fail("invalid type: expected f64"); return; }
    let average = IncrementalAverage.decode(acc);
    average.add(v.f64());
    average.encode(out);
  });
}

// Running sum of integer values; the accumulator is the sum as decimal text — Fluvio's
// `aggregate_sum` example (i32 arithmetic, wrapping as release Rust does):
//
//     #[smartmodule(aggregate)]
//     pub fn aggregate(accumulator: RecordData, current: &SmartModuleRecord) -> Result<RecordData> {
//         let accumulated_sum = std::str::from_utf8(accumulator.as_ref())?;
//         let accumulated_sum = accumulated_sum.parse::<i32>().unwrap_or(0);
//         let current_value = std::str::from_utf8(current.value.as_ref())?;
//         let current_value = current_value.trim().parse::<i32>()?;
//         let sum = accumulated_sum + current_value;
//         Ok(sum.to_string().into())
//     }
import { Bytes, Out, Record, runAggregate, failed } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

export function aggregate(ptr: i32, len: i32, version: i32): i32 {
  return runAggregate(ptr, len, version, (acc: Bytes, r: Record, out: Out): void => {
    if (!acc.requireUtf8()) return;
    let total = acc.parseI32Or(0);
    if (!r.value.requireUtf8()) return;
    let current = r.value.trim().parseI32();
    if (failed()) return;
    out.value((total + current).toString());
  });
}

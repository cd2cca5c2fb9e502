// Look-back by time: `look_back` remembers the newest timestamp among the history records
// (configure the look-back with an `age`), and the filter keeps only records with a strictly
// newer timestamp — e.g. to skip what a previous run already saw. Timestamps are
// `base_timestamp + timestamp_delta` (ms); in `look_back` the host sends base 0 (spec §6.7).
import { Record, runFilter, runLookBack } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

let newest: i64 = i64.MIN_VALUE;

export function look_back(ptr: i32, len: i32, version: i32): i32 {
  return runLookBack(ptr, len, version, (r: Record): void => {
    if (r.timestamp > newest) newest = r.timestamp;
  });
}

export function filter(ptr: i32, len: i32, version: i32): i32 {
  return runFilter(ptr, len, version, (r: Record): bool => r.timestamp > newest);
}

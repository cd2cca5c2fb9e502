// @eddy/smartmodule-as — write Fluvio SmartModules in AssemblyScript.
//
//     import { Record, runFilter } from "@eddy/smartmodule-as";
//     export { alloc, dealloc } from "@eddy/smartmodule-as";
//
//     export function filter(ptr: i32, len: i32, version: i32): i32 {
//       return runFilter(ptr, len, version, (r: Record): bool => r.value.includes("a"));
//     }
//
// Compile with `eddy build` (or asc with `--runtime incremental --use abort=__eddy_abort`).

export { alloc, dealloc, __eddy_abort, announce, Status, Kind, utf8Valid, utf8ErrorMessage } from "./abi";
export { fail, failed, pendingError, clearError } from "./error";
export { Bytes, findByte, findBytes } from "./bytes";
export { Record, Params, Lookback, useLegacyInputDecoder } from "./record";
export { Out, ArrayOut, runFilter, runMap, runFilterMap, runArrayMap, runAggregate, runInit, runLookBack } from "./run";
export {
  parseI32, parseI64, parseU32, parseU64, parseF64, parseBool, parseError,
} from "./parse";
export {
  JsonValue, JsonKind, parseJson, parseJsonBytes, parseJsonString, quoteJson, formatF64Json,
  formatF64Display, jsonError, jsonPosition, jsonEnd,
} from "./json";
export { Json, JsonType, JsonIter, readJson, isJson, jsonErrorOffset, jsonErrorWhat } from "./ondemand";
export { JsonWriter, jsonWriter } from "./jsonwrite";

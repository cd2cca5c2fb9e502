// A filter configured by a parameter — Fluvio's `filter_with_param` / `filter_init` example:
// `init` requires the parameter `key` (else the init error "Missing param key"), and the filter
// keeps values containing it.
//
//     #[smartmodule(init)]
//     fn init(params: SmartModuleExtraParams) -> Result<()> {
//         if let Some(key) = params.get("key") { CRITERIA.set(key.clone())... ; Ok(()) }
//         else { Err(SmartModuleInitError::MissingParam("key".to_string()).into()) }
//     }
//     #[smartmodule(filter)]
//     pub fn filter(record: &SmartModuleRecord) -> Result<bool> {
//         let string = std::str::from_utf8(record.value.as_ref())?;
//         Ok(string.contains(CRITERIA.get().unwrap()))
//     }
import { Params, Record, runFilter, runInit } from "@eddy/smartmodule-as";
export { alloc, dealloc } from "@eddy/smartmodule-as";

let criteria = "";

export function init(ptr: i32, len: i32, version: i32): i32 {
  return runInit(ptr, len, version, (params: Params): void => {
    criteria = params.require("key");
  });
}

export function filter(ptr: i32, len: i32, version: i32): i32 {
  return runFilter(ptr, len, version, (r: Record): bool => r.value.requireUtf8() && r.value.includes(criteria));
}

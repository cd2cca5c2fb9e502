//! Incremental average of JSON numbers, the accumulator being `{"average":…,"count":…}`: Fluvio's
//! `aggregate_average` example, the serde counterpart of examples/aggregate-average (its output
//! shows how serde_json prints each f64).
use fluvio_smartmodule::{smartmodule, Result, SmartModuleRecord, RecordData};
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
struct IncrementalAverage { average: f64, count: u32 }

impl IncrementalAverage {
    fn add_value(&mut self, value: f64) {
        self.count += 1;
        self.average += (value - self.average) / f64::from(self.count);
    }
}

#[smartmodule(aggregate)]
pub fn aggregate(accumulator: RecordData, current: &SmartModuleRecord) -> Result<RecordData> {
    let mut average: IncrementalAverage = serde_json::from_slice(accumulator.as_ref()).unwrap_or_default();
    let value: f64 = serde_json::from_slice(current.value.as_ref())?;
    average.add_value(value);
    Ok(serde_json::to_vec(&average)?.into())
}

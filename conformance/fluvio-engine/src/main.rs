//! Runs SmartModule chains through Fluvio's own engine (`fluvio-smartengine`), the way a Fluvio
//! SPU builds and drives them, so that Eddy's engine can be compared with it byte for byte and
//! timed beside it. The wire format on stdin/stdout is described in README.md next to this file.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use wasmtime::{Cache, CacheConfig};
use fluvio_protocol::link::smartmodule::{
    SmartModuleInitRuntimeError, SmartModuleKind, SmartModuleLookbackRuntimeError,
    SmartModuleTransformRuntimeError,
};
use fluvio_protocol::record::Record;
use fluvio_protocol::{Decoder, Encoder};
use fluvio_smartengine::{
    EngineError, Lookback, SmartEngine, SmartModuleChainBuilder, SmartModuleChainInstance,
    SmartModuleConfig, SmartModuleInitialData, DEFAULT_SMARTENGINE_VERSION,
};
use fluvio_smartmodule::dataplane::smartmodule::{
    Lookback as ParamsLookback, SmartModuleExtraParams, SmartModuleInitErrorStatus,
    SmartModuleInput, SmartModuleLookbackErrorStatus, SmartModuleOutput,
    SmartModuleTransformErrorStatus,
};

const MAGIC: &[u8; 4] = b"EFH1";
const MODE_RUN: u8 = 0;
const MODE_TIME: u8 = 1;

// Reply tags, one per batch (and one after setup).
const REPLY_OK: u8 = 0;
const REPLY_RUNTIME_ERROR: u8 = 1;
const REPLY_FAILED: u8 = 2;
const REPLY_TIMING: u8 = 3;

/// What a failure was; the discriminant is its tag on the wire.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Failure {
    Init = 1,
    InitStatus,
    Lookback,
    LookbackStatus,
    TransformStatus,
    Memory,
    Other,
}

/// One step of the chain as the request describes it.
struct Step {
    name: String,
    wasm: Vec<u8>,
    version: Option<i16>,
    params: BTreeMap<String, String>,
    lookback: Option<Lookback>,
    accumulator: Option<Vec<u8>>,
    history: Vec<u8>,
}

struct Request<R: Read> {
    mode: u8,
    iterations: u32,
    memory_limit: u64,
    steps: Vec<Step>,
    input: R,
}

/// Command line: `--serve` answers requests back to back (see README.md, "Serving many requests");
/// `--compile-cache DIR` keeps wasmtime's compiled modules in DIR.
struct Args {
    serve: bool,
    compile_cache: Option<PathBuf>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args { serve: false, compile_cache: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--serve" => args.serve = true,
            "--compile-cache" => args.compile_cache = Some(it.next().context("--compile-cache needs a directory")?.into()),
            other => bail!("unknown argument {other:?} (known: --serve, --compile-cache DIR)"),
        }
    }
    Ok(args)
}

fn main() {
    let stdin = io::stdin().lock();
    let stdout = io::stdout().lock();
    let result = parse_args().and_then(|args| {
        let engine = new_engine(args.compile_cache.as_deref())?;
        let input = BufReader::with_capacity(1 << 20, stdin);
        let out = BufWriter::with_capacity(1 << 20, stdout);
        if args.serve { serve(&engine, input, out) } else { run(&engine, input, out) }
    });
    if let Err(err) = result {
        eprintln!("fluvio-engine-harness: {err:#}");
        std::process::exit(2);
    }
}

/// `SmartEngine::new()`, or, with a cache directory, the same engine with wasmtime's compile cache.
/// `SmartEngine` has no constructor that takes a configuration: it wraps one wasmtime `Engine` and
/// nothing else, so the harness builds that `Engine` with the configuration `SmartEngine::new` uses
/// (fuel metering on, the rest default) plus the cache, and wraps it. The cache changes only how
/// often modules are compiled, never what they do: its key covers the module bytes, the engine's
/// configuration and wasmtime's version.
fn new_engine(compile_cache: Option<&Path>) -> Result<SmartEngine> {
    let Some(dir) = compile_cache else { return Ok(SmartEngine::new()) };
    let mut cache = CacheConfig::new();
    cache.with_directory(dir);
    let mut config = wasmtime::Config::default();
    config.consume_fuel(true);
    config.cache(Some(Cache::new(cache)?));
    let engine = wasmtime::Engine::new(&config)?;
    const _: () = assert!(std::mem::size_of::<SmartEngine>() == std::mem::size_of::<wasmtime::Engine>());
    // SAFETY: SmartEngine is a newtype over wasmtime::Engine (fluvio-smartengine 0.50.1, pinned),
    // so the two have the same layout; the size check above guards against a different wrapper.
    Ok(unsafe { std::mem::transmute::<wasmtime::Engine, SmartEngine>(engine) })
}

/// Many requests on one input, each answered as one frame: u32 length, then the reply bytes exactly
/// as a single run would write them. Modules compiled for one request are reused by later ones when
/// a compile cache is set.
fn serve<R: Read, W: Write>(engine: &SmartEngine, mut input: R, mut out: W) -> Result<()> {
    let mut reply = Vec::new();
    loop {
        let mut first = [0u8; 1];
        if input.read(&mut first)? == 0 {
            return Ok(());
        }
        reply.clear();
        run(engine, io::Cursor::new(first).chain(&mut input), &mut reply)?;
        write_bytes(&mut out, &reply)?;
        out.flush()?;
    }
}

/// Answers one request. In serve mode the request must end with its end tag, which is where this
/// stops reading.
fn run<R: Read, W: Write>(engine: &SmartEngine, input: R, mut out: W) -> Result<()> {
    let mut req = read_request(input)?;
    let mut chain = match build_chain(engine, &req) {
        Ok(chain) => chain,
        Err(err) => {
            write_failure(&mut out, &err)?;
            out.flush()?;
            return drain(req.input);
        }
    };
    write_u8(&mut out, REPLY_OK)?;
    out.flush()?;

    while let Some(batch) = read_batch(&mut req.input)? {
        if req.mode == MODE_TIME {
            time_batch(&mut chain, &batch, req.iterations, req.steps.last().and_then(|s| s.version), &mut out)?;
        } else if !run_batch(&mut chain, batch, output_version(&req.steps), &mut out)? {
            // A failed process call leaves the chain unusable, as it does in the SPU: stop here.
            out.flush()?;
            return drain(req.input);
        }
        out.flush()?;
    }
    Ok(())
}

/// Reads the rest of the request's batches, so that a caller still writing it does not see a broken
/// pipe and, in serve mode, the next request starts where it should.
fn drain<R: Read>(mut input: R) -> Result<()> {
    while read_batch(&mut input)?.is_some() {}
    Ok(())
}

/// The version the last module's output records are encoded with (the module's own).
fn output_version(steps: &[Step]) -> i16 {
    steps.last().and_then(|s| s.version).unwrap_or(DEFAULT_SMARTENGINE_VERSION)
}

/// Builds the chain as the SPU does: one config per module (params, lookback in the init params
/// and in the config, initial accumulator), initialize (which runs each `init`), then the
/// look-back pass with each step's history.
fn build_chain(engine: &SmartEngine, req: &Request<impl Read>) -> Result<SmartModuleChainInstance> {
    let mut builder = SmartModuleChainBuilder::default();
    if req.memory_limit > 0 {
        builder.set_store_memory_limit(req.memory_limit as usize);
    }
    for step in &req.steps {
        let params_lookback = step.lookback.map(|l| match l {
            Lookback::Last(last) => ParamsLookback::last(last),
            Lookback::Age { age, last } => ParamsLookback::age(age, Some(last)),
        });
        let mut config = SmartModuleConfig::builder();
        config
            .smartmodule_names(vec![step.name.clone()])
            .params(SmartModuleExtraParams::new(step.params.clone(), params_lookback))
            .lookback(step.lookback);
        if let Some(version) = step.version {
            config.version(version);
        }
        if let Some(acc) = &step.accumulator {
            config.initial_data(SmartModuleInitialData::with_aggregate(acc.clone()));
        }
        builder.add_smart_module(config.build()?, step.wasm.clone());
    }
    let mut chain = builder.initialize(engine)?;

    // The SPU reads each step's history from the log; here the request carries it. The engine asks
    // (in chain order) only for steps that have a lookback and whose module exports look_back.
    let histories: Vec<Vec<Record>> = req
        .steps
        .iter()
        .filter(|s| s.lookback.is_some() && exports(&s.wasm, "look_back"))
        .map(|s| decode_records(&s.history, s.version.unwrap_or(DEFAULT_SMARTENGINE_VERSION)))
        .collect::<Result<_>>()?;
    let next = RefCell::new(histories.into_iter());
    block_on(chain.look_back(|_| {
        let records = next.borrow_mut().next().unwrap_or_default();
        async move { Ok(records) }
    }))?;
    Ok(chain)
}

/// Runs one batch; false when the chain failed (the reply says how).
fn run_batch<W: Write>(chain: &mut SmartModuleChainInstance, batch: Batch, version: i16, out: &mut W) -> Result<bool> {
    let input = SmartModuleInput::new(batch.raw, batch.base_offset, batch.base_timestamp);
    match chain.process(input) {
        Ok(output) => {
            write_output(out, &output, version)?;
            Ok(true)
        }
        Err(err) => {
            write_failure(out, &err)?;
            Ok(false)
        }
    }
}

/// Times `iterations` calls on the same batch: building the input as the SPU does (a copy of the
/// batch bytes) and encoding the output records, which is what the SPU does with them next.
fn time_batch<W: Write>(chain: &mut SmartModuleChainInstance, batch: &Batch, iterations: u32, version: Option<i16>, out: &mut W) -> Result<()> {
    let version = version.unwrap_or(DEFAULT_SMARTENGINE_VERSION);
    let mut records_out = 0u32;
    let mut encoded = Vec::new();
    let start = Instant::now();
    for _ in 0..iterations {
        let input = SmartModuleInput::new(batch.raw.clone(), batch.base_offset, batch.base_timestamp);
        let output = chain.process(input).map_err(|e| anyhow!("timing run failed: {e:#}"))?;
        encoded.clear();
        output.successes.encode(&mut encoded, version)?;
        records_out = output.successes.len() as u32;
    }
    let nanos = start.elapsed().as_nanos() as u64;
    write_u8(out, REPLY_TIMING)?;
    write_u64(out, nanos)?;
    write_u32(out, records_out)?;
    Ok(())
}

fn write_output<W: Write>(out: &mut W, output: &SmartModuleOutput, version: i16) -> Result<()> {
    let mut raw = Vec::new();
    output.successes.encode(&mut raw, version)?;
    match &output.error {
        None => {
            write_u8(out, REPLY_OK)?;
            write_bytes(out, &raw)?;
        }
        Some(err) => {
            write_u8(out, REPLY_RUNTIME_ERROR)?;
            write_bytes(out, &raw)?;
            write_runtime_error(out, err)?;
        }
    }
    Ok(())
}

fn write_runtime_error<W: Write>(out: &mut W, err: &SmartModuleTransformRuntimeError) -> Result<()> {
    write_bytes(out, err.hint.as_bytes())?;
    write_i64(out, err.offset)?;
    write_u8(out, kind_tag(&err.kind))?;
    write_opt_bytes(out, err.record_key.as_ref().map(|k| k.as_ref()))?;
    write_bytes(out, err.record_value.as_ref())?;
    Ok(())
}

/// The tag Fluvio encodes a kind with (the same numbers Eddy's protocol uses).
fn kind_tag(kind: &SmartModuleKind) -> u8 {
    match kind {
        SmartModuleKind::Filter => 0,
        SmartModuleKind::Map => 1,
        SmartModuleKind::ArrayMap => 2,
        SmartModuleKind::Aggregate => 3,
        SmartModuleKind::FilterMap => 4,
        SmartModuleKind::Join => 5,
        SmartModuleKind::Generic => 6,
    }
}

/// Sorts an engine error into the kinds a caller can compare: the module's own init or look-back
/// error, a negative status from an export, the memory cap, or anything else (traps, invalid
/// modules), with the engine's full message.
fn write_failure<W: Write>(out: &mut W, err: &anyhow::Error) -> Result<()> {
    write_u8(out, REPLY_FAILED)?;
    let message = format!("{err:#}");
    if let Some(e) = err.downcast_ref::<SmartModuleInitRuntimeError>() {
        write_u8(out, Failure::Init as u8)?;
        write_bytes(out, e.hint.as_bytes())?;
    } else if let Some(e) = err.downcast_ref::<SmartModuleInitErrorStatus>() {
        write_u8(out, Failure::InitStatus as u8)?;
        write_i32(out, e.clone() as i32)?;
    } else if let Some(e) = err.downcast_ref::<SmartModuleLookbackRuntimeError>() {
        write_u8(out, Failure::Lookback as u8)?;
        write_bytes(out, e.hint.as_bytes())?;
        write_i64(out, e.offset)?;
        write_opt_bytes(out, e.record_key.as_ref().map(|k| k.as_ref()))?;
        write_bytes(out, e.record_value.as_ref())?;
    } else if let Some(e) = err.downcast_ref::<SmartModuleLookbackErrorStatus>() {
        write_u8(out, Failure::LookbackStatus as u8)?;
        write_i32(out, e.clone() as i32)?;
    } else if let Some(e) = err.downcast_ref::<SmartModuleTransformErrorStatus>() {
        write_u8(out, Failure::TransformStatus as u8)?;
        write_i32(out, e.clone() as i32)?;
    } else if is_memory_error(err) {
        write_u8(out, Failure::Memory as u8)?;
    } else {
        write_u8(out, Failure::Other as u8)?;
    }
    write_bytes(out, message.as_bytes())?;
    Ok(())
}

fn is_memory_error(err: &anyhow::Error) -> bool {
    err.chain().any(|e| matches!(e.downcast_ref::<EngineError>(), Some(EngineError::StoreMemoryExceeded { .. })))
}

/// The look-back future completes without waiting (the records are already in memory).
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn decode_records(raw: &[u8], version: i16) -> Result<Vec<Record>> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let mut records: Vec<Record> = Vec::new();
    records.decode(&mut io::Cursor::new(raw), version).context("decoding a look-back history")?;
    Ok(records)
}

/// Whether a WebAssembly binary exports `name` (a scan of its export section; an unreadable binary
/// answers false and fails later, in the engine, with the engine's own error).
fn exports(wasm: &[u8], name: &str) -> bool {
    fn leb(b: &[u8], at: &mut usize) -> Option<u32> {
        let mut v: u32 = 0;
        for shift in (0..35).step_by(7) {
            let byte = *b.get(*at)?;
            *at += 1;
            v |= ((byte & 0x7f) as u32) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    let scan = || -> Option<bool> {
        let mut at = 8;
        while at < wasm.len() {
            let id = wasm[at];
            at += 1;
            let size = leb(wasm, &mut at)? as usize;
            let end = at.checked_add(size)?;
            if id == 7 {
                let mut p = at;
                for _ in 0..leb(wasm, &mut p)? {
                    let len = leb(wasm, &mut p)? as usize;
                    let export = wasm.get(p..p + len)?;
                    p += len + 1;
                    leb(wasm, &mut p)?;
                    if export == name.as_bytes() {
                        return Some(true);
                    }
                }
                return Some(false);
            }
            at = end;
        }
        Some(false)
    };
    wasm.len() >= 8 && scan().unwrap_or(false)
}

// ---- request ----

struct Batch {
    base_offset: i64,
    base_timestamp: i64,
    raw: Vec<u8>,
}

fn read_request<R: Read>(mut input: R) -> Result<Request<R>> {
    let mut magic = [0u8; 4];
    input.read_exact(&mut magic).context("reading the request header")?;
    if &magic != MAGIC {
        bail!("the input does not start with {:?}; see README.md for the format", std::str::from_utf8(MAGIC).unwrap());
    }
    let mode = read_u8(&mut input)?;
    if mode != MODE_RUN && mode != MODE_TIME {
        bail!("unknown mode {mode} (0 = run, 1 = time)");
    }
    let iterations = read_u32(&mut input)?;
    let memory_limit = read_u64(&mut input)?;
    let count = read_u32(&mut input)?;
    let mut steps = Vec::with_capacity(count as usize);
    for _ in 0..count {
        steps.push(read_step(&mut input)?);
    }
    Ok(Request { mode, iterations, memory_limit, steps, input })
}

fn read_step<R: Read>(input: &mut R) -> Result<Step> {
    let name = String::from_utf8(read_bytes(input)?).context("module name is not UTF-8")?;
    let wasm = read_bytes(input)?;
    let version = read_i16(input)?;
    let mut params = BTreeMap::new();
    for _ in 0..read_u32(input)? {
        let key = String::from_utf8(read_bytes(input)?).context("param key is not UTF-8")?;
        let value = String::from_utf8(read_bytes(input)?).context("param value is not UTF-8")?;
        params.insert(key, value);
    }
    let lookback = match read_u8(input)? {
        0 => None,
        1 => Some(Lookback::Last(read_u64(input)?)),
        2 => {
            let last = read_u64(input)?;
            let age = Duration::from_millis(read_u64(input)?);
            Some(Lookback::Age { age, last })
        }
        other => bail!("unknown lookback tag {other}"),
    };
    let accumulator = if read_u8(input)? == 1 { Some(read_bytes(input)?) } else { None };
    let history = read_bytes(input)?;
    Ok(Step { name, wasm, version: (version >= 0).then_some(version), params, lookback, accumulator, history })
}

fn read_batch<R: Read>(input: &mut R) -> Result<Option<Batch>> {
    let mut tag = [0u8; 1];
    if input.read(&mut tag)? == 0 || tag[0] == 0 {
        return Ok(None);
    }
    Ok(Some(Batch { base_offset: read_i64(input)?, base_timestamp: read_i64(input)?, raw: read_bytes(input)? }))
}

// ---- big-endian primitives ----

fn read_array<const N: usize, R: Read>(input: &mut R) -> Result<[u8; N]> {
    let mut b = [0u8; N];
    input.read_exact(&mut b).context("the request ended early")?;
    Ok(b)
}
fn read_u8<R: Read>(i: &mut R) -> Result<u8> { Ok(read_array::<1, _>(i)?[0]) }
fn read_i16<R: Read>(i: &mut R) -> Result<i16> { Ok(i16::from_be_bytes(read_array(i)?)) }
fn read_u32<R: Read>(i: &mut R) -> Result<u32> { Ok(u32::from_be_bytes(read_array(i)?)) }
fn read_u64<R: Read>(i: &mut R) -> Result<u64> { Ok(u64::from_be_bytes(read_array(i)?)) }
fn read_i64<R: Read>(i: &mut R) -> Result<i64> { Ok(i64::from_be_bytes(read_array(i)?)) }
fn read_bytes<R: Read>(i: &mut R) -> Result<Vec<u8>> {
    let len = read_u32(i)? as usize;
    let mut b = vec![0u8; len];
    i.read_exact(&mut b).context("the request ended inside a byte string")?;
    Ok(b)
}

fn write_u8<W: Write>(o: &mut W, v: u8) -> io::Result<()> { o.write_all(&[v]) }
fn write_i32<W: Write>(o: &mut W, v: i32) -> io::Result<()> { o.write_all(&v.to_be_bytes()) }
fn write_u32<W: Write>(o: &mut W, v: u32) -> io::Result<()> { o.write_all(&v.to_be_bytes()) }
fn write_u64<W: Write>(o: &mut W, v: u64) -> io::Result<()> { o.write_all(&v.to_be_bytes()) }
fn write_i64<W: Write>(o: &mut W, v: i64) -> io::Result<()> { o.write_all(&v.to_be_bytes()) }
fn write_bytes<W: Write>(o: &mut W, b: &[u8]) -> io::Result<()> {
    write_u32(o, b.len() as u32)?;
    o.write_all(b)
}
fn write_opt_bytes<W: Write>(o: &mut W, b: Option<&[u8]>) -> io::Result<()> {
    match b {
        None => write_u8(o, 0),
        Some(b) => {
            write_u8(o, 1)?;
            write_bytes(o, b)
        }
    }
}

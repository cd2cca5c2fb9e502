#!/usr/bin/env bash
# Eddy as a user gets it: `npm pack` this checkout, install the tarball into a fresh project
# outside the clone (nothing resolves back into it), and use it there: import from ESM and from
# CommonJS, type-check a strict TypeScript program on the embedding API without skipLibCheck and
# run it, `npx eddy --version`, and `eddy generate` → `eddy build` → `eddy test`.
#
# Prints one TAP line per check (`ok N - ...` / `not ok N - ...`), which .ci/run counts with the
# test suite's; exits 1 when a check failed. EDDY_PACK_KEEP=1 keeps the temp directory.
set -uo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/eddy-pack-XXXXXX")"
n=0
failed=0
if [ "${EDDY_PACK_KEEP:-}" = 1 ]; then echo "# kept: $work"; else trap 'rm -rf "$work"' EXIT; fi

# check <description> <command...>: runs the command with its output in a log; on failure the
# log's tail is printed as TAP comments so CI shows why.
check() {
  local desc="$1"; shift
  n=$((n + 1))
  local log="$work/step-$n.log"
  if "$@" >"$log" 2>&1; then
    echo "ok $n - pack-install: $desc"
  else
    echo "not ok $n - pack-install: $desc"
    tail -n 40 "$log" | sed 's/^/# /'
    failed=$((failed + 1))
  fi
}

# A devDependency's exact version, so the type-check uses the compiler and Node types Eddy is built with.
devVersion() { node -p "require('$repo/package.json').devDependencies['$1']"; }

mkdir -p "$work/pack" "$work/app"
pack() { (cd "$repo" && npm pack --pack-destination "$work/pack" --silent); }
check "npm pack builds a tarball" pack
tarball="$(ls "$work"/pack/*.tgz 2>/dev/null | head -n 1)"

contents() {
  local list; list="$(tar -tzf "$tarball")" || return 1
  for f in package/LICENSE package/CHANGELOG.md package/bin/eddy.js package/dist/src/index.js \
           package/dist/src/index.d.ts package/dist/src/internals.js package/dist/workers/session-worker.js \
           package/sdk/assemblyscript/index.ts package/examples/filter/assembly/index.ts \
           package/docs/smartmodule-abi.md; do
    grep -qx "$f" <<<"$list" || { echo "missing from the tarball: $f"; return 1; }
  done
  if grep -E '^package/(dist/(test|bench)|test|bench|src|conformance|\.ci)/' <<<"$list"; then
    echo "the tarball carries files only the repository needs (above)"; return 1
  fi
}
check "the tarball carries dist, bin, the SDK, the examples, the ABI doc, LICENSE and CHANGELOG, not tests" contents

cd "$work/app" || exit 1
cat >package.json <<'EOF'
{ "name": "eddy-pack-app", "version": "1.0.0", "private": true, "type": "module" }
EOF
# First as an embedding user installs it: the module compiler is an optional peer, so it is absent.
install() { npm install --no-audit --no-fund --loglevel=error "$tarball"; }
check "npm install of the tarball in a fresh project" install
sizeBare="$(du -sh node_modules | cut -f1)"
check "the install has no module compiler (assemblyscript, binaryen)" \
  bash -c '! test -e node_modules/assemblyscript && ! test -e node_modules/binaryen'

cat >esm.mjs <<'EOF'
import { open, EddyError, once, on } from 'eddy';
import { loadModule } from 'eddy/smartmodule';
import { encodeRecords } from 'eddy/protocol';
import { WorkerPool } from 'eddy/internals';
import * as root from 'eddy';
for (const [name, f] of Object.entries({ open, EddyError, once, on, loadModule, encodeRecords, WorkerPool })) {
  if (typeof f !== 'function') throw new Error(`${name} is ${typeof f}`);
}
// Internals stay out of the root.
for (const name of ['WorkerPool', 'LOCK_FILE', 'sipHash24']) if (name in root) throw new Error(`eddy exports ${name}`);
EOF
check "import 'eddy' (and its subpaths) from ESM" node esm.mjs

cat >cjs.cjs <<'EOF'
// Eddy is ESM-only; CommonJS loads it with import(), which Node supports in every version.
import('eddy').then((eddy) => {
  if (typeof eddy.open !== 'function') throw new Error('open is not a function');
}).catch((e) => { console.error(e); process.exit(1); });
EOF
check "import('eddy') from CommonJS" node cjs.cjs

# The HTTP endpoint runs in a worker thread whose script the package locates next to its own files.
cat >http.mjs <<'EOF'
import { open } from 'eddy';
const eddy = await open('./http-data', { http: '127.0.0.1:0' });
try {
  const health = await fetch(`${eddy.http.url}healthz`);
  if (health.status !== 200) throw new Error(`/healthz answered ${health.status}`);
  const metrics = await (await fetch(`${eddy.http.url}metrics`)).text();
  if (!metrics.includes('# TYPE eddy_records_in_total counter')) throw new Error(`/metrics: ${metrics.slice(0, 200)}`);
} finally {
  await eddy.close();
}
EOF
check "the HTTP endpoint (its own thread) serves /healthz and /metrics from the installed package" node http.mjs

check "npx eddy --version prints the package version" bash -c \
  "test \"\$(npx --no-install eddy --version)\" = \"\$(node -p \"require('./node_modules/eddy/package.json').version\")\""

# Without the compiler, building a module fails with the command that installs it.
hint() {
  local out; out="$(npx --no-install eddy build --dir node_modules/eddy/examples/filter --out filter.wasm 2>&1)" && return 1
  echo "$out"
  grep -q "npm install --save-dev assemblyscript@" <<<"$out" && test "$(wc -l <<<"$out")" -eq 1
}
check "without the compiler, eddy build fails with a one-line install hint" hint

# Then as a module author: the peer named by the hint, and the tools for the TypeScript check.
addCompiler() {
  npm install --no-audit --no-fund --loglevel=error "assemblyscript@$(node -p "require('./node_modules/eddy/package.json').peerDependencies.assemblyscript")"
}
check "npm install of the compiler the hint names" addCompiler
sizeCompiler="$(du -sh node_modules | cut -f1)"
tools() {
  npm install --no-audit --no-fund --loglevel=error "typescript@$(devVersion typescript)" "@types/node@$(devVersion @types/node)"
}
check "npm install of typescript and @types/node" tools

# The installed package's own compiler and SDK build a module for the program below.
check "npx eddy build compiles the packaged example filter" \
  npx --no-install eddy build --dir node_modules/eddy/examples/filter --out filter.wasm

cat >tsconfig.json <<'EOF'
{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "lib": ["ES2023"],
    "types": ["node"],
    "strict": true,
    "exactOptionalPropertyTypes": true,
    "noUncheckedIndexedAccess": true,
    "skipLibCheck": false,
    "outDir": "out"
  },
  "files": ["app.ts"]
}
EOF
cat >app.ts <<'EOF'
// The README's "Embedding Eddy in a Node program", as a user writes it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, EddyError, type ConsumedBatch, type EddyErrorCode } from 'eddy';
import { loadModule } from 'eddy/smartmodule';

const dir = await mkdtemp(join(tmpdir(), 'eddy-app-'));
try {
  await using eddy = await open(join(dir, 'data'), { workers: 2 });
  eddy.on('error', ({ stream, error }) => console.error(stream, error.code, error.message));
  await eddy.createTopic('fruit', { partitions: 2 });
  await eddy.produce('fruit', [
    { value: Buffer.from('apple') },
    { value: Buffer.from('kiwi'), key: Buffer.from('k') },
    { value: Buffer.from('banana') },
  ]);
  const all: string[] = [];
  for await (const r of eddy.consume('fruit', { from: 'beginning', follow: false })) {
    all.push(Buffer.from(r.value).toString());
  }
  const kept: string[] = [];
  for await (const r of eddy.consume('fruit', { from: 'beginning', follow: false, transforms: [{ uses: './filter.wasm' }] })) {
    kept.push(Buffer.from(r.value).toString());
  }
  // One shape whatever the options: partition-tagged batches, positions, commit() for a named consumer.
  const batches: ConsumedBatch[] = [];
  {
    await using stream = eddy.consume('fruit', { from: 'beginning', consumer: 'app', autoCommit: false });
    for await (const b of stream.batches()) batches.push(b);
    await stream.commit();
    const next = [...stream.positions.values()].reduce((n, x) => n + x, 0);
    if (batches.reduce((n, b) => n + b.count, 0) !== 3 || next !== 3) throw new Error(`batches ${batches.length}, positions ${next}`);
  }
  const show = (xs: string[]): string => [...xs].sort().join(',');
  if (show(all) !== 'apple,banana,kiwi') throw new Error(`consumed ${show(all)}`);
  if (show(kept) !== 'apple,banana') throw new Error(`the filter kept ${show(kept)}`);
  // zstd comes from a dependency before Node 22.15: it must arrive with the package.
  await eddy.createTopic('packed', { compression: 'zstd' });
  await eddy.produce('packed', [{ value: Buffer.from('cherry '.repeat(50)) }]);
  for await (const r of eddy.consume('packed', { from: 'beginning', follow: false })) {
    if (Buffer.from(r.value).toString() !== 'cherry '.repeat(50)) throw new Error('zstd topic read back wrong');
  }
  try {
    await eddy.createTopic('fruit', { partitions: 1 });
    throw new Error('creating an existing topic did not fail');
  } catch (e) {
    if (!(e instanceof EddyError)) throw e;
    const code: EddyErrorCode = e.code;
    if (code !== 'EDDY_TOPIC_EXISTS') throw e;
  }
  if (typeof loadModule !== 'function') throw new Error('eddy/smartmodule has no loadModule');
  console.log('ok', show(kept));
} finally {
  await rm(dir, { recursive: true, force: true });
}
EOF
check "a strict TypeScript program on the embedding API type-checks without skipLibCheck" npx --no-install tsc -p tsconfig.json
check "that program runs: topic, produce, consume, consume through the filter, a zstd topic" node out/app.js

generated() ( # a subshell: it changes directory
  npx --no-install eddy generate my-filter --kind filter --eddy "$tarball" \
    && cd my-filter && test -f node_modules/assemblyscript/std/assembly.json \
    && npx --no-install eddy build \
    && npx --no-install eddy test --wasm-file build/my-filter.wasm --text apple | grep -qx apple
)
check "eddy generate → eddy build → eddy test in the installed package" generated

# The generated project travels: copied elsewhere (node_modules and all, as `cp -r` does) it needs
# nothing from this app. Its package.json names eddy by the tarball generate copied into vendor/.
travels() (
  mkdir -p "$work/elsewhere" && cp -r my-filter "$work/elsewhere/" && cd "$work/elsewhere/my-filter" \
    && ! grep -q '"file:\.\.' package.json \
    && npm install --no-audit --no-fund --loglevel=error && npm run build && npm test \
    && "$work/app/node_modules/.bin/tsc" --noEmit -p assembly/tsconfig.json
)
check "the generated project, copied elsewhere, installs, builds, tests and type-checks" travels

echo "# pack-install: eddy alone $sizeBare, with the compiler $sizeCompiler (du -sh node_modules); tarball $(du -h "$tarball" | cut -f1)"
[ "$failed" -eq 0 ]

/**
 * Phases of one job in a worker's shared state word (`seq * PHASES + phase`, see worker-pool.ts). The
 * worker moves a job QUEUED → RUNNING → DONE (DONE only after its result is posted); the main thread may
 * move it QUEUED → WITHDRAWN (cancelled, or handed to another worker) — never once it runs.
 */
export const PHASE = { QUEUED: 0, RUNNING: 1, DONE: 2, WITHDRAWN: 3 } as const;
export const PHASES = 4;
/** Jobs sent to a worker in one message; the shared word after theirs counts the jobs the worker started. */
export const MAX_BATCH = 32;
export const STARTED_WORD = MAX_BATCH;

/**
 * The code of one pooled worker thread, as source text: `new Worker(WORKER_SOURCE, { eval: true })` runs
 * the same way from TypeScript sources (tests, tsx) and from the built package, with no loader. It is a
 * minimal WASI preview1 host: stdin is the task input, stdout is collected up to the output cap, stderr
 * lines go back as logs, and there are no files, sockets, preopened directories or environment beyond what
 * the main thread passes in. Each task gets a fresh instance of the (already compiled) module, or, for a
 * module whose only mutable state is its one memory (memory-cap.ts, \`resettable\`), the instance the
 * previous task used with that memory restored byte for byte to its state right after instantiation (an
 * instance whose memory grew is dropped instead).
 *
 * A worker learns each program (module, memory cap, argv, environment) once, then gets batches of jobs
 * that name it: one message in for many tasks, and the module is not cloned per task. Before running job
 * i it claims it in the shared state array (QUEUED → RUNNING); a job the main thread withdrew meanwhile is
 * skipped. Each result is posted as soon as its job ends, so a worker terminated mid-batch (a runaway job)
 * loses none: Node delivers a terminated worker's posted messages before its 'exit' event.
 *
 * Messages in:  { kind: 'init', state: SharedArrayBuffer }
 *               { kind: 'batch', seq, reset?, programs: [{ id, module, capPages, reusable, env, args }],
 *                 jobs: [{ program, input, extraEnv?, maxOutputBytes }] }
 * Messages out: { i, kind: 'log', line } | { i, kind: 'done', ok, exitCode?, stdout?, error?, message?,
 *                memoryBytes, instantiateUs, runMs, stdoutBytes? }   (i: the job's index in its batch)
 */
export const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort } = require('node:worker_threads');
const { randomFillSync } = require('node:crypto');
const { performance } = require('node:perf_hooks');

const ESUCCESS = 0, EBADF = 8, ENOSYS = 52, ESPIPE = 70;
const QUEUED = ${PHASE.QUEUED}, RUNNING = ${PHASE.RUNNING}, DONE = ${PHASE.DONE}, PHASES = ${PHASES};
const STARTED = ${STARTED_WORD};
const MAX_LOG_BYTES = 64 * 1024;
const enc = new TextEncoder();
const dec = new TextDecoder();
const EMPTY = new Uint8Array(0);

class Exit { constructor(code) { this.code = code; } }
class OutputLimit {}

let state;
const programs = new Map();

/**
 * The task being run. The host functions below are made once per program and read the task's state
 * from here; one task runs at a time in a worker, and each gets a fresh context and a fresh instance.
 */
let task = null;

const view = () => new DataView(task.memory.buffer);
const bytes = () => new Uint8Array(task.memory.buffer);
const log = (line) => {
  task.logBytes += line.length;
  if (task.logBytes <= MAX_LOG_BYTES) parentPort.postMessage({ i: task.i, kind: 'log', line });
};
const strings = (list) => list.map((s) => enc.encode(s + '\0'));
const sizes = (list, countPtr, sizePtr) => {
  const v = view();
  v.setUint32(countPtr, list.length, true);
  v.setUint32(sizePtr, list.reduce((n, s) => n + s.length, 0), true);
  return ESUCCESS;
};
const fill = (list, ptrs, buf) => {
  const v = view();
  const b = bytes();
  for (const s of list) {
    v.setUint32(ptrs, buf, true);
    ptrs += 4;
    b.set(s, buf);
    buf += s.length;
  }
  return ESUCCESS;
};

const wasi = {
  args_sizes_get: (c, s) => sizes(task.argv, c, s),
  args_get: (p, b) => fill(task.argv, p, b),
  environ_sizes_get: (c, s) => sizes(task.envv, c, s),
  environ_get: (p, b) => fill(task.envv, p, b),
  fd_write(fd, iovs, iovsLen, nwrittenPtr) {
    if (fd !== 1 && fd !== 2) return EBADF;
    const v = view();
    let written = 0;
    for (let i = 0; i < iovsLen; i++) {
      const ptr = v.getUint32(iovs + i * 8, true);
      const len = v.getUint32(iovs + i * 8 + 4, true);
      const chunk = new Uint8Array(task.memory.buffer, ptr, len);
      written += len;
      if (fd === 1) {
        task.stdoutBytes += len;
        if (task.stdoutBytes > task.maxOutputBytes) throw new OutputLimit();
        task.stdout.push(chunk.slice());
      } else if (task.logBytes <= MAX_LOG_BYTES) {
        const lines = (task.partial + dec.decode(chunk)).split('\n');
        task.partial = lines.pop() ?? '';
        for (const line of lines) log(line);
        if (task.partial.length > MAX_LOG_BYTES) { log(task.partial); task.partial = ''; }
      }
    }
    v.setUint32(nwrittenPtr, written, true);
    return ESUCCESS;
  },
  fd_read(fd, iovs, iovsLen, nreadPtr) {
    if (fd !== 0) return EBADF;
    const v = view();
    const input = task.input;
    let read = 0;
    for (let i = 0; i < iovsLen && task.inputPos < input.length; i++) {
      const ptr = v.getUint32(iovs + i * 8, true);
      const len = v.getUint32(iovs + i * 8 + 4, true);
      const n = Math.min(len, input.length - task.inputPos);
      bytes().set(input.subarray(task.inputPos, task.inputPos + n), ptr);
      task.inputPos += n;
      read += n;
    }
    v.setUint32(nreadPtr, read, true);
    return ESUCCESS;
  },
  fd_close: (fd) => (fd <= 2 ? ESUCCESS : EBADF),
  fd_seek: (fd) => (fd <= 2 ? ESPIPE : EBADF),
  fd_fdstat_get(fd, ptr) {
    if (fd > 2) return EBADF;
    const v = view();
    v.setUint8(ptr, 2); // character device
    v.setUint16(ptr + 2, 0, true);
    v.setBigUint64(ptr + 8, fd === 0 ? 2n : 64n, true); // fd_read | fd_write
    v.setBigUint64(ptr + 16, 0n, true);
    return ESUCCESS;
  },
  fd_prestat_get: () => EBADF, // no preopened directories
  fd_prestat_dir_name: () => EBADF,
  proc_exit(code) { throw new Exit(code); },
  clock_time_get(id, _precision, ptr) {
    const ns = id === 0 ? BigInt(Date.now()) * 1000000n : process.hrtime.bigint();
    view().setBigUint64(ptr, ns, true);
    return ESUCCESS;
  },
  clock_res_get(_id, ptr) { view().setBigUint64(ptr, 1000n, true); return ESUCCESS; },
  random_get(ptr, len) {
    for (let at = 0; at < len; at += 65536) randomFillSync(bytes(), ptr + at, Math.min(65536, len - at));
    return ESUCCESS;
  },
  sched_yield: () => ESUCCESS,
};
const noSys = () => ENOSYS;
const abort = () => { throw new Exit(255); };

/** A program's import object, made once: only an imported memory is made anew for each instance. */
function learn(p) {
  const imports = {};
  let memoryImport = null;
  for (const imp of WebAssembly.Module.imports(p.module)) {
    const ns = (imports[imp.module] ??= {});
    if (imp.kind === 'memory') {
      memoryImport ??= { ns, name: imp.name };
    } else if (imp.kind === 'function') {
      if (imp.module === 'wasi_snapshot_preview1') ns[imp.name] = wasi[imp.name] ?? noSys;
      else if (imp.module === 'env' && imp.name === 'abort') ns[imp.name] = abort;
      else {
        const what = imp.module + '.' + imp.name;
        ns[imp.name] = () => { throw new Error('unsupported import ' + what); };
      }
    }
  }
  programs.set(p.id, {
    module: p.module,
    capPages: p.capPages,
    reusable: p.reusable,
    // The reusable instance between tasks, and its memory's bytes right after instantiation.
    idle: null,
    pristine: null,
    imports,
    memoryImport,
    argv: strings(p.args),
    envv: strings(p.env),
  });
}

function runTask(i, job) {
  const program = programs.get(job.program);
  if (!program) return { ok: false, error: 'trap', message: 'unknown program ' + job.program, memoryBytes: 0, instantiateUs: 0, runMs: 0 };
  task = {
    i,
    input: job.input === '' ? EMPTY : enc.encode(job.input),
    inputPos: 0,
    stdout: [],
    stdoutBytes: 0,
    maxOutputBytes: job.maxOutputBytes,
    logBytes: 0,
    partial: '',
    memory: undefined,
    argv: program.argv,
    envv: job.extraEnv ? program.envv.concat(strings(job.extraEnv)) : program.envv,
  };
  const t0 = performance.now();
  let instance;
  let memory;
  if (program.idle) {
    ({ instance, memory } = program.idle);
    program.idle = null;
  } else {
    let importedMemory;
    if (program.memoryImport) {
      importedMemory = new WebAssembly.Memory({ initial: 1, maximum: program.capPages });
      program.memoryImport.ns[program.memoryImport.name] = importedMemory;
    }
    try {
      instance = new WebAssembly.Instance(program.module, program.imports);
    } catch (err) {
      return { ok: false, error: 'link', message: String(err && err.message || err), memoryBytes: 0, instantiateUs: 0, runMs: 0 };
    } finally {
      // The import object outlives the task: it must not keep this task's memory alive.
      if (program.memoryImport) program.memoryImport.ns[program.memoryImport.name] = undefined;
    }
    memory = instance.exports.memory ?? importedMemory;
    if (program.reusable && memory instanceof WebAssembly.Memory && !program.pristine) {
      program.pristine = new Uint8Array(memory.buffer).slice();
    }
  }
  const instantiateUs = (performance.now() - t0) * 1000;
  task.memory = memory;
  const start = instance.exports._start;
  if (!(memory instanceof WebAssembly.Memory) || typeof start !== 'function') {
    return { ok: false, error: 'link', message: 'not a WASI command module (it needs to export memory and _start)', memoryBytes: 0, instantiateUs, runMs: 0 };
  }
  const t1 = performance.now();
  let exitCode = 0;
  let error;
  let message;
  try {
    start();
  } catch (err) {
    if (err instanceof Exit) exitCode = err.code;
    else if (err instanceof OutputLimit) error = 'output';
    else { error = 'trap'; message = String(err && err.message || err); }
  }
  if (task.partial) log(task.partial);
  const runMs = performance.now() - t1;
  const memoryBytes = memory.buffer.byteLength;
  if (program.reusable && program.pristine && memoryBytes === program.pristine.length) {
    // Back to the state right after instantiation, now, so no byte of this task outlives it.
    new Uint8Array(memory.buffer).set(program.pristine);
    program.idle = { instance, memory };
  }
  const stdoutBytes = task.stdoutBytes;
  if (error) return { ok: false, error, message, memoryBytes, instantiateUs, runMs, stdoutBytes };
  const chunks = task.stdout;
  let stdout;
  if (chunks.length === 1) stdout = dec.decode(chunks[0]);
  else {
    const out = new Uint8Array(stdoutBytes);
    let at = 0;
    for (const c of chunks) { out.set(c, at); at += c.length; }
    stdout = dec.decode(out);
  }
  return { ok: true, exitCode, stdout, memoryBytes, instantiateUs, runMs, stdoutBytes };
}

parentPort.on('message', (msg) => {
  if (msg.kind === 'init') {
    state = new Int32Array(msg.state);
    return;
  }
  if (msg.reset) programs.clear();
  for (const p of msg.programs) learn(p);
  const base = msg.seq * PHASES;
  for (let i = 0; i < msg.jobs.length; i++) {
    // Withdrawn by the main thread (cancelled, or handed to another worker): not ours to run.
    if (Atomics.compareExchange(state, i, base + QUEUED, base + RUNNING) !== base + QUEUED) continue;
    Atomics.add(state, STARTED, 1);
    let result;
    try {
      result = runTask(i, msg.jobs[i]);
    } catch (err) {
      result = { ok: false, error: 'trap', message: String(err && err.message || err), memoryBytes: 0, instantiateUs: 0, runMs: 0 };
    }
    task = null;
    result.i = i;
    result.kind = 'done';
    parentPort.postMessage(result);
    // Only if the word is still this job's: once the result is read, the main thread may have sent the
    // next batch, whose job i this must not overwrite.
    Atomics.compareExchange(state, i, base + RUNNING, base + DONE);
  }
});
`;

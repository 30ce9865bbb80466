/**
 * The code of one pooled worker thread, as source text: `new Worker(WORKER_SOURCE, { eval: true })` runs
 * the same way from TypeScript sources (tests, tsx) and from the built package, with no loader. It is a
 * minimal WASI preview1 host: stdin is the task input, stdout is collected up to the output cap, stderr
 * lines go back as logs, and there are no files, sockets, preopened directories or environment beyond what
 * the main thread passes in. Each task gets a fresh instance of the (already compiled) module.
 *
 * Messages in:  { id, module, input, env: string[], args: string[], maxOutputBytes }
 * Messages out: { id, kind: 'log', line } | { id, kind: 'done', ok, exitCode?, stdout?, error?, memoryBytes,
 *                instantiateUs, runMs }
 */
export const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort } = require('node:worker_threads');
const { randomFillSync } = require('node:crypto');
const { performance } = require('node:perf_hooks');

const ESUCCESS = 0, EBADF = 8, EINVAL = 28, ENOSYS = 52, ESPIPE = 70;
const MAX_LOG_BYTES = 64 * 1024;
const enc = new TextEncoder();
const dec = new TextDecoder();

class Exit { constructor(code) { this.code = code; } }
class OutputLimit {}

function runTask(msg) {
  const input = enc.encode(msg.input);
  let inputPos = 0;
  const stdout = [];
  let stdoutBytes = 0;
  let logBytes = 0;
  let partial = '';
  let memory;
  const view = () => new DataView(memory.buffer);
  const bytes = () => new Uint8Array(memory.buffer);
  const log = (line) => {
    logBytes += line.length;
    if (logBytes <= MAX_LOG_BYTES) parentPort.postMessage({ id: msg.id, kind: 'log', line });
  };
  const strings = (list) => list.map((s) => enc.encode(s + '\0'));
  const argv = strings(msg.args);
  const envv = strings(msg.env);
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
    args_sizes_get: (c, s) => sizes(argv, c, s),
    args_get: (p, b) => fill(argv, p, b),
    environ_sizes_get: (c, s) => sizes(envv, c, s),
    environ_get: (p, b) => fill(envv, p, b),
    fd_write(fd, iovs, iovsLen, nwrittenPtr) {
      if (fd !== 1 && fd !== 2) return EBADF;
      const v = view();
      let written = 0;
      for (let i = 0; i < iovsLen; i++) {
        const ptr = v.getUint32(iovs + i * 8, true);
        const len = v.getUint32(iovs + i * 8 + 4, true);
        const chunk = new Uint8Array(memory.buffer, ptr, len);
        written += len;
        if (fd === 1) {
          stdoutBytes += len;
          if (stdoutBytes > msg.maxOutputBytes) throw new OutputLimit();
          stdout.push(chunk.slice());
        } else if (logBytes <= MAX_LOG_BYTES) {
          const lines = (partial + dec.decode(chunk)).split('\n');
          partial = lines.pop() ?? '';
          for (const line of lines) log(line);
          if (partial.length > MAX_LOG_BYTES) { log(partial); partial = ''; }
        }
      }
      view().setUint32(nwrittenPtr, written, true);
      return ESUCCESS;
    },
    fd_read(fd, iovs, iovsLen, nreadPtr) {
      if (fd !== 0) return EBADF;
      const v = view();
      let read = 0;
      for (let i = 0; i < iovsLen && inputPos < input.length; i++) {
        const ptr = v.getUint32(iovs + i * 8, true);
        const len = v.getUint32(iovs + i * 8 + 4, true);
        const n = Math.min(len, input.length - inputPos);
        bytes().set(input.subarray(inputPos, inputPos + n), ptr);
        inputPos += n;
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
  const imports = {};
  let importedMemory;
  for (const imp of WebAssembly.Module.imports(msg.module)) {
    const ns = (imports[imp.module] ??= {});
    if (imp.kind === 'memory') {
      importedMemory ??= new WebAssembly.Memory({ initial: 1, maximum: msg.capPages });
      ns[imp.name] = importedMemory;
    } else if (imp.kind === 'function') {
      if (imp.module === 'wasi_snapshot_preview1') ns[imp.name] = wasi[imp.name] ?? (() => ENOSYS);
      else if (imp.module === 'env' && imp.name === 'abort') ns[imp.name] = () => { throw new Exit(255); };
      else ns[imp.name] = () => { throw new Error('unsupported import ' + imp.module + '.' + imp.name); };
    }
  }
  const t0 = performance.now();
  let instance;
  try {
    instance = new WebAssembly.Instance(msg.module, imports);
  } catch (err) {
    return { ok: false, error: 'link', message: String(err && err.message || err), memoryBytes: 0, instantiateUs: 0, runMs: 0 };
  }
  const instantiateUs = (performance.now() - t0) * 1000;
  memory = instance.exports.memory ?? importedMemory;
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
  if (partial) log(partial);
  const runMs = performance.now() - t1;
  const memoryBytes = memory.buffer.byteLength;
  if (error) return { ok: false, error, message, memoryBytes, instantiateUs, runMs, stdoutBytes };
  const out = new Uint8Array(stdoutBytes);
  let at = 0;
  for (const c of stdout) { out.set(c, at); at += c.length; }
  return { ok: true, exitCode, stdout: dec.decode(out), memoryBytes, instantiateUs, runMs, stdoutBytes };
}

parentPort.on('message', (msg) => {
  let result;
  try {
    result = runTask(msg);
  } catch (err) {
    result = { ok: false, error: 'trap', message: String(err && err.message || err), memoryBytes: 0, instantiateUs: 0, runMs: 0 };
  }
  parentPort.postMessage({ id: msg.id, kind: 'done', ...result });
});
`;

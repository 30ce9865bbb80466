import { Command, CommanderError } from 'commander';
import { isWardenError, type ErrorCode } from '../core/index.js';
import { agentsCommand, runCommand, submitCommand } from './commands/run.js';
import { cancelCommand, logsCommand, resultCommand, tasksCommand } from './commands/tasks.js';
import { dlqCommand, migrateCommand, workerCommand } from './commands/ops.js';
import { flagCommand, governanceCommand } from './commands/governance.js';
import { exportCommand, verifyBundleCommand } from './commands/provenance.js';
import { rdCommand } from './commands/rd.js';
import { keysCommand, serveCommand } from './commands/serve.js';
import { edgeCommand } from './commands/edge.js';
import { routeCommand } from './commands/route.js';
import { feedbackCommand } from './commands/kpi.js';
import { memoryCommand } from './commands/memory.js';
import { mcpCommand } from './commands/mcp.js';
import { refuseLocalOnly } from './remote.js';
import { deployCommand } from './commands/deploy.js';
import { sessionsCommand } from './commands/sessions.js';

export interface ProgramOptions {
  /**
   * `--json` was given: commander's own usage errors are not printed as text, so main() can print them
   * as JSON (commander reports errors before the options are parsed).
   */
  jsonErrors?: boolean;
}

export function buildProgram(options: ProgramOptions = {}): Command {
  const program = new Command('warden')
    .description('Warden: a secure runtime and orchestrator for AI agents')
    .version('0.1.0')
    // No commander default: the directory is resolved when Warden opens (--data, else WARDEN_DATA, else
    // STORAGE_ROOT, else ./data), the same way the library and `warden serve` resolve it.
    .option(
      '--data <dir>',
      'data directory of the embedded store (default: $WARDEN_DATA, else $STORAGE_ROOT, else ./data)',
    )
    .option(
      '--database-url <url>',
      'use this PostgreSQL database instead of the embedded store (env: STORAGE_BACKEND=postgres with DATABASE_URL)',
    )
    .option('--json', 'machine-readable JSON output')
    .option(
      '--server <url>',
      'remote mode: run the command against this Warden HTTP API instead of a local store (env: WARDEN_SERVER)',
    )
    .option('--key <key>', 'API key for --server (env: WARDEN_API_KEY)')
    .option(
      '--unsafe-no-sandbox',
      'run process agents without bubblewrap if it is missing (trusted agents only; env WARDEN_UNSAFE_NO_SANDBOX=1)',
    )
    .showHelpAfterError('(run with --help for usage)')
    // `warden run --help` lists --data, --json and --unsafe-no-sandbox too.
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    // A command without a remote form refuses --server instead of silently using a local store.
    .hook('preAction', (_program, action) => refuseLocalOnly(action));
  if (options.jsonErrors) program.configureOutput({ outputError: () => undefined, writeErr: () => true });
  for (const cmd of [
    runCommand(),
    submitCommand(),
    workerCommand(),
    tasksCommand(),
    resultCommand(),
    cancelCommand(),
    logsCommand(),
    dlqCommand(),
    verifyBundleCommand(),
    exportCommand(),
    agentsCommand(),
    feedbackCommand(),
    flagCommand(),
    governanceCommand(),
    rdCommand(),
    serveCommand(),
    keysCommand(),
    edgeCommand(),
    routeCommand(),
    memoryCommand(),
    mcpCommand(),
    migrateCommand(),
    sessionsCommand(),
    deployCommand(),
  ]) {
    program.addCommand(cmd);
    inherit(cmd, program);
  }
  return program;
}

/** addCommand does not copy exitOverride, help or output settings: without this, usage errors exit 1, not 2. */
function inherit(cmd: Command, from: Command): void {
  cmd.copyInheritedSettings(from);
  for (const sub of cmd.commands) inherit(sub, from);
}

/** Runs the CLI; resolves with the process exit code. Errors are printed, never thrown. */
export async function main(argv: string[]): Promise<number> {
  const end = argv.indexOf('--');
  const json = (end === -1 ? argv : argv.slice(0, end)).includes('--json');
  const program = buildProgram({ jsonErrors: json });
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    const failure = describeFailure(err);
    if (!failure) return 0; // help and version
    if (json) process.stderr.write(`${JSON.stringify({ error: failure.error })}\n`);
    else if (failure.text !== undefined) process.stderr.write(`${failure.text}\n`);
    return failure.exitCode;
  }
}

interface Failure {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
  /** The text line; undefined when commander already printed it. */
  text: string | undefined;
  exitCode: number;
}

/** What to print for an error and the exit code: 2 for usage and input errors, 1 for failures. */
function describeFailure(err: unknown): Failure | undefined {
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return undefined;
    const message = err.message.replace(/^error: /, '');
    return { error: { code: 'INVALID_INPUT', message }, text: undefined, exitCode: 2 };
  }
  if (isWardenError(err)) {
    return {
      error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) },
      text: `error [${err.code}]: ${err.message}`,
      exitCode: err.code === 'INVALID_INPUT' || err.code === 'INVALID_JSON' ? 2 : 1,
    };
  }
  // A bug: the text form keeps the stack for the report; JSON consumers get the message.
  const message = err instanceof Error ? err.message : String(err);
  return {
    error: { code: 'INTERNAL', message },
    text: `error [INTERNAL]: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    exitCode: 1,
  };
}

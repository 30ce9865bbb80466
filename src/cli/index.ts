import { Command, CommanderError } from 'commander';
import { isWardenError } from '../core/index.js';
import { agentsCommand, runCommand, submitCommand } from './commands/run.js';
import { cancelCommand, logsCommand, resultCommand, tasksCommand } from './commands/tasks.js';
import { dlqCommand, workerCommand } from './commands/ops.js';
import { flagCommand, governanceCommand } from './commands/governance.js';
import { exportCommand, verifyBundleCommand } from './commands/provenance.js';
import { rdCommand } from './commands/rd.js';
import { keysCommand, serveCommand } from './commands/serve.js';

export function buildProgram(): Command {
  const program = new Command('warden')
    .description('Warden: a secure runtime and orchestrator for AI agents')
    .version('0.1.0')
    // No commander default: the directory is resolved when Warden opens (--data, else WARDEN_DATA, else
    // STORAGE_ROOT, else ./data), the same way the library and `warden serve` resolve it.
    .option(
      '--data <dir>',
      'data directory of the embedded store (default: $WARDEN_DATA, else $STORAGE_ROOT, else ./data)',
    )
    .option('--json', 'machine-readable JSON output')
    .option(
      '--unsafe-no-sandbox',
      'run process agents without bubblewrap if it is missing (trusted agents only; env WARDEN_UNSAFE_NO_SANDBOX=1)',
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
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
    flagCommand(),
    governanceCommand(),
    rdCommand(),
    serveCommand(),
    keysCommand(),
  ]) {
    program.addCommand(cmd);
    // addCommand does not copy exitOverride: without this, subcommand usage errors exit 1, not 2.
    for (const c of [cmd, ...cmd.commands]) c.copyInheritedSettings(program);
  }
  return program;
}

/** Runs the CLI; resolves with the process exit code. Errors are printed, never thrown. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; usage mistakes were already printed by commander.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (isWardenError(err)) {
      process.stderr.write(`error [${err.code}]: ${err.message}\n`);
      return err.code === 'INVALID_INPUT' || err.code === 'INVALID_JSON' ? 2 : 1;
    }
    process.stderr.write(
      `error [INTERNAL]: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return 1;
  }
}

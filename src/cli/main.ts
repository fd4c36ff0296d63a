/**
 * The entry point of the `fullduplex` command (bin/fullduplex.mjs runs the compiled copy). Running it
 * runs the tool on the process's arguments; the process exits with the command's exit code once the
 * command is done and its connections are closed.
 */
import { runCli } from './dispatch.js';
import { processOutput } from './output.js';

process.exitCode = await runCli(process.argv.slice(2), processOutput);

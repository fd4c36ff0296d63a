/**
 * Command-line parsing around `node:util` `parseArgs`: its errors become `UsageError` (exit code 2,
 * usage on stderr), and option values are checked here.
 */

/** A mistake on the command line. `command` names the command whose usage to show (none: the tool's). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

/**
 * Run a `parseArgs` call (strict, as it is by default) for `command`: its complaints (unknown option,
 * missing value, unexpected positional) become usage errors.
 */
export function parseCommandLine<R>(command: string | undefined, parse: () => R): R {
  try {
    return parse();
  } catch (error) {
    if (isParseArgsError(error)) throw new UsageError(error.message, command);
    throw error;
  }
}

function isParseArgsError(error: unknown): error is Error & { code: string } {
  if (!(error instanceof Error)) return false;
  const { code } = error as Error & { code?: unknown };
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

/** A TCP port: a decimal integer from 0 (any free port) to 65535. */
export function parsePort(value: string, command: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new UsageError(`--port must be a whole number from 0 to 65535 (got "${value}")`, command);
  }
  return Number(value);
}

/** The value of an option that only accepts some words. */
export function parseChoice<const C extends string>(value: string, choices: readonly C[], option: string, command: string): C {
  const choice = choices.find((candidate) => candidate === value);
  if (choice === undefined) {
    throw new UsageError(`${option} must be one of: ${choices.join(', ')} (got "${value}")`, command);
  }
  return choice;
}

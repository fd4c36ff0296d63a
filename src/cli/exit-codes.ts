/** The exit codes of the `fullduplex` command (listed in `fullduplex --help`). */
export const ExitCode = {
  /** The command did what it was asked: `serve` stopped on a signal; `connect` ended with a normal close. */
  Ok: 0,
  /** The command ran but failed: the server could not listen; the connection was refused or ended abnormally. */
  Failure: 1,
  /** The command line was wrong: unknown command or option, missing or invalid value. Usage goes to stderr. */
  Usage: 2,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

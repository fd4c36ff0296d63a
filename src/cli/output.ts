/** Where the commands write: lines to stdout (what happened) and to stderr (what went wrong). */
export interface Output {
  log(line: string): void;
  error(line: string): void;
}

/** The process's own streams. */
export const processOutput: Output = {
  log: (line) => {
    process.stdout.write(`${line}\n`);
  },
  error: (line) => {
    process.stderr.write(`${line}\n`);
  },
};

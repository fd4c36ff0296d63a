/**
 * `fullduplex serve --log pretty|json`: one line per event. `pretty` prints the human-readable lines
 * the command has always printed; `json` prints one JSON object per line instead
 * (`{"time":"…","event":"open","id":1,…}`), for log collectors and scripts.
 */
import type { Output } from './output.js';

export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export class ServeLog {
  private readonly format: LogFormat;
  private readonly output: Output;

  constructor(format: LogFormat, output: Output) {
    this.format = format;
    this.output = output;
  }

  /** Something happened: `pretty` is the human line, `fields` what the JSON line carries besides time and event. */
  info(event: string, fields: Record<string, unknown>, pretty: string): void {
    this.output.log(this.format === 'json' ? jsonLine(event, fields) : pretty);
  }

  /** Something went wrong (stderr). */
  error(event: string, fields: Record<string, unknown>, pretty: string): void {
    this.output.error(this.format === 'json' ? jsonLine(event, fields) : pretty);
  }
}

function jsonLine(event: string, fields: Record<string, unknown>): string {
  return JSON.stringify({ time: new Date().toISOString(), event, ...fields });
}

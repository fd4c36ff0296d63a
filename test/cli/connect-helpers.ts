/** Helpers for the `fullduplex connect` tests. */
export { selfSignedCertificate, type Certificate } from '../helpers/tls.js';

/** The lines of a stream's output, without the last empty one. */
export function linesOf(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

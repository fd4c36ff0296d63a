/** How the commands print addresses and close results. */
import { closeCodeName } from '../protocol/close-codes.js';

/** `host:port`, with IPv6 addresses in brackets (`[::1]:8080`), as in URLs. */
export function formatHostPort(host: string | undefined, port: number | undefined): string {
  const name = host ?? '?';
  return `${name.includes(':') ? `[${name}]` : name}:${port ?? '?'}`;
}

/** `code=1001 (Going Away) reason="Server shutting down" wasClean=true`: one line, the reason quoted. */
export function formatClose(code: number, reason: Buffer, wasClean: boolean): string {
  return `code=${code} (${closeCodeName(code)}) reason=${JSON.stringify(reason.toString('utf8'))} wasClean=${wasClean}`;
}

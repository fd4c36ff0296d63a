/** Close status codes (RFC 6455 §7.4.1, IANA "WebSocket Close Code Number Registry"). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reserved: never on the wire; reported when a close frame had no status code. */
  NoStatusReceived: 1005,
  /** Reserved: never on the wire; reported when the connection was lost without a close frame. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Reserved: never on the wire; reported when the TLS handshake failed. */
  TlsHandshake: 1015,
} as const;

const NAMES: ReadonlyMap<number, string> = new Map([
  [1000, 'Normal Closure'],
  [1001, 'Going Away'],
  [1002, 'Protocol Error'],
  [1003, 'Unsupported Data'],
  [1005, 'No Status Received'],
  [1006, 'Abnormal Closure'],
  [1007, 'Invalid Frame Payload Data'],
  [1008, 'Policy Violation'],
  [1009, 'Message Too Big'],
  [1010, 'Mandatory Extension'],
  [1011, 'Internal Error'],
  [1012, 'Service Restart'],
  [1013, 'Try Again Later'],
  [1014, 'Bad Gateway'],
  [1015, 'TLS Handshake'],
]);

/**
 * Whether `code` may appear in a close frame on the wire (RFC 6455 §7.4): the defined codes
 * 1000–1003 and 1007–1014 (1012–1014 registered with IANA after the RFC), and 3000–4999 for
 * libraries, frameworks and applications. 1004 is reserved, 1005/1006/1015 must never be sent,
 * 0–999 are unused, 1016–2999 are reserved for future revisions, 5000+ are undefined.
 */
export function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

/** The RFC/IANA name of a close code ("Going Away"), or a description of its range. */
export function closeCodeName(code: number): string {
  const name = NAMES.get(code);
  if (name !== undefined) return name;
  if (code >= 3000 && code <= 3999) return 'Registered (library/framework)';
  if (code >= 4000 && code <= 4999) return 'Private use';
  return 'Unknown';
}

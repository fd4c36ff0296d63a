/** The wire log of a case: every frame and octet chunk in both directions, and every timer. */

export type WireEntry =
  | { readonly at: number; readonly kind: 'tx-octets' | 'rx-octets'; readonly length: number; readonly preview: string; readonly sync?: boolean }
  | {
      readonly at: number;
      readonly kind: 'tx-frame' | 'rx-frame';
      readonly opcode: number;
      readonly fin: boolean;
      readonly rsv: number;
      readonly masked: boolean;
      readonly length: number;
      readonly preview: string;
      readonly chopsize?: number | undefined;
      readonly sync?: boolean;
    }
  | { readonly at: number; readonly kind: 'timer'; readonly action: 'continue' | 'kill' | 'close'; readonly delay: number; readonly tag?: string | undefined }
  | { readonly at: number; readonly kind: 'timer-fired'; readonly action: 'continue' | 'kill' | 'close'; readonly tag?: string | undefined }
  | { readonly at: number; readonly kind: 'note'; readonly text: string };

const PREVIEW_BYTES = 64;

/** Printable text when the bytes are printable ASCII/UTF-8, else hex; cut to 64 bytes. */
export function preview(data: Buffer): string {
  const head = data.subarray(0, PREVIEW_BYTES);
  const more = data.length > PREVIEW_BYTES ? ` ... (${data.length} bytes)` : '';
  const text = head.toString('utf8');
  const printable = /^[\x20-\x7e\u00a0-\uffff\t\r\n]*$/.test(text) && !text.includes('\ufffd');
  return (printable ? JSON.stringify(text) : `0x${head.toString('hex')}`) + more;
}

/**
 * Collects the payload pieces of one message without copying the large ones, while keeping the number
 * of pieces bounded: a piece smaller than `SMALL_PIECE` that is not the first is copied into a shared
 * block instead of being kept as its own view. A message sent as a million 1-byte fragments, or read
 * from a million 1-byte TCP chunks, therefore costs a few blocks, not a million `Buffer` objects.
 */
import { EMPTY_BUFFER } from './constants.js';

const SMALL_PIECE = 4096;
const BLOCK_SIZE = 16 * 1024;

/**
 * Collects the payload pieces of one message without copying the large ones, with the number of pieces
 * bounded: a piece under 4 KiB that is not the first is copied into a shared 16 KiB block. A message of a
 * million 1-byte fragments costs a few blocks, not a million `Buffer`s.
 */
export class MessageBuffer {
  private first: Buffer | null = null;
  private rest: Buffer[] | null = null;
  private block: Buffer | null = null;
  private blockUsed = 0;
  /** Total bytes collected. */
  length = 0;

  /** Add the next piece (kept as a view when large or first, copied otherwise); empty pieces are ignored. */
  add(piece: Buffer): void {
    const size = piece.length;
    if (size === 0) return;
    this.length += size;
    if (this.first === null) {
      this.first = piece;
      return;
    }
    if (size >= SMALL_PIECE) {
      this.flushBlock();
      (this.rest ??= []).push(piece);
      return;
    }
    let block = this.block;
    if (block !== null && this.blockUsed + size > block.length) {
      this.flushBlock();
      block = null;
    }
    if (block === null) {
      block = this.block = Buffer.allocUnsafe(BLOCK_SIZE);
      this.blockUsed = 0;
    }
    piece.copy(block, this.blockUsed);
    this.blockUsed += size;
  }

  /** Number of separate pieces that `take` would return (bounded by bytes / 4 KiB + a few). */
  get pieceCount(): number {
    return (this.first === null ? 0 : 1) + (this.rest?.length ?? 0) + (this.blockUsed > 0 ? 1 : 0);
  }

  /** The message as one buffer (a view of the only piece when there is one; one copy otherwise). Resets. */
  takeBuffer(): Buffer {
    const first = this.first;
    let result: Buffer;
    if (first === null) {
      result = EMPTY_BUFFER;
    } else if (this.rest === null && this.blockUsed === 0) {
      result = first;
    } else {
      this.flushBlock();
      const rest = this.rest!;
      result = Buffer.allocUnsafe(this.length);
      first.copy(result, 0);
      let offset = first.length;
      for (let i = 0; i < rest.length; i++) {
        const piece = rest[i]!;
        piece.copy(result, offset);
        offset += piece.length;
      }
    }
    this.reset();
    return result;
  }

  /** The message as its pieces, in order, without joining them. Resets. */
  takePieces(): Buffer[] {
    const pieces: Buffer[] = [];
    if (this.first !== null) {
      this.flushBlock();
      pieces.push(this.first);
      if (this.rest !== null) for (const piece of this.rest) pieces.push(piece);
    }
    this.reset();
    return pieces;
  }

  /** Forget everything collected (pieces handed out stay valid). */
  reset(): void {
    this.first = null;
    this.rest = null;
    this.length = 0;
    // The block is dropped too: pieces handed out may be views of it.
    this.block = null;
    this.blockUsed = 0;
  }

  private flushBlock(): void {
    if (this.block === null || this.blockUsed === 0) return;
    (this.rest ??= []).push(this.block.subarray(0, this.blockUsed));
    // Keep filling the rest of the same block later: it is still ours.
    this.block = this.block.subarray(this.blockUsed);
    this.blockUsed = 0;
  }
}

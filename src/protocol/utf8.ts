/**
 * Strict UTF-8 validation (RFC 3629 §4): no overlong forms, no surrogates (U+D800–U+DFFF), nothing
 * above U+10FFFF. Complete payloads go to Node's native `isUtf8`; payloads that arrive in pieces go
 * through `Utf8Validator`, which remembers an unfinished sequence across pieces and rejects as soon as
 * a byte makes the text invalid (RFC 6455 §8.1: fail fast, even in the middle of a fragment).
 */
import { isUtf8 } from 'node:buffer';

/** Whether the complete byte sequence is valid UTF-8. */
export function isValidUtf8(data: Uint8Array): boolean {
  return data.length === 0 || isUtf8(data);
}

// Byte classes for the validating automaton.
//  0: 00–7F  1: 80–8F  2: 90–9F  3: A0–BF  4: C2–DF  5: E0  6: E1–EC, EE–EF  7: ED
//  8: F0     9: F1–F3  10: F4    11: C0, C1, F5–FF (never valid)
const BYTE_CLASS = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  BYTE_CLASS[b] =
    b <= 0x7f ? 0
    : b <= 0x8f ? 1
    : b <= 0x9f ? 2
    : b <= 0xbf ? 3
    : b <= 0xc1 ? 11
    : b <= 0xdf ? 4
    : b === 0xe0 ? 5
    : b === 0xed ? 7
    : b <= 0xef ? 6
    : b === 0xf0 ? 8
    : b <= 0xf3 ? 9
    : b === 0xf4 ? 10
    : 11;
}

// States: 0 accept (between characters), 1 reject, 2–4 expecting 1–3 plain continuation bytes,
// 5 after E0 (next A0–BF, no overlong), 6 after ED (next 80–9F, no surrogates),
// 7 after F0 (next 90–BF, no overlong), 8 after F4 (next 80–8F, nothing above U+10FFFF).
const ACCEPT = 0;
const REJECT = 1;
const CLASSES = 12;
const TRANSITIONS = new Uint8Array(9 * CLASSES).fill(REJECT);
function setTransition(state: number, classes: number[], next: number): void {
  for (const c of classes) TRANSITIONS[state * CLASSES + c] = next;
}
setTransition(ACCEPT, [0], ACCEPT);
setTransition(ACCEPT, [4], 2);
setTransition(ACCEPT, [6], 3);
setTransition(ACCEPT, [9], 4);
setTransition(ACCEPT, [5], 5);
setTransition(ACCEPT, [7], 6);
setTransition(ACCEPT, [8], 7);
setTransition(ACCEPT, [10], 8);
setTransition(2, [1, 2, 3], ACCEPT);
setTransition(3, [1, 2, 3], 2);
setTransition(4, [1, 2, 3], 3);
setTransition(5, [3], 2);
setTransition(6, [1, 2], 2);
setTransition(7, [2, 3], 3);
setTransition(8, [1], 3);

/** Below this many bytes the automaton alone is cheaper than a native call on a sub-view. */
const NATIVE_THRESHOLD = 16;

/**
 * Validates UTF-8 text that arrives in pieces. `write` returns false as soon as the text seen so far
 * can no longer be the prefix of any valid UTF-8 text; `end` returns false if it stops mid-character.
 */
export class Utf8Validator {
  private state = ACCEPT;

  /** Forget everything (the start of a new message). */
  reset(): void {
    this.state = ACCEPT;
  }

  /** Whether every byte so far is valid and the text ends on a character boundary. */
  get complete(): boolean {
    return this.state === ACCEPT;
  }

  /** Validate the next piece; false as soon as the text so far cannot begin any valid UTF-8 text (RFC 3629). */
  write(data: Uint8Array): boolean {
    let state = this.state;
    if (state === REJECT) return false;
    const length = data.length;
    let i = 0;

    // Finish a character left open by the previous piece.
    while (state !== ACCEPT && i < length) {
      state = TRANSITIONS[state * CLASSES + BYTE_CLASS[data[i++]!]!]!;
      if (state === REJECT) {
        this.state = REJECT;
        return false;
      }
    }

    if (length - i >= NATIVE_THRESHOLD) {
      // Split off a character cut short at the end (at most 3 bytes), check the rest natively.
      let cut = length;
      for (let j = length - 1; j >= i && j >= length - 3; j--) {
        const b = data[j]!;
        if (b < 0x80) break;
        if (b >= 0xc0) {
          const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
          if (j + size > length) cut = j;
          break;
        }
      }
      if (cut > i && !isUtf8(data.subarray(i, cut))) {
        this.state = REJECT;
        return false;
      }
      i = cut;
    }

    for (; i < length; i++) {
      state = TRANSITIONS[state * CLASSES + BYTE_CLASS[data[i]!]!]!;
      if (state === REJECT) {
        this.state = REJECT;
        return false;
      }
    }
    this.state = state;
    return true;
  }

  /** Call at the end of the text: false if it stopped in the middle of a character (or was invalid). */
  end(): boolean {
    return this.state === ACCEPT;
  }
}

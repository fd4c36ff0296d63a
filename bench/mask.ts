/**
 * Masking micro-benchmark: fullduplex's `xorMask` (32-bit words over the aligned middle) against
 * `bufferutil`'s native `unmask` (what `ws` uses when it is installed), in the same process, on the
 * same buffers. Reports throughput per payload size and our ratio to bufferutil (>1 means faster).
 *
 *   npm run bench:mask            # prints a table
 *   npm run bench:mask -- --json  # one JSON record
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { xorMask } from '../src/protocol/mask.js';

const require = createRequire(import.meta.url);
const bufferutil = require('bufferutil') as { unmask(buffer: Buffer, mask: Buffer): void; mask(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void };

const SIZES = [16, 64, 125, 512, 1024, 16 * 1024, 64 * 1024, 1024 * 1024];
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const TARGET_BYTES = 256 * 1024 * 1024; // per measurement
const ROUNDS = 5;

function measure(fn: (buffer: Buffer) => void, buffer: Buffer): number {
  const iterations = Math.max(1000, Math.floor(TARGET_BYTES / buffer.length));
  for (let i = 0; i < Math.min(iterations, 10000); i++) fn(buffer); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(buffer);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return (iterations * buffer.length) / seconds / 1e6; // MB/s
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const ours = (buffer: Buffer): void => {
  xorMask(buffer, 0, buffer.length, MASK, 0);
};
const native = (buffer: Buffer): void => {
  bufferutil.unmask(buffer, MASK);
};

const rows: Array<{ size: number; fullduplexMBps: number; bufferutilMBps: number; ratio: number }> = [];
for (const size of SIZES) {
  // A view at an odd offset, as payloads inside socket chunks usually are.
  const backing = Buffer.alloc(size + 8, 0x5a);
  const buffer = backing.subarray(6, 6 + size);
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    a.push(measure(ours, buffer));
    b.push(measure(native, buffer));
  }
  const fullduplexMBps = median(a);
  const bufferutilMBps = median(b);
  rows.push({ size, fullduplexMBps, bufferutilMBps, ratio: fullduplexMBps / bufferutilMBps });
}

const machine = `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ benchmark: 'mask', machine, rows }));
} else {
  console.log(`mask/unmask in place, median of ${ROUNDS} rounds (${machine})`);
  console.log('size'.padStart(9) + 'fullduplex MB/s'.padStart(17) + 'bufferutil MB/s'.padStart(17) + 'ratio'.padStart(8));
  for (const row of rows) {
    console.log(
      String(row.size).padStart(9) +
        row.fullduplexMBps.toFixed(0).padStart(17) +
        row.bufferutilMBps.toFixed(0).padStart(17) +
        row.ratio.toFixed(2).padStart(8),
    );
  }
}

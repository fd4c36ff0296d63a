/**
 * The fuzzer checks itself: inputs are reproducible from (seed, index), valid streams are valid by the
 * reference model, splits cover the bytes, the oracles can fail (a wrong expectation is caught), and
 * the watchdog catches an input that never finishes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from './lib/prng.js';
import { generateStream } from './lib/generator.js';
import { encodeFrames } from './lib/frames.js';
import { compareEvents, endingOf } from './lib/events.js';
import { modelServerEvents, Utf8Prefix, isUtf8Text } from './lib/model.js';
import { parserCase, serverCase, FUZZ_MAX_PAYLOAD } from './lib/cases.js';
import { CHUNK_STRATEGIES, chunkSizes } from './lib/chunking.js';
import { checkRun, runCore } from './lib/parser-target.js';
import { runParserCampaign } from './lib/parser-campaign.js';
import { ServerProcess } from './lib/server-process.js';
import { runServerCase } from './lib/server-target.js';
import { splitBySizes } from './lib/chunking.js';
import { scaled } from '../helpers/time.js';

describe('fuzz harness', () => {
  it('rebuilds the same input from the same seed and index', () => {
    for (let index = 0; index < 50; index++) {
      const a = parserCase(1234, index);
      const b = parserCase(1234, index);
      assert.ok(a.bytes.equals(b.bytes));
      assert.deepEqual(a.chunks, b.chunks);
      assert.deepEqual(a.mutations, b.mutations);
      assert.ok(serverCase(1234, index).bytes.equals(serverCase(1234, index).bytes));
    }
    assert.ok(!parserCase(1234, 0).bytes.equals(parserCase(1235, 0).bytes));
  });

  it('generates streams that the reference model finds valid, with the events the generator meant', () => {
    for (let seed = 0; seed < 300; seed++) {
      const stream = generateStream(new Prng(seed));
      const events = modelServerEvents(encodeFrames(stream.frames), { maxPayload: FUZZ_MAX_PAYLOAD });
      assert.equal(compareEvents(stream.expected, events, { expected: 'generator', actual: 'model' }), null, `seed ${seed}`);
    }
  });

  it('generates compressed streams (RFC 7692) that the model inflates to what the generator meant', () => {
    for (let seed = 0; seed < 200; seed++) {
      const stream = generateStream(new Prng(seed), { maxPayload: FUZZ_MAX_PAYLOAD });
      const bytes = encodeFrames(stream.frames);
      for (const contextTakeover of [true, false]) {
        const events = modelServerEvents(bytes, { maxPayload: FUZZ_MAX_PAYLOAD, deflate: { contextTakeover } });
        assert.equal(compareEvents(stream.expected, events, { expected: 'generator', actual: 'model' }), null, `seed ${seed}`);
      }
    }
  });

  it('validates UTF-8 like Node (RFC 3629) in the model, as a prefix and as a whole', () => {
    const rng = new Prng(99);
    for (let i = 0; i < 5000; i++) {
      const bytes = rng.bytes(rng.int(0, 6));
      assert.equal(isUtf8Text(bytes), Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes), bytes.toString('hex'));
    }
    assert.equal(new Utf8Prefix().write(Buffer.from([0xe2, 0x82])), true); // may still complete
    assert.equal(new Utf8Prefix().write(Buffer.from([0xed, 0xa0])), false); // a surrogate: never
  });

  it('mutates most inputs, and splits cover the bytes exactly', () => {
    let mutated = 0;
    for (let index = 0; index < 200; index++) if (parserCase(7, index).mutations.length > 0) mutated++;
    assert.ok(mutated > 150 && mutated < 200, `${mutated} of 200 mutated`);
    const rng = new Prng(3);
    for (const strategy of CHUNK_STRATEGIES) {
      for (const length of [0, 1, 2, 17, 1000]) {
        const sizes = chunkSizes(rng, length, strategy);
        assert.equal(sizes.reduce((a, b) => a + b, 0), length);
        assert.ok(sizes.every((size) => size > 0));
      }
    }
  });

  it('catches a parser that disagrees with the model', () => {
    let index = 0;
    const hasMessage = (bytes: Buffer): boolean => modelServerEvents(bytes, { maxPayload: FUZZ_MAX_PAYLOAD }).some((e) => e.type === 'message' && e.data.length > 0);
    while (!hasMessage(parserCase(5, index).bytes)) index++;
    const fuzzCase = parserCase(5, index);
    const run = runCore(splitBySizes(fuzzCase.bytes, fuzzCase.chunks), { maxPayload: fuzzCase.maxPayload, keepFragments: false });
    const wrong = modelServerEvents(fuzzCase.bytes, { maxPayload: 0 });
    assert.ok(checkRun(run, wrong, 'wrong model').some((finding) => finding.kind === 'model-mismatch'));
  });

  it('catches a live server that does not do what the model says', async () => {
    const server = await ServerProcess.start();
    try {
      let checked = 0;
      for (let index = 0; checked < 3; index++) {
        const fuzzCase = serverCase(5, index);
        if (fuzzCase.deflate !== null) continue;
        const events = modelServerEvents(fuzzCase.bytes, { maxPayload: FUZZ_MAX_PAYLOAD });
        const closes = endingOf(events).kind === 'closed';
        if (!closes || !events.some((e) => e.type === 'message' && e.data.length > 0)) continue;
        checked++;
        // Told the server's limit is 0, the checks expect a 1009 that the server rightly does not send.
        const findings = await runServerCase(server, { ...fuzzCase, maxPayload: 0 }, scaled(5000));
        assert.ok(findings.some((finding) => finding.kind === 'model-mismatch'), JSON.stringify(findings));
      }
    } finally {
      await server.stop();
    }
  });

  it('hears of an uncaught exception in the server process', async () => {
    const server = await ServerProcess.start();
    try {
      server.selfTestCrash();
      const deadline = Date.now() + scaled(5000);
      while (server.crashes.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(server.crashes[0]?.kind, 'uncaughtException');
      assert.match(server.crashes[0]!.message, /fuzz harness self-test/);
    } finally {
      await server.stop();
    }
  });

  it('reports an input that never finishes as a hang (the worker is stopped by the watchdog)', async () => {
    // Early in the run, so that a slow worker start on a loaded machine still reaches it in time.
    const result = await runParserCampaign({ seed: 1, durationMs: 6000, stallAt: 3 });
    assert.equal(result.failures.length, 1, JSON.stringify(result.failures.map((f) => f.findings)));
    const [failure] = result.failures;
    assert.equal(failure!.index, 3);
    assert.equal(failure!.findings[0]!.kind, 'hang');
    assert.ok(failure!.bytes.equals(parserCase(1, 3).bytes));
    assert.ok(result.executions >= 4, `${result.executions} executions`);
  });
});

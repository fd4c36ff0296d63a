import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HeaderSyntaxError, formatExtensions, listContainsToken, parseExtensions, parseTokenList } from '../../src/protocol/header-grammar.js';
import { scaled } from '../helpers/time.js';

describe('parseTokenList (1#token)', () => {
  it('splits on commas with optional whitespace', () => {
    assert.deepEqual(parseTokenList('chat, superchat,\tv2.json'), ['chat', 'superchat', 'v2.json']);
  });
  it('ignores empty list elements (RFC 7230 §7)', () => {
    assert.deepEqual(parseTokenList(' , chat,, x ,'), ['chat', 'x']);
  });
  for (const bad of ['', ' , ', 'a b', 'a;b', 'chät', 'a,"b"', 'a/b', 'caf\u00e9']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseTokenList(bad), HeaderSyntaxError);
    });
  }
});

describe('listContainsToken (Connection: upgrade)', () => {
  const cases: Array<[string, boolean]> = [
    ['Upgrade', true],
    ['upgrade', true],
    ['UPGRADE', true],
    ['keep-alive, Upgrade', true],
    [' Upgrade ', true],
    ['keep-alive', false],
    ['Upgrades', false],
    ['Upgrade;', false], // not a token list: refused, not matched
    ['', false],
  ];
  for (const [value, expected] of cases) {
    it(`${JSON.stringify(value)} ${expected ? 'contains' : 'does not contain'} "upgrade"`, () => {
      assert.equal(listContainsToken(value, 'upgrade'), expected);
    });
  }

  it('maps no case but ASCII: the Kelvin sign is not "k" (it is no token character)', () => {
    assert.equal('\u212aeep-alive'.toLowerCase(), 'keep-alive');
    assert.equal(listContainsToken('\u212aeep-alive', 'keep-alive'), false);
    assert.equal(listContainsToken('Keep-Alive', 'keep-alive'), true);
  });
});

describe('parseExtensions (RFC 6455 §9.1)', () => {
  it('parses the offer Chromium sends', () => {
    assert.deepEqual(parseExtensions('permessage-deflate; client_max_window_bits'), [
      { name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: null }] },
    ]);
  });

  it('parses several offers in order, with values, quoted values and whitespace', () => {
    const header = 'permessage-deflate ; server_max_window_bits = 10 ;client_max_window_bits="12", permessage-deflate, x-foo;a=b';
    assert.deepEqual(parseExtensions(header), [
      {
        name: 'permessage-deflate',
        params: [
          { name: 'server_max_window_bits', value: '10' },
          { name: 'client_max_window_bits', value: '12' },
        ],
      },
      { name: 'permessage-deflate', params: [] },
      { name: 'x-foo', params: [{ name: 'a', value: 'b' }] },
    ]);
  });

  it('keeps duplicate parameters for the extension to judge', () => {
    assert.equal(parseExtensions('permessage-deflate; a; a').at(0)?.params.length, 2);
  });

  it('unescapes quoted-pairs', () => {
    assert.equal(parseExtensions('x; a="\\1\\0"')[0]!.params[0]!.value, '10');
  });

  it('treats __proto__, constructor and hasOwnProperty as plain names', () => {
    const offers = parseExtensions('__proto__; constructor=1; hasOwnProperty, constructor; __proto__=x');
    assert.deepEqual(
      offers.map((o) => [o.name, o.params.map((p) => `${p.name}=${p.value}`)]),
      [
        ['__proto__', ['constructor=1', 'hasOwnProperty=null']],
        ['constructor', ['__proto__=x']],
      ],
    );
    assert.equal(({} as Record<string, unknown>)['constructor'], Object);
  });

  for (const bad of [
    '',
    ';',
    'a;',
    'a; =b',
    'a; b=',
    'a; b="c',
    'a; b="c d"',
    'a; b="\\"',
    'a b',
    'a, ;b',
    'a; b=c d',
    'a; b=c; ',
    'a@b',
    'perm\u00e9',
  ]) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseExtensions(bad), HeaderSyntaxError);
    });
  }

  it('formats what it parses', () => {
    const text = 'permessage-deflate; client_max_window_bits=10; server_no_context_takeover, x';
    assert.equal(formatExtensions(parseExtensions(text)), text);
  });
});

describe('header parsing is linear in the input (no backtracking)', () => {
  // A complexity guard, not a speed measurement: each hostile 64 KiB header takes tens of
  // microseconds; a backtracking parser takes seconds or never finishes. The bound is 1000x generous,
  // and grows with the tests' time scale, so a loaded machine cannot turn it red.
  const hostile = [
    'a'.repeat(65536),
    'a;'.repeat(32767) + '=',
    'a; b="' + '\\a'.repeat(32760),
    ' ,'.repeat(32768),
    'x; ' + 'p=v; '.repeat(13000) + '"',
    '\t'.repeat(65535) + '@',
  ];
  for (const [index, value] of hostile.entries()) {
    it(`parses hostile header #${index + 1} (${value.length} bytes) quickly`, () => {
      const start = process.hrtime.bigint();
      for (let round = 0; round < 5; round++) {
        try {
          parseExtensions(value);
        } catch (error) {
          assert.ok(error instanceof HeaderSyntaxError);
        }
        try {
          parseTokenList(value);
        } catch (error) {
          assert.ok(error instanceof HeaderSyntaxError);
        }
      }
      const perParseMs = Number(process.hrtime.bigint() - start) / 1e6 / 10;
      assert.ok(perParseMs < scaled(50), `took ${perParseMs.toFixed(2)} ms per parse (bound ${scaled(50)} ms)`);
    });
  }
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bareHostname } from '../../src/node/url-host.js';

describe('bareHostname', () => {
  it('drops the brackets of IPv6 literals and keeps names and IPv4 addresses as they are', () => {
    assert.deepEqual(
      ['ws://[::1]:8080/', 'wss://[fe80::1]/', 'http://proxy.example:3128', 'socks5h://127.0.0.1:1080', 'ws://EXAMPLE.com/'].map((u) => bareHostname(new URL(u))),
      ['::1', 'fe80::1', 'proxy.example', '127.0.0.1', 'example.com'],
    );
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bypassesProxy, isLoopback, parseProxyUrl, proxyFromOption, resolveProxy, type ProxyEnvironment } from '../../src/node/proxy-environment.js';

describe('proxy from the environment', () => {
  // [target, env, expected proxy href or null, expected source]
  const table: Array<[string, ProxyEnvironment, string | null, string?]> = [
    ['ws://example.com/', {}, null],
    ['ws://example.com/', { http_proxy: 'http://p:1' }, 'http://p:1/', 'http_proxy'],
    ['ws://example.com/', { HTTP_PROXY: 'http://p:1' }, 'http://p:1/', 'HTTP_PROXY'],
    ['ws://example.com/', { http_proxy: 'http://lower:1', HTTP_PROXY: 'http://upper:1' }, 'http://lower:1/', 'http_proxy'],
    // httpoxy: in a CGI request HTTP_PROXY is the client's `Proxy:` header (CVE-2016-5385)
    ['ws://example.com/', { HTTP_PROXY: 'http://evil:1', REQUEST_METHOD: 'GET' }, null],
    ['ws://example.com/', { http_proxy: 'http://p:1', REQUEST_METHOD: 'GET' }, 'http://p:1/', 'http_proxy'],
    ['ws://example.com/', { https_proxy: 'http://secure:1' }, null],
    ['wss://example.com/', { https_proxy: 'http://s:1', http_proxy: 'http://p:1' }, 'http://s:1/', 'https_proxy'],
    ['wss://example.com/', { HTTPS_PROXY: 'https://s:1' }, 'https://s:1/', 'HTTPS_PROXY'],
    ['wss://example.com/', { http_proxy: 'http://p:1' }, null],
    ['wss://example.com/', { all_proxy: 'socks5h://a:1' }, 'socks5h://a:1', 'all_proxy'],
    ['ws://example.com/', { ALL_PROXY: 'socks5://a:1' }, 'socks5://a:1', 'ALL_PROXY'],
    ['ws://example.com/', { http_proxy: 'http://p:1', all_proxy: 'http://a:1' }, 'http://p:1/', 'http_proxy'],
    ['ws://example.com/', { http_proxy: '', HTTP_PROXY: 'http://u:1' }, 'http://u:1/', 'HTTP_PROXY'],
    // a bare host:port means http:// (curl)
    ['ws://example.com/', { http_proxy: 'proxy.corp:3128' }, 'http://proxy.corp:3128/', 'http_proxy'],
    // loopback is never proxied from the environment...
    ['ws://localhost:8080/', { http_proxy: 'http://p:1' }, null],
    ['ws://app.localhost/', { http_proxy: 'http://p:1' }, null],
    ['ws://127.0.0.1:8080/', { http_proxy: 'http://p:1' }, null],
    ['ws://127.9.9.9/', { http_proxy: 'http://p:1' }, null],
    ['ws://[::1]:8080/', { http_proxy: 'http://p:1' }, null],
    // ...unless NO_PROXY says <-loopback> (Chromium's rule)
    ['ws://127.0.0.1:8080/', { http_proxy: 'http://p:1', no_proxy: '<-loopback>' }, 'http://p:1/', 'http_proxy'],
    ['ws://localhost/', { http_proxy: 'http://p:1', NO_PROXY: 'example.com, <-loopback>' }, 'http://p:1/', 'http_proxy'],
    // no_proxy wins over NO_PROXY
    ['ws://example.com/', { http_proxy: 'http://p:1', no_proxy: 'other.org', NO_PROXY: 'example.com' }, 'http://p:1/', 'http_proxy'],
    ['ws://example.com/', { http_proxy: 'http://p:1', NO_PROXY: 'example.com' }, null],
    // ports: the scheme's default when the URL has none
    ['ws://example.com/', { http_proxy: 'http://p:1', no_proxy: 'example.com:80' }, null],
    ['wss://example.com/', { https_proxy: 'http://p:1', no_proxy: 'example.com:80' }, 'http://p:1/', 'https_proxy'],
    ['ws+unix:/run/app.sock', { http_proxy: 'http://p:1', all_proxy: 'http://p:1' }, null],
  ];
  for (const [target, env, expected, source] of table) {
    it(`${target} with ${JSON.stringify(env)} → ${expected ?? 'direct'}`, () => {
      const resolved = resolveProxy(new URL(target), undefined, env);
      assert.equal(resolved?.url.href ?? null, expected);
      if (source !== undefined) assert.equal(resolved?.source, source);
    });
  }

  it('names the variable of an unusable proxy URL', () => {
    assert.throws(() => resolveProxy(new URL('ws://example.com'), undefined, { http_proxy: 'ftp://p' }), /Unsupported proxy scheme "ftp:" from \$http_proxy/);
    assert.throws(() => resolveProxy(new URL('wss://example.com'), undefined, { HTTPS_PROXY: 'http://[bad' }), /Invalid proxy URL from \$HTTPS_PROXY/);
  });
});

describe('proxy option precedence', () => {
  const env = { http_proxy: 'http://env:1', https_proxy: 'http://env:2' };
  it('the user\'s agent or createConnection: no proxy of ours, even with a proxy option', () => {
    assert.equal(resolveProxy(new URL('ws://example.com'), 'http://opt:1', env, true), null);
  });
  it('proxy: false: none, whatever the environment says', () => {
    assert.equal(resolveProxy(new URL('ws://example.com'), false, env), null);
  });
  it('an explicit proxy wins over the environment and NO_PROXY, loopback included', () => {
    assert.equal(resolveProxy(new URL('ws://127.0.0.1:9'), 'http://opt:1', { ...env, no_proxy: '*' })?.url.href, 'http://opt:1/');
    assert.equal(resolveProxy(new URL('wss://example.com'), new URL('https://opt:3'), env)?.source, 'option');
  });
  it('the object form carries headers, credentials and TLS options for the proxy', () => {
    const resolved = proxyFromOption({ url: 'http://opt:1', headers: { 'X-A': '1' }, credentials: { username: 'u', password: 'p' }, tls: { rejectUnauthorized: false } });
    assert.equal(resolved?.url.href, 'http://opt:1/');
    assert.deepEqual(resolved?.headers, { 'X-A': '1' });
    assert.deepEqual(resolved?.credentials, { username: 'u', password: 'p' });
    assert.deepEqual(resolved?.tls, { rejectUnauthorized: false });
  });
  it('refuses an unusable option with a TypeError', () => {
    assert.throws(() => proxyFromOption('gopher://x'), TypeError);
    assert.throws(() => proxyFromOption({} as never), TypeError);
    assert.throws(() => proxyFromOption(42 as never), TypeError);
    assert.throws(() => parseProxyUrl('http://', 'x'), TypeError);
  });
});

describe('NO_PROXY matching', () => {
  // [host, port, NO_PROXY, bypassed]; behaviour compared with curl's CURLOPT_NOPROXY documentation
  // (tail match at a dot boundary, leading dot optional, `*` alone, IPv6 without brackets, CIDR since
  // 7.86) plus ports (Python's urllib) and `*.` prefixes (Go's httpproxy).
  const table: Array<[string, number, string, boolean]> = [
    ['example.com', 80, '', false],
    ['example.com', 80, '*', true],
    ['example.com', 80, 'example.com', true],
    ['www.example.com', 80, 'example.com', true],
    ['www.example.com', 80, '.example.com', true],
    ['example.com', 80, '.example.com', true],
    ['a.b.example.com', 80, '*.example.com', true],
    ['notexample.com', 80, 'example.com', false],
    ['example.com.evil', 80, 'example.com', false],
    ['EXAMPLE.com', 80, 'Example.COM', true],
    ['example.com.', 80, 'example.com', true],
    ['example.com', 80, 'other.org, example.com', true],
    ['example.com', 80, 'other.org example.com', true],
    ['example.com', 80, 'other.org,,  ,', false],
    ['example.com', 8080, 'example.com:8080', true],
    ['example.com', 80, 'example.com:8080', false],
    ['www.example.com', 443, '.example.com:443', true],
    ['10.1.2.3', 80, '10.1.2.3', true],
    ['10.1.2.3', 80, '10.1.2.4', false],
    ['10.1.2.3', 80, '10.0.0.0/8', true],
    ['11.1.2.3', 80, '10.0.0.0/8', false],
    ['192.168.1.77', 80, '192.168.1.64/26', true],
    ['192.168.1.128', 80, '192.168.1.64/26', false],
    ['10.1.2.3', 80, '0.0.0.0/0', true],
    ['10.1.2.3', 22, '10.1.2.3:22', true],
    ['10.1.2.3', 80, '10.1.2.3:22', false],
    ['2001:db8::1', 80, '2001:db8::1', true],
    ['2001:db8::1', 80, '2001:DB8:0:0:0:0:0:1', true],
    ['2001:db8::1', 80, '[2001:db8::1]', true],
    ['2001:db8::1', 443, '[2001:db8::1]:443', true],
    ['2001:db8::1', 80, '[2001:db8::1]:443', false],
    ['2001:db8::1', 80, '2001:db8::/32', true],
    ['2001:db9::1', 80, '2001:db8::/32', false],
    ['2001:db8::1', 80, '10.0.0.0/8', false],
    ['10.0.0.1', 80, 'fd00::/8', false],
    ['host.example', 80, '10.0.0.0/8', false],
    ['10.0.0.1', 80, 'bad/cidr', false],
    ['10.0.0.1', 80, '10.0.0.0/33', false],
    // loopback: implicit, unless <-loopback>
    ['localhost', 80, '', true],
    ['LOCALHOST', 80, '', true],
    ['x.localhost', 80, '', true],
    ['localhost.example', 80, '', false],
    ['127.0.0.1', 80, '', true],
    ['127.255.0.1', 80, '', true],
    ['128.0.0.1', 80, '', false],
    ['::1', 80, '', true],
    ['::ffff:127.0.0.1', 80, '', true],
    ['::2', 80, '', false],
    ['127.0.0.1', 80, '<-loopback>', false],
    ['127.0.0.1', 80, '<-loopback>,127.0.0.1', true],
    ['localhost', 80, '<-LOOPBACK>', false],
  ];
  for (const [host, port, noProxy, bypassed] of table) {
    it(`${host}:${port} with NO_PROXY=${JSON.stringify(noProxy)} → ${bypassed ? 'direct' : 'proxy'}`, () => {
      assert.equal(bypassesProxy(host, port, noProxy), bypassed);
    });
  }

  it('knows loopback addresses', () => {
    assert.deepEqual(['localhost', '127.0.0.1', '::1', '0:0:0:0:0:0:0:1', 'a.localhost.'].map(isLoopback), [true, true, true, true, true]);
    assert.deepEqual(['example.com', '10.0.0.1', '::', 'localhostx'].map(isLoopback), [false, false, false, false]);
  });
});

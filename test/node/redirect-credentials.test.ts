import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RedirectCredentials, userinfoOf } from '../../src/node/redirect-credentials.js';

const HEADERS = { AUTHORIZATION: 'Bearer t', cookie: 'c=1', Host: 'h.example', 'X-Other': 'x' };

describe('RedirectCredentials', () => {
  it('sends every header to the first host, and the same host:port whatever the path', () => {
    const credentials = new RedirectCredentials(new URL('ws://a.example:8080/x'), HEADERS);
    assert.deepEqual(credentials.headersFor(new URL('ws://a.example:8080/x'), undefined), HEADERS);
    assert.deepEqual(credentials.headersFor(new URL('ws://A.EXAMPLE:8080/elsewhere?q'), undefined), HEADERS);
  });

  it('drops Authorization, Cookie and Host (any case) for another host or port', () => {
    const credentials = new RedirectCredentials(new URL('ws://a.example:8080/'), HEADERS);
    for (const target of ['ws://b.example:8080/', 'ws://a.example:8081/', 'ws://a.example/', 'wss://b.example/']) {
      assert.deepEqual(credentials.headersFor(new URL(target), 'u:p'), { 'X-Other': 'x' }, target);
    }
  });

  it('drops Authorization and Cookie, not Host, from wss: down to ws: on the same host; keeps them from ws: up to wss:', () => {
    const secure = new RedirectCredentials(new URL('wss://a.example/'), HEADERS);
    assert.deepEqual(secure.headersFor(new URL('ws://a.example/'), 'u:p'), { Host: 'h.example', 'X-Other': 'x' });
    const plain = new RedirectCredentials(new URL('ws://a.example/'), HEADERS);
    // As in `ws`: URL.host leaves default ports out, so ws://a.example and wss://a.example are one host.
    assert.deepEqual(plain.headersFor(new URL('wss://a.example/'), undefined), HEADERS);
  });

  it('turns auth into Authorization: Basic, unless one is set; the first one sticks', () => {
    const credentials = new RedirectCredentials(new URL('ws://a.example/'), { 'X-Other': 'x' });
    assert.deepEqual(credentials.headersFor(new URL('ws://a.example/'), undefined), { 'X-Other': 'x' });
    assert.deepEqual(credentials.headersFor(new URL('ws://a.example/'), 'ü:p'), { 'X-Other': 'x', authorization: `Basic ${Buffer.from('ü:p').toString('base64')}` });
    assert.deepEqual(credentials.headersFor(new URL('ws://a.example/'), 'other:one'), { 'X-Other': 'x', authorization: `Basic ${Buffer.from('ü:p').toString('base64')}` });
    assert.deepEqual(credentials.headersFor(new URL('ws://b.example/'), 'other:one'), { 'X-Other': 'x' });
    const withHeader = new RedirectCredentials(new URL('ws://a.example/'), { Authorization: 'Bearer t' });
    assert.deepEqual(withHeader.headersFor(new URL('ws://a.example/'), 'u:p'), { Authorization: 'Bearer t' });
    const empty = new RedirectCredentials(new URL('ws://a.example/'), undefined);
    assert.deepEqual(empty.headersFor(new URL('ws://a.example/'), ''), {});
  });

  it('does not change the headers object it was given', () => {
    const given = { Cookie: 'c=1' };
    new RedirectCredentials(new URL('ws://a.example/'), given).headersFor(new URL('ws://a.example/'), 'u:p');
    assert.deepEqual(given, { Cookie: 'c=1' });
  });
});

describe('userinfoOf', () => {
  it('percent-decodes user and password, keeps a malformed escape as written, undefined without userinfo', () => {
    assert.equal(userinfoOf(new URL('ws://us%20er:p%3Ass@h/')), 'us er:p:ss');
    assert.equal(userinfoOf(new URL('ws://user@h/')), 'user:');
    assert.equal(userinfoOf(new URL('ws://:pw@h/')), ':pw');
    assert.equal(userinfoOf(new URL('ws://u%zz:p@h/')), 'u%zz:p');
    assert.equal(userinfoOf(new URL('ws://h/')), undefined);
  });
});

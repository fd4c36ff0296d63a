/**
 * `fullduplex` usage: help for the tool and each command (exit 0, on stdout), mistakes on the command
 * line (exit 2, usage on stderr). A few cases run the real process (source and bin); the table of
 * mistakes runs in-process through the same dispatcher.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runCli } from '../../src/cli/dispatch.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import type { Output } from '../../src/cli/output.js';
import { killAll, root, runCliProcess, startBin } from './cli-process.js';

after(killAll);

async function runInProcess(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const output: Output = {
    log: (line) => {
      stdout += `${line}\n`;
    },
    error: (line) => {
      stderr += `${line}\n`;
    },
  };
  const code = await runCli(args, output);
  return { code, stdout, stderr };
}

describe('fullduplex --help and --version', () => {
  it('--help prints the commands and exit codes on stdout and exits 0', async () => {
    const result = await runCliProcess('--help');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Usage: fullduplex <command>/);
    assert.match(result.stdout, /serve/);
    assert.match(result.stdout, /connect/);
    assert.match(result.stdout, /Exit codes:[\s\S]*0 {2}success[\s\S]*1 {2}failure[\s\S]*2 {2}usage error/);
    assert.equal(result.stderr, '');
  });

  it('each command has its own help, with exit codes, also as "help <command>"', async () => {
    for (const args of [['serve', '--help'], ['serve', '-h'], ['help', 'serve']]) {
      const result = await runInProcess(...args);
      assert.equal(result.code, ExitCode.Ok, args.join(' '));
      assert.match(result.stdout, /^Usage: fullduplex serve --mode echo/);
      assert.match(result.stdout, /default 127\.0\.0\.1/);
      assert.match(result.stdout, /Exit codes:/);
    }
    for (const args of [['connect', '--help'], ['connect', '-h'], ['help', 'connect']]) {
      const result = await runInProcess(...args);
      assert.equal(result.code, ExitCode.Ok, args.join(' '));
      assert.match(result.stdout, /^Usage: fullduplex connect URL --echo/);
      assert.match(result.stdout, /Exit codes:/);
    }
  });

  it('connect --help runs as a process and exits 0', async () => {
    const result = await runCliProcess('connect', '--help');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /-s, --subprotocol PROTOCOL/);
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string };
    const result = await runInProcess('--version');
    assert.equal(result.code, ExitCode.Ok);
    assert.equal(result.stdout, `${version}\n`);
  });

  it('bin/fullduplex.mjs (what npx fullduplex runs) runs the CLI', async () => {
    const result = await startBin('--help').exit();
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Usage: fullduplex <command>/);
  });
});

describe('fullduplex usage errors', () => {
  it('an unknown flag exits 2 with the usage on stderr', async () => {
    const result = await runCliProcess('serve', '--mode', 'echo', '--bogus');
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^fullduplex serve: .*--bogus/);
    assert.match(result.stderr, /Usage: fullduplex serve/);
  });

  it('an unknown command exits 2 with the tool usage on stderr', async () => {
    const result = await runCliProcess('frobnicate');
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^fullduplex: unknown command "frobnicate"/);
    assert.match(result.stderr, /Usage: fullduplex <command>/);
  });

  const mistakes: Array<{ args: string[]; message: RegExp; usage: RegExp }> = [
    { args: [], message: /^fullduplex: a command is required/, usage: /Usage: fullduplex <command>/ },
    { args: ['--bogus'], message: /^fullduplex: unknown option "--bogus"/, usage: /Usage: fullduplex <command>/ },
    { args: ['help', 'nope'], message: /^fullduplex: unknown command "nope"/, usage: /Usage: fullduplex <command>/ },
    { args: ['serve'], message: /^fullduplex serve: --mode is required/, usage: /Usage: fullduplex serve/ },
    { args: ['serve', '--mode', 'shout'], message: /--mode must be one of: echo, broadcast, chat, inspector \(got "shout"\)/, usage: /Usage: fullduplex serve/ },
    { args: ['serve', '--mode'], message: /^fullduplex serve: .*--mode/, usage: /Usage: fullduplex serve/ },
    { args: ['serve', '--mode', 'echo', '--port', '65536'], message: /--port must be a whole number from 0 to 65535/, usage: /Usage: fullduplex serve/ },
    { args: ['serve', '--mode', 'echo', '--port', '80a'], message: /--port must be a whole number/, usage: /Usage: fullduplex serve/ },
    { args: ['serve', '--mode', 'echo', '--port', '-1'], message: /^fullduplex serve: /, usage: /Usage: fullduplex serve/ },
    { args: ['serve', '--mode', 'echo', '--host', ''], message: /--host must not be empty/, usage: /Usage: fullduplex serve/ },
    { args: ['serve', '--mode', 'echo', 'extra'], message: /^fullduplex serve: .*extra/, usage: /Usage: fullduplex serve/ },
    { args: ['connect', '--echo'], message: /^fullduplex connect: the URL to connect to is missing/, usage: /Usage: fullduplex connect/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '--echo', '-x', 'hi'], message: /--echo and -x cannot be used together/, usage: /Usage: fullduplex connect/ },
    { args: ['connect', 'ws://a/', 'ws://b/', '--echo'], message: /unexpected argument "ws:\/\/b\/"/, usage: /Usage: fullduplex connect/ },
    { args: ['connect', 'not a url', '--echo'], message: /^fullduplex connect: Invalid URL/, usage: /Usage: fullduplex connect/ },
    { args: ['connect', 'ftp://example.com/', '--echo'], message: /^fullduplex connect: .*protocol/, usage: /Usage: fullduplex connect/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '--echo', '-s', 'bad protocol'], message: /^fullduplex connect: /, usage: /Usage: fullduplex connect/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '--echo', '-s', 'chat', '-s', 'chat'], message: /^fullduplex connect: /, usage: /Usage: fullduplex connect/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '--echo', '-s'], message: /^fullduplex connect: /, usage: /Usage: fullduplex connect/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '--echo', '--bogus'], message: /^fullduplex connect: .*--bogus/, usage: /Usage: fullduplex connect/ },
  ];
  for (const { args, message, usage } of mistakes) {
    it(`"fullduplex ${args.join(' ')}" exits 2 and explains`, async () => {
      const result = await runInProcess(...args);
      assert.equal(result.code, ExitCode.Usage);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, message);
      assert.match(result.stderr, usage);
    });
  }
});

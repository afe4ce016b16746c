import { describe, expect, it } from 'vitest';
import { readAnswer, readHead, requestHead } from '../../src/client/http1.js';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('the HTTP/1.1 reader of the client', () => {
  it('reads status, lower-cased headers and a content-length body, and says when the body is short', () => {
    const answer = readAnswer(
      b('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}'),
    );
    expect(answer).toEqual({
      head: { status: 404, headers: { 'content-type': 'application/json', 'content-length': '7' } },
      body: b('{"a":1}'),
      complete: true,
    });
    expect(readAnswer(b('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{"a"'))?.complete).toBe(false);
  });

  it('de-chunks a chunked body and says when the last chunk never came', () => {
    const head = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n';
    expect(readAnswer(b(`${head}3\r\nabc\r\na\r\n0123456789\r\n0\r\n\r\n`))).toMatchObject({
      body: b('abc0123456789'),
      complete: true,
    });
    expect(readAnswer(b(`${head}3\r\nabc\r\n`))?.complete).toBe(false);
  });

  it('needs the whole head, and an HTTP/1.x status line', () => {
    expect(readHead(b('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n'))).toBeUndefined();
    expect(readAnswer(b('hello, I am not aiboxd\r\n\r\n'))).toBeUndefined();
    expect(readHead(b('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nrest'))).toEqual({
      head: { status: 101, headers: { upgrade: 'websocket' } },
      bodyAt: 56,
    });
  });

  it('writes a request head with the host and the headers given', () => {
    expect(requestHead('POST', '/v1/sandboxes', { 'content-length': 2 })).toBe(
      'POST /v1/sandboxes HTTP/1.1\r\nhost: aiboxd\r\ncontent-length: 2\r\n\r\n',
    );
  });
});

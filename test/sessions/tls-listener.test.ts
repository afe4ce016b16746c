import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import Fastify from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  installTokenAuth,
  startNetworkListener,
  type NetworkListener,
} from '../../src/daemon/http/token-auth.js';
import { SessionsConfig } from '../../src/sessions/index.js';
import { TokenStore } from '../../src/tokens/index.js';
import { scratch } from './helpers.js';

describe('the network listener with TLS', () => {
  let s: Awaited<ReturnType<typeof scratch>>;
  let listener: NetworkListener;
  let ca: Buffer;
  let token: string;
  const app = Fastify();
  beforeAll(async () => {
    s = await scratch();
    const cert = path.join(s.base, 'cert.pem');
    const key = path.join(s.base, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(cert);
    const tokens = await TokenStore.open(path.join(s.base, 'state'));
    token = (await tokens.create({ name: 't' })).token;
    installTokenAuth(app, () => tokens);
    app.get('/v1/sessions', { config: { tokenScope: 'sessions' } }, async (request) => ({
      who: request.principal?.name,
    }));
    await app.ready();
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(p));
      });
    });
    listener = await startNetworkListener(
      app,
      { enabled: true, host: '127.0.0.1', port, dashboard: false, tls: { cert, key } },
      pino({ level: 'silent' }),
    );
  });
  afterAll(async () => {
    await listener?.close();
    await app.close();
    await s?.done();
  });

  const get = (bearer: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.get(
        `${listener.url}/v1/sessions`,
        { ca, headers: { authorization: `Bearer ${bearer}` } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
    });

  it('serves HTTPS with the given certificate and authenticates the bearer token', async () => {
    expect(listener.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await get(token)).toEqual({ status: 200, body: '{"who":"t"}' });
    expect((await get('nope')).status).toBe(401);
  });

  it('does not speak plain HTTP on a TLS listener', async () => {
    const plain = await fetch(listener.url.replace('https:', 'http:') + '/v1/sessions').then(
      (r) => r.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);
  });

  it('refuses a non-loopback listener without TLS at load', () => {
    expect(SessionsConfig.safeParse({ listener: { enabled: true, host: '0.0.0.0' } }).success).toBe(false);
    expect(
      SessionsConfig.safeParse({
        listener: { enabled: true, host: '0.0.0.0', tls: { cert: '/c', key: '/k' } },
      }).success,
    ).toBe(true);
    expect(SessionsConfig.safeParse({ listener: { enabled: true } }).success).toBe(true);
  });
});

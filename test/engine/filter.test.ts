import { describe, expect, it } from 'vitest';
import { decideCreate, decideRequest } from '../../src/engine/index.js';

const allowed = (m: string, t: string) => {
  const d = decideRequest(m, t);
  return d.allow ? d.path : undefined;
};
const codeOf = (m: string, t: string) => {
  const d = decideRequest(m, t);
  if (d.allow) return 'allowed';
  return 'inspectCreate' in d ? 'inspect' : d.code;
};

describe('the engine front filter', () => {
  it('lets ping, version, info and the image endpoints through, with or without version and libpod prefixes', () => {
    for (const [m, t] of [
      ['GET', '/_ping'],
      ['HEAD', '/libpod/_ping'],
      ['GET', '/v4.3.1/libpod/version'],
      ['GET', '/v1.41/info'],
      ['GET', '/v4.3.1/libpod/images/json?all=false'],
      ['GET', '/v4.3.1/libpod/images/localhost/app:1/json'],
      ['GET', '/v4.3.1/libpod/images/localhost/app:1/exists'],
      ['GET', '/images/app/history'],
      ['POST', '/v4.3.1/libpod/images/localhost/app:1/tag?repo=localhost/app&tag=2'],
      ['POST', '/v4.3.1/libpod/images/app/untag'],
      ['DELETE', '/v4.3.1/libpod/images/localhost/app:1?force=false'],
      ['POST', '/v4.3.1/libpod/images/localhost%2Fapp:1/tag?repo=localhost/app&tag=2'],
      ['POST', '/v4.3.1/libpod/images/pull?reference=localhost/app:1&policy=missing'],
    ] as const)
      expect(decodeURIComponent(allowed(m, t) ?? ''), `${m} ${t}`).toBe(decodeURIComponent(t));
  });

  it('marks info (Docker and libpod, any version prefix) as answered by the front', () => {
    const answer = (t: string) => {
      const d = decideRequest('GET', t);
      return d.allow ? d.answer : 'inspectCreate' in d ? 'inspect' : d.code;
    };
    expect(answer('/info')).toBe('docker-info');
    expect(answer('/v1.41/info')).toBe('docker-info');
    expect(answer('/v4.3.1/libpod/info')).toBe('libpod-info');
    expect(answer('/libpod/info')).toBe('libpod-info');
    expect(answer('/version')).toBeUndefined();
    expect(codeOf('POST', '/info')).toBe('ENGINE_ENDPOINT_REFUSED');
  });

  it('forwards a build with chroot isolation, whatever isolation the client asked for', () => {
    const p = allowed(
      'POST',
      '/v4.3.1/libpod/build?t=localhost%2Fapp&isolation=oci&dockerfile=Containerfile',
    );
    expect(p).toBeDefined();
    const q = new URLSearchParams(p!.split('?')[1]);
    expect(q.getAll('isolation')).toEqual(['chroot']);
    expect(q.get('t')).toBe('localhost/app');
    expect(new URLSearchParams(allowed('POST', '/build')!.split('?')[1]).get('isolation')).toBe('chroot');
  });

  it("forwards a build with the engine's proxy environment passed into RUN steps, even when the client turned it off", () => {
    for (const t of [
      '/build',
      '/v4.3.1/libpod/build?httpproxy=false',
      '/v1.41/build?httpproxy=0&httpproxy=1',
    ]) {
      const q = new URLSearchParams(allowed('POST', t)!.split('?')[1]);
      expect(q.getAll('httpproxy'), t).toEqual(['true']);
    }
  });

  it('refuses builds that mount paths or devices, or use the host network, each with its code', () => {
    expect(codeOf('POST', '/v4.3.1/libpod/build?volume=%2Fetc%3A%2Fx')).toBe('ENGINE_MOUNT_REFUSED');
    expect(codeOf('POST', '/build?devices=%2Fdev%2Ffuse')).toBe('ENGINE_MOUNT_REFUSED');
    expect(codeOf('POST', '/build?outputs=type%3Dlocal%2Cdest%3D%2F')).toBe('ENGINE_MOUNT_REFUSED');
    expect(codeOf('POST', '/build?networkmode=host')).toBe('ENGINE_HOST_NETWORK_REFUSED');
    expect(codeOf('POST', '/build?networkmode=HOST')).toBe('ENGINE_HOST_NETWORK_REFUSED');
    // Empty lists as the client sends them are not mounts.
    expect(codeOf('POST', '/build?volume=&devices=%5B%5D')).toBe('allowed');
    // `output` is the image's name (`-t`), not an export.
    expect(codeOf('POST', '/v4.3.1/libpod/build?output=localhost%2Fapp%3A1&t=localhost%2Fapp%3A1')).toBe(
      'allowed',
    );
  });

  it('refuses every container and exec endpoint as a run, and inspects a create body', () => {
    expect(codeOf('POST', '/v4.3.1/libpod/containers/create')).toBe('inspect');
    expect(codeOf('POST', '/v1.41/containers/create?name=x')).toBe('inspect');
    for (const t of [
      '/v4.3.1/libpod/containers/abc/start',
      '/v4.3.1/libpod/containers/json',
      '/containers/abc/attach',
      '/exec/abc/start',
      '/v4.3.1/libpod/pods/create',
      '/v4.3.1/libpod/play/kube',
    ])
      expect(codeOf(t.includes('json') ? 'GET' : 'POST', t), t).toBe('ENGINE_RUN_UNSUPPORTED');
  });

  it('refuses any other endpoint, and paths that try to escape the match', () => {
    for (const [m, t] of [
      ['POST', '/v4.3.1/libpod/images/pull?reference=x'],
      ['POST', '/v4.3.1/libpod/images/pull?reference=x&policy=always'],
      ['GET', '/v4.3.1/libpod/images/a%2F..%2F..%2Fcontainers/json'],
      ['GET', '/v4.3.1/libpod/images/a%252e%252e/json'],
      ['GET', '/v4.3.1/libpod/images/./json'],
      ['POST', '/images/create?fromImage=x'],
      ['POST', '/v4.3.1/libpod/images/load'],
      ['GET', '/v4.3.1/libpod/images/app/get'],
      ['POST', '/v4.3.1/libpod/volumes/create'],
      ['GET', '/v4.3.1/libpod/events'],
      ['POST', '/v4.3.1/libpod/system/prune'],
      ['POST', '/v4.3.1/libpod/secrets/create'],
      ['GET', '/images/../containers/json'],
      ['GET', '/images/%2e%2e/containers/json'],
      ['GET', '/v4.3.1/libpod/images/a%2Fb/json/../../../containers/json'],
      ['GET', '//_ping'],
      ['GET', 'http://engine/_ping'],
      ['PUT', '/_ping'],
    ] as const)
      expect(codeOf(m, t), `${m} ${t}`).toBe('ENGINE_ENDPOINT_REFUSED');
  });

  it('gives a create its code by what it asks: a path mount, privileged, host network, else the run itself', () => {
    expect(decideCreate({ HostConfig: { Binds: ['/etc:/host-etc'] } }).code).toBe('ENGINE_MOUNT_REFUSED');
    expect(decideCreate({ mounts: [{ type: 'bind', source: '/', destination: '/h' }] }).code).toBe(
      'ENGINE_MOUNT_REFUSED',
    );
    expect(decideCreate({ HostConfig: { Mounts: [{ Type: 'bind', Source: '/' }] } }).code).toBe(
      'ENGINE_MOUNT_REFUSED',
    );
    expect(decideCreate({ HostConfig: { Devices: [{ PathOnHost: '/dev/kmsg' }] } }).code).toBe(
      'ENGINE_MOUNT_REFUSED',
    );
    expect(decideCreate({ HostConfig: { Privileged: true } }).code).toBe('ENGINE_PRIVILEGED_REFUSED');
    expect(decideCreate({ privileged: true, image: 'x' }).code).toBe('ENGINE_PRIVILEGED_REFUSED');
    expect(decideCreate({ HostConfig: { NetworkMode: 'host' } }).code).toBe('ENGINE_HOST_NETWORK_REFUSED');
    expect(decideCreate({ netns: { nsmode: 'host' } }).code).toBe('ENGINE_HOST_NETWORK_REFUSED');
    // A named volume is not a path; a plain run is refused as a run.
    expect(decideCreate({ HostConfig: { Binds: ['data:/data'] } }).code).toBe('ENGINE_RUN_UNSUPPORTED');
    expect(decideCreate({ image: 'localhost/app:1', command: ['true'] }).code).toBe('ENGINE_RUN_UNSUPPORTED');
    expect(decideCreate(undefined).code).toBe('ENGINE_RUN_UNSUPPORTED');
    expect(decideCreate('not json').code).toBe('ENGINE_RUN_UNSUPPORTED');
  });
});

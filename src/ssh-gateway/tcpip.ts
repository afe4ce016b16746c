import type { ServerChannel, TcpipRequestInfo } from 'ssh2';
import { messageOf } from '../shared/index.js';
import { refusalText, type ConnectionContext } from './context.js';
import { isSandboxLoopback, relayArgv } from './forwarding.js';
import type { ExecSession } from './ports.js';

const RELAY_BASH = '/bin/bash';
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A direct-tcpip channel (`ssh -L`): allowed only to the sandbox's own loopback, carried by a relay process started
 * inside the sandbox. The channel is confirmed only once the relay reports the connection up; a closed port
 * inside the sandbox becomes an ordinary "connect failed" for the client.
 */
export async function handleDirectTcpip(
  ctx: ConnectionContext,
  info: TcpipRequestInfo,
  accept: () => ServerChannel,
  reject: () => void,
): Promise<void> {
  const target = `${info.destIP}:${info.destPort}`;
  if (!isSandboxLoopback(info.destIP)) {
    ctx.record({
      action: 'ssh.forward',
      outcome: 'refused',
      reason: `forwarding to ${target} is refused: only ports on the sandbox's own localhost can be forwarded`,
      detail: { target },
    });
    return reject();
  }
  const argv = relayArgv(RELAY_BASH, info.destIP, info.destPort);
  const decision = await ctx.decide('forward', argv, target);
  if (!decision.allow) {
    ctx.record({
      action: 'ssh.forward',
      outcome: 'refused',
      reason: refusalText(decision),
      detail: { target },
    });
    return reject();
  }

  let exec: ExecSession;
  try {
    exec = await ctx.executor.exec(ctx.sandbox, { cmd: argv, env: {} });
  } catch (err) {
    ctx.logger.warn({ err: messageOf(err), target }, 'could not start the forwarding relay');
    return reject();
  }
  if (!(await relayConnected(exec))) {
    exec.close();
    ctx.record({
      action: 'ssh.forward',
      outcome: 'refused',
      reason: `nothing accepts connections on ${target} inside the sandbox`,
      detail: { target },
    });
    return reject();
  }
  const forget = ctx.track(exec);
  ctx.record({ action: 'ssh.forward', outcome: 'allowed', detail: { target } });

  const channel = accept();
  exec.stdin.on('error', () => undefined);
  channel.pipe(exec.stdin);
  exec.stdout.pipe(channel);
  exec.stderr.resume();
  channel.on('close', () => {
    exec.close();
    forget();
  });
  void exec.exit
    .catch(() => undefined)
    .finally(() => {
      forget();
    });
}

/** Waits for the relay's one-byte "connected" mark on stderr, or its exit (connection refused). */
function relayConnected(exec: ExecSession): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(false), CONNECT_TIMEOUT_MS);
    const onData = () => finish(true);
    function finish(ok: boolean): void {
      clearTimeout(timer);
      exec.stderr.off('data', onData);
      if (!ok) exec.stderr.resume();
      resolve(ok);
    }
    exec.stderr.once('data', onData);
    exec.exit.then(
      () => finish(false),
      () => finish(false),
    );
  });
}

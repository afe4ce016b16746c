import { isIP } from 'node:net';

/**
 * `ssh -L` is how VS Code reaches its server, so direct-tcpip is allowed, but only to the sandbox's own loopback:
 * the connection is made from inside the sandbox by a relay process, so it can never reach the host or the network
 * through the gateway. Any other destination is refused before anything runs.
 */
export function isSandboxLoopback(host: string): boolean {
  const h = host.trim().toLowerCase();
  if (h === 'localhost' || h === 'localhost.' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/**
 * The relay run inside the sandbox for one forwarded connection. It connects on the sandbox's own loopback and
 * writes one byte on stderr once connected, so the gateway confirms the channel only then (a closed port becomes an
 * ordinary "connect failed" for the client). The client's bytes are its stdin, the server's its stdout.
 * Perl (perl-base is part of every Debian image) does it properly, passing the client's EOF on as a half-close;
 * without perl, bash's /dev/tcp does it without the half-close.
 */
const PERL_RELAY = `
use strict; use IO::Socket::IP; use IO::Select;
my $s = IO::Socket::IP->new(PeerHost => $ARGV[0], PeerPort => $ARGV[1], Proto => 'tcp') or exit 111;
syswrite(STDERR, '+');
my $sel = IO::Select->new(\\*STDIN, $s);
sub put { my ($fh, $buf) = @_; while (length $buf) { my $w = syswrite($fh, $buf); exit 0 unless defined $w; substr($buf, 0, $w) = ''; } }
while (my @ready = $sel->can_read) {
  for my $fh (@ready) {
    my $buf; my $n = sysread($fh, $buf, 65536);
    if ($fh == $s) { exit 0 unless $n; put(\\*STDOUT, $buf); }
    elsif (!$n) { $sel->remove(\\*STDIN); shutdown($s, 1); }
    else { put($s, $buf); }
  }
}
`;

export const RELAY_SCRIPT = [
  'if command -v perl >/dev/null 2>&1; then exec perl -e "$3" "$1" "$2"; fi',
  'exec 3<>"/dev/tcp/$1/$2" || exit 111',
  "printf '+' >&2",
  'cat >&3 <&0 &',
  'w=$!',
  'cat <&3',
  'kill "$w" 2>/dev/null',
  'exit 0',
].join('\n');

/** bash runs the relay; `aibox-relay` becomes $0 so the process is recognisable in `ps`. */
export function relayArgv(bash: string, host: string, port: number): string[] {
  // Never let the sandbox's own /etc/hosts decide where "localhost" goes.
  const h = host.trim().toLowerCase();
  const target = h === 'localhost' || h === 'localhost.' ? '127.0.0.1' : h.includes(':') ? '::1' : h;
  return [bash, '-c', RELAY_SCRIPT, 'aibox-relay', target, String(port), PERL_RELAY];
}

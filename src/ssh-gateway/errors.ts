import { defineErrors } from '../shared/index.js';

export const sshErrors = defineErrors({
  SSH_KEY_INVALID: {
    status: 400,
    hint: 'Pass an OpenSSH public key file (one line such as `ssh-ed25519 AAAA… you@host`), e.g. ~/.ssh/id_ed25519.pub.',
  },
  SSH_KEY_IS_PRIVATE: {
    status: 400,
    hint: 'That is a private key: never hand it over. Pass the matching `.pub` file instead.',
  },
  SSH_KEY_EXISTS: {
    status: 409,
    hint: 'This key is already registered; `aibox ssh-key list` shows it.',
  },
  SSH_KEY_NOT_FOUND: {
    status: 404,
    hint: 'Name a key by its fingerprint (SHA256:…) or comment as `aibox ssh-key list` prints it.',
  },
  SSH_KEY_AMBIGUOUS: {
    status: 409,
    hint: 'Several keys share that comment: remove one by its fingerprint (SHA256:…).',
  },
  SSH_KEY_STORE_CORRUPT: {
    status: 500,
    hint: 'The registered-keys file in the state directory is not valid JSON; fix or delete it and re-add your keys.',
  },
  SSH_HOST_KEY_UNREADABLE: {
    status: 500,
    hint: 'The gateway host key in the state directory is unreadable or malformed; move it away and restart aiboxd to create a new one (then re-run `aibox ssh-config --write`).',
  },
  SSH_GATEWAY_LISTEN_FAILED: {
    status: 500,
    hint: 'Another process holds the port: stop it or set `sshGateway.port` in the daemon config (and re-run `aibox ssh-config --write`).',
  },
  SSH_SANDBOX_GONE: {
    status: 409,
    hint: 'The sandbox stopped; start it again with `aibox start` and reconnect.',
  },
  SSH_GATEWAY_DISABLED: {
    status: 409,
    hint: 'Enable the gateway with `sshGateway.enabled: true` in the daemon config and restart aiboxd.',
  },
});

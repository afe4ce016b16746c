/** Shared pieces of the egress manager's integration tests: a logger that says nothing, and ports already taken. */
import { PortReservations } from '../../../src/egress/ports.js';

export const silent = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silent;
  },
};

/** Hands out the given ports first (as if another process took them between the probe and Squid's bind). */
export class TakenFirst extends PortReservations {
  constructor(private readonly taken: number[]) {
    super();
  }
  override async reserve(address: string): Promise<number> {
    return this.taken.shift() ?? super.reserve(address);
  }
}

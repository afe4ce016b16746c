import { inspect } from 'node:util';

const MASK = '[REDACTED]';

/**
 * A secret that cannot be logged by accident: printing, JSON-encoding or inspecting it yields `[REDACTED]`. The raw
 * string leaves only through `reveal()`, which callers use at the moment they write it into an outgoing header.
 */
export class SecretValue {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  equals(other: string): boolean {
    return this.#value === other;
  }

  toString(): string {
    return MASK;
  }

  toJSON(): string {
    return MASK;
  }

  [inspect.custom](): string {
    return MASK;
  }
}

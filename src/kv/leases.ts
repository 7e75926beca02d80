/**
 * What this process knows of the leases it holds: their versionstamps, so settling and
 * extending can check them in one commit without reading them first.
 *
 * @module
 */
import type { Delivery } from "../backend.ts";
import { type Envelope, envelopeProblem } from "../envelope.ts";
import { type Lease, makeRef } from "./keys.ts";

/** A lease as last written by this process. */
export interface HeldLease {
  versionstamp: string;
  lease: Lease;
}

/** The leases this backend instance made or extended, by group, stream and sequence number. */
export class LeaseBook {
  #held = new Map<string, HeldLease>();

  /** The lease held on a delivery, if this instance made it. */
  get(group: string, stream: string, seq: number): HeldLease | undefined {
    return this.#held.get(id(group, stream, seq));
  }

  /** Records a lease written with `versionstamp`. */
  set(group: string, stream: string, seq: number, held: HeldLease): void {
    this.#held.set(id(group, stream, seq), held);
  }

  /** Forgets a lease (settled or lost). */
  delete(group: string, stream: string, seq: number): void {
    this.#held.delete(id(group, stream, seq));
  }
}

function id(group: string, stream: string, seq: number): string {
  return `${group}\u0000${stream}\u0000${seq}`;
}

/** Makes the delivery of a stored entry, marking it malformed when it is not an envelope. */
export function toDelivery(
  stream: string,
  seq: number,
  token: string,
  attempt: number,
  value: unknown,
): Delivery {
  const ref = makeRef(seq, token);
  const reason = envelopeProblem(value);
  if (reason !== undefined) return { stream, ref, attempt, malformed: { reason, raw: value } };
  return { stream, ref, attempt, envelope: value as Envelope };
}

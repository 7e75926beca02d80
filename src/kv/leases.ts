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

/** The leases this backend instance wrote last, by group, stream and lease key. */
export class LeaseBook {
  #held = new Map<string, HeldLease>();

  /** The lease as this instance last wrote it, if it did. */
  get(group: string, stream: string, lease: number, token: string): HeldLease | undefined {
    return this.#held.get(id(group, stream, lease, token));
  }

  /** Records a lease written with `versionstamp`. */
  set(group: string, stream: string, lease: number, held: HeldLease): void {
    this.#held.set(id(group, stream, lease, held.lease.t), held);
  }

  /** Forgets a lease (settled, lost, or rewritten elsewhere). */
  delete(group: string, stream: string, lease: number, token: string): void {
    this.#held.delete(id(group, stream, lease, token));
  }
}

function id(group: string, stream: string, lease: number, token: string): string {
  return `${group}\u0000${stream}\u0000${lease}\u0000${token}`;
}

/** Makes the delivery of a stored entry, marking it malformed when it is not an envelope. */
export function toDelivery(
  stream: string,
  lease: number,
  seq: number,
  token: string,
  attempt: number,
  value: unknown,
): Delivery {
  const ref = makeRef(lease, seq, token);
  const reason = envelopeProblem(value);
  if (reason !== undefined) return { stream, ref, attempt, malformed: { reason, raw: value } };
  return { stream, ref, attempt, envelope: value as Envelope };
}

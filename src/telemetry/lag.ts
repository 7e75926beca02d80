/**
 * The backend numbers the gauges need: how far a group is behind on a stream, and the age of the
 * oldest event it has not claimed. Backends that can tell implement {@linkcode LAG} (a symbol, so
 * it stays off the `Backend` contract until the inspection interface carries these numbers).
 *
 * @module
 */

/** Where a group stands on a stream. */
export interface Lag {
  /** Events on the stream the group has not claimed yet. */
  lag: number;
  /** The publish time of the oldest of them, in milliseconds since the epoch. */
  oldestMs?: number;
}

/** The method a backend implements to report {@linkcode Lag}. */
export const LAG: unique symbol = Symbol.for("herald.lag");

/** A backend that reports lag. */
export interface LagReader {
  /** Where `group` stands on `stream`. */
  [LAG](group: string, stream: string): Promise<Lag>;
}

/** The lag reader of a backend, when it has one. */
export function lagReader(backend: object): LagReader | undefined {
  return typeof (backend as Partial<LagReader>)[LAG] === "function"
    ? backend as LagReader
    : undefined;
}

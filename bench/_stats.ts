/**
 * Latency percentiles.
 *
 * @module
 */

/** Percentiles of a set of latencies, in milliseconds. */
export interface Percentiles {
  /** How many samples. */
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** Computes p50, p99 and max of `values` (sorted in place). */
export function percentiles(values: Float64Array): Percentiles {
  values.sort();
  const at = (q: number) =>
    values.length === 0 ? NaN : values[Math.min(values.length - 1, Math.floor(q * values.length))];
  return { n: values.length, p50: at(0.5), p99: at(0.99), max: at(1) };
}

/** A growable list of numbers. */
export class Samples {
  #data = new Float64Array(1024);
  #n = 0;

  /** Adds one sample. */
  push(v: number): void {
    if (this.#n === this.#data.length) {
      const next = new Float64Array(this.#data.length * 2);
      next.set(this.#data);
      this.#data = next;
    }
    this.#data[this.#n++] = v;
  }

  /** How many samples. */
  get length(): number {
    return this.#n;
  }

  /** The samples' percentiles; with `keys`, only of samples whose key is at least `from`. */
  percentiles(keys?: Samples, from = -Infinity): Percentiles {
    if (!keys) return percentiles(this.#data.slice(0, this.#n));
    const kept = new Float64Array(this.#n);
    let n = 0;
    for (let i = 0; i < this.#n; i++) if (keys.at(i) >= from) kept[n++] = this.#data[i];
    return percentiles(kept.subarray(0, n));
  }

  /** The sample at `i`. */
  at(i: number): number {
    return this.#data[i];
  }
}

/** The middle value of `xs` (the upper one of an even count); `xs` is left as it was. */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

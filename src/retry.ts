/**
 * The retry policy: exponential backoff with jitter, then a dead letter.
 *
 * @module
 */

/** How a failing handler is retried. */
export interface RetryPolicy {
  /**
   * How many deliveries in all before the event is dead-lettered.
   * @default {5}
   */
  attempts: number;
  /**
   * The wait after the first failure, in milliseconds.
   * @default {1000}
   */
  baseMs: number;
  /**
   * The longest wait, in milliseconds.
   * @default {300000}
   */
  maxMs: number;
  /**
   * How much each wait grows.
   * @default {2}
   */
  factor: number;
  /**
   * The share of each wait that is random, from 0 (none) to 1, so that many consumers failing
   * together do not retry in lockstep.
   * @default {0.2}
   */
  jitter: number;
}

/** The policy used where a handler and its worker set none. */
export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({
  attempts: 5,
  baseMs: 1_000,
  maxMs: 300_000,
  factor: 2,
  jitter: 0.2,
});

/**
 * The wait before the next delivery after `attempt` failed.
 *
 * @param policy The retry policy.
 * @param attempt The delivery that failed, from 1.
 * @param random A number in [0, 1); `Math.random()` unless given.
 * @returns The wait in milliseconds.
 *
 * @example
 * ```ts
 * import { backoff, DEFAULT_RETRY } from "@herald/herald";
 * const policy = { ...DEFAULT_RETRY, jitter: 0 };
 * console.log(backoff(policy, 1), backoff(policy, 2), backoff(policy, 3)); // 1000 2000 4000
 * ```
 */
export function backoff(
  policy: RetryPolicy,
  attempt: number,
  random: number = Math.random(),
): number {
  const raw = Math.min(policy.maxMs, policy.baseMs * policy.factor ** Math.max(0, attempt - 1));
  return Math.round(raw * (1 - policy.jitter) + raw * policy.jitter * random);
}

/** Checks a (partial) policy; returns one sentence per problem. */
export function retryProblems(where: string, policy: Partial<RetryPolicy> | undefined): string[] {
  if (policy === undefined) return [];
  const problems: string[] = [];
  const positiveInt = (name: keyof RetryPolicy, min: number) => {
    const v = policy[name];
    if (v !== undefined && (!Number.isInteger(v) || v < min)) {
      problems.push(`${where}.${name} must be an integer ≥ ${min}`);
    }
  };
  positiveInt("attempts", 1);
  positiveInt("baseMs", 0);
  positiveInt("maxMs", 0);
  if (policy.factor !== undefined && !(policy.factor >= 1)) {
    problems.push(`${where}.factor must be ≥ 1`);
  }
  if (policy.jitter !== undefined && !(policy.jitter >= 0 && policy.jitter <= 1)) {
    problems.push(`${where}.jitter must be between 0 and 1`);
  }
  return problems;
}

/**
 * The longest time from an event's first delivery to its last under `policy`: every backoff at
 * its longest, and every attempt holding its lease until it expires.
 */
export function redeliveryHorizonMs(policy: RetryPolicy, leaseMs: number): number {
  let total = policy.attempts * leaseMs;
  for (let attempt = 1; attempt < policy.attempts; attempt++) {
    total += Math.min(policy.maxMs, policy.baseMs * policy.factor ** (attempt - 1));
  }
  return total;
}

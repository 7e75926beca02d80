/**
 * Signing and verifying push wake-ups with the Standard Webhooks scheme (npm `standardwebhooks`):
 * headers `webhook-id`, `webhook-timestamp` and `webhook-signature`, an HMAC-SHA256 over
 * `id.timestamp.body`, and a five-minute tolerance on the timestamp.
 *
 * @module
 */
import { Webhook } from "standardwebhooks";

/** What a wake-up says: which group should drain, and the streams that got events. */
export interface PushPayload {
  /** The consumer group to wake. */
  group: string;
  /** The streams that got events since the last wake-up. */
  streams: string[];
}

/** How long a signed wake-up stays valid either side of its timestamp (the library's rule). */
export const TOLERANCE_MS = 5 * 60_000;

/** What is wrong with a push secret, or `undefined` when the library accepts it. */
export function secretProblem(secret: unknown): string | undefined {
  if (typeof secret !== "string" || secret.length === 0) {
    return "the push secret must be a non-empty string (whsec_ and base64)";
  }
  try {
    const raw = secret.startsWith("whsec_") ? secret.slice(6) : secret;
    if (atob(raw).length < 16) return "the push secret must hold at least 16 bytes";
    new Webhook(secret);
  } catch {
    return "the push secret must be whsec_ followed by base64";
  }
  return undefined;
}

/** The headers and body of a signed wake-up. */
export function signPush(
  secret: string,
  payload: PushPayload,
  now = new Date(),
): { headers: Record<string, string>; body: string } {
  const body = JSON.stringify(payload);
  const id = `msg_${crypto.randomUUID()}`;
  const signature = new Webhook(secret).sign(id, now, body);
  return {
    body,
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": signature,
    },
  };
}

/**
 * Verifies a wake-up: signature and timestamp.
 *
 * @returns its id and payload, or the reason it was refused.
 */
export function verifyPush(
  secret: string,
  headers: Headers,
  body: string,
): { id: string; payload: PushPayload } | { refused: string } {
  const wanted = ["webhook-id", "webhook-timestamp", "webhook-signature"];
  const h: Record<string, string> = {};
  for (const name of wanted) h[name] = headers.get(name) ?? "";
  try {
    const payload = new Webhook(secret).verify(body, h) as Partial<PushPayload>;
    if (typeof payload?.group !== "string" || !Array.isArray(payload.streams)) {
      return { refused: "the payload is not a wake-up" };
    }
    return { id: h["webhook-id"], payload: payload as PushPayload };
  } catch (err) {
    return { refused: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * The CloudEvents attributes of Herald's envelope as an AsyncAPI message's `headers` schema.
 *
 * @module
 */
import type { EventContract } from "../contract.ts";

/** A JSON Schema object (draft 7, which AsyncAPI schemas extend). */
export type JsonSchema = Record<string, unknown>;

const text = (description: string): JsonSchema => ({ type: "string", description });

/**
 * The envelope's attributes beside `data`, for one contract: `type` and `stream` fixed to the
 * contract's, `dataversion` to its version when above 1.
 */
export function envelopeHeaders(contract: EventContract): JsonSchema {
  const properties: Record<string, JsonSchema> = {
    specversion: { type: "string", const: "1.0", description: "CloudEvents spec version." },
    id: text("Time-sortable unique event id."),
    source: text("The service that published the event."),
    type: { type: "string", const: contract.type, description: "The event type." },
    time: { type: "string", format: "date-time", description: "When it was published." },
    datacontenttype: { type: "string", const: "application/json" },
    stream: { type: "string", const: contract.stream, description: "Herald: the stream." },
    key: text("Herald: the ordering key; events of one key are handled in order."),
    traceparent: text("W3C trace context of the publisher."),
    correlationid: text("Herald: the id of the first event of the chain."),
    causationid: text("Herald: the id of the event whose handler published this one."),
  };
  const required = ["specversion", "id", "source", "type", "time", "stream", "correlationid"];
  if (contract.version > 1) {
    properties.dataversion = {
      type: "integer",
      const: contract.version,
      description: "Herald: the payload's contract version; older events are upcast.",
    };
  } else {
    properties.dataversion = {
      type: "integer",
      minimum: 1,
      description: "Herald: the payload's contract version (absent means 1).",
    };
  }
  return { type: "object", properties, required };
}

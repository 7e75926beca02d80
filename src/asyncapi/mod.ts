/**
 * AsyncAPI 3.0 from Herald's event contracts: `createAsyncApi({ contracts, info, servers })`
 * describes every stream as a channel and every event type as a message, its payload the zod
 * schema as JSON Schema and its headers the envelope's CloudEvents attributes. Serve the document
 * as JSON, or give it to AsyncAPI Studio and generators.
 *
 * @example The example app's contracts
 * ```ts ignore
 * import * as contracts from "./services/contracts/mod.ts";
 * import { createAsyncApi } from "@herald/herald/asyncapi";
 *
 * const doc = createAsyncApi({
 *   contracts,
 *   info: { title: "Herald example app", version: "1.0.0" },
 *   servers: { redis: { host: "localhost:6379", protocol: "redis" } },
 * });
 * await Deno.writeTextFile("asyncapi.json", JSON.stringify(doc, null, 2));
 * ```
 *
 * @module
 */
export {
  type AsyncApiDocument,
  type AsyncApiInfo,
  type AsyncApiOptions,
  type AsyncApiServer,
  createAsyncApi,
} from "./document.ts";

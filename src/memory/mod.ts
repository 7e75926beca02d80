/**
 * The in-memory backend.
 *
 * @module
 */
export { createMemoryBackend, type MemoryBackend, type MemoryOptions } from "./backend.ts";

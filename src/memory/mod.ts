/**
 * The in-memory backend.
 *
 * @module
 */
export { memory, MemoryBackend, type MemoryOptions } from "./backend.ts";

/**
 * The in-memory backend.
 *
 * @module
 */
export { memory, MemoryBackend } from "./backend.ts";

/**
 * The in-memory backend.
 *
 * @module
 */
export { createMemoryBackend, type MemoryBackend } from "./backend.ts";

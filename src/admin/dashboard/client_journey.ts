/**
 * The dashboard script's journey view, as browser JavaScript text.
 *
 * @module
 */

/** Browser JavaScript; joined with the core and the views in `script.ts`. */
export const CLIENT_JOURNEY = String.raw`
var journeyView;
`;

/**
 * The dashboard's script: plain browser JavaScript in one strict-mode function, from the text
 * modules beside this one. No framework, no build step, nothing from elsewhere.
 *
 * @module
 */
import { CLIENT_CORE } from "./client_core.ts";
import { CLIENT_JOURNEY } from "./client_journey.ts";
import { CLIENT_VIEWS } from "./client_views.ts";

/** The script the page loads. */
export const SCRIPT = `(function () {
"use strict";
${CLIENT_CORE}
${CLIENT_VIEWS}
${CLIENT_JOURNEY}
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
})();
`;

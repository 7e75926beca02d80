/**
 * The dashboard script's foundations, as browser JavaScript text: building elements (text is
 * always set as text, never parsed as markup), formatting, the admin API client with the token
 * from `sessionStorage`, the Server-Sent Events reader over `fetch`, and the confirm dialog.
 *
 * @module
 */

/** Browser JavaScript; joined with the views in `script.ts`. */
export const CLIENT_CORE = String.raw`
var TOKEN_KEY = "herald.token";
var BASE = new URL(".", location.href);
var state = { access: null, view: null };

/* h("tag", { class, href, on: { click }, data: { x } }, children...): children that are strings
   become text nodes, so data never turns into markup. */
function h(tag, attrs) {
  var el = document.createElement(tag);
  var a = attrs || {};
  Object.keys(a).forEach(function (k) {
    var v = a[k];
    if (v === undefined || v === null || v === false) return;
    if (k === "on") Object.keys(v).forEach(function (e) { el.addEventListener(e, v[e]); });
    else if (k === "data") Object.keys(v).forEach(function (d) { el.dataset[d] = String(v[d]); });
    else if (k === "text") el.textContent = String(v);
    else if (k === "href") el.setAttribute("href", safeHref(String(v)));
    else el.setAttribute(k, v === true ? "" : String(v));
  });
  for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
  return el;
}
function append(el, child) {
  if (child === undefined || child === null || child === false) return;
  if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
  el.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
}
/* Only links inside the dashboard. */
function safeHref(href) { return href.charAt(0) === "#" ? href : "#/"; }
function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
function hashOf(parts) { return "#/" + parts.map(encodeURIComponent).join("/"); }

function ago(iso) {
  if (!iso) return "—";
  return duration(Date.now() - Date.parse(iso)) + " ago";
}
function duration(ms) {
  if (ms === undefined || ms === null || isNaN(ms)) return "—";
  var a = Math.abs(ms), s = ms < 0 ? "-" : "";
  if (a < 1000) return s + Math.round(a) + " ms";
  if (a < 60000) return s + (a / 1000).toFixed(a < 10000 ? 1 : 0) + " s";
  if (a < 3600000) return s + Math.round(a / 60000) + " min";
  if (a < 86400000) return s + (a / 3600000).toFixed(1) + " h";
  return s + (a / 86400000).toFixed(1) + " d";
}
function when(iso) {
  if (!iso) return "—";
  var d = new Date(iso);
  return isNaN(d.getTime()) ? String(iso) : d.toISOString().replace("T", " ").replace("Z", "");
}
function num(n) { return typeof n === "number" ? n.toLocaleString("en") : "—"; }
function json(v) {
  try { return JSON.stringify(v, null, 2); } catch (_) { return String(v); }
}

function status(text, kind) {
  var el = document.getElementById("status");
  el.textContent = text;
  el.className = "status " + (kind || "info");
  clearTimeout(status.timer);
  status.timer = setTimeout(function () { el.textContent = ""; el.className = "status"; }, 6000);
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }
function ApiError(res, body) {
  this.status = res.status;
  this.message = (body && body.error) || ("HTTP " + res.status);
}
/* Calls the admin API with the token; a 401 signs out. */
function api(path, init) {
  var opts = init || {};
  var headers = new Headers(opts.headers);
  headers.set("authorization", "Bearer " + token());
  if (opts.body !== undefined) headers.set("content-type", "application/json");
  return fetch(new URL(path, BASE), {
    method: opts.method || "GET",
    headers: headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
  }).then(function (res) {
    return res.json().catch(function () { return null; }).then(function (body) {
      if (res.status === 401) { signOut("Your token was refused: sign in again."); }
      if (!res.ok) throw new ApiError(res, body);
      return body;
    });
  });
}
function p(name) { return encodeURIComponent(name); }

/* Server-Sent Events over fetch, so the token goes in a header rather than the URL. Calls
   onEvent(name, data) for each event, and reconnects after an error until signal aborts. */
function live(path, signal, onEvent, onState) {
  var wait = 500;
  function connect() {
    if (signal.aborted) return;
    fetch(new URL(path, BASE), {
      headers: { authorization: "Bearer " + token(), accept: "text/event-stream" },
      signal: signal,
    }).then(function (res) {
      if (res.status === 401) { signOut("Your token was refused: sign in again."); return; }
      if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
      onState(true);
      wait = 500;
      return read(res.body.pipeThrough(new TextDecoderStream()).getReader(), onEvent);
    }).catch(function () {}).then(function () {
      if (signal.aborted) return;
      onState(false);
      setTimeout(connect, wait);
      wait = Math.min(wait * 2, 10000);
    });
  }
  connect();
}
function read(reader, onEvent) {
  var buffer = "";
  function pump() {
    return reader.read().then(function (r) {
      if (r.done) return;
      buffer += r.value.replace(/\r\n?/g, "\n");
      var end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        dispatch(buffer.slice(0, end), onEvent);
        buffer = buffer.slice(end + 2);
      }
      return pump();
    });
  }
  return pump();
}
function dispatch(block, onEvent) {
  var name = "message", data = [];
  block.split("\n").forEach(function (line) {
    var i = line.indexOf(":");
    var field = i < 0 ? line : line.slice(0, i);
    var value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  });
  if (data.length === 0) return;
  try { onEvent(name, JSON.parse(data.join("\n"))); } catch (_) { /* not JSON: ignored */ }
}

/* Asks before an action: resolves with the dialog's field values, or null when cancelled. */
function confirmAction(title, text, fields) {
  var dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  append(clear(document.getElementById("confirm-fields")), fields || []);
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise(function (resolve) {
    dialog.addEventListener("close", function () {
      if (dialog.returnValue !== "ok") return resolve(null);
      var values = {};
      dialog.querySelectorAll("#confirm-fields [name]").forEach(function (f) {
        if ((f.type === "radio" || f.type === "checkbox") && !f.checked) return;
        values[f.name] = f.value;
      });
      resolve(values);
    }, { once: true });
  });
}
/* Confirms, runs the action, reports what it did, and refreshes the view. */
function act(title, text, fields, run) {
  return confirmAction(title, text, fields).then(function (values) {
    if (!values) return;
    return run(values).then(function (message) {
      status(message, "ok");
      route();
    }, function (err) { status(err.message, "error"); });
  });
}
function canWrite() { return state.access === "write"; }
`;

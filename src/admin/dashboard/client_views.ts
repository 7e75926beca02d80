/**
 * The dashboard script's views, as browser JavaScript text: sign-in, the overview (streams, and
 * groups updated live), a group's dead letters, a stream's events, and the router.
 *
 * @module
 */

/** Browser JavaScript; joined with the core in `script.ts`. */
export const CLIENT_VIEWS = String.raw`
function signIn(message) {
  document.getElementById("nav").hidden = true;
  var input = h("input", { type: "password", name: "token", id: "token", required: true,
    autocomplete: "current-password", "aria-label": "Admin token" });
  var note = h("p", { class: "note", id: "login-note" }, message || "");
  var form = h("form", { class: "login", id: "login", on: { submit: function (e) {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    api("./").then(function (info) {
      state.access = info.access;
      route();
    }, function (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      note.textContent = err.status === 401 ? "That token was refused." : err.message;
    });
  } } },
    h("h1", null, "Sign in"),
    h("p", null, "Paste the admin token (or the read-only token). It is kept in this tab only."),
    h("label", { for: "token" }, "Token"), input,
    h("button", { type: "submit" }, "Sign in"), note);
  show(form);
  input.focus();
}
function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.access = null;
  signIn(message);
}

/* Replaces the main area; stops what the previous view was following. */
function show(node) {
  if (state.view) state.view.abort();
  state.view = new AbortController();
  append(clear(document.getElementById("main")), node);
  return state.view.signal;
}
function section(title, extra) {
  return h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", null, title),
    extra));
}
function table(heads, rows, empty) {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h("div", { class: "scroll" }, h("table", null,
    h("thead", null, h("tr", null, heads.map(function (t) { return h("th", null, t); }))),
    h("tbody", null, rows)));
}
function cell(label, content, field) {
  return h("td", { "data-label": label, data: field ? { field: field } : null }, content);
}

function overview() {
  var streams = section("Streams");
  var badge = h("span", { class: "live", id: "live" }, "connecting…");
  var groups = section("Groups", badge);
  var body = h("div", { id: "groups" });
  groups.appendChild(body);
  var signal = show(h("div", { class: "grid" }, streams, groups));
  api("streams").then(function (r) { streams.appendChild(streamTable(r.streams)); },
    function (err) { status(err.message, "error"); });
  live("groups/live", signal, function (name, data) {
    if (name !== "groups") return;
    badge.textContent = "live · " + new Date().toLocaleTimeString("en-GB");
    append(clear(body), groupTable(data.groups));
  }, function (up) {
    badge.className = up ? "live on" : "live off";
    if (!up) badge.textContent = "reconnecting…";
  });
}
function streamTable(streams) {
  return table(["Stream", "Events", "First", "Last", "Retention"], streams.map(function (s) {
    var r = s.retention || {};
    var keep = [r.maxLength ? num(r.maxLength) + " events" : null,
      r.maxAgeMs ? duration(r.maxAgeMs) : null].filter(Boolean).join(", ") || "everything";
    return h("tr", { data: { stream: s.stream } },
      cell("Stream", h("a", { href: hashOf(["stream", s.stream]) }, s.stream)),
      cell("Events", num(s.length), "length"), cell("First", when(s.firstTime)),
      cell("Last", when(s.lastTime)), cell("Retention", keep));
  }), "No streams yet.");
}
function groupTable(groups) {
  return table(["Group", "Stream", "Lag", "Pending", "Oldest pending", "Dead", "Consumers", ""],
    groups.map(function (g) {
      var consumers = g.consumers.map(function (c) { return c.name + " (" + ago(c.lastSeen) + ")"; });
      return h("tr", { data: { group: g.group, stream: g.stream } },
        cell("Group", g.group), cell("Stream", g.stream),
        cell("Lag", num(g.lag), "lag"), cell("Pending", num(g.pending), "pending"),
        cell("Oldest pending", g.oldestPendingMs === undefined ? "—" : duration(g.oldestPendingMs)),
        cell("Dead", h("a", { href: hashOf(["dead", g.group]), class: g.deadLetters ? "warn" : "" },
          num(g.deadLetters)), "dead"),
        cell("Consumers", consumers.join(", ") || "—"),
        cell("", canWrite() ? h("div", { class: "actions" },
          h("button", { type: "button", data: { action: "reset" }, on: { click: function () { resetGroup(g); } } }, "Reset"),
          h("button", { type: "button", class: "danger", data: { action: "delete" }, on: { click: function () { deleteGroup(g); } } }, "Delete")) : ""));
    }), "No consumer groups yet.");
}
function resetGroup(g) {
  var to = h("select", { name: "to" }, ["earliest", "latest", "time", "event"].map(function (v) {
    return h("option", { value: v }, v === "event" ? "an event id" : v === "time" ? "a time" : v);
  }));
  var arg = h("input", { name: "arg", placeholder: "2026-12-01T00:00:00Z or an event id" });
  act("Reset " + g.group, "Move where group \"" + g.group + "\" reads stream \"" + g.stream +
    "\" next. Replaying hands events to its handlers again.", [h("label", null, "To ", to), arg],
    function (v) {
      var target = v.to === "event" ? { eventId: v.arg } : v.to === "time" ? v.arg : v.to;
      return api("groups/" + p(g.group) + "/reset", { method: "POST",
        body: { stream: g.stream, to: target } }).then(function () {
        return "Group " + g.group + " reset on " + g.stream + ".";
      });
    });
}
function deleteGroup(g) {
  act("Delete " + g.group, "Delete group \"" + g.group + "\" on stream \"" + g.stream +
    "\" with its leases and retries. Stop its workers first, or they create it again.", null,
    function () {
      return api("groups/" + p(g.group) + "?stream=" + p(g.stream), { method: "DELETE" })
        .then(function () { return "Group " + g.group + " deleted on " + g.stream + "."; });
    });
}

function deadView(group) {
  var list = h("div", { id: "dead-list" });
  var bulk = canWrite() ? h("div", { class: "actions" },
    h("button", { type: "button", data: { action: "redrive-all" }, on: { click: function () { redrive(group, null); } } }, "Redrive all"),
    h("button", { type: "button", class: "danger", data: { action: "purge-all" }, on: { click: function () { purge(group, null); } } }, "Purge all")) : null;
  var card = section("Dead letters of " + group, bulk);
  card.appendChild(list);
  show(card);
  page(null);
  function page(after) {
    api("groups/" + p(group) + "/dead?limit=50" + (after ? "&after=" + p(after) : ""))
      .then(function (r) {
        if (!after && r.deadLetters.length === 0) append(list, h("p", { class: "empty" }, "No dead letters."));
        append(list, r.deadLetters.map(function (d) { return deadCard(group, d); }));
        if (r.next) append(list, h("button", { type: "button", class: "quiet", on: { click: function (e) { e.target.remove(); page(r.next); } } }, "More"));
      }, function (err) { status(err.message, "error"); });
  }
}
function deadCard(group, d) {
  var e = d.envelope;
  return h("article", { class: "letter", data: { id: d.id } },
    h("div", { class: "letter-head" },
      h("strong", null, e ? e.type : "(not an event)"), " ",
      h("code", null, d.id), " ",
      h("span", { class: "muted" }, "on " + d.stream + " · " + d.attempts + " attempt(s) · dead " + ago(d.at))),
    h("p", { class: "error" }, h("strong", null, d.error.name + ": "), d.error.message),
    h("details", null, h("summary", null, "Payload"), h("pre", { class: "payload" }, json(e ? e.data : d.raw))),
    d.error.stack ? h("details", null, h("summary", null, "Stack"), h("pre", null, d.error.stack)) : null,
    d.error.issues ? h("details", null, h("summary", null, "Issues"), h("pre", null, json(d.error.issues))) : null,
    h("div", { class: "actions" },
      e ? h("a", { href: hashOf(["journey", e.id]), class: "button quiet" }, "Journey") : null,
      canWrite() ? h("button", { type: "button", data: { action: "redrive" }, on: { click: function () { redrive(group, [d.id]); } } }, "Redrive") : null,
      canWrite() ? h("button", { type: "button", class: "danger", data: { action: "purge" }, on: { click: function () { purge(group, [d.id]); } } }, "Purge") : null));
}
function redrive(group, ids) {
  act("Redrive", (ids ? "Deliver dead letter " + ids[0] : "Deliver every dead letter") +
    " of group \"" + group + "\" again, with a fresh attempt count.", null, function () {
    return api("groups/" + p(group) + "/redrive", { method: "POST", body: ids ? { ids: ids } : { all: true } })
      .then(function (r) { return r.moved + " dead letter(s) redriven."; });
  });
}
function purge(group, ids) {
  act("Purge", (ids ? "Delete dead letter " + ids[0] : "Delete every dead letter") +
    " of group \"" + group + "\" for good.", null, function () {
    return api("groups/" + p(group) + "/purge", { method: "POST", body: ids ? { ids: ids } : { all: true } })
      .then(function (r) { return r.purged + " dead letter(s) purged."; });
  });
}

function streamView(stream) {
  var list = h("div", { id: "events" });
  var card = section("Events of " + stream);
  card.appendChild(list);
  show(card);
  page(null);
  function page(after) {
    api("streams/" + p(stream) + "/events?limit=50" + (after ? "&after=" + p(after) : ""))
      .then(function (r) {
        if (!after && r.events.length === 0) append(list, h("p", { class: "empty" }, "No events."));
        append(list, r.events.map(eventCard));
        if (r.events.length === 50) append(list, h("button", { type: "button", class: "quiet", on: { click: function (e) { e.target.remove(); page(r.next); } } }, "More"));
      }, function (err) { status(err.message, "error"); });
  }
}
function eventCard(ev) {
  var e = ev.envelope;
  if (!e) return h("article", { class: "letter" }, h("strong", null, "(not an event) at " + ev.position),
    h("pre", { class: "payload" }, json(ev.raw)));
  return h("article", { class: "letter", data: { id: e.id } },
    h("div", { class: "letter-head" }, h("strong", null, e.type), " ", h("code", null, e.id), " ",
      h("span", { class: "muted" }, "from " + e.source + " · " + when(e.time) + (e.key ? " · key " + e.key : ""))),
    h("details", null, h("summary", null, "Payload"), h("pre", { class: "payload" }, json(e.data))),
    h("div", { class: "actions" }, h("a", { href: hashOf(["journey", e.id]), class: "button quiet" }, "Journey")));
}

function route() {
  if (!token()) return signIn();
  if (!state.access) {
    return api("./").then(function (info) { state.access = info.access; route(); },
      function (err) { if (err.status !== 401) status(err.message, "error"); });
  }
  document.getElementById("nav").hidden = false;
  document.getElementById("access").textContent = state.access === "write" ? "read & write" : "read only";
  var parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "dead" && parts[1]) return deadView(parts[1]);
  if (parts[0] === "stream" && parts[1]) return streamView(parts[1]);
  if (parts[0] === "journey" && parts[1]) return journeyView(parts[1]);
  overview();
}
function start() {
  document.getElementById("logout").addEventListener("click", function () { signOut("Signed out."); });
  document.getElementById("find").addEventListener("submit", function (e) {
    e.preventDefault();
    var id = e.target.elements.id.value.trim();
    if (id) location.hash = hashOf(["journey", id]);
  });
  window.addEventListener("hashchange", route);
  route();
}
`;

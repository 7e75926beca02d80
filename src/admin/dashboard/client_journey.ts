/**
 * The dashboard script's journey view, as browser JavaScript text: one request followed across
 * services, as the tree of events it caused, each with the groups it reached.
 *
 * @module
 */

/** Browser JavaScript; joined with the core and the views in `script.ts`. */
export const CLIENT_JOURNEY = String.raw`
function journeyView(id) {
  var card = section("Journey");
  show(card);
  api("journeys/" + p(id)).then(function (j) {
    card.appendChild(h("p", { class: "muted" }, "Correlation ", h("code", null, j.correlationId),
      " · " + j.count + " event(s)" + (j.truncated ? " · more were not read" : "")));
    card.appendChild(h("ul", { class: "tree root", id: "journey" },
      j.roots.map(function (n) { return hop(n, id); })));
  }, function (err) {
    card.appendChild(h("p", { class: "error" }, err.message));
  });
}
function hop(node, focus) {
  var e = node.envelope;
  var timing = node.afterCauseMs === undefined ? when(e.time)
    : "+" + duration(node.afterCauseMs) + " after its cause";
  return h("li", { class: "hop" + (e.id === focus ? " focus" : ""), data: { id: e.id, type: e.type } },
    h("div", { class: "letter-head" }, h("strong", null, e.type), " ", h("code", null, e.id), " ",
      h("span", { class: "muted" }, "on ", h("a", { href: hashOf(["stream", e.stream]) }, e.stream),
        " · from " + e.source + " · " + timing)),
    h("div", { class: "reach" }, node.reached.length === 0
      ? h("span", { class: "muted" }, "No group reads " + e.stream + ".")
      : node.reached.map(function (r) { return reach(r, e); })),
    h("details", null, h("summary", null, "Payload"), h("pre", { class: "payload" }, json(e.data))),
    node.caused.length ? h("ul", { class: "tree" }, node.caused.map(function (c) { return hop(c, focus); })) : null);
}
function reach(r, e) {
  var bits = [r.group + ": " + r.state];
  if (r.attempt !== undefined) bits.push("attempt " + r.attempt);
  if (r.at && r.state === "dead") bits.push("+" + duration(Date.parse(r.at) - Date.parse(e.time)));
  if (r.at && r.state === "retrying") bits.push("next " + when(r.at));
  var chip = h("span", { class: "state " + r.state, data: { group: r.group, state: r.state },
    title: r.error ? r.error.name + ": " + r.error.message : null }, bits.join(" · "));
  if (r.state !== "dead") return chip;
  return h("a", { href: hashOf(["dead", r.group]), class: "chip-link" }, chip);
}
`;

// Selecting an event (click, or Tab then Enter) classifies every other
// event by comparing vector clocks, which is what they are for: `a`
// happened before `b` when every entry of a's clock is at most b's and the
// clocks differ. The causal past gets the class `past`, the future
// `future`, concurrent events `concurrent` (dimmed). Escape clears it.
(function () {
  "use strict";
  var groups = Array.prototype.slice.call(document.querySelectorAll("svg .event"));
  var events = groups.map(function (g) {
    return { g: g, name: g.getAttribute("data-name"), host: g.getAttribute("data-host"),
             clock: JSON.parse(g.getAttribute("data-clock")), text: "" };
  });
  var byName = {};
  events.forEach(function (e) {
    var title = e.g.querySelector("title");
    e.text = title ? title.textContent.split("\n").slice(1).join("\n") : "";
    byName[e.name] = e;
    e.g.setAttribute("tabindex", "0");
  });
  var messages = Array.prototype.slice.call(document.querySelectorAll("svg .message"));
  var info = document.getElementById("info");
  var CLASSES = ["selected", "past", "future", "concurrent"];

  // -1: a happened before b, 1: after, 0: concurrent, 2: same clock.
  function compare(a, b) {
    var less = false, more = false, k;
    for (k in a) { if (a[k] > (b[k] || 0)) { more = true; } else if (a[k] < (b[k] || 0)) { less = true; } }
    for (k in b) { if (!(k in a)) { less = true; } }
    if (less && !more) { return -1; }
    if (more && !less) { return 1; }
    return less ? 0 : 2;
  }

  function relation(e, selected) {
    if (e === selected) { return "selected"; }
    var c = compare(e.clock, selected.clock);
    return c === -1 ? "past" : c === 1 ? "future" : "concurrent";
  }

  function clear() {
    groups.concat(messages).forEach(function (el) {
      CLASSES.forEach(function (c) { el.classList.remove(c); });
    });
    document.body.classList.remove("has-selection");
    info.textContent = "Click an event: its causal past turns blue, its future orange, and events concurrent with it fade.";
  }

  function clockText(clock) {
    return "{" + Object.keys(clock).map(function (k) { return JSON.stringify(k) + ":" + clock[k]; }).join(", ") + "}";
  }

  function select(selected) {
    clear();
    document.body.classList.add("has-selection");
    var counts = { past: 0, future: 0, concurrent: 0 };
    events.forEach(function (e) {
      var r = relation(e, selected);
      e.g.classList.add(r);
      if (r in counts) { counts[r] += 1; }
    });
    messages.forEach(function (m) {
      var s = byName[m.getAttribute("data-send")], r = byName[m.getAttribute("data-receive")];
      var a = relation(s, selected), b = relation(r, selected);
      if ((a === "past" || a === "selected") && (b === "past" || b === "selected")) {
        m.classList.add("past");
      } else if ((a === "future" || a === "selected") && (b === "future" || b === "selected")) {
        m.classList.add("future");
      } else {
        m.classList.add("concurrent");
      }
    });
    info.textContent = "";
    var head = document.createElement("strong");
    head.id = "selected-name";
    head.textContent = selected.name + " (" + selected.host + ")";
    var clock = document.createElement("code");
    clock.id = "selected-clock";
    clock.textContent = clockText(selected.clock);
    var rest = document.createElement("span");
    rest.textContent = " " + selected.text + " \u2014 " + counts.past + " before, " +
      counts.future + " after, " + counts.concurrent + " concurrent (Esc clears)";
    info.appendChild(head);
    info.appendChild(document.createTextNode(" clock "));
    info.appendChild(clock);
    info.appendChild(rest);
  }

  document.addEventListener("click", function (ev) {
    var g = ev.target.closest ? ev.target.closest(".event") : null;
    if (g) { select(events[groups.indexOf(g)]); } else if (!ev.target.closest("#info")) { clear(); }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { clear(); }
    if (ev.key === "Enter" && document.activeElement && document.activeElement.classList &&
        document.activeElement.classList.contains("event")) {
      select(events[groups.indexOf(document.activeElement)]);
    }
  });
  clear();
})();

/* sopdesk: keyboard shortcuts, live countdowns and the CSRF header for htmx.
   First-party, no inline script anywhere (the CSP allows script-src 'self' only). */
(function () {
  "use strict";

  function typing(event) {
    var el = event.target;
    var tag = el && el.tagName ? el.tagName.toLowerCase() : "";
    return tag === "input" || tag === "textarea" || tag === "select" || (el && el.isContentEditable);
  }

  function dialog() { return document.getElementById("shortcuts"); }

  function toggleHelp(show) {
    var box = dialog();
    if (!box) { return; }
    box.hidden = !show;
    if (show) { box.querySelector("button").focus(); }
  }

  /* inbox: j/k move a highlighted row, Enter opens it, / focuses search */
  var current = -1;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("[data-case-row]")); }
  function move(delta) {
    var list = rows();
    if (!list.length) { return; }
    if (current >= 0 && list[current]) { list[current].classList.remove("is-current"); }
    current = Math.max(0, Math.min(list.length - 1, current + delta));
    var row = list[current];
    row.classList.add("is-current");
    var link = row.querySelector("a");
    if (link) { link.focus({ preventScroll: true }); }
    row.scrollIntoView({ block: "nearest" });
  }
  function openCurrent() {
    var list = rows();
    var link = current >= 0 && list[current] ? list[current].querySelector("a") : null;
    if (link) { window.location.assign(link.getAttribute("href")); }
  }

  function focusField(id) {
    var field = document.getElementById(id);
    if (!field) { return; }
    var details = field.closest("details");
    if (details) { details.open = true; }
    field.scrollIntoView({ block: "center" });
    field.focus();
  }

  function resolve() {
    var button = document.getElementById("resolve-button");
    if (button) { button.focus(); button.click(); }
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var box = dialog();
    if (event.key === "Escape" && box && !box.hidden) { toggleHelp(false); return; }
    if (typing(event)) { return; }
    var page = document.body.getAttribute("data-shortcuts");
    if (!page) { return; }
    if (event.key === "?") { toggleHelp(box ? box.hidden : false); event.preventDefault(); return; }
    if (page === "inbox") {
      if (event.key === "j") { move(1); event.preventDefault(); }
      else if (event.key === "k") { move(-1); event.preventDefault(); }
      else if (event.key === "Enter" && current >= 0) { openCurrent(); event.preventDefault(); }
      else if (event.key === "/") { focusField("search"); event.preventDefault(); }
    } else if (page === "case") {
      if (event.key === "r") { focusField("reply-text"); event.preventDefault(); }
      else if (event.key === "n") { focusField("note-text"); event.preventDefault(); }
      else if (event.key === "e") { resolve(); event.preventDefault(); }
    }
  }

  /* countdowns: every <time data-countdown> says "in 2 h 5 min" / "overdue by 10 min" */
  function span(seconds) {
    var minutes = Math.floor(seconds / 60);
    var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), mins = minutes % 60;
    if (days) { return hours ? days + " d " + hours + " h" : days + " d"; }
    if (hours) { return mins ? hours + " h " + mins + " min" : hours + " h"; }
    return mins + " min";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("datetime"));
      if (isNaN(due)) { return; }
      var seconds = Math.round((due - now) / 1000);
      el.textContent = seconds >= 0 ? "in " + span(seconds) : "overdue by " + span(-seconds);
      el.classList.toggle("overdue", seconds < 0);
    });
  }

  /* htmx requests made with the session cookie carry the page's CSRF token */
  function csrfHeader(event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    var ctx = event.detail && event.detail.ctx;
    var request = ctx && ctx.request;
    if (!meta || !request) { return; }
    if (request.headers instanceof Headers) { request.headers.set("X-CSRF-Token", meta.content); }
    else if (request.headers) { request.headers["X-CSRF-Token"] = meta.content; }
  }

  document.addEventListener("keydown", onKey);
  document.addEventListener("htmx:config:request", csrfHeader);
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-shortcuts]")) { toggleHelp(false); }
  });
  document.addEventListener("DOMContentLoaded", function () { tick(); window.setInterval(tick, 30000); });
})();

// Show every <time datetime> in the reader's own time zone. The server renders UTC text,
// so the page is still correct with JavaScript off and is identical for every reader (cacheable).
// One clock for every reader: 24-hour, as the server's UTC text is, whatever the locale's habit (no AM/PM).
(function () {
  "use strict";
  var dateTime = new Intl.DateTimeFormat(undefined, {
    day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    timeZoneName: "short",
  });
  var timeOnly = new Intl.DateTimeFormat(undefined, {
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short",
  });

  function localise(root) {
    // "Checked" is when this browser last heard from the server: the page itself is the same for everyone.
    root.querySelectorAll("time[data-checked]:not([datetime])").forEach(function (el) {
      el.setAttribute("datetime", new Date().toISOString());
    });
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      if (el.hasAttribute("data-relative")) {
        el.textContent = timeOnly.format(when);
      } else {
        el.textContent = (el.dataset.format === "time" ? timeOnly : dateTime).format(when);
      }
      el.title = when.toISOString();
    });
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    root.querySelectorAll("[data-tz-name]").forEach(function (el) {
      if (zone) el.textContent = "your time zone (" + zone + ")";
    });
  }

  // A poll that finds nothing new answers 204 and swaps nothing: still tell the reader we checked,
  // and say so plainly when the status page itself cannot be reached.
  function markChecked(event) {
    var live = document.getElementById("live");
    if (!live || !event.detail.elt || event.detail.elt.id !== "live") return;
    var stamp = live.querySelector("time[data-relative]");
    var note = live.querySelector("[data-connection]");
    if (event.detail.successful) {
      if (stamp) { stamp.setAttribute("datetime", new Date().toISOString()); localise(stamp.parentNode); }
      if (note) note.hidden = true;
    } else if (note) {
      note.hidden = false;
    }
  }

  document.addEventListener("DOMContentLoaded", function () { localise(document); });
  document.addEventListener("htmx:afterRequest", markChecked);
  document.addEventListener("htmx:sendError", markChecked);
  document.addEventListener("htmx:afterSwap", function (event) { localise(event.target.parentNode || document); });
})();

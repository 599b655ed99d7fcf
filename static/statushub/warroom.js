// The war room: the acknowledgement clock and the promise countdown tick every second between the
// console's live refreshes (which redraw them from the server every few seconds).
(function () {
  "use strict";
  function short(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    if (h) return h + " h " + pad(m) + " min";
    return m ? m + " min " + pad(s) + " s" : s + " s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".clock[data-running]").forEach(function (clock) {
      var elapsed = (now - Date.parse(clock.dataset.detected)) / 1000;
      var target = Number(clock.dataset.targetSeconds);
      var figure = clock.querySelector("[data-clock-elapsed]");
      if (figure) figure.textContent = short(elapsed);
      var state = elapsed < target / 2 ? "ok" : elapsed <= target ? "amber" : "red";
      clock.classList.remove("clock--ok", "clock--amber", "clock--red");
      clock.classList.add("clock--" + state);
    });
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = (Date.parse(el.dataset.countdown) - now) / 1000;
      var figure = el.querySelector("[data-countdown-left]");
      if (figure && left > 0) figure.textContent = short(left);
    });
  }
  setInterval(tick, 1000);
})();

// Compose screen: quote an engineer's note into the draft in one click.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.quote");
    if (!button) return;
    var body = document.getElementById("id_body");
    if (!body) return;
    var quoted = button.dataset.quote.split("\n").map(function (line) { return "> " + line; }).join("\n");
    var text = quoted + "\n> — " + button.dataset.author + ", engineering\n\n";
    var at = body.selectionStart != null ? body.selectionStart : body.value.length;
    body.value = body.value.slice(0, at) + text + body.value.slice(at);
    body.focus();
    body.selectionStart = body.selectionEnd = at + text.length;
    // Let htmx autosave pick the change up like typed text.
    body.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();

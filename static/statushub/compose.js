// Compose screen: quote an engineer's note into the draft in one click.
(function () {
  "use strict";
  document.addEventListener("focusin", function (event) {
    if (event.target.id === "id_body") event.target.dataset.touched = "1";
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.quote, button.fact");
    if (!button) return;
    var body = document.getElementById("id_body");
    if (!body) return;
    var text;
    if (button.classList.contains("fact")) {
      // A fact from the situation panel, as a sentence of the update.
      text = button.dataset.fact + " ";
    } else {
      var quoted = button.dataset.quote.split("\n").map(function (line) { return "> " + line; }).join("\n");
      text = quoted + "\n>\n> — " + button.dataset.author + ", engineering\n\n";
    }
    // At the cursor if the writer has been in the textarea; otherwise after what is already written.
    var at = body.dataset.touched ? body.selectionStart : body.value.length;
    // A quote is its own paragraph: separate it from the text before it.
    var before = body.value.slice(0, at);
    if (button.classList.contains("fact")) {
      if (before && !/\s$/.test(before)) text = " " + text;
    } else if (before && !/\n\n$/.test(before)) text = (/\n$/.test(before) ? "\n" : "\n\n") + text;
    body.value = body.value.slice(0, at) + text + body.value.slice(at);
    body.focus();
    body.selectionStart = body.selectionEnd = at + text.length;
    // Let htmx autosave pick the change up like typed text.
    body.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();

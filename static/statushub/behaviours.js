// Small behaviours the templates ask for with data- attributes: the Content-Security-Policy runs no inline
// script and no on*= handler, so they live here.
(function () {
  "use strict";
  // <input data-select-on-click>: a secret shown once is selected whole, ready to copy.
  document.addEventListener("click", function (event) {
    var field = event.target.closest("[data-select-on-click]");
    if (field && typeof field.select === "function") field.select();
  });
  // <form data-confirm="question">: ask before a submit that cannot be undone.
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  }, true);
})();

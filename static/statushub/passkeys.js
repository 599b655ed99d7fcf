// Passkeys (WebAuthn). A form marked data-passkey="create" (add one) or "get" (sign in with one) holds the
// server's options in the JSON block named by data-passkey-options; on submit the browser's passkey prompt
// answers them, the answer goes into the form's hidden "credential" field, and the form is sent as usual.
(function () {
  "use strict";

  function say(form, text) {
    var status = form.querySelector("[data-passkey-status]");
    if (status) status.textContent = text;
  }

  function why(error) {
    if (error && error.name === "NotAllowedError") {
      return "No passkey was used: the prompt was closed or timed out. Try again, or use a code.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This device already holds a passkey for your account.";
    }
    return "The passkey did not work" + (error && error.message ? ": " + error.message : ".");
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var mode = form.getAttribute && form.getAttribute("data-passkey");
    if (!mode) return;
    event.preventDefault();
    var PKC = window.PublicKeyCredential;
    if (!PKC || !PKC.parseCreationOptionsFromJSON || !navigator.credentials) {
      say(form, "This browser cannot use passkeys here. Use a code, or a current browser.");
      return;
    }
    var block = document.getElementById(form.getAttribute("data-passkey-options"));
    var options = JSON.parse(block.textContent);
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    say(form, "Waiting for your passkey…");
    var asked = mode === "create"
      ? navigator.credentials.create({ publicKey: PKC.parseCreationOptionsFromJSON(options) })
      : navigator.credentials.get({ publicKey: PKC.parseRequestOptionsFromJSON(options) });
    asked.then(function (credential) {
      form.elements.credential.value = JSON.stringify(credential.toJSON());
      say(form, "Checking…");
      form.submit();
    }).catch(function (error) {
      if (button) button.disabled = false;
      say(form, why(error));
    });
  });
})();

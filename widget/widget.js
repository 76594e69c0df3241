/* optin widget (minimal): renders a signup form and posts it to the optin service.
 * Embed: <script src="https://HOST/widget.js" data-form="newsletter" async></script>
 * No inline scripts or styles, no eval: works under a strict Content-Security-Policy. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var formId = script.getAttribute("data-form");
  var base = new URL(script.src, document.baseURI).origin;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  function render(config) {
    var t = config.strings;
    var uid = "optin-" + config.id;
    var form = el("form", { "class": "optin-form", novalidate: "" });
    form.appendChild(el("label", { "for": uid + "-email" }, t.email_label));
    var email = el("input", { id: uid + "-email", type: "email", name: "email", required: "",
      autocomplete: "email", "aria-describedby": uid + "-status" });
    form.appendChild(email);
    form.appendChild(el("label", { "for": uid + "-first" }, t.first_name_label));
    form.appendChild(el("input", { id: uid + "-first", type: "text", name: "first_name", autocomplete: "given-name" }));
    var consent = null;
    if (config.consent_text) {
      var label = el("label", { "class": "optin-consent" });
      consent = el("input", { type: "checkbox", name: "consent", value: "yes", required: "" });
      label.appendChild(consent);
      label.appendChild(document.createTextNode(" " + config.consent_text));
      form.appendChild(label);
    }
    var button = el("button", { type: "submit" }, t.submit);
    form.appendChild(button);
    var status = el("p", { id: uid + "-status", role: "status", "aria-live": "polite" });
    form.appendChild(status);

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      status.textContent = t.sending;
      var body = {
        email: email.value,
        first_name: form.elements.first_name.value,
        consent: consent ? consent.checked : false,
        language: config.language,
        page_url: location.href
      };
      fetch(config.subscribe_url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (result) {
        button.disabled = false;
        if (result.ok) {
          status.textContent = t.success;
          form.reset();
        } else {
          status.textContent = result.data.error || t.error_generic;
          email.setAttribute("aria-invalid", result.data.field === "email" ? "true" : "false");
        }
      }).catch(function () {
        button.disabled = false;
        status.textContent = t.error_generic;
      });
    });
    return form;
  }

  fetch(base + "/v1/forms/" + encodeURIComponent(formId), { headers: { "Accept": "application/json" } })
    .then(function (response) { return response.json(); })
    .then(function (config) {
      var form = render(config);
      var target = document.querySelector('[data-optin-form="' + formId + '"]');
      if (target) target.appendChild(form);
      else script.parentNode.insertBefore(form, script);
    });
})();

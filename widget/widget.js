/* optin widget. Embed: <script src="https://HOST/widget.js" data-form="newsletter" async></script>
 * Renders into <div data-optin-form="ID">, in place of the script, or enhances
 * <form data-optin-enhance="ID">. No inline scripts or styles, no eval: works under
 * "script-src HOST; style-src HOST". Styles live in a Shadow DOM, themable with --optin-* properties. */
(function (w, d) {
  "use strict";
  var VERSION = "__OPTIN_VERSION__";
  var script = d.currentScript;
  if (!script || !script.src) return;
  var origin = new URL(script.src).origin;
  var base = origin + "/widget/" + VERSION + "/";
  var LANGS = ["en", "fr", "es", "de"];
  var own = script.getAttribute("data-form");
  var uid = 0, solver, cache = {};

  function el(tag, attrs, text) {
    var node = d.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text) node.textContent = text;
    return node;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) {
      var c = arguments[i];
      if (c) parent.appendChild(typeof c === "string" ? d.createTextNode(c) : c);
    }
    return parent;
  }
  function json(url, init) {
    return fetch(url, init).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
    });
  }
  function post(url, body) {
    return json(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body)
    });
  }
  function once(url) {
    return cache[url] || (cache[url] = json(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(url);
      return r.body;
    }));
  }
  function lang(v) {
    v = (v || "").slice(0, 2).toLowerCase();
    return LANGS.indexOf(v) < 0 ? "" : v;
  }
  function later(ms) { return new Promise(function (r) { setTimeout(r, Math.max(ms, 0)); }); }
  function loadSolver() {
    return solver || (solver = new Promise(function (ok, ko) {
      var s = el("script", { src: base + "solver.js", async: "" });
      s.onload = function () { w.optinSolve ? ok(w.optinSolve) : ko(); };
      s.onerror = ko;
      d.head.appendChild(s);
    }));
  }

  function setup(id, host, wanted, enhance) {
    var path = origin + "/v1/forms/" + encodeURIComponent(id);
    once(path).then(function (all) {
      var lg = wanted || lang(all.language) || "en";
      // The title and consent text in the visitor's language when the owner wrote them, else
      // the form's own; the server records the same text, from the language we send it.
      var cfg = Object.assign({}, all, {
        title: (all.titles || {})[lg] || all.title,
        consent_text: (all.consent_texts || {})[lg] || all.consent_text
      });
      return once(base + "i18n/" + lg + ".json").then(function (cat) {
        var t = {}, k, extra = (cfg.widget_strings || {})[lg] || {};
        for (k in cat) t[k] = extra[k] || cat[k];
        (enhance ? enhanceForm : render)(cfg, t, lg, host, path);
      });
    }).catch(function () { /* service unreachable: the page's own fallback stays */ });
  }

  // Verification, anti-bot proofs and submission, shared by both modes.
  function control(cfg, t, lg, path, p) {
    var P = p.prefix, verdict = null, checked = null, pending = null, seq = 0, timer;
    var ab = null, abAt = 0, fill = null, fillAt = 0, ready, sol = null, busy = false;

    function msg(node, input, text, kind) {
      node.textContent = text || "";
      node.className = P + "msg" + (kind ? " " + P + kind : "");
      if (input) input.setAttribute("aria-invalid", kind === "err" ? "true" : "false");
    }
    function show(v) {
      var bad = v && v.decision === "reject";
      msg(p.msg, p.email, "", bad ? "err" : v && v.decision === "warn" ? "warn" : "");
      if (!v || v.decision === "accept") return;
      if (!v.suggestion) return add(p.msg, (lg === "en" && v.message) || t[bad ? "email_invalid" : "email_check"]);
      var parts = t.did_you_mean.split("{s}");
      var b = el("button", { type: "button", "class": P + "sug" }, v.suggestion);
      b.addEventListener("click", function () {
        p.email.value = v.suggestion;
        show(null);
        verify();
        p.email.focus();
      });
      add(p.msg, parts[0], b, parts[1]); // a likely typo: the question alone says it
    }
    function verify() {
      var value = p.email.value.trim(), n = ++seq;
      if (!value) { checked = pending = verdict = null; show(null); return Promise.resolve(null); }
      if (value === checked && pending) return pending;
      checked = value;
      var call = fetch(cfg.verify_url + "?form=" + encodeURIComponent(cfg.id), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: value, form: cfg.id })
      }).then(function (r) { return r.ok ? r.json() : null; });
      // Fail open: if the service cannot answer, the server checks again on subscribe.
      pending = Promise.race([call, later(5000)])["catch"](function () { return null; }).then(function (v) {
        if (n === seq) { verdict = v || null; show(verdict); }
        return v || null;
      });
      return pending;
    }
    // fresh: the last submit spent the fill-time token (each works once); take the new one.
    function challenge(fresh) {
      ready = json(path + "/challenge")["then"](function (r) {
        if (!r.ok) return;
        ab = r.body; abAt = Date.now(); sol = null;
        if (fresh || !fill || Date.now() - fillAt > (ab.expires_in - 90) * 1000) { fill = ab.fill_token; fillAt = abAt; }
      })["catch"](function () {});
      sol = null;
      return ready;
    }
    function solve() {
      return sol || (sol = ready.then(function () {
        return ab && ab.altcha ? loadSolver().then(function (s) { return s(ab.altcha); }) : "";
      })["catch"](function () { return ""; }));
    }
    function status(text, kind) { msg(p.status, null, text, kind); }

    challenge();
    p.root.addEventListener("focusin", function () { solve(); });
    p.email.addEventListener("blur", verify);
    p.email.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(verify, 700);
    });
    if (p.cmsg) p.consent.addEventListener("change", function () { msg(p.cmsg, p.consent, ""); });

    send.check = verify;
    return send;
    function send(done) {
      if (busy) return;
      var email = p.email.value.trim(), consent = p.consent ? p.consent.checked : true;
      if (!email) { msg(p.msg, p.email, t.email_required, "err"); return p.email.focus(); }
      if (cfg.consent_required && !consent) { msg(p.cmsg, p.consent, t.consent_required, "err"); return p.consent.focus(); }
      var lists = p.lists && p.lists.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
      if (lists && !lists.length) { msg(p.lmsg, null, t.lists_required, "err"); return p.lists[0].focus(); }
      busy = true;
      status(t.sending);
      verify().then(function (v) {
        if (v && v.decision === "reject") { status(""); return p.email.focus(); }
        var stale = ab && Date.now() - abAt > (ab.expires_in - 90) * 1000;
        return (stale ? challenge() : ready).then(solve).then(function (proof) {
          return later(fill ? ab.min_fill_ms + 150 - (Date.now() - fillAt) : 0).then(function () { return proof; });
        }).then(function (proof) {
          var body = { email: email, consent: consent, language: lg, page_url: location.href }, q = new URLSearchParams(location.search);
          if (p.first && p.first.value) body.first_name = p.first.value;
          ["utm_source", "utm_medium", "utm_campaign"].forEach(function (k) { if (q.get(k)) body[k] = q.get(k); });
          if (d.referrer) body.referrer = d.referrer;
          (p.fields || []).forEach(function (f) { body[f.n] = f.i.type === "checkbox" ? f.i.checked : f.i.value; });
          if (lists) body.lists = lists;
          if (ab) {
            if (ab.honeypot) body[ab.honeypot] = p.hp.value;
            if (fill) body[ab.fill_field] = fill;
            if (proof) body[ab.altcha_field] = proof;
          }
          return json(cfg.subscribe_url, {
            method: "POST",
            headers: { "Content-Type": "application/json", Accept: "application/json" },
            body: JSON.stringify(body),
            keepalive: true
          });
        }).then(function (r) {
          challenge(true).then(solve); // the proofs are spent: prepare the next ones
          if (r.ok) { status(t.success, "ok"); return done && done(r.body); }
          var f = r.body.field, text = lg === "en" && r.body.error;
          status("");
          if (f === "email") { checked = null; msg(p.msg, p.email, text || t.email_invalid, "err"); return p.email.focus(); }
          if (f === "consent" && p.consent) { msg(p.cmsg, p.consent, t.consent_required, "err"); return p.consent.focus(); }
          var errs = r.body.errors || {}, first = null;
          (p.fields || []).forEach(function (x) {
            var e = errs[x.n];
            msg(x.m, x.i, e ? (lg === "en" && e) || t.field_invalid : "", e ? "err" : "");
            first = first || (e && x.i);
          });
          if (errs.lists && p.lists) { msg(p.lmsg, null, (lg === "en" && errs.lists) || t.lists_required, "err"); first = first || p.lists[0]; }
          if (first) return first.focus();
          var bot = ab && (f === ab.honeypot || f === ab.fill_field || f === ab.altcha_field);
          status(bot ? t.retry : text || t.error_generic, "err");
        });
      })["catch"](function () { status(t.error_generic, "err"); }).then(function () { busy = false; });
    }
  }

  function honeypot(t, P, i) {
    var box = el("div", { "class": P + "hp", "aria-hidden": "true" });
    var hp = el("input", { id: i + "hp", type: "text", name: "optin_hp", tabindex: "-1", autocomplete: "off" });
    return { box: add(box, add(el("label", { "for": i + "hp" }), t.honeypot_label), hp), input: hp };
  }

  // The form's own fields ([forms.X.fields]), each with its label, input and message.
  function fields(cfg, lg, i, body) {
    return (cfg.fields || []).map(function (f) {
      var id = i + "f-" + f.name, box = f.type === "boolean", a = { id: id, name: f.name, "aria-describedby": id + "m" }, input;
      if (f.required) a.required = "";
      if (f.type === "choice") {
        input = add(el("select", a), el("option", { value: "" }));
        f.choices.forEach(function (c) { add(input, el("option", { value: c }, c)); });
      } else {
        a.type = box ? "checkbox" : f.type === "date" ? "date" : "text";
        if (f.type === "number") a.inputmode = "decimal";
        if (f.max_length) a.maxlength = f.max_length;
        input = el("input", a);
      }
      var label = add(el("label", { "for": id }), (f.labels || {})[lg] || f.label), m = el("p", { id: id + "m", "class": "msg" });
      add(body, box ? add(el("div", { "class": "row check" }), input, add(el("div"), label, m))
        : add(el("div", { "class": "row" }), label, input, m));
      return { n: f.name, i: input, m: m };
    });
  }

  // The lists to choose from ([forms.X.lists]): at least one ticked.
  function lists(cfg, t, lg, i, body, p) {
    if (!(cfg.lists || []).length) return;
    var set = add(el("fieldset", { "class": "row lists", "aria-describedby": i + "lm" }), el("legend", {}, t.lists_legend));
    p.lmsg = el("p", { id: i + "lm", "class": "msg" });
    p.lists = cfg.lists.map(function (l, n) {
      var b = el("input", { id: i + "l" + n, type: "checkbox", name: "lists", value: l.name });
      b.checked = !!l.preselected;
      b.addEventListener("change", function () { msg0(p.lmsg); });
      add(set, add(el("div", { "class": "check" }), b, add(el("label", { "for": i + "l" + n }), (l.labels || {})[lg] || l.label)));
      return b;
    });
    add(body, add(set, p.lmsg));
  }
  function msg0(node) { node.textContent = ""; node.className = "msg"; }

  // After the signup: the email's code typed here, or its link confirmed anywhere else.
  function codes(cfg, t, lg, i, form, p) {
    var handle, done = false, delay, timer, polls, busy = false;
    var input = el("input", {
      id: i + "code", name: "code", type: "text", inputmode: "numeric", autocomplete: "one-time-code",
      spellcheck: "false", "aria-describedby": i + "cm", "aria-invalid": "false", "class": "code"
    });
    var m = el("p", { id: i + "cm", "class": "msg" });
    var again = el("button", { type: "button", "class": "sug", hidden: "" }, t.code_resend);
    var box = add(el("div", { "class": "row", hidden: "" }),
      add(el("label", { "for": i + "code" }), t.code_label.replace("{n}", cfg.code_length)), input, m,
      add(el("div", { "class": "actions" }), el("button", { type: "submit", "class": "submit" }, t.code_submit), again));
    form.appendChild(box);
    function say(text, kind) {
      m.textContent = text || "";
      m.className = "msg" + (kind ? " " + kind : "");
      input.setAttribute("aria-invalid", kind === "err" ? "true" : "false");
    }
    function confirmed() {
      if (done) return;
      done = true;
      clearTimeout(timer);
      box.hidden = true;
      p.status.textContent = t.confirmed;
      p.status.focus();
    }
    function lost(text, quiet) { // this code can no longer be used: offer a new email
      say(text, "err");
      again.hidden = false;
      quiet || again.focus();
    }
    // Pasting "123 456" or "123-456" works: only the digits are kept.
    input.addEventListener("input", function () { input.value = input.value.replace(/\D/g, "").slice(0, cfg.code_length); });
    again.addEventListener("click", function () {
      post(cfg.resend_url, { signup: handle }).then(function (r) {
        if (!r.ok) return say((lg === "en" && r.body.error) || t.retry, "err");
        handle = r.body.signup;
        again.hidden = true;
        input.value = "";
        say(t.code_resent);
        input.focus();
      })["catch"](function () { say(t.error_generic, "err"); });
    });
    // The link may be confirmed in another tab or on a phone: ask now and then, gently, and at
    // once when the visitor comes back to this page.
    function check() {
      clearTimeout(timer);
      if (done || d.hidden) return;
      post(cfg.status_url, { signup: handle }).then(function (r) {
        if (r.body.status === "confirmed") return confirmed();
        if (r.body.status === "expired") return lost(t.code_expired, 1);
        next();
      }, next);
    }
    function next() { if (++polls < 60) timer = setTimeout(check, delay = Math.min(delay * 1.5, 30000)); }
    function back() { if (handle && !d.hidden) { delay = 3000; polls = 0; check(); } }
    d.addEventListener("visibilitychange", back);
    w.addEventListener("focus", back);
    return {
      start: function (h) {
        handle = h;
        box.hidden = false;
        input.focus();
        delay = 2000;
        polls = 0;
        next();
      },
      submit: function () {
        var code = input.value.replace(/\D/g, "");
        if (code.length !== cfg.code_length) { say(t.code_invalid.replace("{n}", cfg.code_length), "err"); return input.focus(); }
        if (busy) return;
        busy = true;
        post(cfg.code_url, { signup: handle, code: code }).then(function (r) {
          var b = r.body;
          if (r.ok) return confirmed();
          if (b.status === "too_many_attempts") return lost(t.code_too_many);
          if (b.status === "expired") return lost(t.code_expired);
          say(b.status === "wrong_code" ? t.code_wrong.replace("{n}", b.tries_left) : (lg === "en" && b.error) || t.code_invalid.replace("{n}", cfg.code_length), "err");
          input.select();
          input.focus();
        })["catch"](function () { say(t.error_generic, "err"); }).then(function () { busy = false; });
      }
    };
  }

  function render(cfg, t, lg, host, path) {
    var root = host.attachShadow({ mode: "open" }), i = "optin" + ++uid + "-";
    var form = el("form", { novalidate: "", lang: lg, "aria-labelledby": i + "title", hidden: "" });
    var css = el("link", { rel: "stylesheet", href: base + "widget.css" });
    css.onload = css.onerror = function () { form.hidden = false; };
    var body = el("div", { "class": "body" });
    var email = el("input", {
      id: i + "email", type: "email", name: "email", autocomplete: "email", required: "",
      spellcheck: "false", "aria-describedby": i + "msg", "aria-invalid": "false"
    });
    var first = el("input", { id: i + "first", type: "text", name: "first_name", autocomplete: "given-name" });
    var hp = honeypot(t, "", i);
    var p = {
      prefix: "", root: form, email: email, first: first, hp: hp.input,
      msg: el("p", { id: i + "msg", "class": "msg" }),
      status: el("p", { id: i + "status", "class": "msg", role: "status", "aria-live": "polite", tabindex: "-1" })
    };
    add(body,
      add(el("div", { "class": "row" }), add(el("label", { "for": i + "email" }), t.email_label), email, p.msg),
      add(el("div", { "class": "row" }), add(el("label", { "for": i + "first" }), t.first_name_label), first),
      hp.box);
    p.fields = fields(cfg, lg, i, body);
    lists(cfg, t, lg, i, body, p);
    if (cfg.consent_text) {
      p.consent = el("input", { id: i + "consent", type: "checkbox", name: "consent", value: "yes", required: "", "aria-describedby": i + "cmsg" });
      p.cmsg = el("p", { id: i + "cmsg", "class": "msg" });
      add(body, add(el("div", { "class": "row check" }), p.consent,
        add(el("div"), add(el("label", { "for": i + "consent" }), cfg.consent_text), p.cmsg)));
    }
    add(body, el("button", { type: "submit", "class": "submit" }, t.submit));
    add(root, css, add(form, el("p", { id: i + "title", "class": "title" }, cfg.title), body, p.status));
    var send = control(cfg, t, lg, path, p), code = codes(cfg, t, lg, i, form, p), waiting = false;
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (waiting) return code.submit();
      send(function (answer) {
        body.hidden = true;
        if (!answer.signup) return p.status.focus();
        waiting = true;
        code.start(answer.signup);
      });
    });
  }

  function enhanceForm(cfg, t, lg, form, path) {
    var email = form.querySelector("input[type=email],input[name=email]");
    if (!email) return;
    if (!d.querySelector("link[data-optin]")) d.head.appendChild(el("link", { rel: "stylesheet", href: base + "enhance.css", "data-optin": "" }));
    var P = "optin-x-", i = "optin" + ++uid + "-", passed = false;
    var hp = honeypot(t, P, i);
    var p = {
      prefix: P, root: form, email: email, hp: hp.input,
      msg: el("p", { id: i + "msg", "class": P + "msg" }),
      status: el("p", { "class": P + "msg", role: "status", "aria-live": "polite" }),
      consent: el("input", { id: i + "consent", type: "checkbox", "aria-describedby": i + "text" })
    };
    email.setAttribute("aria-describedby", ((email.getAttribute("aria-describedby") || "") + " " + i + "msg").trim());
    email.parentNode.insertBefore(p.msg, email.nextSibling);
    var box = add(el("div", { "class": P + "box", lang: lg }),
      add(el("div", { "class": P + "check" }), p.consent,
        add(el("label", { "for": i + "consent" }), t.subscribe_too.replace("{title}", cfg.title))),
      cfg.consent_text && el("p", { id: i + "text", "class": P + "text" }, cfg.consent_text),
      hp.box, p.status);
    var button = form.querySelector("[type=submit],button:not([type])");
    button && form.contains(button) ? button.parentNode.insertBefore(box, button) : form.appendChild(box);
    var send = control(cfg, t, lg, path, p);
    form.addEventListener("submit", function (e) {
      if (passed) return;
      e.preventDefault();
      var resume = function () {
        passed = true;
        form.requestSubmit ? form.requestSubmit() : form.submit();
        passed = false;
      };
      send.check().then(function (v) {
        if (v && v.decision === "reject") return email.focus();
        p.consent.checked ? send(resume) : resume();
      });
    });
  }

  function start() {
    var found = false, main = lang(script.getAttribute("data-lang")) || lang(d.documentElement.lang);
    function each(selector, attr, enhance) {
      var nodes = d.querySelectorAll(selector);
      for (var n = 0; n < nodes.length; n++) {
        var node = nodes[n], id = node.getAttribute(attr) || own;
        if (!id || (own && id !== own) || node.optinDone) continue;
        node.optinDone = found = true;
        setup(id, node, lang(node.getAttribute("data-lang")) || main, enhance);
      }
    }
    each("[data-optin-form]", "data-optin-form", false);
    each("form[data-optin-enhance]", "data-optin-enhance", true);
    if (!found && own) {
      var host = el("div"), parent = script.parentNode;
      parent && parent !== d.head ? parent.insertBefore(host, script) : d.body.appendChild(host);
      setup(own, host, main, false);
    }
  }
  d.readyState === "loading" ? d.addEventListener("DOMContentLoaded", start) : start();
})(window, document);

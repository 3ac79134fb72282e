/*
 * Varsla banner: current public notices on any web site, with one tag.
 *
 *   <script src="https://HOST/banner.js" data-zone="gesunda" data-lang="sv" async></script>
 *   <script src="https://HOST/banner.js" data-lat="60.88" data-lon="14.58" async></script>
 *
 * Renders into a Shadow DOM inserted right after the script tag, so the host
 * page's CSS cannot reach it. Fetches /api/v1/active from the script's own
 * origin without cookies, refreshes every 60 s and when the tab becomes
 * visible. Notice text is only ever set with textContent.
 * Plain ES2017, no dependencies; ASCII only, so it reads right whatever charset
 * it is served with.
 */
(function () {
  "use strict";

  var REFRESH_MS = 60000;
  var STORAGE_KEY = "varsla-banner-dismissed";
  // [background, text]; every pair has a contrast ratio of at least 4.5:1.
  var PALETTE = {
    Extreme: ["#7f0000", "#ffffff"],
    Severe: ["#b3261e", "#ffffff"],
    Moderate: ["#ffd54f", "#1f1f1f"],
    Minor: ["#e3f0fb", "#0b2e4f"],
    Unknown: ["#eeeeee", "#1f1f1f"],
    ended: ["#e6f4ea", "#14532d"]
  };
  var SYMBOLS = {
    Extreme: "\u26d4", Severe: "\u26a0", Moderate: "\u25b2",
    Minor: "\u2139", Unknown: "\u2022", ended: "\u2713"
  };
  var TEXT = {
    sv: { dismiss: "St\u00e4ng", region: "Aktuella st\u00f6rningar" },
    en: { dismiss: "Dismiss", region: "Current notices" }
  };

  function findScript() {
    if (document.currentScript) { return document.currentScript; }
    // async scripts in old browsers: the first banner script not yet set up.
    var candidates = document.querySelectorAll('script[src*="banner.js"]');
    for (var i = 0; i < candidates.length; i++) {
      if (!candidates[i].hasAttribute("data-varsla-ready")) { return candidates[i]; }
    }
    return null;
  }

  var script = findScript();
  if (!script || script.hasAttribute("data-varsla-ready")) { return; }
  script.setAttribute("data-varsla-ready", "");

  var origin;
  try {
    origin = new URL(script.src, document.baseURI).origin;
  } catch (e) {
    return;
  }
  var data = script.dataset;
  var pageLang = (document.documentElement.lang || "").toLowerCase();
  var lang = (data.lang || pageLang || "sv").toLowerCase().indexOf("en") === 0 ? "en" : "sv";
  var text = TEXT[lang];

  var query = new URLSearchParams();
  if (data.zone) { query.set("zone", data.zone); }
  if (data.lat && data.lon) { query.set("lat", data.lat); query.set("lon", data.lon); }
  query.set("lang", lang);
  var apiUrl = origin + "/api/v1/active?" + query.toString();

  // ---- dismissal, remembered for this tab only when sessionStorage works ----
  var dismissed = loadDismissed();

  function loadDismissed() {
    try {
      var raw = window.sessionStorage.getItem(STORAGE_KEY);
      var list = raw ? JSON.parse(raw) : [];
      return Array.isArray(list) ? list.filter(function (k) { return typeof k === "string"; }) : [];
    } catch (e) {
      return [];
    }
  }

  function saveDismissed() {
    try {
      window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(dismissed.slice(-50)));
    } catch (e) { /* storage blocked or full: dismissal lasts until reload */ }
  }

  function dismissKey(item) { return String(item.id) + "@" + String(item.updated); }

  // ---- the shadow host, right after the script tag ----
  var host = document.createElement("div");
  host.setAttribute("data-varsla-banner", "");
  script.parentNode.insertBefore(host, script.nextSibling);
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;

  var style = document.createElement("style");
  var css = [
    ":host{all:initial;display:block}",
    ":host([hidden]){display:none}",
    ".varsla{font:16px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;padding:0;" +
      "overflow-wrap:anywhere}",
    ".notice{display:flex;align-items:flex-start;gap:8px;margin:0 0 4px;padding:10px 12px;" +
      "border-left:6px solid currentColor}",
    ".body{flex:1;min-width:0}",
    ".label{font-weight:700;margin-right:.5em}",
    ".sym{margin-right:.35em}",
    ".headline{font-weight:700}",
    ".instruction{margin:.25em 0 0}",
    "a{color:inherit;text-decoration:underline}",
    "button{font:inherit;font-size:20px;line-height:1;color:inherit;background:transparent;" +
      "border:2px solid currentColor;border-radius:4px;min-width:32px;min-height:32px;cursor:pointer}",
    "a:focus-visible,button:focus-visible{outline:3px solid currentColor;outline-offset:2px}"
  ];
  Object.keys(PALETTE).forEach(function (key) {
    css.push(".sev-" + key + "{background:" + PALETTE[key][0] + ";color:" + PALETTE[key][1] + "}");
  });
  style.textContent = css.join("");
  root.appendChild(style);

  // The live region exists before content arrives so screen readers announce it.
  var region = document.createElement("div");
  region.className = "varsla";
  region.setAttribute("aria-label", text.region);
  region.setAttribute("aria-live", "polite");
  root.appendChild(region);

  var items = [];
  var shown = null;

  function safeUrl(value) {
    try {
      var url = new URL(String(value), origin);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function render() {
    var visible = items.filter(function (item) { return dismissed.indexOf(dismissKey(item)) < 0; });
    var signature = JSON.stringify(visible.map(dismissKey));
    if (signature === shown) { return; }  // unchanged: do not make screen readers repeat it
    shown = signature;

    var alerting = visible.some(function (item) {
      return !item.ended && (item.severity === "Extreme" || item.severity === "Severe");
    });
    if (alerting) {
      region.setAttribute("role", "alert");
      region.removeAttribute("aria-live");
    } else {
      region.removeAttribute("role");
      region.setAttribute("aria-live", "polite");
    }
    host.hidden = visible.length === 0;

    while (region.firstChild) { region.removeChild(region.firstChild); }
    visible.forEach(function (item) { region.appendChild(renderItem(item)); });
  }

  function renderItem(item) {
    var key = item.ended ? "ended" : (PALETTE[item.severity] ? item.severity : "Unknown");
    var box = document.createElement("div");
    box.className = "notice sev-" + key;
    if (item.lang) { box.lang = String(item.lang); }

    var body = document.createElement("div");
    body.className = "body";
    var sym = document.createElement("span");
    sym.className = "sym";
    sym.setAttribute("aria-hidden", "true");
    sym.textContent = SYMBOLS[key];
    var labelText = String(item.severity_label || item.severity || "");
    if (item.status_label) { labelText = String(item.status_label) + " \u00b7 " + labelText; }
    var label = document.createElement("span");
    label.className = "label";
    label.textContent = labelText;
    body.appendChild(sym);
    body.appendChild(label);

    var href = safeUrl(item.url);
    var headline = document.createElement(href ? "a" : "span");
    headline.className = "headline";
    headline.textContent = String(item.headline || "");
    if (href) {
      headline.href = href;
      headline.target = "_blank";
      headline.rel = "noopener noreferrer";
    }
    body.appendChild(headline);
    if (item.promises && item.promises.length) {
      var promise = document.createElement("p");
      promise.className = "instruction";
      promise.textContent = item.promises.map(String).join(". ") + ".";
      body.appendChild(promise);
    }
    if (item.instruction) {
      var instruction = document.createElement("p");
      instruction.className = "instruction";
      instruction.textContent = String(item.instruction);
      body.appendChild(instruction);
    }
    box.appendChild(body);

    var close = document.createElement("button");
    close.type = "button";
    close.setAttribute("aria-label", text.dismiss);
    close.title = text.dismiss;
    close.textContent = "\u00d7";
    close.addEventListener("click", function () {
      dismissed.push(dismissKey(item));
      saveDismissed();
      render();
      // Keep keyboard users inside the banner: focus the next dismiss button, if any.
      var next = region.querySelector("button");
      if (next) { next.focus(); }
    });
    box.appendChild(close);
    return box;
  }

  var inFlight = false;

  function refresh() {
    if (inFlight) { return; }
    inFlight = true;
    fetch(apiUrl, { credentials: "omit", mode: "cors", cache: "no-cache" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (payload) {
        items = payload && Array.isArray(payload.items) ? payload.items : [];
        render();
      })
      .catch(function () { /* keep showing what we had; try again next tick */ })
      .then(function () { inFlight = false; });
  }

  refresh();
  window.setInterval(function () {
    if (!document.hidden) { refresh(); }
  }, REFRESH_MS);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { refresh(); }
  });
})();

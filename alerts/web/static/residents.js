/*
 * Varsla resident pages: address autocomplete (an ARIA combobox) and a map of the
 * chosen address with the zones it lies in.
 *
 * Works on any form with data-api (the /api/v1/addresses URL) that holds
 * #address, #address_id and #address-options. Without JavaScript the typed
 * address is resolved by the server, so the form still works. Texts come from
 * the form's data-text-* attributes (translated by the server) and are set with
 * textContent only. No inline script: the pages forbid it with their CSP.
 */
(function () {
  "use strict";

  function format(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (_, key) {
      return values[key] === undefined ? "" : String(values[key]);
    });
  }

  function setup(form) {
    var input = form.querySelector("#address");
    var hidden = form.querySelector("#address_id");
    var list = form.querySelector("#address-options");
    var status = form.querySelector("#address-status");
    var place = form.querySelector("#place");
    var zonesText = form.querySelector("#place-zones");
    var mapElement = form.querySelector("#place-map");
    if (!input || !hidden || !list) { return; }
    var texts = form.dataset;
    var items = [];
    var active = -1;
    var timer = null;
    var lastQuery = "";
    var map = null;
    var marker = null;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var options = list.querySelectorAll("[role=option]");
      for (var i = 0; i < options.length; i++) {
        options[i].setAttribute("aria-selected", i === index ? "true" : "false");
      }
      active = index;
      if (index >= 0 && options[index]) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function render() {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      items.forEach(function (item, index) {
        var option = document.createElement("li");
        option.id = "address-option-" + index;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.textContent = item.label;
        option.addEventListener("mousedown", function (event) {
          event.preventDefault();  // keep the focus in the input
          choose(index);
        });
        list.appendChild(option);
      });
      if (items.length) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
        if (status) { status.textContent = format(texts.textCount, { count: items.length }); }
      } else {
        close();
        if (status) { status.textContent = texts.textNone || ""; }
      }
    }

    function search() {
      var query = input.value.trim();
      if (query === lastQuery) { return; }
      lastQuery = query;
      if (query.length < 3) { items = []; close(); return; }
      var url = form.dataset.api + "?limit=8&q=" + encodeURIComponent(query);
      fetch(url, { headers: { Accept: "application/json" }, credentials: "omit" })
        .then(function (response) { return response.ok ? response.json() : { items: [] }; })
        .then(function (data) {
          if (input.value.trim() !== query) { return; }
          items = data.items || [];
          render();
        })
        .catch(function () { items = []; close(); });
    }

    function showZones(item) {
      if (!zonesText || !form.dataset.zonesApi) { return; }
      var url = form.dataset.zonesApi + "?lat=" + item.lat + "&lon=" + item.lon;
      fetch(url, { headers: { Accept: "application/json" }, credentials: "omit" })
        .then(function (response) { return response.ok ? response.json() : { items: [] }; })
        .then(function (data) {
          var names = (data.items || []).map(function (zone) { return zone.name; });
          zonesText.textContent = names.length
            ? format(texts.textZones, { zones: names.join(", ") })
            : (texts.textNoZone || "");
        })
        .catch(function () { zonesText.textContent = ""; });
    }

    function showMap(item) {
      if (!place) { return; }
      place.hidden = false;
      if (!mapElement || !window.L) { return; }
      var L = window.L;
      var point = [item.lat, item.lon];
      if (!map) {
        map = L.map(mapElement, { scrollWheelZoom: false, keyboard: false });
        if (form.dataset.tileUrl) {
          L.tileLayer(form.dataset.tileUrl, { maxZoom: 18 }).addTo(map);
        }
      }
      if (marker) { map.removeLayer(marker); }
      marker = L.circleMarker(point, { radius: 9, color: "#0b4f8a", weight: 3, fillOpacity: 0.4 });
      marker.addTo(map);
      map.setView(point, 15);
      mapElement.setAttribute("data-map-ready", "1");
    }

    function choose(index) {
      var item = items[index];
      if (!item) { return; }
      input.value = item.label;
      lastQuery = item.label;
      hidden.value = String(item.id);
      close();
      if (status) { status.textContent = item.label; }
      showMap(item);
      showZones(item);
    }

    input.addEventListener("input", function () {
      hidden.value = "";  // typed again: the server resolves the text unless one is picked
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(search, 200);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden && event.key === "ArrowDown" && items.length) {
        render();
      }
      if (list.hidden) { return; }
      if (event.key === "ArrowDown") {
        event.preventDefault();
        highlight(Math.min(active + 1, items.length - 1));
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        highlight(Math.max(active - 1, 0));
      } else if (event.key === "Enter") {
        if (active >= 0) { event.preventDefault(); choose(active); }
      } else if (event.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  function start() {
    var forms = document.querySelectorAll("form[data-api]");
    for (var i = 0; i < forms.length; i++) { setup(forms[i]); }
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

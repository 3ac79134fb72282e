/*
 * Varsla console: one notice's page. Draws its area (and, for an update, the published
 * area beside it) on a Leaflet map, and keeps the delivery counts current by polling
 * the page's JSON every few seconds while anything is on its way.
 */
(function () {
  "use strict";

  var POLL_MS = 3000;
  var NEW = { color: "#b3261e", weight: 3, fillColor: "#b3261e", fillOpacity: 0.2 };
  var OLD = { color: "#14532d", weight: 3, dashArray: "6 6", fillOpacity: 0.05 };

  function drawMap() {
    var element = document.getElementById("map");
    var source = document.getElementById("map-data");
    if (!element || !source || !window.L) { return; }
    var data;
    try { data = JSON.parse(source.textContent); } catch (e) { return; }
    var L = window.L;
    var settings = element.dataset;
    var map = L.map(element, { zoomControl: false, scrollWheelZoom: false });
    L.control.zoom({ zoomInTitle: settings.zoomIn, zoomOutTitle: settings.zoomOut }).addTo(map);
    if (settings.tileUrl) {
      L.tileLayer(settings.tileUrl, { maxZoom: 18, attribution: settings.tileAttribution }).addTo(map);
    }
    var layer = L.geoJSON(data, {
      style: function (feature) { return feature.properties.role === "old" ? OLD : NEW; },
      onEachFeature: function (feature, l) { l.bindTooltip(String(feature.properties.headline || "")); }
    }).addTo(map);
    var bounds = layer.getBounds();
    if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [16, 16], maxZoom: 15 });
    } else {
      map.setView([62.0, 15.0], 5);
    }
    element.setAttribute("data-map-ready", String(data.features.length));
  }

  function poll() {
    var section = document.getElementById("deliveries");
    if (!section || section.dataset.live !== "yes") { return; }
    var busy = false;
    function update() {
      if (busy || document.hidden) { return; }
      busy = true;
      fetch(section.dataset.url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (report) {
          busy = false;
          if (!report) { return; }
          var cells = section.querySelectorAll("td[data-channel]");
          Array.prototype.forEach.call(cells, function (cell) {
            var counts = report.by_channel[cell.dataset.channel] || {};
            cell.textContent = String(counts[cell.dataset.status] || 0);
          });
          var total = document.getElementById("deliveries-total");
          if (total) { total.setAttribute("data-total", String(report.total)); }
          var fanout = document.getElementById("fanout-progress");
          if (fanout) {
            fanout.textContent = report.fanout_words || "";
            fanout.hidden = !report.fanout_words;
          }
          var empty = document.getElementById("deliveries-empty");
          if (empty && report.total) { empty.hidden = true; }
          section.setAttribute("data-polled", String(Number(section.dataset.polled || 0) + 1));
        })
        .catch(function () { busy = false; });
    }
    setInterval(update, POLL_MS);
    update();
  }

  function start() { drawMap(); poll(); }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

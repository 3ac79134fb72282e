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
          var empty = document.getElementById("deliveries-empty");
          if (empty && report.total) { empty.hidden = true; }
          section.setAttribute("data-polled", String(Number(section.dataset.polled || 0) + 1));
        })
        .catch(function () { busy = false; });
    }
    setInterval(update, POLL_MS);
    update();
  }

  // --- the delivery chart: one panel per channel, a line per series, drawn as SVG; the
  // table beside it carries the same figures as text (and is what screen readers read).
  var SVG_NS = "http://www.w3.org/2000/svg";
  var SERIES = {
    sent: { stroke: "#1d4f91", dash: "" },
    delivered: { stroke: "#1b6e3a", dash: "6 3" },
    failed: { stroke: "#b3261e", dash: "2 3" }
  };

  function svgElement(name, attributes, text) {
    var element = document.createElementNS(SVG_NS, name);
    Object.keys(attributes).forEach(function (key) { element.setAttribute(key, String(attributes[key])); });
    if (text !== undefined) { element.textContent = text; }
    return element;
  }

  function drawChart(svg, data) {
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var channels = Object.keys(data.series || {});
    var n = (data.buckets || []).length;
    if (!channels.length || !n) { svg.setAttribute("hidden", ""); return; }
    svg.removeAttribute("hidden");
    var width = 640, panel = 120, left = 44, right = 12, top = 28;
    var height = top + channels.length * panel + 10;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    var x = function (i) { return left + (n === 1 ? 0 : i * (width - left - right) / (n - 1)); };
    var legendX = left;
    Object.keys(SERIES).forEach(function (kind) {
      var style = SERIES[kind];
      svg.appendChild(svgElement("line", { x1: legendX, y1: 12, x2: legendX + 24, y2: 12,
        stroke: style.stroke, "stroke-width": 3, "stroke-dasharray": style.dash }));
      svg.appendChild(svgElement("text", { x: legendX + 30, y: 16, "font-size": 13, fill: "#1f1f1f" },
        data.labels.kinds[kind]));
      legendX += 150;
    });
    channels.forEach(function (channel, c) {
      var y0 = top + c * panel, plot = panel - 40;
      var series = data.series[channel];
      var max = 1;
      Object.keys(SERIES).forEach(function (kind) {
        series[kind].forEach(function (v) { if (v > max) { max = v; } });
      });
      var y = function (v) { return y0 + 18 + plot - v * plot / max; };
      svg.appendChild(svgElement("text", { x: 0, y: y0 + 12, "font-size": 13, "font-weight": 700, fill: "#1f1f1f" },
        data.labels.channels[channel] || channel));
      svg.appendChild(svgElement("line", { x1: left, y1: y(0), x2: width - right, y2: y(0), stroke: "#595959" }));
      svg.appendChild(svgElement("text", { x: left - 6, y: y(max) + 4, "font-size": 11, "text-anchor": "end", fill: "#1f1f1f" }, String(max)));
      svg.appendChild(svgElement("text", { x: left - 6, y: y(0) + 4, "font-size": 11, "text-anchor": "end", fill: "#1f1f1f" }, "0"));
      [0, n - 1].forEach(function (i) {
        svg.appendChild(svgElement("text", { x: x(i), y: y(0) + 15, "font-size": 11,
          "text-anchor": i === 0 ? "start" : "end", fill: "#1f1f1f" }, data.bucket_labels[i]));
      });
      Object.keys(SERIES).forEach(function (kind) {
        var points = series[kind].map(function (v, i) { return x(i).toFixed(1) + "," + y(v).toFixed(1); });
        if (n === 1) { points.push((width - right) + "," + y(series[kind][0]).toFixed(1)); }
        svg.appendChild(svgElement("polyline", { points: points.join(" "), fill: "none",
          stroke: SERIES[kind].stroke, "stroke-width": 2.5, "stroke-dasharray": SERIES[kind].dash }));
      });
    });
  }

  function fillChartTable(table, data) {
    var kinds = Object.keys(data.labels.kinds);
    var channels = Object.keys(data.series || {});
    var head = table.tHead.rows[0];
    while (head.cells.length > 1) { head.deleteCell(1); }
    channels.forEach(function (channel) {
      kinds.forEach(function (kind) {
        var th = document.createElement("th");
        th.scope = "col";
        th.textContent = (data.labels.channels[channel] || channel) + ": " + data.labels.kinds[kind];
        head.appendChild(th);
      });
    });
    var body = table.tBodies[0];
    while (body.rows.length) { body.deleteRow(0); }
    (data.buckets || []).forEach(function (bucket, i) {
      var row = body.insertRow();
      var th = document.createElement("th");
      th.scope = "row";
      var time = document.createElement("time");
      time.setAttribute("datetime", bucket);
      time.textContent = data.bucket_labels[i];
      th.appendChild(time);
      row.appendChild(th);
      channels.forEach(function (channel) {
        kinds.forEach(function (kind) { row.insertCell().textContent = String(data.series[channel][kind][i]); });
      });
    });
  }

  function chart() {
    var figure = document.getElementById("delivery-chart");
    var section = document.getElementById("deliveries");
    if (!figure) { return; }
    var svg = document.getElementById("delivery-chart-svg");
    var table = document.getElementById("delivery-chart-table");
    var bucket = document.getElementById("delivery-chart-bucket");
    var busy = false;
    function update() {
      if (busy || document.hidden) { return; }
      busy = true;
      fetch(figure.dataset.url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          busy = false;
          if (!data) { return; }
          drawChart(svg, data);
          if ((data.buckets || []).length) { fillChartTable(table, data); }
          if (bucket) { bucket.textContent = data.bucket_words; }
          figure.setAttribute("data-drawn", String(Number(figure.dataset.drawn || 0) + 1));
        })
        .catch(function () { busy = false; });
    }
    update();
    if (section && section.dataset.live === "yes") { setInterval(update, POLL_MS); }
  }

  function start() { drawMap(); poll(); chart(); }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

/*
 * Varsla public pages: draw notice areas on a Leaflet map.
 *
 * Reads a GeoJSON FeatureCollection from <script type="application/json"
 * id="map-data"> and the tile server from the map element's data-tile-url.
 * The areas are drawn whether or not tiles load (the map has a plain
 * background), and all notice text is set with textContent, never as HTML.
 * No inline script is needed, so pages can forbid it with their CSP.
 */
(function () {
  "use strict";

  // Outline colours, each with at least 3:1 contrast against the map background.
  var COLORS = {
    Extreme: "#7f0000", Severe: "#b3261e", Moderate: "#7a5c00",
    Minor: "#0b4f8a", Unknown: "#4a4a4a", ended: "#14532d"
  };

  function escapeHtml(value) {
    var div = document.createElement("div");
    div.textContent = String(value || "");
    return div.innerHTML;
  }

  function sameOriginPath(value) {
    var text = String(value || "");
    return text.charAt(0) === "/" && text.charAt(1) !== "/" ? text : null;
  }

  function popup(properties, readMore) {
    var box = document.createElement("div");
    var label = document.createElement("strong");
    label.textContent = String(properties.severity_label || "");
    box.appendChild(label);
    box.appendChild(document.createElement("br"));
    var href = sameOriginPath(properties.url);
    var headline = document.createElement(href ? "a" : "span");
    headline.textContent = String(properties.headline || "");
    if (href) { headline.href = href; headline.title = readMore; }
    box.appendChild(headline);
    return box;
  }

  function draw() {
    var element = document.getElementById("map");
    var source = document.getElementById("map-data");
    if (!element || !source || !window.L) { return; }
    var data;
    try {
      data = JSON.parse(source.textContent);
    } catch (e) {
      return;
    }
    var L = window.L;
    var settings = element.dataset;
    var map = L.map(element, { zoomControl: false, scrollWheelZoom: false });
    L.control.zoom({
      zoomInTitle: settings.zoomIn || "Zoom in",
      zoomOutTitle: settings.zoomOut || "Zoom out"
    }).addTo(map);
    if (settings.tileUrl) {
      // Tiles are decoration: when they fail to load, the areas still show.
      L.tileLayer(settings.tileUrl, {
        maxZoom: 18,
        attribution: escapeHtml(settings.tileAttribution)
      }).addTo(map);
    }
    var areas = L.geoJSON(data, {
      style: function (feature) {
        var colour = COLORS[feature.properties.severity] || COLORS.Unknown;
        return { color: colour, weight: 3, fillColor: colour, fillOpacity: 0.2 };
      },
      onEachFeature: function (feature, layer) {
        layer.bindPopup(popup(feature.properties || {}, settings.readMore || ""));
      }
    }).addTo(map);
    var bounds = areas.getBounds();
    if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [16, 16], maxZoom: 15 });
    } else {
      map.setView([62.0, 15.0], 5);  // Sweden
    }
    element.setAttribute("data-map-ready", String(data.features ? data.features.length : 0));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();

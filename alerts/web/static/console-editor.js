/*
 * Varsla console: the notice editor's map, counters, SMS parts and reach.
 *
 * Progressive enhancement: the form works without this script (zones are checkboxes,
 * a circle is three number fields). This script draws the zones on a Leaflet map
 * (click one to select it), lets the operator draw a polygon or a circle
 * (Leaflet.draw), search an address and draw a circle around it, and keeps the
 * character counts, the SMS's parts and encoding and the reach up to date as the
 * operator types. Everything it writes goes into the same form fields.
 */
(function () {
  "use strict";

  var SELECTED = { color: "#0b4f8a", weight: 3, fillColor: "#0b4f8a", fillOpacity: 0.35 };
  var UNSELECTED = { color: "#4a4a4a", weight: 1, fillColor: "#4a4a4a", fillOpacity: 0.05 };
  var DRAWN = { color: "#b3261e", weight: 3, fillColor: "#b3261e", fillOpacity: 0.15 };

  function byId(id) { return document.getElementById(id); }

  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (_, key) {
      return values[key] === undefined ? "" : String(values[key]);
    });
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function postJson(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.ok ? response.json() : null;
    });
  }

  function zoneBoxes(form) {
    return Array.prototype.slice.call(form.querySelectorAll("input[name=zones]"));
  }

  function area(form) {
    var result = { zones: zoneBoxes(form).filter(function (b) { return b.checked; })
      .map(function (b) { return b.value; }) };
    var geometry = byId("geometry").value;
    if (geometry) {
      try { result.geometry = JSON.parse(geometry); } catch (e) { /* the server names it */ }
    }
    var lat = parseFloat(byId("circle_lat").value);
    var lon = parseFloat(byId("circle_lon").value);
    var radius = parseFloat(byId("circle_radius").value);
    if (!isNaN(lat) && !isNaN(lon) && !isNaN(radius)) {
      result.circle = { center: [lon, lat], radius_m: radius };
    }
    return result;
  }

  function channels(form) {
    return Array.prototype.slice.call(form.querySelectorAll("input[name=channels]:checked"))
      .map(function (b) { return b.value; });
  }

  function setupReach(form) {
    var out = byId("reach");
    if (!out) { return function () {}; }
    var d = out.dataset;
    return debounce(function () {
      var a = area(form);
      if (!a.zones.length && !a.geometry && !a.circle) {
        out.textContent = d.none;
        out.removeAttribute("data-subscribers");
        return;
      }
      out.textContent = d.waiting;
      var body = { area: a, channels: channels(form) };
      // A new alert reaches only those who chose its category (an update also reaches
      // everyone who got the alert, so its editor counts the area).
      var category = form.dataset.reachCategory && byId(form.dataset.reachCategory);
      if (category && category.value) { body.category = category.value; }
      postJson(form.dataset.reachUrl, form.dataset.csrf, body)
        .then(function (r) {
          if (!r) { out.textContent = d.none; return; }
          var parts = [fill(d.templateSubscribers, { n: r.subscribers })];
          ["sms", "email"].forEach(function (c) {
            if (!r.channels[c]) { return; }
            var langs = r.channels[c].by_language;
            var detail = Object.keys(langs).map(function (l) { return (d[l] || l) + " " + langs[l]; });
            parts.push(fill(c === "sms" ? d.templateSms : d.templateEmail, { n: r.channels[c].total }) +
              (detail.length ? " (" + detail.join(", ") + ")" : ""));
          });
          parts.push(fill(d.templateAddresses, { n: r.addresses_without_subscriber }));
          out.textContent = parts.join(" · ");
          out.setAttribute("data-subscribers", String(r.subscribers));
        })
        .catch(function () { out.textContent = d.none; });
    }, 300);
  }

  function setupTexts(form) {
    var fields = Array.prototype.slice.call(form.querySelectorAll("[data-count]"));
    function count(field) {
      var counter = byId(field.dataset.count);
      if (counter) {
        counter.textContent = fill(counter.dataset.template, {
          n: field.value.length, max: counter.dataset.limit
        });
      }
    }
    var sms = debounce(function () {
      var texts = {};
      ["sv", "en"].forEach(function (lang) {
        texts[lang] = {};
        ["headline", "description", "instruction"].forEach(function (name) {
          var field = byId("f-" + lang + "_" + name);
          texts[lang][name] = field ? field.value : "";
        });
      });
      var times = {};
      ["next_update", "expected_restoration"].forEach(function (name) {
        var field = byId("f-" + name);
        if (field && field.value) { times[name] = field.value; }
      });
      postJson(form.dataset.smsUrl, form.dataset.csrf, { texts: texts, times: times }).then(function (r) {
        ["sv", "en"].forEach(function (lang) {
          var box = byId("sms-" + lang);
          if (!box) { return; }
          var p = r && r[lang];
          box.textContent = p ? fill(box.dataset.template, {
            parts: p.segments, encoding: p.encoding, n: p.characters
          }) : "";
          box.setAttribute("data-segments", p ? String(p.segments) : "0");
        });
      }).catch(function () { /* counters stay as they were */ });
    }, 250);
    fields.forEach(function (field) {
      field.addEventListener("input", function () { count(field); sms(); });
      count(field);
    });
    Array.prototype.slice.call(form.querySelectorAll("[data-sms-input]")).forEach(function (field) {
      field.addEventListener("input", sms);
      field.addEventListener("change", sms);
    });
    sms();
  }

  function setupMap(form, reach) {
    var element = byId("editor-map");
    var source = byId("zones-data");
    if (!element || !source || !window.L) { return; }
    var L = window.L;
    var settings = element.dataset;
    var data;
    try { data = JSON.parse(source.textContent); } catch (e) { return; }
    byId("map-tools").hidden = false;
    var map = L.map(element, { zoomControl: false });
    L.control.zoom({ zoomInTitle: settings.zoomIn, zoomOutTitle: settings.zoomOut }).addTo(map);
    if (settings.tileUrl) {
      L.tileLayer(settings.tileUrl, { maxZoom: 18, attribution: settings.tileAttribution }).addTo(map);
    }
    var boxes = {};
    zoneBoxes(form).forEach(function (b) { boxes[b.value] = b; });
    var layers = {};
    var zones = L.geoJSON(data, {
      style: function (feature) {
        var box = boxes[feature.properties.slug];
        return box && box.checked ? SELECTED : UNSELECTED;
      },
      onEachFeature: function (feature, layer) {
        layers[feature.properties.slug] = layer;
        layer.once("add", function () {
          var path = layer.getElement && layer.getElement();
          if (path) { path.setAttribute("data-zone", String(feature.properties.slug)); }
        });
        layer.bindTooltip(String(feature.properties.name || ""));
        layer.on("click", function () {
          var box = boxes[feature.properties.slug];
          if (!box) { return; }
          box.checked = !box.checked;
          box.dispatchEvent(new Event("change", { bubbles: true }));
        });
      }
    }).addTo(map);
    function restyle() {
      Object.keys(layers).forEach(function (slug) {
        layers[slug].setStyle(boxes[slug] && boxes[slug].checked ? SELECTED : UNSELECTED);
      });
    }
    zoneBoxes(form).forEach(function (b) {
      b.addEventListener("change", function () { restyle(); reach(); });
    });

    // A view first: a circle in metres cannot be placed on a map without one.
    var zoneBounds = zones.getBounds();
    if (zoneBounds.isValid()) {
      map.fitBounds(zoneBounds, { padding: [16, 16], maxZoom: 15 });
    } else {
      map.setView([62.0, 15.0], 5);
    }
    var drawn = new L.FeatureGroup().addTo(map);
    var polygonLayer = null;
    var circleLayer = null;
    function showPolygon() {
      if (polygonLayer) { drawn.removeLayer(polygonLayer); polygonLayer = null; }
      var value = byId("geometry").value;
      byId("drawn-polygon").hidden = !value;
      if (!value) { return; }
      try {
        polygonLayer = L.geoJSON(JSON.parse(value), { style: DRAWN }).getLayers()[0];
        if (polygonLayer) { drawn.addLayer(polygonLayer); }
      } catch (e) { polygonLayer = null; }
    }
    function showCircle() {
      if (circleLayer) { drawn.removeLayer(circleLayer); circleLayer = null; }
      var a = area(form);
      if (a.circle) {
        circleLayer = L.circle([a.circle.center[1], a.circle.center[0]],
          Object.assign({ radius: a.circle.radius_m }, DRAWN));
        drawn.addLayer(circleLayer);
      }
    }
    function setCircle(latlng, radius) {
      byId("circle_lat").value = latlng.lat.toFixed(6);
      byId("circle_lon").value = latlng.lng.toFixed(6);
      byId("circle_radius").value = String(Math.round(radius));
      showCircle();
      reach();
    }
    showPolygon();
    showCircle();
    ["circle_lat", "circle_lon", "circle_radius"].forEach(function (id) {
      byId(id).addEventListener("change", function () { showCircle(); reach(); });
    });
    byId("clear-polygon").addEventListener("click", function () {
      byId("geometry").value = "";
      showPolygon();
      reach();
    });

    if (L.Control.Draw) {
      L.drawLocal.draw.toolbar.buttons.polygon = settings.drawPolygon;
      L.drawLocal.draw.toolbar.buttons.circle = settings.drawCircle;
      L.drawLocal.edit.toolbar.buttons.edit = settings.edit;
      L.drawLocal.edit.toolbar.buttons.remove = settings.remove;
      map.addControl(new L.Control.Draw({
        draw: {
          polygon: { allowIntersection: false, showArea: false, shapeOptions: DRAWN },
          circle: { shapeOptions: DRAWN, showRadius: true, metric: true },
          polyline: false, rectangle: false, marker: false, circlemarker: false
        },
        edit: { featureGroup: drawn }
      }));
      map.on(L.Draw.Event.CREATED, function (event) {
        if (event.layerType === "circle") {
          setCircle(event.layer.getLatLng(), event.layer.getRadius());
        } else {
          byId("geometry").value = JSON.stringify(event.layer.toGeoJSON().geometry);
          showPolygon();
          reach();
        }
      });
      map.on(L.Draw.Event.EDITED, function (event) {
        event.layers.eachLayer(function (layer) {
          if (layer === circleLayer) {
            setCircle(layer.getLatLng(), layer.getRadius());
          } else if (layer === polygonLayer) {
            byId("geometry").value = JSON.stringify(layer.toGeoJSON().geometry);
            reach();
          }
        });
      });
      map.on(L.Draw.Event.DELETED, function (event) {
        event.layers.eachLayer(function (layer) {
          if (layer === circleLayer) {
            ["circle_lat", "circle_lon", "circle_radius"].forEach(function (id) { byId(id).value = ""; });
            circleLayer = null;
          } else if (layer === polygonLayer) {
            byId("geometry").value = "";
            polygonLayer = null;
            byId("drawn-polygon").hidden = true;
          }
        });
        reach();
      });
    }

    setupAddressSearch(map, setCircle);
    if (drawn.getLayers().length) {
      map.fitBounds(drawn.getBounds().extend(zoneBounds), { padding: [16, 16], maxZoom: 15 });
    }
    element.setAttribute("data-map-ready", String(Object.keys(layers).length));
  }

  function setupAddressSearch(map, setCircle) {
    var input = byId("address-search");
    var list = byId("address-results");
    var radius = byId("address-radius");
    var search = debounce(function () {
      var q = input.value.trim();
      if (q.length < 3) { list.textContent = ""; return; }
      fetch("/api/v1/addresses?limit=8&q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (data) {
          list.textContent = "";
          data.items.forEach(function (item) {
            var li = document.createElement("li");
            var button = document.createElement("button");
            button.type = "button";
            button.textContent = item.label;
            button.addEventListener("click", function () {
              var latlng = window.L.latLng(item.lat, item.lon);
              setCircle(latlng, parseFloat(radius.value) || 300);
              map.setView(latlng, 15);
              list.textContent = "";
              input.value = item.label;
            });
            li.appendChild(button);
            list.appendChild(li);
          });
        })
        .catch(function () { list.textContent = ""; });
    }, 250);
    input.addEventListener("input", search);
  }

  function start() {
    var form = byId("editor");
    if (!form) { return; }
    var reach = setupReach(form);
    setupTexts(form);
    setupMap(form, reach);
    ["circle_lat", "circle_lon", "circle_radius", "f-place"].forEach(function (id) {
      var field = byId(id);
      if (field) { field.addEventListener("input", reach); }
    });
    Array.prototype.slice.call(form.querySelectorAll("input[name=channels]")).forEach(function (b) {
      b.addEventListener("change", reach);
    });
    if (byId("f-category")) { byId("f-category").addEventListener("change", reach); }
    reach();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

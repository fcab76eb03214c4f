/* landmap's map behaviour: layers fetched from the API, escaped popups, legend, search.
 *
 * Every attribute value is user data: it reaches the page only through textContent (or
 * LandMap.esc for the few places where Leaflet takes a string), never as HTML.
 */
(function () {
  "use strict";

  function esc(value) {
    return String(value == null ? "" : value).replace(/[&<>"'`]/g, function (c) {
      return "&#" + c.charCodeAt(0) + ";";
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  }

  function fmtMu(value) {
    return value == null ? "" : Number(value).toFixed(2);
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  function query(params) {
    var parts = [];
    Object.keys(params || {}).forEach(function (k) {
      if (params[k] != null && params[k] !== "") {
        parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(params[k]));
      }
    });
    return parts.join("&");
  }

  /* The facts of a parcel as a DOM table (labels and stage names come from the server). */
  function parcelPopup(p, opts) {
    var L_ = opts.labels;
    var box = el("div", "lm-popup");
    box.appendChild(el("div", "lm-popup-title", p.code + (p.name ? " " + p.name : "")));
    var table = el("table", "lm-facts");
    function row(label, value, cls) {
      if (value == null || value === "") return;
      var tr = el("tr", cls);
      tr.appendChild(el("th", null, label));
      tr.appendChild(el("td", null, value));
      table.appendChild(tr);
    }
    row(L_.zone, p.zone);
    row(L_.owner, p.owner);
    row(L_.location, p.location);
    row(L_.land_use, [p.land_use_code, p.land_use_name].filter(Boolean).join(" "));
    row(L_.area, fmtMu(p.area_mu) + " " + L_.mu);
    if (p.official_area_mu != null) {
      row(L_.official_area, fmtMu(p.official_area_mu) + " " + L_.mu +
          (p.area_mismatch ? "  ⚠ " + L_.mismatch : ""), p.area_mismatch ? "lm-warn" : null);
    }
    row(L_.stage, opts.stageLabels[p.stage] || p.stage, "lm-stage lm-stage-" + p.stage);
    row(L_.project, p.project);
    row(L_.batch, p.batch);
    if (p.commercial) {
      var c = p.commercial;
      row(L_.planned_use, c.planned_use);
      row(L_.plot_ratio, c.plot_ratio_max);
      row(L_.transfer, opts.transferLabels[c.transfer_status] || c.transfer_status);
      row(L_.transfer_date, c.transfer_date);
    }
    box.appendChild(table);
    return box;
  }

  function parcelStyle(opts, p) {
    var commercial = !!p.commercial;
    return {
      color: commercial ? opts.commercialColor : "#555",
      weight: commercial ? 3 : 1,
      dashArray: commercial ? "6 3" : null,
      fillColor: opts.colors[p.stage] || "#ccc",
      fillOpacity: 0.7
    };
  }

  /* Parcels fetched by bounding box as the map moves; features are kept by code, so a popup
   * stays open while the map pans under it. */
  function parcelLayer(opts) {
    var byCode = {};
    var map = null;
    var controller = null;
    var layer = L.geoJSON(null, {
      className: "lm-parcel",
      style: function (f) { return parcelStyle(opts, f.properties); },
      onEachFeature: function (f, l) {
        byCode[f.properties.code] = l;
        l.bindPopup(function () { return parcelPopup(f.properties, opts); }, { maxWidth: 360 });
        l.bindTooltip(esc(f.properties.code), { sticky: true });
      }
    });
    layer.landmap = { byCode: byCode, loaded: 0 };

    function prune(bounds) {
      Object.keys(byCode).forEach(function (code) {
        var l = byCode[code];
        if (!l.isPopupOpen() && !bounds.intersects(l.getBounds())) {
          layer.removeLayer(l);
          delete byCode[code];
        }
      });
    }

    function refresh() {
      if (!map) return;
      var hint = opts.hint && document.getElementById(opts.hint);
      if (map.getZoom() < opts.minZoom) {
        if (hint) hint.textContent = opts.labels.zoom_in;
        return;
      }
      var b = map.getBounds();
      var params = Object.assign({}, opts.params, {
        bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
          .map(function (v) { return v.toFixed(6); }).join(","),
        limit: opts.limit
      });
      if (controller) controller.abort();
      controller = new AbortController();
      fetch(opts.url + "?" + query(params), { signal: controller.signal, credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        })
        .then(function (fc) {
          if (Object.keys(byCode).length > opts.limit) prune(b);
          var fresh = fc.features.filter(function (f) { return !byCode[f.properties.code]; });
          layer.addData({ type: "FeatureCollection", features: fresh });
          layer.landmap.loaded = Object.keys(byCode).length;
          if (hint) {
            hint.textContent = fc.features.length >= opts.limit ? opts.labels.truncated : "";
          }
          map.fire("landmap:parcels", { count: layer.landmap.loaded });
        })
        .catch(function (err) {
          if (err.name !== "AbortError" && hint) hint.textContent = opts.labels.load_failed;
        });
    }

    var onMove = debounce(refresh, 150);
    layer.on("add", function () {
      map = layer._map;
      window.LandMap.current = { map: map, parcels: layer };
      map.on("moveend", onMove);
      refresh();
    });
    layer.on("remove", function () {
      if (map) map.off("moveend", onMove);
    });
    layer.landmap.refresh = refresh;
    layer.landmap.featureUrl = function (code) {
      return opts.url + "/" + encodeURIComponent(code);
    };

    /* Show one parcel's popup, whether or not the layer holds it (another zone, a filter). */
    var highlight = null;
    layer.landmap.show = function (code) {
      if (byCode[code]) { byCode[code].openPopup(); return; }
      fetch(layer.landmap.featureUrl(code), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (f) {
          if (!f || !map) return;
          if (highlight) map.removeLayer(highlight);
          highlight = L.geoJSON(f, {
            className: "lm-parcel lm-highlight",
            style: function () {
              return Object.assign(parcelStyle(opts, f.properties), { weight: 3, color: "#1565c0" });
            }
          }).addTo(map);
          highlight.bindPopup(function () { return parcelPopup(f.properties, opts); },
                              { maxWidth: 360 }).openPopup();
        });
    };
    return layer;
  }

  /* Zone boundaries: a small layer, fetched once. */
  function zoneLayer(opts) {
    var layer = L.geoJSON(null, {
      style: function (f) {
        var active = opts.active && f.properties.code === opts.active;
        return { color: "#c62828", weight: active ? 3 : 2, dashArray: "8 4", fill: false };
      },
      onEachFeature: function (f, l) {
        l.bindTooltip(esc(f.properties.name), { permanent: false, sticky: true });
      }
    });
    fetch(opts.url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (fc) { layer.addData(fc); });
    return layer;
  }

  /* Legend: colour, stage, mu and parcels for each stage; commercial plot outline. */
  function legend(map, opts) {
    var control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      var box = el("div", "lm-legend leaflet-bar");
      box.appendChild(el("div", "lm-legend-title", opts.title));
      var table = el("table");
      opts.rows.forEach(function (r) {
        var tr = el("tr");
        var sw = el("td");
        var swatch = el("span", "lm-swatch");
        swatch.style.background = r.color;
        sw.appendChild(swatch);
        tr.appendChild(sw);
        tr.appendChild(el("td", null, r.label));
        tr.appendChild(el("td", "lm-num", fmtMu(r.mu)));
        tr.appendChild(el("td", "lm-num lm-muted", r.parcels));
        tr.dataset.stage = r.stage;
        table.appendChild(tr);
      });
      var total = el("tr", "lm-total");
      total.appendChild(el("td"));
      total.appendChild(el("td", null, opts.totalLabel));
      total.appendChild(el("td", "lm-num", fmtMu(opts.totalMu)));
      total.appendChild(el("td", "lm-num lm-muted", opts.totalParcels));
      table.appendChild(total);
      box.appendChild(table);
      var comm = el("div", "lm-legend-commercial");
      var cs = el("span", "lm-swatch lm-swatch-commercial");
      cs.style.borderColor = opts.commercialColor;
      comm.appendChild(cs);
      comm.appendChild(document.createTextNode(" " + opts.commercialLabel));
      box.appendChild(comm);
      box.appendChild(el("div", "lm-hint", ""));
      box.lastChild.id = opts.hintId;
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    control.addTo(map);
    return control;
  }

  /* Search by parcel code or project name; zooms to the hit and opens a parcel's popup. */
  function search(map, parcels, opts) {
    var control = L.control({ position: "topleft" });
    control.onAdd = function () {
      var box = el("div", "lm-search leaflet-bar");
      var input = el("input");
      input.type = "search";
      input.placeholder = opts.placeholder;
      input.setAttribute("aria-label", opts.placeholder);
      var list = el("ul", "lm-search-results");
      box.appendChild(input);
      box.appendChild(list);
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);

      function go(hit) {
        list.textContent = "";
        var b = hit.bbox;
        map.closePopup();
        map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { maxZoom: 17 });
        if (hit.kind === "parcel") {
          var shown = false;
          var show = function () {
            if (!shown) { shown = true; parcels.landmap.show(hit.key); }
          };
          map.once("moveend", show);
          setTimeout(show, 800);  // the view may not have moved at all
        }
      }

      var run = debounce(function () {
        var q = input.value.trim();
        if (!q) { list.textContent = ""; return; }
        fetch(opts.url + "?" + query({ q: q }), { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (data) {
            list.textContent = "";
            if (!data.results.length) list.appendChild(el("li", "lm-muted", opts.noHits));
            data.results.forEach(function (hit) {
              var li = el("li", "lm-hit lm-hit-" + hit.kind, hit.label);
              li.tabIndex = 0;
              li.addEventListener("click", function () { go(hit); });
              li.addEventListener("keydown", function (e) { if (e.key === "Enter") go(hit); });
              list.appendChild(li);
            });
          });
      }, 200);
      input.addEventListener("input", run);
      input.addEventListener("keydown", function (e) {
        if (e.key === "Enter" && list.firstChild && list.firstChild.classList.contains("lm-hit")) {
          list.firstChild.click();
        }
      });
      return box;
    };
    control.addTo(map);
    return control;
  }

  window.LandMap = {
    esc: esc,
    parcelLayer: parcelLayer,
    zoneLayer: zoneLayer,
    legend: legend,
    search: search
  };
})();

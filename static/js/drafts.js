/* The zone-draft pages (扩区/调区): the draft editor on /zones/<code>/drafts, the upload form,
 * and the approve and rebase buttons of a draft's compare page. Texts and URLs come from the
 * server (the editor's options, the elements' data- attributes); user data reaches the page
 * only through textContent. Loaded after landmap.js (whose LandMap.api makes every API call
 * and LandMap.el every element) and before the map's own script.
 */
(function () {
  "use strict";

  var LandMap = window.LandMap = window.LandMap || {};
  var el = LandMap.el;

  function warn(node, message) {
    node.className = "lm-msg lm-warn";
    node.textContent = message;
  }

  /* A polygon layer's rings as GeoJSON coordinates with every digit Leaflet holds:
   * toGeoJSON() alone rounds to 6 decimals (about 10 cm), which moved an unchanged boundary. */
  function polygons(layer) {
    var g = layer.toGeoJSON(false).geometry;
    return g.type === "MultiPolygon" ? g.coordinates : [g.coordinates];
  }

  /* Edit a copy of the zone's current boundary, draw a new one, or draw shapes to add to or
   * subtract from it; save as a draft on the boundary version the page showed (opts.baseId). */
  function draftEditor(map, opts) {
    var L_ = opts.labels;
    var op = opts.op;
    var colors = {};
    opts.ops.forEach(function (o) { colors[o.value] = o.color; });
    var group = new L.FeatureGroup().addTo(map);
    (opts.current.features || []).forEach(function (f) {
      var g = f.geometry;
      (g.type === "Polygon" ? [g.coordinates] : g.coordinates).forEach(function (rings) {
        group.addLayer(L.polygon(rings.map(function (ring) {
          return ring.map(function (c) { return [c[1], c[0]]; });
        }), { color: colors.replace, weight: 2 }));
      });
    });
    if (group.getLayers().length) map.fitBounds(group.getBounds());
    new L.Control.Draw({
      edit: { featureGroup: group },
      draw: { polygon: { shapeOptions: { color: colors[op] } }, polyline: false,
              rectangle: false, circle: false, marker: false, circlemarker: false }
    }).addTo(map);

    function drawn() {
      return group.getLayers().filter(function (l) { return l.landmapDrawn; });
    }
    function recolor() {
      drawn().forEach(function (l) { l.setStyle({ color: colors[op] }); });
    }
    map.on(L.Draw.Event.CREATED, function (e) {
      e.layer.landmapDrawn = true;
      group.addLayer(e.layer);
      recolor();
    });

    // bottom left: the layer control and the legend take the right-hand side
    var control = L.control({ position: "bottomleft" });
    control.onAdd = function () {
      var box = el("div", "lm-select leaflet-bar lm-draft-panel");
      box.appendChild(el("div", "lm-section", L_.draft_title));
      var ops = el("div", "lm-draft-ops");
      ops.setAttribute("role", "radiogroup");
      opts.ops.forEach(function (o) {
        var label = el("label", "lm-draft-op");
        var radio = el("input");
        radio.type = "radio";
        radio.name = "lm-draft-op";
        radio.value = o.value;
        radio.checked = o.value === op;
        radio.addEventListener("change", function () {
          if (!radio.checked) return;
          op = o.value;
          recolor();
        });
        label.appendChild(radio);
        label.appendChild(document.createTextNode(" " + o.label));
        ops.appendChild(label);
      });
      box.appendChild(ops);
      box.appendChild(el("div", "lm-muted lm-draft-hint", L_.op_hint));
      var note = el("textarea", "lm-paste");
      note.placeholder = L_.draft_note;
      var save = el("button", "btn btn-sm btn-primary", L_.save_draft);
      save.type = "button";
      var msg = el("div", "lm-msg");
      save.addEventListener("click", function () {
        var layers = op === "replace" ? group.getLayers() : drawn();
        var coords = [];
        layers.forEach(function (l) { coords.push.apply(coords, polygons(l)); });
        if (!coords.length) { warn(msg, L_.nothing_drawn); return; }
        save.disabled = true;
        LandMap.api(opts.url, opts, { geometry: { type: "MultiPolygon", coordinates: coords },
                                      note: note.value, op: op, base_id: opts.baseId })
          .then(function (d) { window.location = opts.compareUrl.replace("__ID__", d.id); })
          .catch(function (err) {
            warn(msg, err.message);
            save.disabled = false;
          });
      });
      box.appendChild(note);
      box.appendChild(save);
      box.appendChild(msg);
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    control.addTo(map);
    LandMap.editor = { map: map, group: group, op: function () { return op; } };
    return group;
  }

  /* --- the page's forms and buttons ------------------------------------------------- */

  function goToDraft(template, id) {
    window.location = template.replace(/\/0$/, "/" + id);
  }

  /* The upload form: an EPSG code field shown when "another EPSG code" is chosen; the
   * loader's refusal (its bad records on lines of their own) under the form. */
  function uploadForm(form) {
    var msg = document.getElementById("upload-msg");
    msg.style.whiteSpace = "pre-line";
    var srs = form.elements.srs, epsg = form.elements.srs_epsg;
    if (srs && epsg) {
      srs.addEventListener("change", function () {
        epsg.hidden = srs.value !== "epsg";
        if (!epsg.hidden) epsg.focus();
      });
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      LandMap.api(form.dataset.url, null, new FormData(form))
        .then(function (d) { goToDraft(form.dataset.compare, d.id); })
        .catch(function (err) { warn(msg, err.message); });
    });
  }

  function approveButton(button) {
    var msg = document.getElementById("draft-msg");
    button.addEventListener("click", function () {
      if (!window.confirm(button.dataset.confirm)) return;
      button.disabled = true;
      LandMap.api(button.dataset.url, null, {})
        .then(function () { window.location.reload(); })
        .catch(function (err) { warn(msg, err.message); button.disabled = false; });
    });
  }

  function rebaseButton(button) {
    var msg = document.getElementById("draft-msg");
    button.addEventListener("click", function () {
      button.disabled = true;
      LandMap.api(button.dataset.url, null, {})
        .then(function (d) { goToDraft(button.dataset.compare, d.id); })
        .catch(function (err) { warn(msg, err.message); button.disabled = false; });
    });
  }

  function wire() {
    var upload = document.getElementById("upload-form");
    if (upload) uploadForm(upload);
    var approve = document.getElementById("approve");
    if (approve) approveButton(approve);
    var rebase = document.getElementById("rebase");
    if (rebase) rebaseButton(rebase);
  }

  LandMap.draftEditor = draftEditor;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})();

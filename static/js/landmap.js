/* landmap's map behaviour: layers fetched from the API, escaped popups, legend, search.
 *
 * Every attribute value is user data: it reaches the page only through textContent (or
 * LandMap.esc for the few places where Leaflet takes a string), never as HTML.
 */
(function () {
  "use strict";

  // Leaflet 1.8 removed DomEvent.fakeStop, which Leaflet.VectorGrid 1.3's canvas tiles call on
  // click (Leaflet.VectorGrid issue #274): without it a click on a parcel throws.
  if (window.L && L.DomEvent && !L.DomEvent.fakeStop) {
    L.DomEvent.fakeStop = function (e) { e._stopped = true; };
  }

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
    if (p.dispute) row(L_.dispute, p.dispute_reason || L_.disputed, "lm-warn lm-dispute");
    projectRow(table, p, opts);
    row(L_.batch, p.batch);
    if (p.commercial) {
      var c = p.commercial;
      row(L_.planned_use, c.planned_use);
      row(L_.plot_ratio, c.plot_ratio_max);
      row(L_.transfer, opts.transferLabels[c.transfer_status] || c.transfer_status);
      row(L_.transfer_date, c.transfer_date);
    }
    box.appendChild(table);
    // sections other scripts add (LandMap.popupSections: supply.js ...), each fn(p, opts)
    window.LandMap.popupSections.forEach(function (section) {
      var part = section(p, opts);
      if (part) box.appendChild(part);
    });
    if (opts.asOf) box.appendChild(el("div", "lm-muted lm-asof", L_.as_of_note + " " + opts.asOf));
    if (opts.edit && opts.edit.enabled) box.appendChild(editor(p, opts));
    if (opts.edit && opts.edit.canParcels && !opts.asOf) box.appendChild(parcelEditor(p, opts));
    return box;
  }

  /* The parcel's project, linked to its page (opts.projectUrl, "__ID__" for the project's id),
   * on the map's day when it shows a past one. */
  function projectRow(table, p, opts) {
    if (!p.project) return;
    var tr = el("tr", "lm-project");
    tr.appendChild(el("th", null, opts.labels.project));
    var td = el("td");
    if (p.project_id != null && opts.projectUrl) {
      var a = el("a", "lm-project-link", p.project);
      a.href = opts.projectUrl.replace("__ID__", encodeURIComponent(p.project_id)) +
        (opts.asOf ? "?as_of=" + encodeURIComponent(opts.asOf) : "");
      td.appendChild(a);
    } else {
      td.textContent = p.project;
    }
    tr.appendChild(td);
    table.appendChild(tr);
  }

  /* --- acquisition: history and the forms that move parcels on ------------------------ */

  /* The page's CSRF token: the map's (opts.edit.csrf), else the page's <meta name=csrf-token>. */
  function csrfToken(opts) {
    if (opts && opts.edit && opts.edit.csrf) return opts.edit.csrf;
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.content : "";
  }

  /* GET (no body) or POST JSON (or a FormData) with the CSRF token (or ``method``: PATCH,
   * DELETE); resolves with the answer's JSON, rejects with its error message. Every call to
   * the API from landmap's pages. */
  function api(url, opts, body, method) {
    var init = { method: method || (body ? "POST" : "GET"), credentials: "same-origin",
                 headers: {} };
    var token = csrfToken(opts);
    if (token) init.headers["X-CSRFToken"] = token;
    if (body instanceof FormData) {
      init.body = body;
    } else if (body) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
        return data;
      });
    });
  }

  function field(form, label, input) {
    var wrap = el("label", "lm-field");
    wrap.appendChild(el("span", null, label));
    wrap.appendChild(input);
    form.appendChild(wrap);
    return input;
  }

  function input(type, name, value) {
    var i = el("input");
    i.type = type;
    i.name = name;
    if (value != null) i.value = value;
    return i;
  }

  /* Where a parcel at ``current`` may go, as the server's workflow rule says (opts.edit.moves):
   * forward, or back as a correction; parcels selected together (current null) may go to any
   * stage of the workflow, and the server checks each. */
  function movesFrom(opts, current) {
    if (current == null) return { forward: opts.edit.workflow, correction: [] };
    return opts.edit.moves[current] || { forward: [], correction: [] };
  }

  function stageSelect(opts, current) {
    var L_ = opts.labels;
    var moves = movesFrom(opts, current);
    var select = el("select");
    select.name = "stage";
    [[moves.forward, L_.forward], [moves.correction, L_.correction_group]].forEach(function (g) {
      if (!g[0].length) return;
      var group = el("optgroup");
      group.label = g[1];
      g[0].forEach(function (stage) {
        var o = el("option", null, opts.stageLabels[stage]);
        o.value = stage;
        group.appendChild(o);
      });
      select.appendChild(group);
    });
    return select;
  }

  function moveForm(opts, current, submit) {
    var L_ = opts.labels;
    var form = el("form", "lm-form");
    var stage = field(form, L_.move_to, stageSelect(opts, current));
    field(form, L_.date, input("date", "date", opts.edit.today)).max = opts.edit.today;
    field(form, L_.note, input("text", "note", ""));
    var corr = input("checkbox", "correction");
    var corrLabel = field(form, L_.correction, corr).parentNode;
    var reason = field(form, L_.reason, input("text", "reason", ""));
    var files = field(form, L_.documents, input("file", "documents"));
    files.multiple = true;
    files.accept = "application/pdf,image/jpeg,image/png";
    var backwards = movesFrom(opts, current).correction;
    function sync() {
      var back = backwards.indexOf(stage.value) >= 0;
      corr.checked = back || corr.checked;
      corrLabel.style.display = current == null ? "" : (back ? "" : "none");
      reason.parentNode.style.display = corr.checked ? "" : "none";
    }
    stage.addEventListener("change", sync);
    corr.addEventListener("change", sync);
    sync();
    var msg = el("div", "lm-msg");
    var button = el("button", "btn btn-sm btn-primary", L_.save);
    button.type = "submit";
    form.appendChild(button);
    form.appendChild(msg);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      button.disabled = true;
      msg.className = "lm-msg";
      msg.textContent = "";
      submit(new FormData(form)).then(function () {
        msg.className = "lm-msg lm-ok";
        msg.textContent = L_.saved;
      }).catch(function (err) {
        msg.className = "lm-msg lm-warn";
        msg.textContent = err.message;
      }).then(function () { button.disabled = false; });
    });
    return form;
  }

  function historyList(opts, entries) {
    var L_ = opts.labels;
    if (!entries.length) return el("div", "lm-muted", L_.no_history);
    var list = el("ol", "lm-history");
    entries.forEach(function (h) {
      var what = h.kind === "stage" ? (opts.stageLabels[h.stage] || h.stage)
        : (h.kind === "dispute" ? L_.disputed : L_.dispute_resolved);
      var li = el("li", h.correction ? "lm-correction" : null);
      li.appendChild(el("b", null, h.date + " " + what));
      li.appendChild(el("span", "lm-muted", " " + h.user));
      if (h.note) li.appendChild(el("div", null, h.note));
      if (h.reason) li.appendChild(el("div", "lm-muted", L_.reason + ": " + h.reason));
      h.documents.forEach(function (d) {
        var a = el("a", "lm-doc", d.file_name);
        a.href = opts.documentsUrl + "/" + d.id;
        li.appendChild(a);
      });
      list.appendChild(li);
    });
    return list;
  }

  function disputeForm(opts, p, done) {
    var L_ = opts.labels;
    var form = el("form", "lm-form lm-dispute-form");
    var reason = p.dispute ? null : field(form, L_.dispute_reason, input("text", "reason", ""));
    var button = el("button", "btn btn-sm btn-outline-danger",
                    p.dispute ? L_.dispute_resolve : L_.dispute_flag);
    button.type = "submit";
    form.appendChild(button);
    var msg = el("div", "lm-msg");
    form.appendChild(msg);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      api(opts.url + "/" + encodeURIComponent(p.code) + "/dispute", opts, {
        dispute: !p.dispute, date: opts.edit.today, reason: reason ? reason.value : ""
      }).then(done).catch(function (err) {
        msg.className = "lm-msg lm-warn";
        msg.textContent = err.message;
      });
    });
    return form;
  }

  function editor(p, opts) {
    var L_ = opts.labels;
    var box = el("div", "lm-edit");
    var hist = el("div", "lm-history-box", L_.loading);
    box.appendChild(el("div", "lm-section", L_.history));
    box.appendChild(hist);
    var base = opts.url + "/" + encodeURIComponent(p.code);
    api(base + "/history", opts).then(function (entries) {
      hist.textContent = "";
      hist.appendChild(historyList(opts, entries));
    }).catch(function (err) { hist.textContent = err.message; }).then(function () {
      box.dispatchEvent(new CustomEvent("landmap:grown", { bubbles: true }));
    });
    var moves = movesFrom(opts, p.stage);
    if (!moves.forward.length && !moves.correction.length) {  // outside the workflow
      box.appendChild(el("div", "lm-muted", L_.state_land));
      return box;
    }
    var moveBox = el("details", "lm-move");
    moveBox.appendChild(el("summary", "lm-section", L_.move));
    moveBox.appendChild(moveForm(opts, p.stage, function (data) {
      return api(base + "/stage", opts, data).then(function () { opts.reload(p.code); });
    }));
    box.appendChild(moveBox);
    if (opts.edit.canAudit) {
      var auditBox = el("details", "lm-audit");
      auditBox.appendChild(el("summary", "lm-section", L_.audit));
      auditBox.addEventListener("toggle", function () {
        if (!auditBox.open || auditBox.dataset.loaded) return;
        auditBox.dataset.loaded = "1";
        api(opts.auditUrl + "?entity=parcel&key=" + encodeURIComponent(p.code), opts)
          .then(function (rows) {
            var list = el("ol", "lm-history");
            rows.forEach(function (r) {
              var li = el("li", null, r.at.slice(0, 16).replace("T", " ") + " " + r.user + " " +
                          r.action + " " + (r.address || ""));
              list.appendChild(li);
            });
            auditBox.appendChild(rows.length ? list : el("div", "lm-muted", L_.no_history));
          });
      });
      box.appendChild(auditBox);
    }
    var disputeBox = el("details", "lm-dispute-box");
    disputeBox.appendChild(el("summary", "lm-section", L_.dispute));
    disputeBox.appendChild(disputeForm(opts, p, function () { opts.reload(p.code); }));
    box.appendChild(disputeBox);
    return box;
  }

  /* --- parcel edits: the project/batch assignment and attribute corrections ------------ */

  function option(value, label, selected) {
    var o = el("option", null, label);
    o.value = value == null ? "" : String(value);
    o.selected = !!selected;
    return o;
  }

  /* A form's message line and how a request shows in it (saved, or the server's refusal). */
  function outcome(form, L_) {
    var msg = el("div", "lm-msg");
    form.appendChild(msg);
    return function (promise) {
      msg.className = "lm-msg";
      msg.textContent = "";
      return promise.then(function () {
        msg.className = "lm-msg lm-ok";
        msg.textContent = L_.saved;
      }).catch(function (err) {
        msg.className = "lm-msg lm-warn";
        msg.textContent = err.message;
      });
    };
  }

  /* Project and batch of a parcel: the projects from opts.projectsUrl, the chosen one's
   * batches from its detail; assign (POST) or take out (DELETE) <projectsUrl>/<id>/parcels. */
  function assignForm(p, opts, done) {
    var L_ = opts.labels;
    var form = el("form", "lm-form lm-assign-form");
    var project = field(form, L_.project, el("select"));
    project.name = "project";
    var batch = field(form, L_.batch, el("select"));
    batch.name = "batch";
    function batches(id, chosen) {
      batch.textContent = "";
      batch.appendChild(option("", L_.no_batch, chosen == null));
      if (!id) return;
      api(opts.projectsUrl + "/" + encodeURIComponent(id), opts).then(function (pr) {
        (pr.batches || []).forEach(function (b) {
          batch.appendChild(option(b.id, b.name, b.id === chosen));
        });
      });
    }
    api(opts.projectsUrl, opts).then(function (list) {
      project.appendChild(option("", L_.no_project, p.project_id == null));
      list.forEach(function (pr) {
        project.appendChild(option(pr.id, pr.name, pr.id === p.project_id));
      });
      batches(p.project_id, p.batch_id);
    });
    project.addEventListener("change", function () { batches(project.value, null); });
    var save = el("button", "btn btn-sm btn-primary", L_.assign);
    save.type = "submit";
    form.appendChild(save);
    var out = el("button", "btn btn-sm btn-outline-secondary lm-unassign", L_.unassign);
    out.type = "button";
    out.disabled = p.project_id == null;
    form.appendChild(out);
    var show = outcome(form, L_);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!project.value) return;
      var body = { codes: [p.code], batch: batch.value ? Number(batch.value) : null };
      show(api(opts.projectsUrl + "/" + project.value + "/parcels", opts, body).then(done));
    });
    out.addEventListener("click", function () {
      show(api(opts.projectsUrl + "/" + p.project_id + "/parcels", opts,
               { codes: [p.code] }, "DELETE").then(done));
    });
    return form;
  }

  var CORRECTABLE = ["owner", "name", "location", "land_use_code", "land_use_name",
                     "official_area_m2", "rights_type", "rights_nature"];

  /* The attributes a correction may set, filled with the parcel's; only those changed are
   * sent (PATCH), with the reason the server requires. */
  function correctForm(p, opts, done) {
    var L_ = opts.labels;
    var form = el("form", "lm-form lm-correct-form");
    var inputs = {};
    CORRECTABLE.forEach(function (name) {
      var type = name === "official_area_m2" ? "number" : "text";
      inputs[name] = field(form, L_[name], input(type, name, p[name]));
      if (type === "number") inputs[name].step = "0.01";
    });
    var reason = field(form, L_.reason_required, input("text", "reason", ""));
    reason.required = true;
    var save = el("button", "btn btn-sm btn-primary", L_.save);
    save.type = "submit";
    form.appendChild(save);
    var show = outcome(form, L_);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = { reason: reason.value };
      CORRECTABLE.forEach(function (name) {
        var now = inputs[name].value;
        if (now === String(p[name] == null ? "" : p[name])) return;
        body[name] = name === "official_area_m2" ? (now === "" ? null : Number(now)) : now;
      });
      show(api(opts.url + "/" + encodeURIComponent(p.code), opts, body, "PATCH").then(done));
    });
    return form;
  }

  function parcelEditor(p, opts) {
    var L_ = opts.labels;
    var box = el("div", "lm-edit lm-parcel-edit");
    var reload = function () { opts.reload(p.code); };
    [["lm-assign", L_.assignment, assignForm], ["lm-correct", L_.correct, correctForm]]
      .forEach(function (d) {
        var details = el("details", d[0]);
        details.appendChild(el("summary", "lm-section", d[1]));
        details.appendChild(d[2](p, opts, reload));
        box.appendChild(details);
      });
    return box;
  }

  /* A parcel's look from the styles the server sends: outlined (a compare map's cut parcels,
   * filled by stage), disputed, a commercial plot or plain; filled by stage or quota status. */
  function parcelStyle(opts, p) {
    var s = opts.styles;
    var fill = opts.styleBy === "quota" ? opts.quotaColors[p.quota] : opts.colors[p.stage];
    var look = p.dispute ? s.dispute : (p.commercial ? s.commercial : s.plain);
    if (opts.highlight && opts.highlight.indexOf(p.code) >= 0) {
      look = s.highlight;
      fill = opts.colors[p.stage];
    }
    return Object.assign({}, look, { fillColor: fill || opts.unknownFill });
  }

  /* Popups stay inside the map and below whatever lies over its top (the as-of bar): Leaflet
   * pans them into view, and they scroll when taller than the map leaves room for. */
  function popupOptions(map) {
    var box = map.getContainer().getBoundingClientRect();
    var top = 10;
    document.querySelectorAll(".lm-asof-bar").forEach(function (bar) {
      var r = bar.getBoundingClientRect();
      if (r.bottom > box.top && r.top < box.bottom && r.left < box.right && r.right > box.left) {
        top = Math.max(top, Math.ceil(r.bottom - box.top) + 8);
      }
    });
    return { maxWidth: 380, minWidth: 280, autoPan: true, autoPanPaddingTopLeft: [10, top],
             autoPanPaddingBottomRight: [10, 10],
             maxHeight: Math.max(160, Math.floor(box.height - top - 50)) };
  }

  /* Parcels as vector tiles (Leaflet.VectorGrid, canvas): the page never holds the register.
   * A click fetches the parcel's facts from the API and opens the same escaped popup. */
  function parcelLayer(opts) {
    var map = null;
    var popup = null;
    var seen = {};
    var params = Object.assign({}, opts.params, { as_of: opts.asOf },
                               opts.styleBy === "quota" ? { style: "quota" } : {});
    var qs = query(params);
    var layer = L.vectorGrid.protobuf(opts.tileUrl + "/{z}/{x}/{y}.pbf" + (qs ? "?" + qs : ""), {
      rendererFactory: L.canvas.tile,
      interactive: true,
      maxNativeZoom: 20,
      maxZoom: 22,
      fetchOptions: { credentials: "same-origin" },
      getFeatureId: function (f) { return f.properties.code; },
      vectorTileLayerStyles: {
        parcels: function (p) {
          seen[p.code] = true;
          return Object.assign({ fill: true }, parcelStyle(opts, p));
        }
      }
    });
    layer.landmap = { seen: seen, opts: opts };
    Object.defineProperty(layer.landmap, "loaded", {
      get: function () { return Object.keys(seen).length; }
    });

    function featureUrl(code) {
      return opts.url + "/" + encodeURIComponent(code) + (opts.asOf ? "?as_of=" + opts.asOf : "");
    }

    /* the parcel's facts from the API, in a popup at a point (a click, or the parcel's box) */
    function show(code, latlng) {
      return fetch(featureUrl(code), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (f) {
          if (!f || !map) return;
          if (!latlng) {
            var b = L.geoJSON(f).getBounds();
            latlng = b.getCenter();
          }
          var content = parcelPopup(f.properties, opts);
          var shown = L.popup(popupOptions(map)).setLatLng(latlng).setContent(content);
          popup = shown.openOn(map);
          popup.landmapCode = code;
          // a section opened or filled in: lay the popup out again (and pan it into view);
          // update() puts the same content back, so only the focus needs restoring
          var relayout = function () {
            if (!shown.isOpen()) return;
            var active = document.activeElement;
            shown.update();
            if (active && content.contains(active) && document.activeElement !== active) {
              active.focus();
            }
          };
          content.addEventListener("toggle", relayout, true);
          content.addEventListener("landmap:grown", relayout);
        });
    }

    layer.on("click", function (e) {
      var p = e.layer && e.layer.properties;
      if (p && p.code) show(p.code, e.latlng || null);
    });
    layer.on("load", function () { if (map) map.fire("landmap:parcels", { count: layer.landmap.loaded }); });
    layer.on("add", function () {
      map = layer._map;
      window.LandMap.current = { map: map, parcels: layer };
      exportControl(map, opts);
    });
    (opts.highlight || []).forEach(function (code) {
      layer.setFeatureStyle(code, opts.styles.cut);
    });
    layer.landmap.show = function (code) { return show(code, null); };
    layer.landmap.featureUrl = featureUrl;
    /* after a change: the tiles are fetched again (the server knows they changed) and the
     * popup of the changed parcel is rebuilt where it was */
    opts.reload = function (code) {
      var at = popup && popup.isOpen() && popup.landmapCode === code ? popup.getLatLng() : null;
      layer.redraw();
      if (map) map.fire("landmap:changed", { code: code });
      return at ? show(code, at) : Promise.resolve();
    };
    return layer;
  }

  /* Zone boundaries: a small layer, fetched once. */
  function zoneLayer(opts) {
    var layer = L.geoJSON(null, {
      style: function (f) {
        var active = opts.active && f.properties.code === opts.active;
        return active ? opts.activeStyle : opts.style;
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

  /* Legend: colour, stage, mu and parcels for each stage; commercial plot outline. The
   * figures come from the server; after a stage move (landmap:changed) it asks again. */
  function legend(map, opts) {
    var control = L.control({ position: "bottomright" });
    var cells = {};
    function put(key, figures) {
      if (!cells[key] || !figures) return;
      cells[key].mu.textContent = fmtMu(figures.mu);
      cells[key].parcels.textContent = figures.parcels;
    }
    control.refresh = function () {
      if (!opts.summaryUrl) return Promise.resolve();
      var qs = query(opts.params);
      return fetch(opts.summaryUrl + (qs ? "?" + qs : ""), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          Object.keys(data.stages).forEach(function (stage) { put(stage, data.stages[stage]); });
          put("total", data.total);
        });
    };
    if (opts.summaryUrl) map.on("landmap:changed", function () { control.refresh(); });
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
        cells[r.stage] = { mu: el("td", "lm-num", fmtMu(r.mu)),
                           parcels: el("td", "lm-num lm-muted", r.parcels) };
        tr.appendChild(cells[r.stage].mu);
        tr.appendChild(cells[r.stage].parcels);
        tr.dataset.stage = r.stage;
        table.appendChild(tr);
      });
      var total = el("tr", "lm-total");
      total.appendChild(el("td"));
      total.appendChild(el("td", null, opts.totalLabel));
      cells.total = { mu: el("td", "lm-num", fmtMu(opts.totalMu)),
                      parcels: el("td", "lm-num lm-muted", opts.totalParcels) };
      total.appendChild(cells.total.mu);
      total.appendChild(cells.total.parcels);
      table.appendChild(total);
      box.appendChild(table);
      [[opts.commercialColor, opts.commercialLabel, "lm-swatch-commercial"],
       [opts.disputeColor, opts.disputeLabel, "lm-swatch-dispute"]].forEach(function (o) {
        var line = el("div", "lm-legend-outline");
        var sw = el("span", "lm-swatch " + o[2]);
        sw.style.borderColor = o[0];
        line.appendChild(sw);
        line.appendChild(document.createTextNode(" " + o[1]));
        box.appendChild(line);
      });
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
        if (!b) {  // nothing on the map yet (a project without parcels): its page
          if (hit.url) window.location.assign(hit.url);
          return;
        }
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
      // ?parcel=<code> (links from the audit trail and elsewhere): open that parcel
      var asked = new URLSearchParams(window.location.search).get("parcel");
      if (asked) {
        fetch(opts.url + "?" + query({ q: asked, limit: 50 }), { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (data) {
            var hit = (data.results || []).find(function (h) {
              return h.kind === "parcel" && h.key === asked;
            });
            if (hit) go(hit);
          });
      }
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

  /* 导出: parcels as files. The formats, the URL and the texts come from the server
   * (templates/_export.html, landmap.web.exports.export_options). */
  function exportOptions() {
    var node = document.getElementById("lm-export-options");
    return node ? JSON.parse(node.getAttribute("data-options")) : null;
  }

  /* A download link per format; params() gives the export's query when one is clicked (null:
   * nothing to export, the click does nothing). */
  function exportLinks(ex, params) {
    var box = el("div", "lm-export-formats");
    ex.formats.forEach(function (f) {
      var a = el("a", "lm-export-format", f[1]);
      a.setAttribute("download", "");
      a.setAttribute("data-format", f[0]);
      a.href = ex.url.replace("__FMT__", f[0]);
      a.addEventListener("click", function (e) {
        var p = params();
        if (p === null) { e.preventDefault(); return; }
        var qs = query(p);
        a.href = ex.url.replace("__FMT__", f[0]) + (qs ? "?" + qs : "");
      });
      box.appendChild(a);
    });
    return box;
  }

  /* The map's export control: the parcels the page shows (its filter and day). */
  function exportControl(map, opts) {
    var ex = exportOptions();
    if (!ex || map.landmapExport) return;
    var control = L.control({ position: "topright" });
    control.onAdd = function () {
      var box = el("div", "lm-export leaflet-bar");
      var toggle = el("button", "lm-export-toggle", ex.labels["export"]);
      toggle.type = "button";
      var links = exportLinks(ex, function () {
        return Object.assign({}, opts.params, { as_of: opts.asOf });
      });
      links.hidden = true;
      toggle.addEventListener("click", function () { links.hidden = !links.hidden; });
      box.appendChild(toggle);
      box.appendChild(links);
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    map.landmapExport = control.addTo(map);
  }

  /* Select parcels by drawing a polygon or pasting codes; move them together, all or none. */
  function selection(map, parcels, sopts) {
    var opts = parcels.landmap.opts;
    var L_ = opts.labels;
    var selected = [];
    var drawn = new L.FeatureGroup().addTo(map);
    var control = L.control({ position: "topleft" });
    var panel, list, summary, paste;

    var marked = [];
    function mark() {
      marked.forEach(function (code) { parcels.resetFeatureStyle(code); });
      selected.forEach(function (code) {
        parcels.setFeatureStyle(code, opts.styles.selected);
      });
      marked = selected.slice();
    }

    function show(result) {
      selected = result.codes;
      summary.className = "lm-select-summary";
      summary.textContent = L_.selected + ": " + result.count + " · " +
        fmtMu(result.mu) + " " + L_.mu;
      if (result.unknown && result.unknown.length) {
        summary.className = "lm-select-summary lm-warn";
        summary.textContent += " · " + L_.unknown_codes + ": " + result.unknown.join(" ");
      }
      list.textContent = selected.slice(0, 200).join(" ");
      mark();
    }
    function failed(err) {
      summary.className = "lm-select-summary lm-warn";
      summary.textContent = err.message;
    }

    control.onAdd = function () {
      var box = el("div", "lm-select leaflet-bar");
      var toggle = el("button", "lm-select-toggle", L_.select_tool);
      toggle.type = "button";
      panel = el("div", "lm-select-panel");
      panel.style.display = "none";
      toggle.addEventListener("click", function () {
        panel.style.display = panel.style.display === "none" ? "" : "none";
      });
      var draw = el("button", "btn btn-sm btn-outline-primary", L_.draw_polygon);
      draw.type = "button";
      draw.addEventListener("click", function () {
        new L.Draw.Polygon(map, { shapeOptions: { color: opts.styles.selected.color } }).enable();
      });
      paste = el("textarea", "lm-paste");
      paste.placeholder = L_.paste_codes;
      var usePaste = el("button", "btn btn-sm btn-outline-secondary", L_.use_codes);
      usePaste.type = "button";
      usePaste.addEventListener("click", function () {
        var codes = paste.value.split(/[\s,;，；、]+/).filter(Boolean);
        if (!codes.length) return;
        api(opts.selectUrl, opts, { codes: codes }).then(show).catch(failed);
      });
      summary = el("div", "lm-select-summary", L_.selected + ": 0");
      list = el("div", "lm-select-list lm-muted");
      panel.appendChild(draw);
      panel.appendChild(paste);
      panel.appendChild(usePaste);
      panel.appendChild(summary);
      panel.appendChild(list);
      var ex = exportOptions();
      if (ex) {
        var exported = el("div", "lm-select-export");
        exported.appendChild(el("span", "lm-muted", ex.labels.export_selection));
        exported.appendChild(exportLinks(ex, function () {
          var now = exportOptions();  // as the page says when clicked
          var why = !selected.length ? now.labels.nothing_selected
            : selected.length > now.maxCodes
              ? now.labels.too_many.replace("__N__", selected.length) : null;
          if (why) { failed(new Error(why)); return null; }
          return { codes: selected.join(","), as_of: opts.asOf };
        }));
        panel.appendChild(exported);
      }
      panel.appendChild(moveForm(opts, null, function (data) {
        if (!selected.length) return Promise.reject(new Error(L_.nothing_selected));
        var body = {
          codes: selected, stage: data.get("stage"), date: data.get("date"),
          note: data.get("note"), correction: data.get("correction") === "on",
          reason: data.get("reason")
        };
        return api(opts.manyUrl, opts, body).then(function (res) {
          return opts.reload(null);
        });
      }));
      box.appendChild(toggle);
      box.appendChild(panel);
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    control.addTo(map);

    map.on(L.Draw.Event.CREATED, function (e) {
      drawn.clearLayers();
      drawn.addLayer(e.layer);
      api(opts.selectUrl, opts, { geometry: e.layer.toGeoJSON().geometry })
        .then(show)
        .catch(failed);
    });
    return control;
  }

  /* A small embedded GeoJSON layer styled by each feature's kind (boundaries, changes). */
  function overlay(opts) {
    return L.geoJSON(opts.data, {
      style: function (f) { return opts.styles[f.properties.kind] || opts.styles["default"]; },
      onEachFeature: function (f, l) {
        var p = f.properties;
        var text = [opts.labels[p.kind], p.label, p.mu != null ? fmtMu(p.mu) + " " + opts.mu : ""]
          .filter(Boolean).join(" ");
        if (text) l.bindTooltip(esc(text), { sticky: true });
      }
    });
  }

  /* A vector-tile overlay (farmland, land use), styled by rules the server sends: one fill,
   * or a colour per first two characters of a property (a GB/T 21010 class); with a legend
   * (opts.legend: title, rows of key, label, colour) shown while the overlay is on. */
  function tileOverlay(opts) {
    var styles = {};
    styles[opts.layer] = function (p) {
      var key = opts.fillBy ? String(p[opts.fillBy] || "").slice(0, 2) : "";
      var fill = (opts.colors && opts.colors[key]) || opts.style.fillColor;
      return Object.assign({ fill: true }, opts.style, { fillColor: fill });
    };
    var layer = L.vectorGrid.protobuf(opts.url + "/{z}/{x}/{y}.pbf", {
      rendererFactory: L.canvas.tile,
      interactive: false,
      maxNativeZoom: 20,
      maxZoom: 22,
      fetchOptions: { credentials: "same-origin" },
      vectorTileLayerStyles: styles
    });
    if (opts.legend) {
      var control = swatchLegend(opts.legend, "lm-legend lm-overlay-legend lm-legend-" + opts.layer,
                                  "bottomleft");
      layer.on("add", function () { control.addTo(layer._map); });
      layer.on("remove", function () { control.remove(); });
    }
    return layer;
  }

  /* A thematic GeoJSON overlay (idle land): fetched from opts.url with opts.params when first
   * switched on, each feature styled by opts.styles[its opts.styleBy property]; a tooltip of
   * its code, class and mu, a popup of its facts (texts set as text); opts.legend while on. */
  function themeOverlay(opts) {
    var L_ = opts.labels;
    var loaded = false;
    var layer = L.geoJSON(null, {
      style: function (f) {
        return opts.styles[f.properties[opts.styleBy]] || opts.styles["default"];
      },
      onEachFeature: function (f, l) {
        var p = f.properties;
        l.bindTooltip(esc([p.code, p.status_label, fmtMu(p.mu) + " " + L_.mu].join(" ")),
                      { sticky: true });
        l.bindPopup(function () { return themePopup(p, L_); });
      }
    });
    layer.on("add", function () {
      if (loaded) return;
      loaded = true;
      var qs = query(opts.params);
      fetch(opts.url + (qs ? "?" + qs : ""), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (fc) { if (fc) layer.addData(fc); });
    });
    if (opts.legend) {
      var control = swatchLegend(opts.legend, "lm-legend lm-overlay-legend lm-legend-" + opts.layer,
                                  "bottomleft");
      layer.on("add", function () { control.addTo(layer._map); });
      layer.on("remove", function () { control.remove(); });
    }
    return layer;
  }

  function themePopup(p, L_) {
    var box = el("div", "lm-popup lm-theme-popup");
    var title = el("a", "lm-popup-title", p.code);
    title.href = L_.parcelUrl.replace("__CODE__", encodeURIComponent(p.code));
    box.appendChild(title);
    var table = el("table", "lm-facts");
    [[L_.status, p.status_label], [L_.households, p.households], [L_.land_user, p.land_user],
     [L_.reason, p.reason],
     [L_.days_overdue, p.days_overdue],
     [L_.fee_wan, p.fee_wan == null ? "" : Number(p.fee_wan).toFixed(2)]]
      .forEach(function (r) {
        if (r[1] == null || r[1] === "") return;
        var tr = el("tr");
        tr.appendChild(el("th", null, r[0]));
        tr.appendChild(el("td", null, r[1]));
        table.appendChild(tr);
      });
    box.appendChild(table);
    return box;
  }

  /* A legend of colour swatches and names (the land-use classes; legend.keys false: without
   * the keys' column). */
  function swatchLegend(legend, className, position) {
    var control = L.control({ position: position });
    control.onAdd = function () {
      var box = el("div", className + " leaflet-bar");
      box.appendChild(el("div", "lm-legend-title", legend.title));
      var table = el("table");
      legend.rows.forEach(function (r) {
        var tr = el("tr");
        tr.dataset.key = r.key;
        var sw = el("td");
        var swatch = el("span", "lm-swatch");
        swatch.style.background = r.color;
        sw.appendChild(swatch);
        tr.appendChild(sw);
        if (legend.keys !== false) tr.appendChild(el("td", "lm-muted", r.key));
        tr.appendChild(el("td", null, r.label));
        table.appendChild(tr);
      });
      box.appendChild(table);
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    return control;
  }

  /* --- the tools every map has: Leaflet.draw's texts, measuring, the mouse's coordinates --- */

  /* Leaflet.draw's texts (L.drawLocal) from the server's catalogue, set before any drawing
   * tool is made. They are the catalogue's own words, not user data. */
  function mergeInto(target, source) {
    Object.keys(source).forEach(function (k) {
      if (source[k] && typeof source[k] === "object") {
        target[k] = target[k] || {};
        mergeInto(target[k], source[k]);
      } else {
        target[k] = source[k];
      }
    });
  }

  /* Lengths and areas in the plane of the server's projected CRS (opts.grid: the storage
   * SRID, a Gauss-Krüger zone), as PostGIS's ST_Area measures the parcels: a shape measured
   * here shows the mu its popup shows. Map coordinates are taken as CGCS2000 degrees. */
  function measurer(opts) {
    var grid = proj4(opts.grid.proj4);
    var L_ = opts.labels;
    function planar(latlngs) {
      return latlngs.map(function (ll) { return grid.forward([ll.lng, ll.lat]); });
    }
    function length(pts, closed) {
      var total = 0;
      var n = closed ? pts.length : pts.length - 1;
      for (var i = 0; i < n; i++) {
        var a = pts[i], b = pts[(i + 1) % pts.length];
        total += Math.sqrt((b[0] - a[0]) * (b[0] - a[0]) + (b[1] - a[1]) * (b[1] - a[1]));
      }
      return total;
    }
    function area(pts) {
      var twice = 0;
      for (var i = 0; i < pts.length; i++) {
        var a = pts[i], b = pts[(i + 1) % pts.length];
        twice += a[0] * b[1] - b[0] * a[1];
      }
      return Math.abs(twice) / 2;
    }
    function distanceText(m) {
      return m >= 1000 ? (m / 1000).toFixed(3) + " " + L_.km : m.toFixed(2) + " " + L_.m;
    }
    return {
      grid: grid,
      figures: function (latlngs, closed) {
        var pts = planar(latlngs);
        var m2 = closed && pts.length > 2 ? area(pts) : 0;
        return { length: length(pts, closed), m2: m2, mu: m2 / opts.m2PerMu };
      },
      text: function (latlngs, closed) {
        var f = this.figures(latlngs, closed);
        if (!closed) return L_.distance + " " + distanceText(f.length);
        return L_.area + " " + f.m2.toFixed(2) + " " + L_.m2 + " · " + fmtMu(f.mu) + " " + L_.mu;
      }
    };
  }

  /* A Leaflet.draw line or polygon handler that measures as it is drawn and, when finished,
   * fires "landmap:measured" (not draw:created, which the selection tool and the draft editor
   * take as theirs). */
  function measureHandler(map, measure, closed, style) {
    var Base = closed ? L.Draw.Polygon : L.Draw.Polyline;
    var Handler = Base.extend({
      _getMeasurementString: function () {
        var pts = this._markers.map(function (m) { return m.getLatLng(); });
        if (this._currentLatLng) pts.push(this._currentLatLng);
        return esc(measure.text(pts, closed));
      },
      _fireCreatedEvent: function () {
        var latlngs = this._poly.getLatLngs();
        var shape = closed ? L.polygon(latlngs, style) : L.polyline(latlngs, style);
        this._map.fire("landmap:measured", { layer: shape, closed: closed, latlngs: latlngs });
      }
    });
    return new Handler(map, { shapeOptions: style, showLength: true, showArea: false,
                              metric: true, allowIntersection: !closed });
  }

  function measureControl(map, opts, measure) {
    var L_ = opts.labels;
    var control = L.control({ position: "topleft" });
    var drawn = L.featureGroup();
    var handlers = { line: measureHandler(map, measure, false, opts.style),
                     area: measureHandler(map, measure, true, opts.style) };
    control.onAdd = function () {
      var box = el("div", "lm-measure leaflet-bar");
      box.appendChild(el("span", "lm-measure-title", L_.measure));
      var result = el("div", "lm-measure-result");
      function button(cls, text, title, action) {
        var b = el("button", "lm-measure-button " + cls, text);
        b.type = "button";
        b.title = title;
        b.setAttribute("aria-label", title);
        b.addEventListener("click", action);
        box.appendChild(b);
      }
      function start(kind) {
        handlers.line.disable();
        handlers.area.disable();
        handlers[kind].enable();
      }
      button("lm-measure-line", L_.distance, L_.measure_distance, function () { start("line"); });
      button("lm-measure-area", L_.area, L_.measure_area, function () { start("area"); });
      button("lm-measure-clear", "×", L_.clear, function () {
        drawn.clearLayers();
        result.textContent = "";
      });
      box.appendChild(result);
      map.on("landmap:measured", function (e) {
        drawn.clearLayers();
        drawn.addLayer(e.layer);
        control.measured = e.latlngs;
        result.textContent = measure.text(e.latlngs, e.closed);
      });
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    drawn.addTo(map);
    control.addTo(map);
    control.handlers = handlers;
    return control;
  }

  /* The mouse's position: CGCS2000 degrees and the grid's Gauss-Krüger metres (X north,
   * Y east, as Chinese surveys write them). */
  function coordinates(map, opts, measure) {
    var L_ = opts.labels;
    var control = L.control({ position: "bottomleft" });
    control.onAdd = function () {
      var box = el("div", "lm-coords leaflet-bar");
      box.title = L_.coordinates;
      var cells = {};
      [["lng", L_.longitude], ["lat", L_.latitude], ["x", L_.northing], ["y", L_.easting]]
        .forEach(function (c) {
          var part = el("span", "lm-coord");
          part.appendChild(el("span", "lm-muted", c[1] + " "));
          cells[c[0]] = el("span", "lm-coord-" + c[0], "–");
          part.appendChild(cells[c[0]]);
          box.appendChild(part);
          if (c[0] === "lat") box.appendChild(el("span", "lm-muted lm-coord-crs", opts.grid.code));
        });
      map.on("mousemove", function (e) {
        var xy = measure.grid.forward([e.latlng.lng, e.latlng.lat]);
        cells.lng.textContent = e.latlng.lng.toFixed(7) + "°";
        cells.lat.textContent = e.latlng.lat.toFixed(7) + "°";
        cells.x.textContent = xy[1].toFixed(2) + " " + L_.m;
        cells.y.textContent = xy[0].toFixed(2) + " " + L_.m;
      });
      return box;
    };
    control.addTo(map);
    return control;
  }

  function tools(map, opts) {
    if (window.L && L.drawLocal) mergeInto(L.drawLocal, opts.drawLocal);
    var measure = measurer(opts);
    var found = { measure: measureControl(map, opts, measure),
                  coordinates: coordinates(map, opts, measure), measurer: measure };
    map.landmapTools = found;
    return found;
  }

  window.LandMap = {
    esc: esc,
    el: el,
    api: api,
    overlay: overlay,
    tileOverlay: tileOverlay,
    themeOverlay: themeOverlay,
    tools: tools,
    selection: selection,
    parcelLayer: parcelLayer,
    zoneLayer: zoneLayer,
    legend: legend,
    search: search,
    popupSections: []
  };
})();

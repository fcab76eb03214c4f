/* The parcel popup's 供地/建设 section (LandMap.popupSections): the parcel's supply, its latest
 * construction event and its building facts, from the parcel's detail (p.supply,
 * p.construction, p.buildings); and, for those who may (opts.supply.canEdit, from the server),
 * forms that record them through the API. Texts and choices come from the server
 * (landmap.web.supply.popup_options); every value is set as text, never as HTML. */
(function () {
  "use strict";
  var LM = window.LandMap;
  if (!LM || !LM.popupSections) return;
  var el = LM.el;

  function labelOf(choices, value) {
    var found = (choices || []).filter(function (c) { return c.value === value; })[0];
    return found ? found.label : value;
  }

  function facts(rows) {
    var table = el("table", "lm-facts lm-supply-facts");
    rows.forEach(function (r) {
      if (r[1] == null || r[1] === "") return;
      var tr = el("tr", r[2] || null);
      tr.appendChild(el("th", null, r[0]));
      tr.appendChild(el("td", null, String(r[1])));
      table.appendChild(tr);
    });
    return table;
  }

  function supplyRows(o, s) {
    var L_ = o.labels;
    if (!s) return [[L_.method, L_.none, "lm-supply-none"]];
    var method = labelOf(o.methods, s.method) + (s.way ? " · " + labelOf(o.ways, s.way) : "");
    return [[L_.method, method, "lm-supply-method"], [L_.date, s.date, "lm-supply-date"],
            [L_.contract_no, s.contract_no, "lm-supply-contract"],
            [L_.enterprise, s.enterprise, "lm-supply-enterprise"],
            [L_.price_wan, s.price_wan, "lm-supply-price"],
            [L_.start_due, s.start_due, "lm-supply-start-due"],
            [L_.completion_due, s.completion_due, "lm-supply-completion-due"]];
  }

  function laterRows(o, c, b) {
    var L_ = o.labels;
    var rows = [];
    if (c) {
      rows.push([L_.construction, labelOf(o.events, c.event) + " " + c.date +
                 (c.note ? " · " + c.note : ""), "lm-construction-last"]);
    }
    if (b) {
      rows.push([L_.floor_area_m2, b.floor_area_m2, "lm-buildings-floor"]);
      rows.push([L_.footprint_m2, b.footprint_m2, "lm-buildings-footprint"]);
      rows.push([L_.industrial_cover_m2, b.industrial_cover_m2, "lm-buildings-cover"]);
    }
    return rows;
  }

  /* A form of ``fields`` ([name, label, type, choices or preset value]) that sends the
   * non-empty ones as JSON to ``url`` (``method``) and reloads the popup when saved. */
  function form(o, p, opts, spec) {
    var L_ = o.labels;
    var f = el("form", "lm-form " + spec.className);
    spec.fields.forEach(function (d) {
      var wrap = el("label", "lm-field");
      wrap.appendChild(el("span", null, d[1]));
      var input;
      if (d[2] === "select") {
        input = el("select");
        d[3].forEach(function (c) {
          var opt = el("option", null, c.label);
          opt.value = c.value;
          input.appendChild(opt);
        });
      } else {
        input = el("input");
        input.type = d[2];
        if (d[2] === "number") { input.step = "0.01"; input.min = "0"; }
        if (d[3] != null) input.value = d[3];
      }
      input.name = d[0];
      if (spec.preset && spec.preset[d[0]] != null) input.value = spec.preset[d[0]];
      wrap.appendChild(input);
      f.appendChild(wrap);
    });
    var button = el("button", "btn btn-sm btn-primary", L_.save);
    button.type = "submit";
    f.appendChild(button);
    var msg = el("div", "lm-msg");
    f.appendChild(msg);
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = spec.extra ? Object.assign({}, spec.extra) : {};
      new FormData(f).forEach(function (value, key) { if (value !== "") body[key] = value; });
      button.disabled = true;
      msg.className = "lm-msg";
      msg.textContent = "";
      LM.api(spec.url, opts, body, spec.method).then(function () {
        msg.className = "lm-msg lm-ok";
        msg.textContent = L_.saved;
        return opts.reload(p.code);
      }).catch(function (err) {
        msg.className = "lm-msg lm-warn";
        msg.textContent = err.message;
      }).then(function () { button.disabled = false; });
    });
    return f;
  }

  function details(className, title, content) {
    var d = el("details", className);
    d.appendChild(el("summary", "lm-section", title));
    d.appendChild(content);
    return d;
  }

  function today(opts) { return (opts.edit && opts.edit.today) || ""; }

  function supplyForm(o, p, opts, base) {
    var L_ = o.labels;
    var s = p.supply;
    var ways = [{ value: "", label: L_.no_way }].concat(o.ways);
    var preset = s ? { method: s.method, way: s.way || "", date: s.date,
                       contract_no: s.contract_no, enterprise: s.enterprise || "",
                       price_wan: s.price_wan, start_due: s.start_due,
                       completion_due: s.completion_due, investment_wan: s.investment_wan,
                       floor_area_m2: s.floor_area_m2 } : { date: today(opts) };
    return form(o, p, opts, {
      className: "lm-supply-form", url: base + "/supply", preset: preset,
      extra: s ? { corrects: s.id } : null,
      fields: [["method", L_.method, "select", o.methods], ["way", L_.way, "select", ways],
               ["date", L_.date, "date"], ["contract_no", L_.contract_no, "text"],
               ["enterprise", L_.enterprise, "text"], ["price_wan", L_.price_wan, "number"],
               ["start_due", L_.start_due, "date"],
               ["completion_due", L_.completion_due, "date"],
               ["investment_wan", L_.investment_wan, "number"],
               ["floor_area_m2", L_.floor_area_m2, "number"], ["note", L_.note, "text"]]
    });
  }

  function eventForm(o, p, opts, base) {
    var L_ = o.labels;
    return form(o, p, opts, {
      className: "lm-construction-form", url: base + "/construction",
      fields: [["event", L_.event, "select", o.events], ["date", L_.date, "date", today(opts)],
               ["note", L_.note, "text"], ["developed_m2", L_.developed_m2, "number"],
               ["invested_wan", L_.invested_wan, "number"]]
    });
  }

  function buildingsForm(o, p, opts, base) {
    var L_ = o.labels;
    var b = p.buildings || {};
    return form(o, p, opts, {
      className: "lm-buildings-form", url: base + "/buildings", method: "PATCH",
      preset: { floor_area_m2: b.floor_area_m2, footprint_m2: b.footprint_m2,
                industrial_cover_m2: b.industrial_cover_m2 },
      fields: [["floor_area_m2", L_.floor_area_m2, "number"],
               ["footprint_m2", L_.footprint_m2, "number"],
               ["industrial_cover_m2", L_.industrial_cover_m2, "number"],
               ["date", L_.date, "date", today(opts)], ["note", L_.note, "text"]]
    });
  }

  function section(p, opts) {
    var o = opts.supply;
    if (!o || !o.labels || !("supply" in p)) return null;
    var L_ = o.labels;
    var box = el("div", "lm-supply");
    box.appendChild(el("div", "lm-section", L_.section));
    box.appendChild(facts(supplyRows(o, p.supply).concat(laterRows(o, p.construction,
                                                                   p.buildings))));
    if (!o.canEdit) return box;
    var base = opts.url + "/" + encodeURIComponent(p.code);
    box.appendChild(details("lm-supply-record", p.supply ? L_.correct_supply : L_.record_supply,
                            supplyForm(o, p, opts, base)));
    if (p.supply) {
      box.appendChild(details("lm-construction-record", L_.record_event,
                              eventForm(o, p, opts, base)));
    }
    box.appendChild(details("lm-buildings-record", L_.record_buildings,
                            buildingsForm(o, p, opts, base)));
    return box;
  }

  LM.popupSections.push(section);
})();

/* The print layout of a map page (landmap.maps.printing): a 打印 button opens a small dialog
 * (paper, orientation, title); printing lays the page out on a sheet of that paper (one class
 * on <html>, static/css/print.css, each with a named @page of that size), moves the page's
 * map(s) onto it, redraws them at the paper's size, waits for their tiles, states the scale
 * (1:N at the printed size) and calls window.print(). Texts come from the server; the title a
 * person types reaches the page only through textContent. Loaded after landmap.js.
 */
(function () {
  "use strict";

  var LandMap = window.LandMap = window.LandMap || {};
  var PAPER_M_PER_PX = 0.0254 / 96;  // a CSS pixel on paper: 1/96 inch
  var TILE_WAIT_MS = 20000;  // print what is drawn by then
  var maps = [];  // {map, opts, container, slot, home (a placeholder where it was), view}
  var page = { opts: null, sheet: null, panel: null, form: null, active: false, classes: [] };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  }

  /* The day in the zone's time zone (the register's today), as YYYY-MM-DD. */
  function today() {
    var parts = {};
    new Intl.DateTimeFormat("en-US", { timeZone: page.opts.timeZone, year: "numeric",
                                       month: "2-digit", day: "2-digit" })
      .formatToParts(new Date()).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day;
  }

  /* A north arrow (the maps are north up), drawn as SVG (print.css colours its halves): no
   * image, no inline markup. */
  function northArrow(label) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 40 62");
    svg.setAttribute("class", "lm-print-north");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
    [["M20 2 L33 44 L20 35 Z", "dark"], ["M20 2 L7 44 L20 35 Z", "light"]].forEach(function (p) {
      var path = document.createElementNS(ns, "path");
      path.setAttribute("d", p[0]);
      path.setAttribute("class", "lm-print-north-" + p[1]);
      svg.appendChild(path);
    });
    var text = document.createElementNS(ns, "text");
    text.setAttribute("x", "20");
    text.setAttribute("y", "60");
    text.setAttribute("text-anchor", "middle");
    text.setAttribute("class", "lm-print-north-label");
    text.textContent = label;
    svg.appendChild(text);
    return svg;
  }

  function fact(cls, label, value) {
    var span = el("span", "lm-print-fact " + cls);
    span.appendChild(el("b", null, label + " "));
    span.appendChild(el("span", "lm-print-value", value));
    return span;
  }

  /* The sheet's own legend (a compare map's boundaries and shapes): swatch and name. */
  function sheetLegend(opts) {
    var box = el("div", "lm-print-legend");
    box.appendChild(el("b", null, opts.labels.legend + " "));
    opts.legend.forEach(function (r) {
      var item = el("span", "lm-print-legend-item");
      var swatch = el("span", "lm-swatch lm-print-swatch");
      swatch.style.background = r.fill || "transparent";
      swatch.style.borderColor = r.line;
      item.dataset.kind = r.kind;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(" " + r.label));
      box.appendChild(item);
    });
    return box;
  }

  function buildSheet(opts) {
    var L_ = opts.labels;
    var sheet = el("div", "lm-print-sheet");
    var head = el("header", "lm-print-head");
    head.appendChild(el("h1", "lm-print-title", opts.title));
    var back = el("button", "btn btn-sm btn-outline-secondary lm-print-exit", opts.labels.exit);
    back.type = "button";
    back.addEventListener("click", function () {
      page.panel.hidden = true;
      exit();
    });
    head.appendChild(back);
    sheet.appendChild(head);
    var body = el("div", "lm-print-maps");
    maps.forEach(function (m) {
      var frame = el("div", "lm-print-frame");
      if (m.opts.caption) frame.appendChild(el("div", "lm-print-caption", m.opts.caption));
      m.slot = el("div", "lm-print-slot");
      m.slot.appendChild(northArrow(L_.north));
      frame.appendChild(m.slot);
      body.appendChild(frame);
    });
    sheet.appendChild(body);
    var foot = el("footer", "lm-print-foot");
    if (opts.legend && opts.legend.length) foot.appendChild(sheetLegend(opts));
    var facts = el("div", "lm-print-facts");
    facts.appendChild(fact("lm-print-scale", L_.scale, "1:"));
    facts.appendChild(fact("lm-print-crs", L_.crs, opts.crs));
    facts.appendChild(fact("lm-print-maker", L_.maker, opts.maker));
    facts.appendChild(fact("lm-print-date", L_.date, today()));
    foot.appendChild(facts);
    sheet.appendChild(foot);
    document.body.insertBefore(sheet, document.body.firstChild);
    return sheet;
  }

  function select(name, label, choices) {
    var wrap = el("label", "lm-print-field");
    wrap.appendChild(el("span", null, label));
    var s = el("select");
    s.name = name;
    choices.forEach(function (c) {
      var o = el("option", null, c[1]);
      o.value = c[0];
      s.appendChild(o);
    });
    wrap.appendChild(s);
    return wrap;
  }

  function buildPanel(opts) {
    var L_ = opts.labels;
    var panel = el("div", "lm-print-panel");
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", L_.print_title);
    panel.hidden = true;
    var form = el("form", "lm-print-form");
    form.appendChild(el("div", "lm-print-panel-title", L_.print_title));
    form.appendChild(select("paper", L_.paper, opts.papers.map(function (p) {
      return [p, p.toUpperCase()];
    })));
    form.appendChild(select("orientation", L_.orientation, opts.orientations.map(function (o) {
      return [o, L_[o]];
    })));
    field(form, "orientation").value = "landscape";
    var title = el("label", "lm-print-field");
    title.appendChild(el("span", null, L_.title));
    var input = el("input");
    input.name = "title";
    input.maxLength = 200;
    input.value = opts.title;
    title.appendChild(input);
    form.appendChild(title);
    var go = el("button", "btn btn-sm btn-primary lm-print-go", L_.print_now);
    go.type = "submit";
    var cancel = el("button", "btn btn-sm btn-outline-secondary lm-print-cancel", L_.cancel);
    cancel.type = "button";
    var buttons = el("div", "lm-print-buttons");
    buttons.appendChild(go);
    buttons.appendChild(cancel);
    form.appendChild(buttons);
    form.appendChild(el("div", "lm-print-status lm-muted"));
    panel.appendChild(form);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      printNow(choice());
    });
    ["paper", "orientation"].forEach(function (name) {
      field(form, name).addEventListener("change", function () {
        if (page.active) enter(choice());
      });
    });
    cancel.addEventListener("click", function () {
      panel.hidden = true;
      exit();
    });
    page.form = form;
    document.body.appendChild(panel);
    return panel;
  }

  /* A form's control by name (form.title would be the form's own title attribute). */
  function field(form, name) {
    return form.elements.namedItem(name);
  }

  function choice() {
    var f = page.form;
    return { paper: field(f, "paper").value, orientation: field(f, "orientation").value,
             title: field(f, "title").value };
  }

  function openPanel() {
    page.panel.hidden = false;
    field(page.form, "paper").focus();
  }

  /* The maps' tile layers have all their tiles (or TILE_WAIT_MS went by). */
  function tilesLoaded() {
    var started = Date.now();
    function idle() {
      return maps.every(function (m) {
        var busy = false;
        m.map.eachLayer(function (l) { if (l.isLoading && l.isLoading()) busy = true; });
        return !busy;
      });
    }
    return new Promise(function (resolve) {
      (function check() {
        var waited = Date.now() - started;
        if ((waited > 200 && idle()) || waited > TILE_WAIT_MS) resolve();
        else setTimeout(check, 100);
      })();
    });
  }

  /* The scale of the map on paper: ground metres across its middle per metre of paper, at
   * 96 CSS pixels to the inch, to three significant figures. */
  function statedScale(map) {
    var size = map.getSize();
    var a = map.containerPointToLatLng([size.x / 2 - 50, size.y / 2]);
    var b = map.containerPointToLatLng([size.x / 2 + 50, size.y / 2]);
    var n = map.distance(a, b) / 100 / PAPER_M_PER_PX;
    var step = Math.pow(10, Math.max(0, Math.floor(Math.log10(n)) - 2));
    return Math.round(n / step) * step;
  }

  function showScale() {
    var n = statedScale(maps[0].map);
    page.sheet.querySelector(".lm-print-scale .lm-print-value").textContent =
      "1:" + n.toLocaleString("en-US");
    page.sheet.dataset.scale = String(n);
  }

  function setClasses(c) {
    var root = document.documentElement;
    page.classes.forEach(function (k) { root.classList.remove(k); });
    page.classes = ["lm-printing", "lm-print-" + c.paper + "-" + c.orientation];
    if (page.opts.keepPage) page.classes.push("lm-print-keep");
    page.classes.forEach(function (k) { root.classList.add(k); });
  }

  /* Lay the page out on the paper chosen: the maps on the sheet, redrawn at its size over
   * what they showed, their tiles loaded, the scale stated. Resolves when it is ready. */
  function enter(c) {
    if (!page.active) {
      maps.forEach(function (m) {
        m.view = m.map.getBounds();
        m.home = document.createComment("lm-print");
        m.container.parentNode.insertBefore(m.home, m.container);
        m.home.parentNode.classList.add("lm-print-emptied");
        m.slot.insertBefore(m.container, m.slot.firstChild);
      });
      page.active = true;
    }
    setClasses(c);
    page.sheet.querySelector(".lm-print-title").textContent = c.title || page.opts.title;
    page.sheet.querySelector(".lm-print-date .lm-print-value").textContent = today();
    maps.forEach(function (m) {
      m.map.invalidateSize({ animate: false, pan: false });
      m.map.fitBounds(m.view, { animate: false });
    });
    return tilesLoaded().then(showScale);
  }

  /* Back to the page as it was: the maps where they were, at their size, over their view. */
  function exit() {
    if (!page.active) return;
    var root = document.documentElement;
    page.classes.forEach(function (k) { root.classList.remove(k); });
    page.classes = [];
    maps.forEach(function (m) {
      m.home.parentNode.classList.remove("lm-print-emptied");
      m.home.parentNode.replaceChild(m.container, m.home);
    });
    page.active = false;
    maps.forEach(function (m) {
      m.map.invalidateSize({ animate: false, pan: false });
      m.map.fitBounds(m.view, { animate: false });
    });
  }

  function printNow(c) {
    var status = page.form.querySelector(".lm-print-status");
    var go = page.form.querySelector(".lm-print-go");
    status.textContent = page.opts.labels.preparing;
    go.disabled = true;
    return enter(c).then(function () {
      status.textContent = "";
      go.disabled = false;
      window.print();
    });
  }

  function button(map, opts) {
    var control = L.control({ position: "topright" });
    control.onAdd = function () {
      var box = el("div", "lm-print-control leaflet-bar");
      var b = el("button", "lm-print-toggle", opts.labels.print);
      b.type = "button";
      b.title = opts.labels.print_title;
      b.addEventListener("click", openPanel);
      box.appendChild(b);
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    control.addTo(map);
  }

  /* A map of the page joins its print layout; the one with opts.button carries the button
   * (its options give the sheet's title, legend and facts). */
  function print(map, opts) {
    maps.push({ map: map, opts: opts, container: map.getContainer() });
    if (!opts.button) return;
    page.opts = opts;
    button(map, opts);
    // once the page's maps have all joined (the rest of their script has run)
    setTimeout(function () {
      page.sheet = buildSheet(opts);
      page.panel = buildPanel(opts);
      if (opts.auto) {
        page.panel.hidden = false;
        enter(choice());
      }
    }, 0);
  }

  window.addEventListener("afterprint", function () {
    if (page.opts && !page.opts.auto) {
      page.panel.hidden = true;
      exit();
    }
  });

  LandMap.print = print;
  LandMap.printing = {
    maps: maps,
    enter: enter,
    exit: exit,
    printNow: printNow,
    statedScale: statedScale,
    isActive: function () { return page.active; }
  };
})();

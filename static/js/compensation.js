/* The parcel popup's 补偿安置 section (LandMap.popupSections): the parcel's households from
 * GET /api/parcels/<code>/households (opts.compensation.url, "__CODE__" for the code): head,
 * status (its label and colour from the server), members, agreed, paid and outstanding yuan;
 * and a link to the project's household list. Texts come from the server
 * (landmap.web.compensation_pages.popup_options); every value is set as text, never as HTML. */
(function () {
  "use strict";
  var LM = window.LandMap;
  if (!LM || !LM.popupSections) return;
  var el = LM.el;

  /* yuan with 2 decimals and thousands separators (12,345.60), as the pages show them */
  function yuan(value) {
    if (value == null) return "";
    var parts = Number(value).toFixed(2).split(".");
    return parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",") + "." + parts[1];
  }

  function part(line, label, value, className) {
    if (line.childNodes.length) line.appendChild(document.createTextNode(" · "));
    line.appendChild(document.createTextNode(label + " "));
    line.appendChild(el("span", className, value));
  }

  /* a household: its head and status on one line, its members and money on the next */
  function household(o, h) {
    var L_ = o.labels;
    var box = el("div", "lm-household");
    box.dataset.status = h.status;
    var title = el("div", "lm-household-title");
    title.appendChild(el("strong", "lm-household-head", h.head));
    var status = el("span", "lm-household-status");
    var swatch = el("span", "lm-swatch");
    swatch.style.background = h.colour;
    status.appendChild(swatch);
    status.appendChild(document.createTextNode(" " + h.status_label));
    title.appendChild(document.createTextNode(" "));
    title.appendChild(status);
    box.appendChild(title);
    var money = el("div", "lm-household-money");
    part(money, L_.members, String(h.members), "lm-household-members");
    part(money, L_.agreed, h.agreement ? yuan(h.agreed_yuan) : L_.none_agreed,
         "lm-household-agreed");
    part(money, L_.paid, yuan(h.paid_yuan), "lm-household-paid");
    part(money, L_.outstanding, yuan(h.outstanding_yuan), "lm-household-outstanding");
    box.appendChild(money);
    return box;
  }

  function pageLink(o, p) {
    if (p.project_id == null || !o.pageUrl) return null;
    var a = el("a", "lm-households-page", o.labels.list);
    a.href = o.pageUrl.replace("__ID__", encodeURIComponent(p.project_id)) +
      (p.batch_id != null ? "?batch=" + encodeURIComponent(p.batch_id) : "");
    return a;
  }

  function section(p, opts) {
    var o = opts.compensation;
    if (!o || !o.url || !o.labels || !p.code) return null;
    var L_ = o.labels;
    var box = el("div", "lm-compensation");
    box.appendChild(el("div", "lm-section", opts.asOf ? L_.section_now : L_.section));
    var body = el("div", "lm-muted lm-compensation-body", L_.loading);
    box.appendChild(body);
    LM.api(o.url.replace("__CODE__", encodeURIComponent(p.code)), opts).then(function (data) {
      body.textContent = "";
      body.className = "lm-compensation-body";
      var households = data.households || [];
      if (!households.length) {
        body.className = "lm-muted lm-compensation-body";
        body.textContent = L_.none;
      } else {
        households.forEach(function (h) { body.appendChild(household(o, h)); });
        var link = pageLink(o, p);
        if (link) body.appendChild(link);
      }
    }).catch(function (err) {
      body.className = "lm-warn lm-compensation-body";
      body.textContent = err.message;
    }).then(function () {
      box.dispatchEvent(new CustomEvent("landmap:grown", { bubbles: true }));
    });
    return box;
  }

  LM.popupSections.push(section);
})();

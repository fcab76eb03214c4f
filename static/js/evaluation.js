/* The evaluation page: a click on a numerator or a denominator marks its parcels on the map
 * (the parcel layer's "selected" style, sent by the server) and lists them; a click on a
 * listed code opens that parcel's popup. Texts come from the page, never from here. */
(function () {
  "use strict";
  var marked = [];
  var box = document.getElementById("eval-selection");

  function layer() {
    return window.LandMap && window.LandMap.current ? window.LandMap.current.parcels : null;
  }

  function mark(codes) {
    var parcels = layer();
    if (!parcels) return;
    var look = Object.assign({ fill: true }, parcels.landmap.opts.styles.selected);
    marked.forEach(function (code) { parcels.resetFeatureStyle(code); });
    codes.forEach(function (code) { parcels.setFeatureStyle(code, look); });
    marked = codes;
  }

  function list(button, codes) {
    box.textContent = "";
    var head = document.createElement("b");
    head.textContent = button.dataset.indicator + " · " + button.dataset.role + " (" + codes.length + "): ";
    box.appendChild(head);
    if (!codes.length) box.appendChild(document.createTextNode(box.dataset.empty));
    codes.forEach(function (code) {
      var link = document.createElement("button");
      link.type = "button";
      link.className = "btn btn-link btn-sm p-0 me-2 lm-eval-parcel";
      link.textContent = code;
      link.addEventListener("click", function () {
        var parcels = layer();
        if (parcels) parcels.landmap.show(code);
      });
      box.appendChild(link);
    });
  }

  document.querySelectorAll(".lm-eval-figure").forEach(function (button) {
    button.addEventListener("click", function () {
      var codes = button.dataset.codes ? button.dataset.codes.split(" ") : [];
      document.querySelectorAll(".lm-eval-figure.active").forEach(function (b) {
        b.classList.remove("active");
      });
      button.classList.add("active");
      mark(codes);
      list(button, codes);
      document.body.dataset.evalMarked = String(codes.length);
    });
  });
})();

(function () {
  "use strict";
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  document.documentElement.className += " js";

  // Sorting: numbers from data-v (a lifetime may be missing: it sorts last), text otherwise.
  // The first click on a number column puts the biggest first. Each site is a tbody (its row
  // and its detail row), so whole tbodies move.
  each(document.querySelectorAll("table.sortable"), function (table) {
    var heads = table.querySelectorAll("th[data-sort]");
    each(heads, function (th) {
      th.tabIndex = 0;
      var sort = function () {
        var col = th.cellIndex, num = th.getAttribute("data-sort") === "num";
        var was = th.getAttribute("aria-sort");
        var desc = was ? was === "ascending" : num;
        var key = function (body) {
          var cell = body.rows[0].cells[col], v = cell.getAttribute("data-v");
          if (v === null) v = cell.textContent;
          if (!num) return v.toLowerCase();
          return v === "" ? null : parseFloat(v);
        };
        var rows = Array.prototype.slice.call(table.tBodies).map(function (body, i) {
          return { body: body, key: key(body), i: i };
        });
        rows.sort(function (a, b) {
          if (a.key === b.key) return a.i - b.i;
          if (a.key === null) return 1;
          if (b.key === null) return -1;
          var c = a.key < b.key ? -1 : 1;
          return desc ? -c : c;
        });
        rows.forEach(function (r) { table.appendChild(r.body); });
        each(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", desc ? "descending" : "ascending");
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
      });
    });
  });

  // Expand or collapse every site at once.
  var tools = document.getElementById("site-tools");
  if (tools) {
    [["expand all", true], ["collapse all", false]].forEach(function (b) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = b[0];
      button.addEventListener("click", function () {
        each(document.querySelectorAll("#sites-table td.c-site details"),
             function (d) { d.open = b[1]; });
      });
      tools.appendChild(button);
    });
  }

  // A link to a site (from a finding or the chart's legend) opens its row.
  var openTarget = function () {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    var details = target && target.querySelector("details");
    if (details) details.open = true;
  };
  window.addEventListener("hashchange", openTarget);
  openTarget();

  document.body.setAttribute("data-ready", "1");
})();

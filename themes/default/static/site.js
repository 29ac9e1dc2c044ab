// sitegen: plots, and filter/sort of the runs table. Everything works from file:// (no fetch).
(function () {
  "use strict";

  function drawPlots() {
    var data = document.getElementById("figures");
    if (!data || !window.Plotly) return;
    var figures = JSON.parse(data.textContent);
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    var style = getComputedStyle(document.documentElement);
    Object.keys(figures).forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) return;
      var fig = figures[id];
      var layout = Object.assign({}, fig.layout || {}, {
        paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
        font: { color: style.getPropertyValue("--fg").trim() || (dark ? "#e6edf3" : "#1f2328") },
      });
      var grid = style.getPropertyValue("--line").trim();
      layout.xaxis = Object.assign({ gridcolor: grid }, layout.xaxis || {});
      layout.yaxis = Object.assign({ gridcolor: grid }, layout.yaxis || {});
      if (layout.height) el.style.height = layout.height + "px";  // e.g. a timeline sized to its lanes
      window.Plotly.newPlot(el, fig.data || [], layout, { responsive: true, displaylogo: false });
    });
  }

  function setupTable() {
    var table = document.getElementById("runs");
    if (!table) return;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var text = document.getElementById("filter-text");
    var status = document.getElementById("filter-status");
    var tag = document.getElementById("filter-tag");
    var gpu = document.getElementById("filter-gpu");  // only when some run knows its GPUs
    var count = document.getElementById("filter-count");
    var haystack = rows.map(function (row) { return row.textContent.toLowerCase(); });

    function apply() {
      var needle = text.value.trim().toLowerCase();
      var wantStatus = status.value, wantTag = tag.value, wantGpu = gpu ? gpu.value : "", shown = 0;
      rows.forEach(function (row, i) {
        var ok = (!needle || haystack[i].indexOf(needle) !== -1) &&
          (!wantStatus || row.dataset.status === wantStatus) &&
          (!wantTag || row.dataset.tags.split("\n").indexOf(wantTag) !== -1) &&
          (!wantGpu || row.dataset.gpu === wantGpu);
        row.hidden = !ok;
        if (ok) shown++;
      });
      count.textContent = shown + " of " + rows.length + " shown";
    }

    function fromHash() {
      var params = new URLSearchParams(location.hash.slice(1));
      if (params.has("tag")) tag.value = params.get("tag");
      if (params.has("status")) status.value = params.get("status");
      if (params.has("q")) text.value = params.get("q");
      if (gpu && params.has("gpu")) gpu.value = params.get("gpu");
      apply();
    }

    [text, status, tag, gpu].forEach(function (el) { if (el) el.addEventListener("input", apply); });
    window.addEventListener("hashchange", fromHash);

    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
      th.addEventListener("click", function () {
        var descending = th.getAttribute("aria-sort") === "ascending";
        Array.prototype.forEach.call(th.parentNode.cells, function (c) { c.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        var numeric = th.dataset.sort === "num";
        var keyed = rows.map(function (row) {
          var cell = row.cells[column];
          var key = numeric ? parseFloat(cell.dataset.value || "0") : cell.textContent.trim().toLowerCase();
          return [key, row];
        });
        keyed.sort(function (a, b) {
          var r = a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
          return descending ? -r : r;
        });
        keyed.forEach(function (pair) { body.appendChild(pair[1]); });
      });
    });
    fromHash();
  }

  // "Copy" beside a block (`repro_block`): the clipboard API needs a secure context; else select the text.
  function setupCopy() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button.copy") : null;
      var pre = button && button.parentNode.querySelector("pre");
      if (!pre) return;
      function select() {
        var range = document.createRange();
        range.selectNodeContents(pre);
        window.getSelection().removeAllRanges();
        window.getSelection().addRange(range);
        button.textContent = "Selected: press Ctrl+C";
      }
      if (!navigator.clipboard || !window.isSecureContext) return select();
      navigator.clipboard.writeText(pre.textContent).then(function () { button.textContent = "Copied"; }, select);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawPlots(); setupTable(); setupCopy(); });
})();

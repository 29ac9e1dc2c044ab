// sitegen: comparing runs. Picking runs on the index, the compare page (each run's data.js
// loaded by a <script> tag: browsers block fetch on file://), and a sweep's metric-vs-parameter
// plot. Run data is untrusted: the DOM is built with textContent, plot labels are escaped.
(function () {
  "use strict";

  var SLUG = /^[a-z0-9][a-z0-9._-]*$/;  // what sitegen's slugify makes; nothing else reaches a src
  var MAX_RUNS = 50;
  var CURVE_METRIC = /throughput|goodput|_ms_(mean|median|p99)$/;

  function slugsFromHash(hash) {
    return validSlugs(new URLSearchParams(String(hash).replace(/^#/, "")).get("runs") || "", MAX_RUNS);
  }

  function validSlugs(list, most) {
    var slugs = [];
    String(list).split(",").forEach(function (slug) {
      slug = slug.trim();
      if (SLUG.test(slug) && slugs.indexOf(slug) === -1 && slugs.length < most) slugs.push(slug);
    });
    return slugs;
  }

  function plotlyText(text) {  // plotly renders <b>, <br>, <a href> in labels
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function own(object, key) { return Object.prototype.hasOwnProperty.call(object, key); }

  function num(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value !== "number") return String(value);
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  }

  function statusText(status) {  // a mark as well as a colour, like the theme's status badge
    var marks = { completed: "✔", failed: "✖", broken: "✖", running: "▶", stalled: "‖" };
    return (own(marks, status) ? marks[status] : "●") + " " + status;
  }

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function draw(div, traces, xTitle, yTitle, xaxis) {
    var style = getComputedStyle(document.documentElement);
    var grid = style.getPropertyValue("--line").trim();
    var legend = traces.length > 1;  // below the plot: long run names beside it would squeeze it
    div.style.height = 300 + (legend ? 20 * traces.length : 0) + "px";
    var layout = {
      autosize: true, margin: { l: 50, r: 10, t: 10, b: 40 },
      showlegend: legend, legend: { orientation: "h", x: 0, y: -0.2, yanchor: "top" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: style.getPropertyValue("--fg").trim() },
      xaxis: Object.assign({ title: { text: plotlyText(xTitle) }, gridcolor: grid }, xaxis || {}),
      yaxis: { title: { text: plotlyText(yTitle) }, gridcolor: grid },
    };
    if (window.sitegenReadableAxes) {  // site.js, loaded after this script, before the page's data
      window.sitegenReadableAxes(traces, layout);
      window.sitegenAboveTheData(layout);
    }
    window.Plotly.newPlot(div, traces, layout, { responsive: true, displaylogo: false });
  }

  function line(name, x, y) {
    return { type: "scatter", mode: y.length <= 50 ? "lines+markers" : "lines", name: plotlyText(name), x: x, y: y };
  }

  // --- the index: pick runs, then open the compare page with them --------------------------

  function setupPicking(button) {
    var table = document.getElementById("runs");
    var count = document.getElementById("compare-count");
    var picked = [];
    function update() {
      button.disabled = picked.length < 2;
      count.textContent = picked.length ? picked.length + " selected" : "";
    }
    // one listener for the whole table: the index may have 10,000 rows
    Array.prototype.forEach.call(table.querySelectorAll("input.pick:checked"), function (box) {
      picked.push(box.dataset.slug);
    });
    table.addEventListener("change", function (event) {
      var box = event.target;
      if (!box.classList.contains("pick")) return;
      var at = picked.indexOf(box.dataset.slug);
      if (box.checked && at === -1) picked.push(box.dataset.slug);
      if (!box.checked && at !== -1) picked.splice(at, 1);
      update();
    });
    table.addEventListener("sitegen:rows", function () {  // rows drawn anew by a filter or a sort
      Array.prototype.forEach.call(table.querySelectorAll("input.pick"), function (box) {
        box.checked = picked.indexOf(box.dataset.slug) !== -1;
      });
    });
    button.addEventListener("click", function () {
      location.href = button.dataset.href + "#runs=" + picked.join(",");
    });
    update();
  }

  // --- a sweep page: one summary metric against one varying parameter ----------------------

  function setupSweep(source) {
    var data = JSON.parse(source.textContent);
    var param = document.getElementById("sweep-param");
    var metric = document.getElementById("sweep-metric");
    var plot = document.getElementById("sweep-scatter");
    function redraw() {
      var p = param.value, m = metric.value;
      var rows = data.runs.filter(function (run) {
        return run.params[p] !== null && run.params[p] !== undefined && typeof run.summary[m] === "number";
      });
      var numeric = rows.every(function (run) { return typeof run.params[p] === "number"; });
      var xs = rows.map(function (run) { return numeric ? run.params[p] : plotlyText(run.params[p]); });
      var positive = numeric && xs.length && xs.every(function (x) { return x > 0; });
      var wide = positive && Math.max.apply(null, xs) >= 100 * Math.min.apply(null, xs);
      var trace = {
        type: "scatter", mode: "markers", marker: { size: 10 }, x: xs,
        y: rows.map(function (run) { return run.summary[m]; }),
        text: rows.map(function (run) { return plotlyText(run.name); }),
        customdata: rows.map(function (run) { return run.url; }),
        hovertemplate: "%{text}<br>%{x}: %{y}<extra></extra>",
      };
      var xaxis = numeric ? { type: wide ? "log" : "linear" } : { type: "category", categoryorder: "category ascending" };
      draw(plot, [trace], p, m, xaxis);
    }
    if (!window.Plotly) return;
    param.addEventListener("change", redraw);
    metric.addEventListener("change", redraw);
    redraw();
    plot.on("plotly_click", function (event) {  // a point opens its run
      var url = event.points.length && event.points[0].customdata;
      if (url) location.href = url;
    });
  }

  function setupSweepSeries(section) {  // every run's series overlaid, from their data.js
    var slugs = validSlugs(section.dataset.slugs, Infinity);
    if (!window.Plotly || !slugs.length) return;
    loadRuns(section.dataset.root || "", slugs, function () {
      var runs = slugs.filter(function (slug) { return own(window.sitegenRuns, slug); })
        .map(function (slug) { return { slug: slug, data: window.sitegenRuns[slug] }; });
      labelled(runs);
      showSeries(runs);
    });
  }

  // --- the compare page ----------------------------------------------------------------------

  function loadRuns(root, slugs, done) {
    var pending = slugs.length;
    window.sitegenRuns = window.sitegenRuns || {};
    function settled() {
      pending -= 1;
      if (pending === 0) done();
    }
    slugs.forEach(function (slug) {
      var script = document.createElement("script");
      script.src = root + "runs/" + slug + "/data.js";
      script.onload = settled;
      script.onerror = settled;  // a run that is not on the site: listed as not found
      document.head.appendChild(script);
    });
  }

  function labelled(runs) {
    var counts = {};
    runs.forEach(function (run) { counts["=" + run.data.name] = (counts["=" + run.data.name] || 0) + 1; });
    runs.forEach(function (run) {
      run.label = counts["=" + run.data.name] > 1 ? run.data.name + " (" + run.slug + ")" : run.data.name;
    });
  }

  function union(runs, pick) {
    var names = [];
    runs.forEach(function (run) {
      Object.keys(pick(run.data)).forEach(function (name) { if (names.indexOf(name) === -1) names.push(name); });
    });
    return names.sort();
  }

  function grid(section, runs, headers) {
    var table = element("table", null, "results compare");
    var head = table.createTHead().insertRow();
    [headers].concat(runs.map(function (run) { return run.label; })).forEach(function (text) {
      head.appendChild(element("th", text));
    });
    showTable(section, table);
    return table.createTBody();
  }

  function showTable(section, table) {  // a wide table scrolls in its own box, not the page
    var wrap = element("div", null, "scroll");
    wrap.appendChild(table);
    section.appendChild(wrap);
    section.hidden = false;
  }

  function showRuns(root, entries) {
    var section = document.getElementById("compare-runs");
    var table = element("table", null, "results");
    var head = table.createTHead().insertRow();
    ["Run", "Status", "Kind"].forEach(function (text) { head.appendChild(element("th", text)); });
    var body = table.createTBody();
    entries.forEach(function (entry) {
      var row = body.insertRow();
      var name = row.insertCell();
      if (!entry.data) {
        name.textContent = entry.slug;
        row.appendChild(element("td", "✖ not found", "bad"));
        row.appendChild(element("td", "—"));
        return;
      }
      var link = element("a", entry.data.name);
      link.href = root + entry.data.url;
      name.appendChild(link);
      var status = row.insertCell();
      status.appendChild(element("span", statusText(entry.data.status), "status status-" + entry.data.status));
      row.appendChild(element("td", entry.data.kind));
    });
    showTable(section, table);
  }

  function showParams(runs) {
    var names = union(runs, function (data) { return data.params; });
    if (!names.length) return;
    var section = document.getElementById("compare-params");
    var toggle = document.getElementById("compare-all-params");
    var body = grid(section, runs, "Parameter");
    var rows = names.map(function (name) {
      var values = runs.map(function (run) { return own(run.data.params, name) ? run.data.params[name] : undefined; });
      var keys = values.map(function (value) { return value === undefined ? "" : "=" + JSON.stringify(value); });
      var row = body.insertRow();
      row.appendChild(element("th", name));
      values.forEach(function (value) { row.appendChild(element("td", value === undefined ? "—" : num(value))); });
      row.dataset.same = keys.every(function (key) { return key === keys[0]; }) ? "1" : "";
      return row;
    });
    var note = element("p", null, "sub");
    section.appendChild(note);
    function apply() {
      var shown = 0;
      rows.forEach(function (row) { row.hidden = !toggle.checked && row.dataset.same === "1"; shown += !row.hidden; });
      note.textContent = toggle.checked ? "" : shown + " of " + rows.length + " parameters differ.";
    }
    toggle.addEventListener("change", apply);
    apply();
  }

  function showSummary(runs) {
    var names = union(runs, function (data) { return data.summary; });
    if (!names.length) return;
    var body = grid(document.getElementById("compare-summary"), runs, "Metric");
    names.forEach(function (name) {
      var values = runs.map(function (run) { return own(run.data.summary, name) ? run.data.summary[name] : null; });
      var direction = 0;
      runs.forEach(function (run) { direction = direction || (run.data.directions || {})[name] || 0; });
      var present = values.filter(function (value) { return typeof value === "number"; });
      var best = present.length > 1 && direction ? (direction > 0 ? Math.max : Math.min).apply(null, present) : null;
      var distinct = present.some(function (value) { return value !== present[0]; });
      var row = body.insertRow();
      row.appendChild(element("th", name));
      values.forEach(function (value) {
        var isBest = distinct && best !== null && value === best;
        var cell = element("td", num(value) + (isBest ? " ★" : ""), isBest ? "num best" : "num");
        if (isBest) cell.title = "best: " + (direction > 0 ? "higher" : "lower") + " is better";
        row.appendChild(cell);
      });
    });
  }

  function figure(section, caption) {
    var box = element("figure");
    box.appendChild(element("figcaption", caption));
    var plot = element("div", null, "plot");
    box.appendChild(plot);
    section.querySelector(".plots").appendChild(box);
    section.hidden = false;
    return plot;
  }

  function showSeries(runs) {
    var section = document.getElementById("compare-plots");
    union(runs, function (data) { return data.series; }).forEach(function (name) {
      var having = runs.filter(function (run) { return own(run.data.series, name); });
      var traces = having.map(function (run) {
        var series = run.data.series[name];
        return line(run.label, window.sitegenColumn(series.x), window.sitegenColumn(series.y));  // site.js
      });
      draw(figure(section, name), traces, having[0].data.series[name].axis, name);
    });
  }

  function showCurves(runs) {
    var section = document.getElementById("compare-curves");
    var metrics = [];
    runs.forEach(function (run) {
      run.data.points.forEach(function (point) {
        Object.keys(point.metrics).forEach(function (name) {
          if (CURVE_METRIC.test(name) && metrics.indexOf(name) === -1) metrics.push(name);
        });
      });
    });
    metrics.sort(function (a, b) {  // throughputs first, like the run page
      var ta = /throughput|goodput/.test(a), tb = /throughput|goodput/.test(b);
      return ta !== tb ? (ta ? -1 : 1) : a < b ? -1 : a > b ? 1 : 0;
    });
    metrics.forEach(function (metric) {
      var traces = [], xName = "";
      runs.forEach(function (run) {
        var curves = {};
        run.data.points.forEach(function (point) {
          if (typeof point.metrics[metric] !== "number") return;
          xName = xName || point.x_name;
          (curves["=" + point.curve] = curves["=" + point.curve] || []).push(point);
        });
        Object.keys(curves).sort().forEach(function (key) {
          var points = curves[key].sort(function (a, b) { return a.x - b.x; });
          traces.push(line(run.label + " · " + key.slice(1),
            points.map(function (p) { return p.x; }), points.map(function (p) { return p.metrics[metric]; })));
        });
      });
      draw(figure(section, metric), traces, xName, metric, xName === "concurrency" ? { type: "log" } : {});
    });
  }

  function setupCompare(app) {
    var status = document.getElementById("compare-status");
    var root = app.dataset.root || "";
    var slugs = slugsFromHash(location.hash);
    window.addEventListener("hashchange", function () { location.reload(); });
    if (!slugs.length) return;
    status.textContent = "Loading " + slugs.length + " runs…";
    loadRuns(root, slugs, function () {
      var entries = slugs.map(function (slug) {
        var loaded = own(window.sitegenRuns, slug) ? window.sitegenRuns[slug] : null;
        return { slug: slug, data: loaded };
      });
      var runs = entries.filter(function (entry) { return entry.data; });
      var missing = entries.length - runs.length;
      status.textContent = runs.length + " runs" + (missing ? "; " + missing + " not found on this site" : "") + ".";
      labelled(runs);
      showRuns(root, entries);
      if (!runs.length) return;
      showParams(runs);
      showSummary(runs);
      if (!window.Plotly) return;
      showSeries(runs);
      showCurves(runs);
    });
  }

  if (typeof module === "object" && module.exports) {  // node, for the tests
    module.exports = { slugsFromHash: slugsFromHash, plotlyText: plotlyText };
    return;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("compare-selected");
    var sweep = document.getElementById("sweep-data");
    var app = document.getElementById("compare-app");
    var sweepSeries = document.querySelector("#compare-plots[data-slugs]");
    if (button) setupPicking(button);
    if (sweep) setupSweep(sweep);
    if (sweepSeries) setupSweepSeries(sweepSeries);
    if (app) setupCompare(app);
  });
})();

// sitegen: plots, and filter/sort of the runs table. Everything works from file:// (no fetch).
(function () {
  "use strict";

  function own(object, key) { return Object.prototype.hasOwnProperty.call(object, key); }

  // A column of numbers as a run's data.js writes it (sitegen/render/plot_columns.py): a plain
  // array; {start, step, n}; or {e, d}: integers k, each value k / 10^e, written as zigzag base-32
  // differences, one character a digit, low digits first; "~" a gap; "*" and a count: the
  // difference (or gap) before it, that many times more.
  var DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", GAP = "~", REPEAT = "*";

  function column(encoded) {
    if (Array.isArray(encoded)) return encoded;
    var values = [], i = 0;
    if (own(encoded, "start")) {
      for (; i < encoded.n; i++) values.push(encoded.start + i * encoded.step);
      return values;
    }
    var power = Math.pow(10, Math.abs(encoded.e)), text = encoded.d, integer = 0, last = null;
    function number() {
      var value = 0, place = 1, digit;
      do {
        digit = DIGITS.indexOf(text[i++]);
        value += (digit % 32) * place;
        place *= 32;
      } while (digit >= 32);
      return value;
    }
    function emit(delta) {
      if (delta === null) return values.push(null);
      integer += delta;
      values.push(encoded.e >= 0 ? integer / power : integer * power);  // exact, as the decimal reads
    }
    while (i < text.length) {
      if (text[i] === GAP) {
        i++;
        emit(last = null);
      } else if (text[i] === REPEAT) {
        i++;
        for (var more = number(); more > 0; more--) emit(last);
      } else {
        var folded = number();
        emit(last = folded % 2 === 0 ? folded / 2 : -(folded + 1) / 2);
      }
    }
    return values;
  }
  window.sitegenColumn = column;

  function plotlyText(text) {  // plotly renders tags in labels
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  // Axes that read: counts as integers with separators (2,000,000, not 2M or 2e+06), no
  // fractional ticks on a small count, a flat series on a range around its value (plotly's own
  // gives ticks like 1.999999M), and the unit a metric's name gives in its axis title.
  var UNITS = [[/tok(en)?s?(\/|_per_)s(ec)?$/i, "tokens/s"], [/(^|[_\-./ ])per[_\-. ]?s(ec)?$/i, ""],
    [/(^|[_\-./ ])ms$/i, "ms"], [/(^|[_\-./ ])(s|sec|secs|seconds)$/i, "s"],
    [/(^|[_\-./ ])(us|µs)$/i, "µs"], [/(^|[_\-./ ])(kb|kib)$/i, "KB"], [/(^|[_\-./ ])(mb|mib)$/i, "MB"],
    [/(^|[_\-./ ])(gb|gib)$/i, "GB"], [/(^|[_\-./ ])bytes$/i, "bytes"],
    [/(^|[_\-./ ])(qps|rps)$/i, "requests/s"]];  // the first match wins: a rate per second names its unit
  var STATISTIC = /[_\-.](mean|median|avg|std|min|max|sum|p\d+(\.\d+)?)$/i;

  function unitOf(name) {
    var base = String(name).replace(STATISTIC, "");
    for (var i = 0; i < UNITS.length; i++) if (UNITS[i][0].test(base)) return UNITS[i][1];
    return "";
  }

  function readableAxis(axis, values, letter) {
    axis.automargin = true;  // room for "2,000,000"
    var title = axis.title && axis.title.text, unit = title && unitOf(title);
    if (unit && String(title).indexOf("(") < 0) axis.title = Object.assign({}, axis.title, { text: title + " (" + unit + ")" });
    if (axis.type === "log") return letter === "x" ? testedValues(axis, values) : undefined;
    if (axis.type === "category" || axis.type === "date" || axis.range) return;
    var low = Infinity, high = -Infinity, integers = true, seen = 0;
    for (var i = 0; i < values.length; i++) {
      var v = values[i];
      if (typeof v !== "number" || !isFinite(v)) continue;
      seen++;
      if (v < low) low = v;
      if (v > high) high = v;
      if (integers && !Number.isInteger(v)) integers = false;
    }
    if (!seen) return;
    if (high - low <= Math.abs(high) * 1e-9) {  // flat, or differing in float noise only
      var pad = integers ? Math.max(1, Math.round(Math.abs(high) * 0.05)) : Math.abs(high) * 0.05 || 1;
      axis.range = [low - pad, high + pad];
    }
    var span = axis.range ? axis.range[1] - axis.range[0] : high - low;
    if (integers && span <= 5) { axis.tickmode = "linear"; axis.dtick = 1; axis.tick0 = 0; }
    if (integers) axis.tickformat = ",d";
  }

  function testedValues(axis, values) {  // a log axis of a few values (concurrencies): ticks at those only
    var sorted = values.filter(function (v) { return typeof v === "number" && v > 0; })
      .sort(function (a, b) { return a - b; });
    var distinct = sorted.filter(function (v, i) { return i === 0 || v !== sorted[i - 1]; });
    if (!distinct.length || distinct.length > 12 || axis.tickvals) return;
    axis.tickmode = "array";
    axis.tickvals = distinct;
    axis.ticktext = distinct.map(function (v) { return v.toLocaleString("en-US"); });
  }

  function readableAxes(data, layout) {
    ["x", "y"].forEach(function (letter) {
      var name = letter + "axis", values = [];
      data.forEach(function (trace) {
        if ((trace[name] || letter) === letter && Array.isArray(trace[letter])) values = values.concat(trace[letter]);
      });
      layout[name] = Object.assign({}, layout[name] || {});
      readableAxis(layout[name], values, letter);
    });
    return layout;
  }
  window.sitegenReadableAxes = readableAxes;

  function aboveTheData(layout) {  // plotly's mode bar (shown on hover) sits in the top margin
    layout.margin = Object.assign({}, layout.margin || {});
    layout.margin.t = Math.max(layout.margin.t === undefined ? 100 : layout.margin.t, MODE_BAR_PX);
    return layout;
  }
  var MODE_BAR_PX = 30;
  window.sitegenAboveTheData = aboveTheData;

  function newPlot(el, data, figureLayout) {
    var layout = themed(figureLayout, data);
    if (layout.height) el.style.height = layout.height + "px";  // e.g. a timeline sized to its lanes
    window.Plotly.newPlot(el, data, layout, PLOT_CONFIG);
  }
  var PLOT_CONFIG = { responsive: true, displaylogo: false };

  function themed(figureLayout, data) {  // the page's colours, readable axes, the mode bar clear
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    var style = getComputedStyle(document.documentElement);
    var layout = Object.assign({}, figureLayout || {}, {
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: style.getPropertyValue("--fg").trim() || (dark ? "#e6edf3" : "#1f2328") },
    });
    var grid = style.getPropertyValue("--line").trim();
    layout.xaxis = Object.assign({ gridcolor: grid }, layout.xaxis || {});
    layout.yaxis = Object.assign({ gridcolor: grid }, layout.yaxis || {});
    readableAxes(data, layout);
    return aboveTheData(layout);
  }

  function drawPlots() {  // the figures embedded in the page
    var data = document.getElementById("figures");
    if (!data || !window.Plotly) return;
    var figures = JSON.parse(data.textContent);
    Object.keys(figures).forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) return;
      newPlot(el, figures[id].data || [], figures[id].layout);
      el.on("plotly_click", openRun);
    });
  }

  // A point whose customdata names a run page (site-relative, `render.site.slug_url`) opens it;
  // the site's root is where this script's assets/ folder is, on disk or at a sub-path.
  var SITE_ROOT = document.currentScript ? new URL("..", document.currentScript.src) : null;
  var RUN_PAGE = /^runs\/[^/?#]+\/index\.html$/;

  function openRun(event) {
    var url = event.points.length ? event.points[0].customdata : null;
    if (SITE_ROOT && typeof url === "string" && RUN_PAGE.test(url)) location.href = new URL(url, SITE_ROOT).href;
  }

  function drawSeries() {  // a run page's metrics, from the run's data.js (written once for all pages)
    var box = document.querySelector(".plots[data-run]"), runs = window.sitegenRuns || {};
    if (!box || !window.Plotly || !own(runs, box.dataset.run)) return;
    var series = runs[box.dataset.run].series, view = seriesView();
    var plots = Array.prototype.filter.call(box.querySelectorAll(".plot[data-series]"), function (el) {
      return own(series, el.dataset.series);
    });
    var columns = plots.map(function (el) {
      var one = series[el.dataset.series];
      return { x: column(one.x), y: column(one.y), axis: one.axis };
    });
    function draw(first) {
      plots.forEach(function (el, i) {
        var name = el.dataset.series, x = columns[i].x, y = columns[i].y, smooth = view.smoothing > 0;
        var traces = [{ type: "scatter", mode: y.length <= 50 ? "lines+markers" : "lines", name: plotlyText(name),
                        x: x, y: y, opacity: smooth ? 0.25 : 1, hoverinfo: smooth ? "skip" : undefined }];
        if (smooth) traces.push({ type: "scatter", mode: "lines", name: plotlyText(name) + " (smoothed)",
                                  x: x, y: smoothed(y, view.smoothing), line: { color: "#1f77b4" } });
        var layout = {
          autosize: true, showlegend: false, margin: { l: 50, r: 10, t: 10, b: 40 }, hovermode: "x",
          xaxis: { title: { text: plotlyText(columns[i].axis) } },
          yaxis: { title: { text: plotlyText(name) }, type: view.logY ? "log" : "linear" },
        };
        if (first) newPlot(el, traces, layout);
        else window.Plotly.react(el, traces, themed(layout, traces), PLOT_CONFIG);
      });
    }
    draw(true);
    seriesControls(view, function () { draw(false); });
    hoverTogether(plots, columns.map(function (one) { return one.axis; }));
  }

  function hoverTogether(plots, axes) {  // a point hovered on one plot, the same x on the others of its axis
    var echoing = false;
    plots.forEach(function (el, i) {
      var others = plots.filter(function (other, j) { return j !== i && axes[j] === axes[i]; });
      el.on("plotly_hover", function (event) {
        if (echoing || !event.points.length) return;
        echoing = true;
        others.forEach(function (other) { window.Plotly.Fx.hover(other, { xval: event.points[0].x }); });
        echoing = false;
      });
      el.on("plotly_unhover", function () {
        if (echoing) return;
        echoing = true;
        others.forEach(function (other) { window.Plotly.Fx.unhover(other); });
        echoing = false;
      });
    });
  }

  // A run's plots as the reader set them, kept in the URL's hash (#smoothing=0.6&log=y) so that
  // a link reproduces the view: smoothing is TensorBoard's, an exponential moving average
  // debiased at the start, drawn over the raw line kept faint behind it.
  function seriesView() {
    var params = new URLSearchParams(location.hash.slice(1));
    var weight = parseFloat(params.get("smoothing"));
    return { smoothing: weight >= 0 && weight < 1 ? weight : 0, logY: params.get("log") === "y" };
  }

  function smoothed(values, weight) {
    var out = [], last = 0, count = 0;
    for (var i = 0; i < values.length; i++) {
      var v = values[i];
      if (typeof v !== "number" || !isFinite(v)) { out.push(null); continue; }
      last = last * weight + (1 - weight) * v;
      count++;
      out.push(last / (1 - Math.pow(weight, count)));
    }
    return out;
  }

  function seriesControls(view, redraw) {
    var controls = document.getElementById("plot-controls");
    if (!controls) return;
    var slider = document.getElementById("smoothing"), shown = document.getElementById("smoothing-value");
    var logY = document.getElementById("log-y");
    slider.value = view.smoothing;
    shown.textContent = view.smoothing.toFixed(2);
    logY.checked = view.logY;
    controls.hidden = false;
    function changed() {
      view.smoothing = Math.min(Math.max(parseFloat(slider.value) || 0, 0), 0.99);
      view.logY = logY.checked;
      shown.textContent = view.smoothing.toFixed(2);
      var params = new URLSearchParams();
      if (view.smoothing > 0) params.set("smoothing", String(view.smoothing));
      if (view.logY) params.set("log", "y");
      var hash = params.toString();
      history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
      redraw();
    }
    slider.addEventListener("input", changed);
    logY.addEventListener("change", changed);
  }

  // The runs table: the page holds its first rows (as HTML and as data, #runs-data) and names the
  // chunks that hold every row (data/runs-NNNN.js, by shard). They load as scripts, all at once,
  // as soon as the first rows are up (file:// blocks fetch); each hands its rows to
  // sitegenIndexRows as JSON text (parsed, never run). Each run's search text is made as its
  // chunk arrives, so a search over all runs costs no more than a scan once the last one is in.
  // The rest are drawn a page at a time as the reader scrolls, filters or sorts.
  var PAGE_ROWS = 100;

  function utf16ToCodePoint(unit) {  // sorts UTF-16 units in code point order, as Python sorts str
    return unit >= 0xD800 ? (unit >= 0xE000 ? unit - 0x800 : unit + 0x2000) : unit;
  }

  function codePointOrder(a, b) {
    if (a === b) return 0;
    for (var i = 0, n = Math.min(a.length, b.length); i < n; i++) {
      var x = a.charCodeAt(i), y = b.charCodeAt(i);
      if (x !== y) return utf16ToCodePoint(x) < utf16ToCodePoint(y) ? -1 : 1;
    }
    return a.length - b.length;
  }

  function pageOrder(a, b) {  // newest first, then run id and slug: index.table_order
    return b.created - a.created || codePointOrder(a.run_id, b.run_id) || codePointOrder(a.slug, b.slug);
  }

  function loadChunks(chunks, onRows, onFailed) {
    window.sitegenIndexRows = onRows;
    chunks.forEach(function (src) {
      var script = document.createElement("script");
      script.src = src;
      script.onerror = onFailed;
      document.head.appendChild(script);
    });
  }

  function setupTable() {
    var table = document.getElementById("runs");
    var source = document.getElementById("runs-data");
    if (!table || !source) return;
    var payload = JSON.parse(source.textContent);
    var columns = payload.columns;
    function toRun(row) {
      var run = {};
      for (var i = 0; i < columns.length; i++) run[columns[i]] = row[i];
      run.text = [run.name, run.run_id, run.badges.join(" "), run.status, run.kind, run.tags.join(" "),
                  run.gpu, run.created_text, run.duration_text].join(" ").toLowerCase();
      return run;
    }
    var runs = payload.rows.map(toRun);
    var total = payload.count, complete = runs.length >= total;
    var parts = [], partsLoaded = 0, partsFailed = 0, rowsLoaded = 0;
    var body = table.tBodies[0];
    var badges = document.getElementById("status-badges").content;
    var more = document.getElementById("runs-more");
    var text = document.getElementById("filter-text");
    var status = document.getElementById("filter-status");
    var tag = document.getElementById("filter-tag");
    var gpu = document.getElementById("filter-gpu");  // only when some run knows its GPUs
    var count = document.getElementById("filter-count");
    var sortBy = null;  // [column, sign] once a column header was clicked
    var order = runs, matching = runs, drawn = body.rows.length;

    function element(tag, className, content) {
      var el = document.createElement(tag);
      if (className) el.className = className;
      if (content !== undefined) el.textContent = content;
      return el;
    }

    function rowFor(run) {  // the row _run_row.html draws, built with textContent only
      var row = document.createElement("tr"), cell = row.insertCell();
      var pick = document.createElement("input");
      pick.type = "checkbox";
      pick.className = "pick";
      pick.setAttribute("data-slug", run.slug);
      pick.setAttribute("aria-label", "compare " + run.name);
      var link = element("a", "", run.name);
      link.setAttribute("href", run.url);
      cell.append(pick, " ", link);
      run.badges.forEach(function (badge) { cell.append(" ", element("span", "badge", badge)); });
      cell.append(element("div", "sub", run.run_id));
      var badge = badges.querySelector(".status-" + CSS.escape(run.status));
      row.insertCell().append(badge ? badge.cloneNode(true) : run.status);
      row.insertCell().textContent = run.kind;
      cell = row.insertCell();
      run.tags.forEach(function (name) { cell.append(element("span", "tag", name), " "); });
      row.insertCell().textContent = run.created_text;
      row.insertCell().textContent = run.duration_text;
      cell = row.insertCell();
      if (run.broken) cell.append(element("span", "warn", "⚠ broken"));
      else if (run.warnings) cell.append(element("span", "warn", "⚠ " + run.warnings));
      return row;
    }

    function draw(upTo) {  // rows [drawn, upTo) of the matching runs, after those already drawn
      var rows = document.createDocumentFragment();
      for (var i = drawn; i < Math.min(upTo, matching.length); i++) rows.appendChild(rowFor(matching[i]));
      body.appendChild(rows);
      drawn = body.rows.length;
      more.hidden = drawn >= matching.length;
      more.textContent = "Show more (" + drawn + " of " + matching.length + " drawn)";
      table.dispatchEvent(new CustomEvent("sitegen:rows", { bubbles: true }));
    }

    function redraw() {
      body.textContent = "";
      drawn = 0;
      draw(PAGE_ROWS);
    }

    function say() {  // the status line: what matches, and how much is still loading
      var shown = matching.length + " of " + runs.length + " match";
      if (partsFailed) count.textContent = shown + "; " + partsFailed + " of the table's " +
        payload.chunks.length + " data files could not be loaded (their runs are missing)";
      else if (complete) count.textContent = shown;
      else count.textContent = (filtering() ? shown + " so far; " : total + " runs; ") +
        "loading the table (" + rowsLoaded + " of " + total + ")";
      table.setAttribute("data-loaded", complete ? "all" : "partly");
    }

    function filtering() {
      return text.value.trim() || status.value || tag.value || (gpu && gpu.value);
    }

    function apply() {
      var needle = text.value.trim().toLowerCase();
      var wantStatus = status.value, wantTag = tag.value, wantGpu = gpu ? gpu.value : "";
      matching = order.filter(function (run) {
        return (!needle || run.text.indexOf(needle) !== -1) &&
          (!wantStatus || run.status === wantStatus) &&
          (!wantTag || run.tags.indexOf(wantTag) !== -1) &&
          (!wantGpu || run.gpu === wantGpu);
      });
      say();
      redraw();
    }

    function fromHash() {
      var params = new URLSearchParams(location.hash.slice(1));
      if (params.has("tag")) tag.value = params.get("tag");
      if (params.has("status")) status.value = params.get("status");
      if (params.has("q")) text.value = params.get("q");
      if (gpu && params.has("gpu")) gpu.value = params.get("gpu");
      apply();
    }

    var SORT_KEYS = [
      function (run) { return run.name.toLowerCase() + "\n" + run.run_id.toLowerCase(); },
      function (run) { return run.status; },
      function (run) { return run.kind; },
      function (run) { return run.tags.join(" ").toLowerCase(); },
      function (run) { return run.created; },
      function (run) { return run.duration; },
      function (run) { return run.warnings; },
    ];

    function sorted() {
      if (!sortBy) return runs;
      var key = SORT_KEYS[sortBy[0]], sign = sortBy[1];
      var keyed = runs.map(function (run, i) { return [key(run), i, run]; });
      keyed.sort(function (a, b) {  // ties keep the page's order, newest first
        return (a[0] < b[0] ? -sign : a[0] > b[0] ? sign : 0) || a[1] - b[1];
      });
      return keyed.map(function (item) { return item[2]; });
    }

    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
      th.addEventListener("click", function () {
        var descending = th.getAttribute("aria-sort") === "ascending";
        Array.prototype.forEach.call(th.parentNode.cells, function (c) { c.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        sortBy = [column, descending ? -1 : 1];
        order = sorted();
        apply();
      });
    });

    function allLoaded() {  // every run, in the page's order; the rows drawn so far stay if still first
      var all = [];
      parts.forEach(function (part) { for (var i = 0; i < part.length; i++) all.push(part[i]); });
      runs = all.sort(pageOrder);
      complete = true;
      order = sorted();
      if (sortBy || filtering()) return apply();
      matching = order;
      say();
      draw(drawn);
    }

    function onRows(shard, json) {
      if (parts[shard] || typeof json !== "string") return;
      try {
        parts[shard] = JSON.parse(json).map(toRun);
      } catch (error) {  // not rows sitegen wrote: said in the status line like a missing file
        partsFailed++;
        return onPart();
      }
      partsLoaded++;
      rowsLoaded += parts[shard].length;
      onPart();
    }

    function onPart() {
      if (partsLoaded + partsFailed === payload.chunks.length) allLoaded();
      else say();
    }

    [text, status, tag, gpu].forEach(function (el) { if (el) el.addEventListener("input", apply); });
    window.addEventListener("hashchange", fromHash);
    more.addEventListener("click", function () { draw(drawn + PAGE_ROWS); });
    if (window.IntersectionObserver) {  // the next rows are drawn before the reader reaches the end
      new IntersectionObserver(function (entries) {
        if (entries[0].isIntersecting && !more.hidden) draw(drawn + PAGE_ROWS);
      }, { rootMargin: "800px" }).observe(more);
    }
    if (!complete) loadChunks(payload.chunks, onRows, function () { partsFailed++; onPart(); });
    if (location.hash.length > 1) return fromHash();
    say();
    draw(drawn);  // draws nothing: says whether there are more runs than rows
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

  document.addEventListener("DOMContentLoaded", function () { drawPlots(); drawSeries(); setupTable(); setupCopy(); });
})();

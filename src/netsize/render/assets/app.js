/* netsize report and calculator: table tree, search, sort, explanations, charts (ECharts).
   Formatting only: every number comes from the data netsize computed. */
(function () {
  "use strict";
  var T = {
    en: {model: "Model", input_size: "Input size", batch: "Batch", drop: "Drop a spec, config.json, ONNX or Keras file here, or choose one",
      download_json: "Download JSON", download_html: "Download report", search: "Search layers", expand_all: "Expand all",
      collapse_all: "Collapse all", click_hint: "Click a layer for its formulas; click a column to sort.", chart_of: "Per layer",
      params: "Params", multiply_adds: "Multiply-adds", activations: "Activations", log_scale: "log scale",
      memory_title: "Memory of one training step", layer: "Layer", kind: "Kind", output: "Output shape", flops: "FLOPs",
      model_size: "Model size", weights: "Weights", gradients: "Gradients", optimizer_state: "Optimizer state",
      peak: "peak", forward: "forward", backward: "backward", bytes: "bytes", input: "input", batch_of: "batch",
      memory_held: "memory held (MiB)", custom: "(your spec)", analysing: "analysing…", line: "line {n}: ",
      pick: "Click a layer to see how each of its numbers is computed.", other_ops: "Other ops", trainable: "trainable",
      loss: "loss", "loss backward": "loss backward", optimizer: "optimizer step", start: "start of the step",
      peak_training: "peak of the training step",
      not_walk: "per-layer account (PyTorch method): the step's peak, {peak}, includes transients this curve omits"},
    zh: {model: "模型", input_size: "输入尺寸", batch: "批量", drop: "把规格文件、config.json、ONNX 或 Keras 文件拖到这里，或选择一个",
      download_json: "下载 JSON", download_html: "下载报告", search: "搜索层", expand_all: "全部展开", collapse_all: "全部折叠",
      click_hint: "点击一层查看公式；点击列标题排序。", chart_of: "每层的", params: "参数量", multiply_adds: "乘加次数",
      activations: "激活值", log_scale: "对数坐标", memory_title: "一个训练步的内存", layer: "层", kind: "类型",
      output: "输出形状", flops: "浮点运算次数", model_size: "模型大小", weights: "权重", gradients: "梯度",
      optimizer_state: "优化器状态", peak: "峰值", forward: "前向", backward: "反向", bytes: "字节", input: "输入",
      batch_of: "批量", memory_held: "占用内存（MiB）", custom: "（你的规格）", analysing: "分析中……", line: "第 {n} 行：",
      pick: "点击一层，查看它每个数字的计算过程。", other_ops: "其他运算", trainable: "可训练",
      loss: "损失", "loss backward": "损失反向", optimizer: "优化器更新", start: "训练步开始", peak_training: "训练一步的峰值",
      not_walk: "逐层累计（PyTorch 方法）：训练步的峰值 {peak} 含此曲线未画出的临时张量"}
  };
  var state = {data: window.NETSIZE.data, mode: window.NETSIZE.mode, lang: window.NETSIZE.lang || "en",
    open: {}, sort: null, query: "", selected: null, charts: {}};

  function t(key) { return (T[state.lang] || T.en)[key] || T.en[key] || key; }
  function $(id) { return document.getElementById(id); }
  function fmt(n) { return Number(n).toLocaleString("en-US"); }
  function human(n) {
    var units = [[1e12, " T"], [1e9, " G"], [1e6, " M"], [1e3, " k"]];
    for (var i = 0; i < units.length; i++) if (Math.abs(n) >= units[i][0]) return (n / units[i][0]).toPrecision(3) + units[i][1];
    return String(n);
  }
  function size(b) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB"], v = b, i = 0;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return i === 0 ? b + " B" : v.toFixed(2) + " " + u[i];
  }
  // Axis ticks in binary units at round steps (16, 32, 48 MiB), not decimal steps shown in MiB
  // (19.07, 38.15 MiB): a step of 2**k of the largest unit that fits, about five ticks.
  function byteTicks(maxBytes) {
    var unit = 1, i = 0, names = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    while (maxBytes >= 1024 * unit && i < names.length - 1) { unit *= 1024; i++; }
    var step = unit;
    while (maxBytes / step > 6) step *= 2;
    while (maxBytes / step < 3 && step > 1) step /= 2;
    var top = Math.max(step, Math.ceil(maxBytes / step) * step);
    return {interval: step, max: top, min: 0, formatter: function (v) {
      var u = 1, j = 0; while (Math.abs(v) >= 1024 * u && j < names.length - 1) { u *= 1024; j++; }
      return String(parseFloat((v / u).toFixed(2))) + " " + names[j];  // 1.5 GiB, 16 MiB
    }};
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // --- the layer tree: leaves are the analysis' layers, parents sum their dotted prefixes ---
  function buildTree(layers) {
    var root = {name: "", children: [], kids: {}};
    var nodes = {"": root};
    layers.forEach(function (L, index) {
      var parts = L.name.split("."), prefix = "";
      for (var i = 0; i < parts.length - 1; i++) {
        var p = prefix ? prefix + "." + parts[i] : parts[i];
        if (!nodes[p]) {
          var n = {name: p, block: true, kind: "Block", children: [], params: 0, multiply_adds: 0, activation_elements: 0,
                   output_shape: null, depth: i, first: index};
          nodes[p] = n; nodes[prefix].children.push(n);
        }
        prefix = p;
      }
      var leaf = Object.assign({block: false, depth: parts.length - 1, children: []}, L);
      nodes[prefix].children.push(leaf);
      var q = "";
      for (var j = 0; j < parts.length - 1; j++) {
        q = q ? q + "." + parts[j] : parts[j];
        nodes[q].params += L.params; nodes[q].multiply_adds += L.multiply_adds;
        nodes[q].activation_elements += L.activation_elements; nodes[q].output_shape = L.output_shape;
      }
    });
    return root;
  }

  function matches(node) {
    if (!state.query) return true;
    var q = state.query.toLowerCase();
    if (node.name.toLowerCase().indexOf(q) >= 0 || String(node.kind).toLowerCase().indexOf(q) >= 0) return true;
    return node.children.some(matches);
  }

  var COLS = [["name", "layer", false], ["kind", "kind", false], ["output_shape", "output", false],
              ["params", "params", true], ["multiply_adds", "multiply_adds", true], ["activation_elements", "activations", true]];

  function row(node, indent, flat) {
    var tr = el("tr", {"data-name": node.name});
    if (node.block) tr.className = "block";
    if (state.selected === node.name) tr.className += " sel";
    var td = el("td");
    td.style.paddingLeft = (8 + 14 * indent) + "px";
    var tog = el("span", {"class": "tog"}, node.block ? (state.open[node.name] || state.query ? "▾" : "▸") : "");
    td.appendChild(tog);
    var parts = node.name.split(".");
    if (flat && parts.length > 1) {
      // a sorted list has no tree around a row: its parent path tells a dozen `relu` rows apart
      td.appendChild(el("span", {"class": "path"}, parts.slice(0, -1).join(".") + "."));
    }
    td.appendChild(el("span", {"class": "leaf"}, parts[parts.length - 1]));
    td.className = "name";
    td.title = node.name;
    tr.appendChild(td);
    tr.appendChild(el("td", {}, node.kind));
    tr.appendChild(el("td", {}, node.output_shape ? node.output_shape.join("x") : ""));
    ["params", "multiply_adds", "activation_elements"].forEach(function (k) { tr.appendChild(el("td", {"class": "n"}, fmt(node[k]))); });
    tr.addEventListener("click", function () {
      if (node.block) { state.open[node.name] = !state.open[node.name]; }
      state.selected = node.name; showExplain(node); renderTable();
    });
    return tr;
  }

  function renderTable() {
    var data = state.data; if (!data) return;
    var thead = document.querySelector("#layers thead"), tbody = document.querySelector("#layers tbody");
    thead.textContent = ""; tbody.textContent = "";
    var hr = el("tr");
    COLS.forEach(function (c) {
      var th = el("th", {"class": c[2] ? "n" : "", "data-key": c[0]}, t(c[1]) + (state.sort && state.sort.key === c[0] ? (state.sort.desc ? " ▼" : " ▲") : ""));
      th.addEventListener("click", function () {
        if (state.sort && state.sort.key === c[0]) { if (state.sort.desc) state.sort.desc = false; else state.sort = null; }
        else state.sort = {key: c[0], desc: c[2]};
        renderTable();
      });
      hr.appendChild(th);
    });
    thead.appendChild(hr);
    if (state.sort) {
      var k = state.sort.key, d = state.sort.desc ? -1 : 1;
      var flat = data.layers.filter(function (L) { return matches(Object.assign({children: []}, L)); }).slice();
      flat.sort(function (a, b) { var x = a[k], y = b[k]; if (Array.isArray(x)) { x = x.join("x"); y = y.join("x"); }
        return (x > y ? 1 : x < y ? -1 : 0) * d; });
      flat.forEach(function (L) { tbody.appendChild(row(Object.assign({block: false, children: []}, L), 0, true)); });
      return;
    }
    (function walk(children, indent) {
      children.forEach(function (n) {
        if (!matches(n)) return;
        tbody.appendChild(row(n, indent));
        if (n.block && (state.open[n.name] || state.query)) walk(n.children, indent + 1);
      });
    })(state.tree.children, 0);
  }

  function showExplain(node) {
    var box = $("explain-text");
    if (!node) { box.textContent = t("pick"); return; }
    if (node.block) {
      box.textContent = node.name + " (" + node.kind + ")\n  " + t("params") + " = " + fmt(node.params) + "\n  " +
        t("multiply_adds") + " = " + fmt(node.multiply_adds) + "\n  " + t("activations") + " = " + fmt(node.activation_elements);
      return;
    }
    box.textContent = (node.explain && (node.explain[state.lang] || node.explain.en)) || node.name;
  }

  function renderTotals() {
    var d = state.data, box = $("totals"); box.textContent = "";
    if (!d) return;
    function card(k, v, h) {
      var c = el("div", {"class": "card"});
      c.appendChild(el("div", {"class": "k"}, k)); c.appendChild(el("div", {"class": "v"}, v));
      if (h) c.appendChild(el("div", {"class": "h"}, h));
      box.appendChild(c);
    }
    var tt = d.totals;
    card(t("params"), fmt(tt.params), human(tt.params) + " · " + t("trainable") + " " + fmt(tt.trainable_params));
    card(t("multiply_adds"), fmt(tt.multiply_adds), human(tt.multiply_adds));
    card(t("flops"), fmt(tt.flops), human(tt.flops) + " = 2 x " + t("multiply_adds"));
    card(t("activations"), fmt(tt.activation_elements), size(tt.activation_elements * 4) + " float32");
    var ms = d.model_size, parts = [];
    for (var k in ms) parts.push(k + " " + size(ms[k]));
    card(t("model_size"), size(ms.float32), parts.slice(1).join(" · "));
    if (d.memory) card(t("memory_title"), size(d.memory.peak_training_bytes), t("peak") + " · " + d.memory.setup);
  }

  function chart(id) {
    if (typeof echarts === "undefined") return null;
    var node = $(id);
    if (!state.charts[id]) state.charts[id] = echarts.init(node, null, {renderer: "canvas"});
    return state.charts[id];
  }

  function renderBars() {
    var d = state.data; if (!d) return;
    var metric = $("metric").value, log = $("log").checked;
    var layers = d.layers.filter(function (L) { return L[metric] > 0; });
    var c = chart("bars"); if (!c) return;
    var zoom = layers.length > 40;
    c.setOption({
      animation: false,
      tooltip: {trigger: "axis", valueFormatter: function (v) { return fmt(v); }},
      // containLabel: the rotated names are inside the grid (none cut at the left); the slider
      // sits below the grid, so no name runs over it
      grid: {left: 12, right: 24, top: 30, bottom: zoom ? 44 : 8, containLabel: true},
      xAxis: {type: "category", data: layers.map(function (L) { return L.name; }),
              axisLabel: {rotate: 60, fontSize: 10, width: 110, overflow: "truncate", interval: "auto"}},
      yAxis: {type: log ? "log" : "value", name: t(metric === "activation_elements" ? "activations" : metric),
              nameTextStyle: {align: "left"}, axisLabel: {formatter: function (v) { return human(v); }}},
      dataZoom: zoom ? [{type: "slider", start: 0, end: Math.min(100, 4000 / layers.length), bottom: 8, height: 20}] : [],
      series: [{type: "bar", data: layers.map(function (L) { return L[metric]; }), itemStyle: {color: "#4c78a8"}}]
    }, true);
  }

  function renderMemory() {
    var d = state.data, panel = $("memory-panel");
    if (!d || !d.memory) { panel.hidden = true; return; }
    panel.hidden = false;
    var m = d.memory;
    $("memory-setup").textContent = m.setup + " · " + t("peak") + " " + size(m.peak_training_bytes);
    var keys = ["weights", "gradients", "optimizer_state", "activations"];
    var bars = chart("memory-bars");
    var barTicks = byteTicks(Math.max.apply(null, keys.map(function (k) { return m.breakdown[k]; }).concat([1])));
    if (bars) bars.setOption({
      animation: false, tooltip: {trigger: "axis", valueFormatter: function (v) { return size(v); }},
      grid: {left: 12, right: 30, top: 10, bottom: 8, containLabel: true},
      xAxis: {type: "value", min: 0, max: barTicks.max, interval: barTicks.interval,
              axisLabel: {formatter: barTicks.formatter, hideOverlap: true}},
      yAxis: {type: "category", data: keys.map(t)},
      series: [{type: "bar", data: keys.map(function (k) { return m.breakdown[k]; }), itemStyle: {color: "#72b7b2"}}]
    }, true);
    var curve = chart("memory-curve");
    var pts = m.timeline, peakIndex = 0;
    pts.forEach(function (p, i) { if (p[2] > pts[peakIndex][2]) peakIndex = i; });
    // The network method's curve is the memory model's walk: its top is the step's peak, the
    // number on the card. The PyTorch method's is a per-layer account: said so, with the peak.
    var walk = m.timeline_is_walk !== false;
    var peakText = walk ? t("peak_training") + " " + size(m.peak_training_bytes)
                        : t("not_walk").replace("{peak}", size(m.peak_training_bytes));
    $("memory-curve-note").textContent = peakText;
    var curveTicks = byteTicks(Math.max(pts[peakIndex][2], 1));
    var esc = function (s) { return String(s).replace(/[&<>"]/g, function (ch) { return "&#" + ch.charCodeAt(0) + ";"; }); };
    if (curve) curve.setOption({
      animation: false,
      tooltip: {trigger: "axis", formatter: function (ps) { var p = pts[ps[0].dataIndex]; return esc(t(p[0]) + " " + p[1]) + "<br>" + size(p[2]); }},
      grid: {left: 12, right: 30, top: 34, bottom: 8, containLabel: true},
      xAxis: {type: "category", data: pts.map(function (p, i) { return i; }), axisLabel: {show: false}, axisTick: {show: false}},
      yAxis: {type: "value", min: 0, max: curveTicks.max, interval: curveTicks.interval, name: t("memory_held").replace(" (MiB)", "").replace("（MiB）", ""),
              nameTextStyle: {align: "left"}, axisLabel: {formatter: curveTicks.formatter}},
      series: [{type: "line", showSymbol: false, data: pts.map(function (p) { return p[2]; }), areaStyle: {opacity: 0.08},
        // the peak as a dot with its value beside it, on the side with room (inside the chart)
        markPoint: {symbol: "circle", symbolSize: 8, data: [{coord: [peakIndex, pts[peakIndex][2]], value: size(pts[peakIndex][2])}],
                    label: {fontSize: 10, position: peakIndex > pts.length / 2 ? "left" : "right", color: "#1d2330",
                            formatter: function (p) { return t("peak") + " " + p.value; }}}}]
    }, true);
  }

  function renderHeader() {
    var d = state.data;
    $("title").textContent = d ? d.model : "netsize";
    if (d) {
      var ins = [], names = Object.keys(d.input_shapes);
      names.forEach(function (k) { ins.push((names.length > 1 ? k + " " : "") + d.input_shapes[k].join("x")); });
      $("subtitle").textContent = t("input") + " " + ins.join(", ") + " · " + t("batch_of") + " " + d.batch_size + " · " + d.convention;
      $("notes").textContent = (d.notes || []).join(" · ");
    }
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach(function (e) { e.textContent = t(e.getAttribute("data-i18n")); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (e) { e.placeholder = t(e.getAttribute("data-i18n-placeholder")); });
    document.querySelectorAll(".lang button").forEach(function (b) { b.className = b.getAttribute("data-lang") === state.lang ? "on" : ""; });
  }

  function renderAll() {
    renderHeader();
    if (!state.data) return;
    state.tree = buildTree(state.data.layers);
    renderTotals(); renderTable(); renderBars(); renderMemory();
    var sel = state.data.layers.filter(function (L) { return L.name === state.selected; })[0];
    showExplain(sel || null);
  }

  // --- wiring ---
  document.querySelectorAll(".lang button").forEach(function (b) {
    b.addEventListener("click", function () { state.lang = b.getAttribute("data-lang"); renderAll(); });
  });
  $("search").addEventListener("input", function (e) { state.query = e.target.value.trim(); renderTable(); });
  $("expand").addEventListener("click", function () { (function all(n) { n.children.forEach(function (c) { if (c.block) { state.open[c.name] = true; all(c); } }); })(state.tree); renderTable(); });
  $("collapse").addEventListener("click", function () { state.open = {}; renderTable(); });
  $("metric").addEventListener("change", renderBars);
  $("log").addEventListener("change", renderBars);
  window.addEventListener("resize", function () { for (var k in state.charts) state.charts[k].resize(); });

  // --- the calculator: an editor that asks the local server as you type ---
  if (state.mode === "serve") {
    $("editor-panel").hidden = false;
    var editor = $("editor"), gutter = $("gutter"), timer = null, seq = 0, LINE = 18;
    // Every API call carries the token the page was served with (the server refuses any POST
    // without it) and a JSON content type; an unedited zoo model is sent as its zoo name, so the
    // server analyses the zoo's own network (its names, tree and errors), not the editor's text.
    var TOKEN = (document.querySelector('meta[name="netsize-token"]') || {}).content || "";
    var post = function (path, payload) {
      return fetch(path, {method: "POST", headers: {"Content-Type": "application/json", "X-Netsize-Token": TOKEN},
        body: JSON.stringify(payload)});
    };
    var zoo = {name: null, text: null};
    var body = function () {
      var common = {input_size: $("input-size").value.trim() || null, batch_size: $("batch-size").value.trim() || "1", lang: state.lang};
      if (zoo.name && editor.value === zoo.text) common.zoo = zoo.name; else common.spec = editor.value;
      return common;
    };
    var setGutter = function (bad) {
      var n = editor.value.split("\n").length, out = [];
      gutter.textContent = "";
      for (var i = 1; i <= n; i++) {
        var s = el("span", i === bad ? {"class": "bad"} : {}, String(i));
        gutter.appendChild(s); gutter.appendChild(document.createTextNode("\n"));
      }
    };
    var errorLine = null;
    var placeError = function () {
      var le = $("line-error");
      if (errorLine) le.style.top = (6 + (errorLine - 1) * LINE - editor.scrollTop) + "px";
    };
    var showError = function (msg, line) {
      $("error").hidden = !msg; $("error").textContent = msg || "";
      var le = $("line-error");
      errorLine = msg && line ? line : null;
      if (errorLine) {
        // Bring the line into view (an edit at the end of a long spec may break a line far above).
        var y = (errorLine - 1) * LINE, view = editor.clientHeight;
        if (y < editor.scrollTop || y > editor.scrollTop + view - 2 * LINE) editor.scrollTop = Math.max(0, y - 3 * LINE);
        gutter.scrollTop = editor.scrollTop;
        var short = msg.replace(/^<spec>:\d+: /, "");
        le.hidden = false; le.textContent = t("line").replace("{n}", errorLine) + short; placeError();
      } else le.hidden = true;
      setGutter(errorLine);
      gutter.scrollTop = editor.scrollTop;
    };
    var analyse = function () {
      var my = ++seq;
      post("api/analyze", body())
        .then(function (r) { return r.json(); })
        .then(function (res) {
          if (my !== seq) return;
          if (res.error) { showError(res.error, res.line); return; }
          showError(null); state.data = res; renderAll();
        })
        .catch(function (e) { if (my === seq) showError(String(e), null); });
    };
    var later = function () { clearTimeout(timer); timer = setTimeout(analyse, 300); setGutter(null); };
    editor.addEventListener("input", later);
    editor.addEventListener("scroll", function () { gutter.scrollTop = editor.scrollTop; placeError(); });
    $("input-size").addEventListener("input", later);
    $("batch-size").addEventListener("input", later);
    var select = $("model-select");
    select.addEventListener("change", function () {
      if (!select.value) return;
      fetch("api/zoo/" + encodeURIComponent(select.value) + "/spec").then(function (r) { return r.text(); })
        .then(function (text) { zoo = {name: select.value, text: text}; editor.value = text; $("input-size").value = ""; analyse(); });
    });
    fetch("api/zoo").then(function (r) { return r.json(); }).then(function (names) {
      select.appendChild(el("option", {value: ""}, t("custom")));
      names.forEach(function (z) { var o = el("option", {value: z.name}, z.name); o.title = z.description; select.appendChild(o); });
    });
    var upload = function (file) {
      var reader = new FileReader();
      reader.onload = function () {
        var b64 = reader.result.split(",")[1];
        post("api/analyze", {file: b64, filename: file.name, input_size: $("input-size").value.trim() || null, lang: state.lang})
          .then(function (r) { return r.json(); })
          .then(function (res) { if (res.error) showError(res.error, null); else { showError(null); state.data = res; renderAll(); } });
      };
      reader.readAsDataURL(file);
    };
    $("file-input").addEventListener("change", function (e) { if (e.target.files[0]) upload(e.target.files[0]); });
    $("drop").addEventListener("dragover", function (e) { e.preventDefault(); });
    $("drop").addEventListener("drop", function (e) { e.preventDefault(); if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]); });
    var download = function (name, type, text) {
      var a = el("a", {href: URL.createObjectURL(new Blob([text], {type: type})), download: name});
      document.body.appendChild(a); a.click(); a.remove();
    };
    $("download-json").addEventListener("click", function () {
      if (state.data) download((state.data.model || "model") + ".json", "application/json", JSON.stringify(state.data, null, 2));
    });
    $("download-html").addEventListener("click", function () {
      post("api/report", body())
        .then(function (r) { return r.text(); })
        .then(function (html) { download((state.data ? state.data.model : "model") + ".html", "text/html", html); });
    });
    setGutter(null);
  }
  renderAll();
  if (!state.data) showExplain(null);
})();

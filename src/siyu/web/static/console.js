// Siyu console: draws ECharts charts declared in the markup; no inline scripts (CSP script-src 'self').
// A chart element names the <script type="application/json"> that holds its data: data-source="ID".
(function () {
  "use strict";

  function readData(el) {
    var source = document.getElementById(el.getAttribute("data-source"));
    return source ? JSON.parse(source.textContent) : null;
  }

  var builders = {
    // {"days": ["2026-11-01", …], "series": [{"name", "type": "line"|"bar", "color", "data": [numbers],
    //   "links": [url or null per day] (optional: a click on the day opens it), "people": [customers per link]}]}
    "daily": function (data) {
      return {
        tooltip: { trigger: "axis", renderMode: "richText" },  // drawn in the canvas: no inline styles (CSP)
        legend: { bottom: 0 },
        grid: { left: 40, right: 16, top: 16, bottom: 48 },
        xAxis: { type: "category", data: data.days, axisLabel: { formatter: function (d) { return d.slice(5); } } },
        yAxis: { type: "value", minInterval: 1 },
        series: data.series.map(function (s) {
          return { name: s.name, type: s.type, data: s.data, smooth: true, showSymbol: !!s.links,
                   symbolSize: 6, cursor: s.links ? "pointer" : "default", itemStyle: { color: s.color } };
        })
      };
    },
    // {"categories": ["1", …], "stack": bool, "kind": "bar" (default) | "line", "unit": "%" (optional),
    //  "series": [{"name", "color", "data": [numbers]}]} (analysis pages)
    "bars": function (data) {
      return {
        tooltip: { trigger: "axis", renderMode: "richText" },
        legend: { bottom: 0 },
        grid: { left: 48, right: 16, top: 16, bottom: 48 },
        xAxis: { type: "category", data: data.categories },
        yAxis: { type: "value", minInterval: 1, axisLabel: { formatter: "{value}" + (data.unit || "") } },
        series: data.series.map(function (s) {
          return { name: s.name, type: data.kind || "bar", data: s.data, stack: data.stack ? "all" : undefined,
                   itemStyle: { color: s.color } };
        })
      };
    },
    // {"nodes": [{"name": id, "label": text}], "links": [{"source", "target", "value", "label"}]}: moves between
    // two dates; a state has a node on each side, so staying put is a flow and the graph has no cycle.
    "sankey": function (data) {
      var labels = {};
      data.nodes.forEach(function (n) { labels[n.name] = n.label; });
      return {
        tooltip: { renderMode: "richText", formatter: function (p) {
          return p.dataType === "edge" ? p.data.label + ": " + p.data.value : labels[p.name] + ": " + p.value;
        } },
        series: [{
          type: "sankey", left: 8, right: 150, top: 8, bottom: 8, nodeGap: 10, emphasis: { focus: "adjacency" },
          lineStyle: { color: "gradient", curveness: 0.5, opacity: 0.35 },
          label: { formatter: function (p) { return labels[p.name]; } },
          data: data.nodes.map(function (n) { return { name: n.name, itemStyle: n.color ? { color: n.color } : undefined }; }),
          links: data.links.map(function (l) { return { source: l.source, target: l.target, value: l.value, label: l.label }; })
        }]
      };
    },
    // {"steps": [{"name", "value"}]}: customers per funnel step, widest first, in the steps' order
    "funnel": function (data) {
      var first = data.steps.length ? data.steps[0].value : 0;
      return {
        tooltip: { renderMode: "richText", formatter: function (p) {
          return p.name + ": " + p.value + (first ? " (" + (100 * p.value / first).toFixed(1) + "%)" : "");
        } },
        series: [{ type: "funnel", sort: "none", left: 8, right: 8, top: 8, bottom: 8, minSize: "8%", gap: 2,
                   label: { position: "inside", formatter: function (p) { return p.name + "  " + p.value; } },
                   data: data.steps.map(function (s) { return { name: s.name, value: s.value }; }) }]
      };
    },
    // {"categories", "base": [offsets], "series": [{"name", "color", "data"}]}: a waterfall, bars floating on an
    // invisible base (the running total before each part)
    "waterfall": function (data) {
      var series = [{ name: "", type: "bar", stack: "all", data: data.base, silent: true,
                      itemStyle: { color: "transparent" }, tooltip: { show: false } }];
      data.series.forEach(function (s) {
        series.push({ name: s.name, type: "bar", stack: "all", data: s.data, itemStyle: { color: s.color } });
      });
      return {
        tooltip: { trigger: "item", renderMode: "richText",
                   formatter: function (p) { return p.name + " · " + p.seriesName + ": " + p.value; } },
        legend: { bottom: 0, data: data.series.map(function (s) { return s.name; }) },
        grid: { left: 64, right: 16, top: 16, bottom: 48 },
        xAxis: { type: "category", data: data.categories },
        yAxis: { type: "value" },
        series: series
      };
    },
    "identity-graph": function (data) {
      return {
        tooltip: { renderMode: "richText",
                   formatter: function (p) { return p.dataType === "edge" ? p.data.cause : p.data.name; } },
        legend: { data: data.categories, bottom: 0 },
        series: [{
          type: "graph", layout: "force", roam: true, draggable: true,
          force: { repulsion: 220, edgeLength: 90 },
          label: { show: true, position: "right", fontSize: 11 },
          categories: data.categories.map(function (c) { return { name: c }; }),
          data: data.nodes.map(function (n) {
            return { id: n.id, name: n.name, category: data.categories.indexOf(n.category), symbolSize: 18 };
          }),
          links: data.links.map(function (l) { return { source: l.source, target: l.target, cause: l.cause }; })
        }]
      };
    }
  };

  // A point of a series with links opens the customers behind it (the dashboard's day figures).
  function openLink(data, p) {
    var series = data.series && data.series[p.seriesIndex];
    var link = series && series.links && series.links[p.dataIndex];
    if (link) { window.location.href = link; }
  }

  function draw(root) {
    if (typeof window.echarts === "undefined") { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var build = builders[el.getAttribute("data-chart")];
      var data = readData(el);
      if (!build || !data || el.getAttribute("data-drawn")) { return; }
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(build(data));
      chart.on("click", function (p) { openLink(data, p); });
      el.setAttribute("data-drawn", "1");
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (e) { draw(e.target); });
})();

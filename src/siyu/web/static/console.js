// Siyu console: draws ECharts charts declared in the markup; no inline scripts (CSP script-src 'self').
// A chart element names the <script type="application/json"> that holds its data: data-source="ID".
(function () {
  "use strict";

  function readData(el) {
    var source = document.getElementById(el.getAttribute("data-source"));
    return source ? JSON.parse(source.textContent) : null;
  }

  function labels(el) {
    var source = document.getElementById(el.getAttribute("data-labels"));
    return source ? JSON.parse(source.textContent) : {};
  }

  var builders = {
    "code-daily": function (data, names) {
      function line(key, color) {
        return { name: names[key] || key, type: "line", smooth: true, showSymbol: false, data: data[key],
                 itemStyle: { color: color } };
      }
      return {
        tooltip: { trigger: "axis" },
        legend: { bottom: 0 },
        grid: { left: 40, right: 16, top: 16, bottom: 48 },
        xAxis: { type: "category", data: data.days, axisLabel: { formatter: function (d) { return d.slice(5); } } },
        yAxis: { type: "value", minInterval: 1 },
        series: [line("added", "#0a7d55"), line("lost", "#b42318"), line("net", "#3b82f6")]
      };
    },
    "identity-graph": function (data) {
      return {
        tooltip: { formatter: function (p) { return p.dataType === "edge" ? p.data.cause : p.data.name; } },
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

  function draw(root) {
    if (typeof window.echarts === "undefined") { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var build = builders[el.getAttribute("data-chart")];
      var data = readData(el);
      if (!build || !data || el.getAttribute("data-drawn")) { return; }
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(build(data, labels(el)));
      el.setAttribute("data-drawn", "1");
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (e) { draw(e.target); });
})();

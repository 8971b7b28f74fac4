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

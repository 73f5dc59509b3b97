// Draws a product's forecast against its outcome with uPlot, from the JSON the page embeds
// (/plan/PRODUCT): realised demand as a line, each month's published forecast as dots, its
// 80 % and 95 % intervals as shaded bands, and forecasts ahead (if published) dashed.
// The table under the chart holds the same numbers, so the page reads without it.
(function () {
  var el = document.getElementById("plan-data"), box = document.getElementById("plan-chart");
  if (!el || !box || !window.uPlot) return;
  var d = JSON.parse(el.textContent);
  var rows = d.periods || [], ahead = d.ahead || [];
  if (rows.length === 0 && ahead.length === 0) return;
  function ts(p) { return Date.UTC(Math.floor(p / 100), p % 100 - 1, 1) / 1000; }
  var xs = [], sold = [], fc = [], fa = [], lo80 = [], hi80 = [], lo95 = [], hi95 = [];
  var seen = {};
  rows.forEach(function (r) {
    var g = r.guidance;
    seen[r.period] = true;
    xs.push(ts(r.period));
    sold.push(r.closed || r.sales > 0 ? r.sales : null);
    fc.push(g ? g.forecast : null);
    fa.push(null);
    lo80.push(g ? g.lo80 : null); hi80.push(g ? g.hi80 : null);
    lo95.push(g ? g.lo95 : null); hi95.push(g ? g.hi95 : null);
  });
  // the continuation starts at the last published forecast, so the dashed line joins it
  if (ahead.length && fc.length && fc[fc.length - 1] !== null) fa[fa.length - 1] = fc[fc.length - 1];
  ahead.forEach(function (a) {
    if (seen[a.period]) return;
    xs.push(ts(a.period)); sold.push(null); fc.push(null); fa.push(a.forecast);
    lo80.push(a.lo80); hi80.push(a.hi80); lo95.push(a.lo95); hi95.push(a.hi95);
  });
  var blue = "#0b5cad", faint = "rgba(11,92,173,0.35)";
  var opts = {
    width: Math.min(box.clientWidth || 600, 900), height: 260,
    series: [
      { value: function (u, v) { if (v == null) return "—"; var t = new Date(v * 1000); return t.getUTCFullYear() + "-" + ("0" + (t.getUTCMonth() + 1)).slice(-2); } },
      { label: "realised", stroke: "#b42318", width: 2, points: { show: true, size: 5 } },
      { label: "forecast", stroke: blue, width: 1, paths: function () { return null; }, points: { show: true, size: 7, fill: blue } },
      { label: "forecast ahead", stroke: blue, width: 2, dash: [6, 4], points: { show: true, size: 5 } },
      { label: "95 % low", stroke: faint, width: 1, points: { show: false } },
      { label: "95 % high", stroke: faint, width: 1, points: { show: false } },
      { label: "80 % low", stroke: faint, width: 1, points: { show: false } },
      { label: "80 % high", stroke: faint, width: 1, points: { show: false } }
    ],
    bands: [
      { series: [5, 4], fill: "rgba(11,92,173,0.12)" },
      { series: [7, 6], fill: "rgba(11,92,173,0.28)" }
    ],
    axes: [{}, { size: 60 }]
  };
  var chart = new uPlot(opts, [xs, sold, fc, fa, lo95, hi95, lo80, hi80], box);
  box.setAttribute("data-drawn", String(xs.length));
  window.addEventListener("resize", function () { chart.setSize({ width: Math.min(box.clientWidth || 600, 900), height: 260 }); });
})();

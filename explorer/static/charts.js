// Draws the dashboards' charts with uPlot from the JSON the page embeds.
// The tables under each chart hold the same figures, so the page reads without it.
(function () {
  var el = document.getElementById("dash-data");
  if (!el || !window.uPlot) return;
  var d = JSON.parse(el.textContent);
  function monthTs(m) { var p = m.split("-"); return Date.UTC(+p[0], +p[1] - 1, 1) / 1000; }
  function draw(id, months, series) {
    var box = document.getElementById(id);
    if (!box || months.length === 0) return;
    var xs = months.map(monthTs);

    // an empty month on each side, so a single month still reads as a point in time
    var first = months[0].split("-"), last = months[months.length - 1].split("-");
    var before = Date.UTC(+first[0], +first[1] - 2, 1) / 1000, after = Date.UTC(+last[0], +last[1], 1) / 1000;
    xs = [before].concat(xs, [after]);
    series = series.map(function (s) { return { label: s.label, values: [null].concat(s.values, [null]) }; });
    var opts = { width: Math.min(box.clientWidth || 600, 900), height: 220, series: [{}],
                 axes: [{}, { size: 90, values: function (u, v) { return v.map(function (x) { return (x / 100).toLocaleString(); }); } }] };
    var data = [xs];
    var colors = ["#0b5cad", "#1a7f37", "#b42318", "#8250df", "#bf8700"];
    series.forEach(function (s, i) {
      opts.series.push({ label: s.label, stroke: colors[i % colors.length], width: 2, points: { show: true, size: 7 } });
      data.push(s.values);
    });
    new uPlot(opts, data, box);
  }
  function byKind(rows) {
    var months = [], kinds = [];
    rows.forEach(function (r) { if (months.indexOf(r.month) < 0) months.push(r.month); if (kinds.indexOf(r.kind) < 0) kinds.push(r.kind); });
    months.sort(); kinds.sort();
    var series = kinds.map(function (k) {
      return { label: k || "total", values: months.map(function (m) {
        var r = rows.filter(function (x) { return x.month === m && x.kind === k; })[0]; return r ? r.amount : 0; }) };
    });
    return [months, series];
  }
  var s = d.supply;
  draw("chart-supply", s.map(function (r) { return r.month; }), [{ label: "supply", values: s.map(function (r) { return r.supply; }) }]);
  ["tax", "welfare", "procurement", "allocation"].forEach(function (k) { var b = byKind(d[k]); draw("chart-" + k, b[0], b[1]); });
})();

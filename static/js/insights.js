/* The insights dashboard's charts (templates/admin/insights/dashboard.html): reads the JSON the page
   carries in #insights-data and draws it with the vendored Chart.js (static/vendor/chartjs/). */
(function () {
  "use strict";

  var COLOURS = ["#417690", "#79aec8", "#c9a227", "#ba2121", "#5b8a3c", "#8a6bbf", "#999999", "#e08a2c"];

  function chart(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    config.options = Object.assign(
      {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      },
      config.options || {}
    );
    new window.Chart(canvas, config);
  }

  function series(label, data, i, extra) {
    return Object.assign(
      { label: label, data: data, borderColor: COLOURS[i % COLOURS.length], backgroundColor: COLOURS[i % COLOURS.length],
        pointRadius: 0, borderWidth: 2 },
      extra || {}
    );
  }

  function draw() {
    var element = document.getElementById("insights-data");
    if (!element || !window.Chart) return;
    var d = JSON.parse(element.textContent);
    var labels = d.labels;
    var stacked = { x: { stacked: true }, y: { stacked: true, beginAtZero: true } };

    chart("chart-members", {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          series("Joined", d.members.enrolled, 1, { yAxisID: "joined" }),
          series("Active (30 days)", d.members.active_30, 0, { type: "line", yAxisID: "active" }),
          series("Active (90 days)", d.members.active_90, 2, { type: "line", yAxisID: "active" }),
        ],
      },
      options: { scales: { joined: { position: "right", beginAtZero: true }, active: { position: "left", beginAtZero: true } } },
    });
    chart("chart-points", {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          series("Issued", d.points.issued, 0),
          series("Redeemed", d.points.redeemed, 2),
          series("Expired", d.points.expired, 3),
        ],
      },
      options: { scales: { y: { beginAtZero: true } } },
    });
    chart("chart-redemption", {
      type: "line",
      data: { labels: labels, datasets: [series("Redemption rate %", d.points.redemption_rate, 0, { spanGaps: true })] },
      options: { scales: { y: { beginAtZero: true } } },
    });
    chart("chart-outstanding", {
      type: "line",
      data: { labels: labels, datasets: [series("Points outstanding", d.points.outstanding, 0, { fill: false })] },
    });
    chart("chart-revenue", {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          series("Members (" + d.currency + ")", d.revenue.members, 0),
          series("Non-members (" + d.currency + ")", d.revenue.non_members, 6),
        ],
      },
      options: { scales: stacked },
    });
    chart("chart-referrals", {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          series("Clicks", d.referrals.clicks, 1),
          series("Sign-ups", d.referrals.signups, 0),
          series("Qualified", d.referrals.qualified, 4),
        ],
      },
      options: { scales: { y: { beginAtZero: true } } },
    });
    chart("chart-tiers", {
      type: "line",
      data: {
        labels: labels,
        datasets: d.tiers.names.map(function (name, i) {
          return series(name || "No tier yet", d.tiers.series[name], i, { fill: true });
        }),
      },
      options: { scales: stacked },
    });
    chart("chart-tier-moves", {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          series("Up", d.tiers.up, 4),
          series("Down", d.tiers.down.map(function (n) { return -n; }), 3),
        ],
      },
      options: { scales: stacked },
    });
    chart("chart-campaigns", {
      type: "bar",
      data: {
        labels: d.campaigns.map(function (c) { return c.name; }),
        datasets: [
          series("Points given", d.campaigns.map(function (c) { return c.points; }), 2, { yAxisID: "points" }),
          series("Incremental revenue (" + d.currency + ")", d.campaigns.map(function (c) { return c.incremental_revenue; }), 0,
            { yAxisID: "money" }),
        ],
      },
      options: { scales: { points: { position: "left", beginAtZero: true }, money: { position: "right" } } },
    });
    chart("chart-segments", {
      type: "bar",
      data: {
        labels: d.segments.map(function (s) { return s.label; }),
        datasets: [series("Members", d.segments.map(function (s) { return s.members; }), 0)],
      },
      options: { indexAxis: "y", plugins: { legend: { display: false } } },
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();

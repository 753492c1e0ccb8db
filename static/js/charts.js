/* Chart.js glue: colours from the theme's CSS variables, and charts that rebuild on change.
 * `ccflare.charts.mount(canvas, build)` draws `build()`'s config; `.refresh()` on the handle
 * re-runs `build` (new data or theme) and updates the chart in place. */
"use strict";

(function () {
  const { onTheme } = window.ccflare;
  const PALETTE = ["#c96442", "#2f6fe4", "#1f9d6b", "#b7791f", "#8b5cf6", "#db2777", "#0891b2", "#65a30d",
    "#ea580c", "#64748b"];
  const mounted = [];

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function theme() {
    return {
      text: css("--muted"),
      grid: css("--border"),
      surface: css("--surface"),
      accent: css("--accent"),
      ok: css("--ok"),
      bad: css("--bad"),
      warn: css("--warn"),
      info: css("--info"),
    };
  }

  function applyDefaults() {
    const t = theme();
    Chart.defaults.color = t.text;
    Chart.defaults.borderColor = t.grid;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.font.size = 11.5;
    Chart.defaults.plugins.legend.labels.boxWidth = 10;
    Chart.defaults.plugins.legend.labels.boxHeight = 10;
    Chart.defaults.plugins.tooltip.backgroundColor = css("--text");
    Chart.defaults.plugins.tooltip.titleColor = t.surface;
    Chart.defaults.plugins.tooltip.bodyColor = t.surface;
    Chart.defaults.plugins.tooltip.padding = 10;
    Chart.defaults.plugins.tooltip.cornerRadius = 8;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.animation.duration = 250;
    // Horizontal tick labels, thinned out, read better than rotated ones.
    Chart.defaults.scale.ticks.maxRotation = 0;
    Chart.defaults.scale.ticks.autoSkipPadding = 14;
  }

  /* A soft vertical gradient under a line, for area charts. */
  function areaFill(color) {
    return (context) => {
      const { chart } = context;
      const area = chart.chartArea;
      if (!area) return hexAlpha(color, 0.15);
      const gradient = chart.ctx.createLinearGradient(0, area.top, 0, area.bottom);
      gradient.addColorStop(0, hexAlpha(color, 0.28));
      gradient.addColorStop(1, hexAlpha(color, 0.02));
      return gradient;
    };
  }

  function hexAlpha(color, amount) {
    const hex = color.replace("#", "");
    if (hex.length !== 6) return color;
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
    return `rgba(${r}, ${g}, ${b}, ${amount})`;
  }

  function mount(canvas, build) {
    if (!canvas || typeof Chart === "undefined") return { refresh() {}, chart: null };
    const handle = {
      chart: new Chart(canvas, build()),
      refresh(mode = "none") {
        const config = build();
        this.chart.data = config.data;
        this.chart.options = config.options;
        this.chart.update(mode);
      },
    };
    mounted.push(handle);
    return handle;
  }

  /* Axis label for a bucket start: the day for day buckets, the time of day within one day. */
  function bucketLabel(ts, bucket, spansDays) {
    const date = new Date(ts);
    if (bucket === "1d") return date.toLocaleDateString([], { month: "short", day: "numeric" });
    const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (!spansDays) return time;
    return `${date.toLocaleDateString([], { month: "short", day: "numeric" })} ${time}`;
  }

  /* Buckets from `points`, with the empty ones between them as null so the axis shows real
   * time (the API leaves empty buckets out). Returns {labels, values}. */
  function fillBuckets(points, bucket, value) {
    const step = { "1m": 60e3, "5m": 300e3, "1h": 3600e3, "1d": 86400e3 }[bucket] || 3600e3;
    if (!points.length) return { labels: [], values: [] };
    const byTs = new Map(points.map((p) => [p.ts, p]));
    const first = points[0].ts;
    const last = points[points.length - 1].ts;
    const spansDays = last - first > 86400e3;
    const count = Math.min(2000, Math.round((last - first) / step) + 1);
    const labels = [];
    const values = [];
    for (let i = 0; i < count; i += 1) {
      const ts = first + i * step;
      labels.push(bucketLabel(ts, bucket, spansDays));
      values.push(byTs.has(ts) ? value(byTs.get(ts)) : null);
    }
    return { labels, values };
  }

  /* Line charts draw no dots, only the line; a value with nothing to join it to (all data
   * in one bucket: a new user's first hour at 24h) would then be invisible. Scriptable
   * `pointRadius`: a dot for such a value only. With spanGaps any other value joins it;
   * without, only a neighbour does. */
  function lonePointRadius(context) {
    const data = context.dataset.data || [];
    const i = context.dataIndex;
    if (data[i] == null) return 0;
    const present = (j) => j >= 0 && j < data.length && data[j] != null;
    if (context.dataset.spanGaps) return data.filter((v) => v != null).length > 1 ? 0 : 4;
    return present(i - 1) || present(i + 1) ? 0 : 4;
  }

  applyDefaults();
  onTheme(() => {
    applyDefaults();
    mounted.forEach((handle) => handle.refresh());
  });

  window.ccflare.charts = { PALETTE, theme, mount, areaFill, hexAlpha, bucketLabel, fillBuckets, lonePointRadius };
})();

//! The load run's HTML report (`--report`): self-contained (inline CSS and SVG, no script, no
//! fonts), so it reads offline and attaches to a ticket. Five charts: latency percentiles over
//! time, throughput and bytes over time, latency per stage, errors.

use super::report::{LoadReport, Percentiles};
use crate::report::xml;

const W: f64 = 760.0;
const H: f64 = 240.0;
const PAD: f64 = 48.0;

/// One line of a chart: a name, a colour, its points (x, y).
struct Line<'a> {
    name: &'a str,
    colour: &'a str,
    points: Vec<(f64, f64)>,
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|m| *m >= v).unwrap_or(10.0 * mag)
}

fn fmt(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A line chart over the run's time (seconds from its start).
fn line_chart(id: &str, title: &str, y_unit: &str, lines: &[Line<'_>]) -> String {
    let xmax = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)).fold(0.0, f64::max).max(1.0);
    let ymax = nice_max(lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(0.0, f64::max));
    let sx = |x: f64| PAD + x / xmax * (W - 2.0 * PAD);
    let sy = |y: f64| H - PAD + -(y / ymax) * (H - 2.0 * PAD);
    let mut svg = axes(title, y_unit, &fmt(ymax), &format!("{}s", fmt(xmax)));
    for (i, l) in lines.iter().enumerate() {
        if l.points.is_empty() {
            continue;
        }
        let d: Vec<String> = l
            .points
            .iter()
            .enumerate()
            .map(|(j, (x, y))| format!("{}{:.1},{:.1}", if j == 0 { "M" } else { "L" }, sx(*x), sy(*y)))
            .collect();
        svg.push_str(&format!(
            "<path class=\"series\" data-points=\"{}\" d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"/>",
            l.points.len(),
            d.join(" "),
            l.colour
        ));
        svg.push_str(&format!(
            "<text x=\"{:.0}\" y=\"{:.0}\" fill=\"{}\" font-size=\"11\">{}</text>",
            W - PAD - 150.0,
            PAD - 18.0 + 13.0 * i as f64,
            l.colour,
            xml(l.name)
        ));
    }
    wrap(id, &svg)
}

fn axes(title: &str, y_unit: &str, ymax: &str, xmax: &str) -> String {
    format!(
        "<text x=\"{PAD}\" y=\"20\" font-size=\"13\" font-weight=\"600\">{}</text>\
         <line x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#8c959f\"/>\
         <line x1=\"{PAD}\" y1=\"{PAD}\" x2=\"{PAD}\" y2=\"{b}\" stroke=\"#8c959f\"/>\
         <text x=\"4\" y=\"{PAD}\" font-size=\"10\">{ymax}</text><text x=\"4\" y=\"{b}\" font-size=\"10\">0</text>\
         <text x=\"4\" y=\"{mid}\" font-size=\"10\">{}</text><text x=\"{r}\" y=\"{bt}\" font-size=\"10\" text-anchor=\"end\">{xmax}</text>",
        xml(title),
        xml(y_unit),
        b = H - PAD,
        r = W - PAD,
        mid = H / 2.0,
        bt = H - PAD + 14.0,
    )
}

fn wrap(id: &str, inner: &str) -> String {
    format!(
        "<figure><svg class=\"chart\" data-chart=\"{id}\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">{inner}</svg></figure>\n"
    )
}

/// One labelled group of bars: (label, [(name, colour, value)]).
type BarRow<'a> = (String, Vec<(&'a str, &'a str, f64)>);

/// Horizontal bars, one group per label, on a log scale (latencies span decades).
fn bar_chart(id: &str, title: &str, unit: &str, rows: &[BarRow<'_>], log: bool) -> String {
    let h = (PAD + 24.0 * rows.len() as f64 + 30.0).max(120.0);
    let vmax = rows.iter().flat_map(|r| r.1.iter().map(|b| b.2)).fold(0.0, f64::max).max(1e-3);
    let left = 150.0;
    let scale = |v: f64| {
        let f = if log { (v.max(0.01) / 0.01).log10() / (vmax.max(0.01) / 0.01).log10().max(1e-9) } else { v / vmax };
        f.clamp(0.0, 1.0) * (W - left - 70.0)
    };
    let mut svg = format!(
        "<text x=\"{PAD}\" y=\"20\" font-size=\"13\" font-weight=\"600\">{} ({}{})</text>",
        xml(title),
        xml(unit),
        if log { ", log scale" } else { "" }
    );
    for (i, (label, bars)) in rows.iter().enumerate() {
        let y = PAD + 24.0 * i as f64;
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{:.0}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            y + 12.0,
            xml(label)
        ));
        let n = bars.len().max(1) as f64;
        for (j, (name, colour, v)) in bars.iter().enumerate() {
            let bh = 18.0 / n;
            svg.push_str(&format!(
                "<rect class=\"bar\" data-value=\"{v}\" x=\"{left}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{colour}\"><title>{} {}: {} {}</title></rect>",
                y + bh * j as f64,
                scale(*v).max(1.0),
                xml(label),
                xml(name),
                fmt(*v),
                xml(unit)
            ));
        }
        if let Some((_, _, top)) = bars.last() {
            svg.push_str(&format!(
                "<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"10\">{}</text>",
                left + scale(*top).max(1.0) + 4.0,
                y + 12.0,
                fmt(*top)
            ));
        }
    }
    format!(
        "<figure><svg class=\"chart\" data-chart=\"{id}\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">{svg}</svg></figure>\n"
    )
}

/// The report as a self-contained HTML page.
pub fn render(r: &LoadReport) -> String {
    let t0 = r.started_ms as f64 / 1000.0;
    let at = |t: u64| (t as f64 - t0).max(0.0);
    let pct = |f: fn(&Percentiles) -> f64, which: fn(&super::report::IntervalRow) -> Option<&Percentiles>| {
        r.series.iter().filter_map(|row| which(row).map(|p| (at(row.t), f(p)))).collect::<Vec<_>>()
    };
    let latency = line_chart(
        "latency-over-time",
        "Latency percentiles over time",
        "ms",
        &[
            Line { name: "upload p50", colour: "#54aeff", points: pct(|p| p.p50, |row| row.upload.as_ref()) },
            Line { name: "upload p99", colour: "#0550ae", points: pct(|p| p.p99, |row| row.upload.as_ref()) },
            Line { name: "pipeline p50", colour: "#fb8f44", points: pct(|p| p.p50, |row| row.pipeline.as_ref()) },
            Line { name: "pipeline p99", colour: "#bc4c00", points: pct(|p| p.p99, |row| row.pipeline.as_ref()) },
        ],
    );
    let per_s = r.interval_s.max(1) as f64;
    let throughput = line_chart(
        "throughput-over-time",
        "Throughput over time",
        "per second",
        &[
            Line {
                name: "files/s uploaded",
                colour: "#1a7f37",
                points: r.series.iter().map(|row| (at(row.t), row.counters.files as f64 / per_s)).collect(),
            },
            Line {
                name: "files/s transferred",
                colour: "#bf8700",
                points: r.series.iter().map(|row| (at(row.t), row.counters.transferred as f64 / per_s)).collect(),
            },
        ],
    );
    let bandwidth = line_chart(
        "bandwidth-over-time",
        "Bytes uploaded over time",
        "MiB/s",
        &[Line {
            name: "MiB/s uploaded",
            colour: "#8250df",
            points: r.series.iter().map(|row| (at(row.t), row.counters.bytes as f64 / 1048576.0 / per_s)).collect(),
        }],
    );
    let stage_rows: Vec<BarRow<'_>> = r
        .stages
        .iter()
        .filter(|s| s.unit == "ms")
        .map(|s| {
            (s.metric.clone(), vec![("p50", "#54aeff", s.p50), ("p99", "#0550ae", s.p99), ("max", "#6e7781", s.max)])
        })
        .collect();
    let stages = bar_chart("latency-per-stage", "Latency per stage: p50, p99, max", "ms", &stage_rows, true);
    let error_rows: Vec<BarRow<'_>> = if r.errors.is_empty() {
        vec![("none".into(), vec![("errors", "#1a7f37", 0.0)])]
    } else {
        r.errors.iter().map(|(class, e)| (class.clone(), vec![("count", "#cf222e", e.count as f64)])).collect()
    };
    let errors = bar_chart("errors", "Errors by class", "count", &error_rows, false);

    let verdict = if r.passed() { "PASSED" } else { "FAILED" };
    let class = if r.passed() { "pass" } else { "fail" };
    let mut stage_table = String::new();
    for s in &r.stages {
        stage_table.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            xml(&s.metric),
            s.unit,
            s.count,
            fmt(s.p50),
            fmt(s.p90),
            fmt(s.p99),
            fmt(s.p999),
            fmt(s.max),
            fmt(s.mean)
        ));
    }
    let mut threshold_rows = String::new();
    for t in &r.thresholds {
        let (c, mark) = match (&t.skipped, t.passed) {
            (Some(_), _) => ("skip", "SKIPPED"),
            (None, true) => ("pass", "PASS"),
            (None, false) => ("fail", "FAIL"),
        };
        threshold_rows.push_str(&format!(
            "<tr class=\"{c}\"><td class=\"mark\">{mark}</td><td>{}</td><td>{}</td></tr>\n",
            xml(&t.threshold),
            xml(t.skipped.as_deref().unwrap_or(&t.observed))
        ));
    }
    let accounting = match &r.accounting {
        Some(a) => format!(
            "<tr><th>Files</th><td>{} uploaded: {} transferred ({} verified byte for byte), {} failed, {} lost, {} wrong, {} duplicated</td></tr>",
            a.uploaded, a.transferred, a.verified, a.failed, a.lost, a.wrong, a.duplicated
        ),
        None => "<tr><th>Files</th><td>not followed through the pipeline (no AWS credentials)</td></tr>".into(),
    };
    let failures: String = r.failures.iter().map(|f| format!("<li>{}</li>", xml(f))).collect();
    let problems: String = r
        .accounting
        .iter()
        .flat_map(|a| a.problems.iter())
        .chain(r.errors.values().map(|e| &e.example))
        .map(|p| format!("<li><code>{}</code></li>", xml(p)))
        .collect();
    let warnings: String = r.warnings.iter().map(|w| format!("<li>{}</li>", xml(w))).collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Load run {profile}: {verdict}</title>
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1b1f24}}
.pass{{color:#1a7f37}} .fail{{color:#cf222e}} .skip{{color:#9a6700}}
table{{border-collapse:collapse;margin:.8rem 0}} th,td{{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left}}
figure{{margin:1rem 0}} svg.chart{{background:#fff;border:1px solid #d0d7de}}
tr.fail td.mark{{background:#ffebe9;font-weight:600}} tr.pass td.mark{{background:#dafbe1;font-weight:600}} tr.skip td.mark{{background:#fff8c5}}
code{{font-size:.85rem;word-break:break-all}}
</style></head>
<body><h1>Load run {profile} <span class="{class}">{verdict}</span></h1><p>{description}</p>
<table class="facts"><tr><th>Target</th><td>{target}</td></tr><tr><th>Run</th><td>{run} (shards {shards})</td></tr><tr><th>Model</th><td>{model}</td></tr><tr><th>Started</th><td>{started}</td></tr><tr><th>Duration</th><td>{secs:.1} s</td></tr><tr><th>Sessions</th><td>{sessions} logins, at most {peak} at once</td></tr><tr><th>Uploaded</th><td>{files} files, {mib:.1} MiB: {fps:.1} files/s, {mibps:.2} MiB/s</td></tr>{accounting}</table>
<ul class="failures">{failures}</ul>
<h2>Thresholds</h2><table class="thresholds"><tr><th>Result</th><th>Threshold</th><th>Observed</th></tr>{threshold_rows}</table>
<h2>Charts</h2>
{latency}{throughput}{bandwidth}{stages}{errors}
<h2>Stages</h2><table class="stages"><tr><th>Stage</th><th>Unit</th><th>Count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>mean</th></tr>{stage_table}</table>
<h2>Problems</h2><ul>{problems}</ul>
<h2>Warnings</h2><ul>{warnings}</ul>
</body></html>
"#,
        profile = xml(&r.profile),
        description = xml(&r.description),
        target = xml(&r.target),
        run = xml(&r.run_id),
        shards = xml(&r.shards.join(", ")),
        model = xml(&r.model),
        started = xml(&r.started),
        secs = r.elapsed().as_secs_f64(),
        sessions = r.totals.sessions,
        peak = r.peak_sessions,
        files = r.totals.files,
        mib = r.totals.bytes as f64 / 1048576.0,
        fps = r.files_per_s,
        mibps = r.mib_per_s,
    )
}

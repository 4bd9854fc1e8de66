//! The timeline: one row per node, coloured by what it answered when asked "goose?"
//! (goose, duck, or no answer: down or paused), with the fault windows shaded and
//! transfers and membership changes marked.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::history::{Event, GooseAnswer, NodeId, Phase};

const WIDTH: f64 = 1400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 50.0;
const ROW: f64 = 26.0;
const ROW_GAP: f64 = 8.0;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    Goose,
    Duck,
}

fn fault_colour(fault: &str) -> &'static str {
    match fault {
        "partition" | "isolate-goose" => "#4a7bd0",
        "one-way" => "#e08a1e",
        "netns-partition" | "netns-isolate" => "#1f9e89",
        "kill" | "kill-majority" | "restart-all" => "#c0392b",
        "stop" => "#8e44ad",
        "pause" => "#7f8c8d",
        _ => "#555555",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn svg(events: &[Event], title: &str) -> String {
    let end = events.iter().map(Event::t).max().unwrap_or(1).max(1);
    let mut nodes: BTreeMap<NodeId, Vec<(u64, Seen)>> = BTreeMap::new();
    for e in events {
        if let Event::Goose {
            t, node, answer, ..
        } = e
        {
            let seen = match answer {
                GooseAnswer::Goose { .. } => Seen::Goose,
                GooseAnswer::Duck { .. } => Seen::Duck,
            };
            nodes.entry(*node).or_default().push((*t, seen));
        }
    }
    for samples in nodes.values_mut() {
        samples.sort_by_key(|s| s.0);
    }
    let ids: Vec<NodeId> = nodes.keys().copied().collect();
    let row_y = |id: NodeId| {
        let i = ids.iter().position(|&x| x == id).unwrap_or(0);
        TOP + i as f64 * (ROW + ROW_GAP)
    };
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |t: u64| LEFT + plot_w * (t as f64 / end as f64);
    let height = TOP + ids.len() as f64 * (ROW + ROW_GAP) + 80.0;
    let bottom = TOP + ids.len() as f64 * (ROW + ROW_GAP);

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="20" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );

    // Rows: a dark base (no answer: down, paused, cut off from the nemesis), then
    // what each answer showed until the next answer (at most 1 s).
    for &id in &ids {
        let y = row_y(id);
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{y}" width="{plot_w}" height="{ROW}" fill="#3b3b3b"/>"##
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="end">node {id}</text>"#,
            LEFT - 8.0,
            y + ROW * 0.65
        );
        let samples = &nodes[&id];
        let mut i = 0;
        while i < samples.len() {
            let (start, kind) = samples[i];
            let mut j = i;
            // Merge a run of equal answers with no gap over 1 s.
            while j + 1 < samples.len()
                && samples[j + 1].1 == kind
                && samples[j + 1].0 - samples[j].0 < 1_000_000_000
            {
                j += 1;
            }
            let stop = samples
                .get(j + 1)
                .map_or(samples[j].0 + 100_000_000, |s| s.0)
                .min(samples[j].0 + 1_000_000_000);
            let (colour, h, dy) = match kind {
                Seen::Goose => ("#f2b705", ROW, 0.0),
                Seen::Duck => ("#dfe6ee", ROW, 0.0),
            };
            let w = (x(stop) - x(start)).max(0.6);
            let _ = writeln!(
                out,
                r#"<rect x="{:.2}" y="{:.2}" width="{w:.2}" height="{h}" fill="{colour}"/>"#,
                x(start),
                y + dy
            );
            i = j + 1;
        }
    }

    // Fault windows: network faults shade every row; process faults their nodes' rows.
    let mut open: BTreeMap<u64, (u64, String, Vec<NodeId>)> = BTreeMap::new();
    let mut windows = Vec::new();
    let mut instants = Vec::new();
    for e in events {
        if let Event::Nemesis {
            t,
            id,
            phase,
            fault,
            nodes,
            ..
        } = e
        {
            match phase {
                Phase::Start => {
                    open.insert(*id, (*t, fault.clone(), nodes.clone()));
                }
                Phase::End => {
                    if let Some((start, fault, nodes)) = open.remove(id) {
                        windows.push((start, *t, fault, nodes));
                    }
                }
                Phase::Instant => instants.push((*t, fault.clone(), nodes.clone())),
            }
        }
    }
    for (_, (start, fault, nodes)) in open {
        windows.push((start, end, fault, nodes));
    }
    for (start, stop, fault, nodes) in &windows {
        let colour = fault_colour(fault);
        let w = (x(*stop) - x(*start)).max(1.0);
        let whole = matches!(
            fault.as_str(),
            "partition" | "isolate-goose" | "one-way" | "netns-partition" | "netns-isolate"
        );
        if whole {
            let _ = writeln!(
                out,
                r#"<rect x="{:.2}" y="{}" width="{w:.2}" height="{}" fill="{colour}" fill-opacity="0.22"><title>{} {:.2}s–{:.2}s nodes {:?}</title></rect>"#,
                x(*start),
                TOP - 4.0,
                bottom - TOP + 4.0,
                escape(fault),
                *start as f64 / 1e9,
                *stop as f64 / 1e9,
                nodes
            );
        }
        for &n in nodes {
            if !ids.contains(&n) {
                continue;
            }
            let y = row_y(n);
            let _ = writeln!(
                out,
                r#"<rect x="{:.2}" y="{:.2}" width="{w:.2}" height="4" fill="{colour}"><title>{} node {n} {:.2}s–{:.2}s</title></rect>"#,
                x(*start),
                y + ROW - 4.0,
                escape(fault),
                *start as f64 / 1e9,
                *stop as f64 / 1e9
            );
        }
    }
    for (t, fault, nodes) in &instants {
        let colour = match fault.as_str() {
            "transfer" => "#27ae60",
            "join" => "#2c3e50",
            _ => "#8e44ad",
        };
        let _ = writeln!(
            out,
            r#"<line x1="{0:.2}" x2="{0:.2}" y1="{1}" y2="{2}" stroke="{colour}" stroke-width="1.2" stroke-dasharray="3,2"><title>{3} {4:?} at {5:.2}s</title></line>"#,
            x(*t),
            TOP - 8.0,
            bottom,
            escape(fault),
            nodes,
            *t as f64 / 1e9
        );
    }

    // Time axis.
    let secs = end as f64 / 1e9;
    let step = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0]
        .into_iter()
        .find(|s| secs / s <= 20.0)
        .unwrap_or(300.0);
    let mut s = 0.0;
    while s <= secs {
        let xx = x((s * 1e9) as u64);
        let _ = writeln!(
            out,
            r##"<line x1="{xx:.2}" x2="{xx:.2}" y1="{bottom}" y2="{}" stroke="#333"/><text x="{xx:.2}" y="{}" text-anchor="middle">{s}s</text>"##,
            bottom + 5.0,
            bottom + 18.0
        );
        s += step;
    }

    // Legend.
    let ly = bottom + 40.0;
    let legend = [
        ("#f2b705", "answers goose"),
        ("#dfe6ee", "answers duck"),
        ("#3b3b3b", "no answer (down, paused)"),
        ("#4a7bd0", "partition (admin API)"),
        ("#e08a1e", "one-way cut"),
        ("#1f9e89", "netns cut"),
        ("#c0392b", "kill -9"),
        ("#8e44ad", "SIGTERM / removal"),
        ("#7f8c8d", "SIGSTOP"),
        ("#27ae60", "transfer"),
        ("#2c3e50", "join"),
    ];
    let mut lx = LEFT;
    for (colour, label) in legend {
        let _ = writeln!(
            out,
            r#"<rect x="{lx}" y="{}" width="12" height="12" fill="{colour}"/><text x="{}" y="{}">{label}</text>"#,
            ly - 10.0,
            lx + 16.0,
            ly
        );
        lx += 30.0 + label.len() as f64 * 6.4;
    }
    let _ = writeln!(out, "</svg>");
    out
}

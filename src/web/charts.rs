//! Charts drawn on the server as SVG: no external service and no script, so they show
//! in every browser, print on A4 and pass the content security policy.

use chrono::NaiveDate;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Cumulative submissions (and confirmations) per day against the number of targets,
/// from the opening day to the closing day, with the deadline marked.
pub struct Cumulative<'a> {
    pub title: &'a str,
    pub start: NaiveDate,
    pub deadline: NaiveDate,
    pub end: NaiveDate,
    pub targets: i64,
    /// (day, cumulative submitted, cumulative confirmed), ascending by day.
    pub points: &'a [(NaiveDate, i64, i64)],
}

pub fn cumulative(c: &Cumulative) -> String {
    let (w, h, left, right, top, bottom) = (720.0, 300.0, 64.0, 16.0, 28.0, 40.0);
    let days = ((c.end - c.start).num_days().max(1)) as f64;
    let max = c
        .targets
        .max(c.points.iter().map(|p| p.1).max().unwrap_or(0))
        .max(1) as f64;
    let x = |d: NaiveDate| {
        left + ((d - c.start).num_days() as f64 / days).clamp(0.0, 1.0) * (w - left - right)
    };
    let y = |v: i64| top + (1.0 - v as f64 / max) * (h - top - bottom);
    let line = |pick: fn(&(NaiveDate, i64, i64)) -> i64| -> String {
        let mut pts = vec![format!("{:.1},{:.1}", x(c.start), y(0))];
        for p in c.points.iter().filter(|p| p.0 >= c.start && p.0 <= c.end) {
            pts.push(format!("{:.1},{:.1}", x(p.0), y(pick(p))));
        }
        pts.join(" ")
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\" class=\"chart\">",
        escape(c.title)
    );
    svg.push_str(&format!("<title>{}</title>", escape(c.title)));
    // Axes and grid: 0, 25, 50, 75, 100 % of the maximum.
    for i in 0..=4 {
        let v = (max as i64) * i / 4;
        let yy = y(v);
        svg.push_str(&format!(
            "<line x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            w - right,
            left - 6.0,
            yy + 4.0,
            super::views::group_digits(v)
        ));
    }
    let target_y = y(c.targets);
    svg.push_str(&format!(
        "<line x1=\"{left}\" y1=\"{target_y:.1}\" x2=\"{:.1}\" y2=\"{target_y:.1}\" stroke=\"#555\" stroke-dasharray=\"2 3\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">報告対象 {}</text>",
        w - right,
        w - right,
        target_y - 4.0,
        super::views::group_digits(c.targets)
    ));
    let dx = x(c.deadline);
    svg.push_str(&format!(
        "<line x1=\"{dx:.1}\" y1=\"{top}\" x2=\"{dx:.1}\" y2=\"{:.1}\" stroke=\"#b3261e\" stroke-dasharray=\"4 3\"/><text x=\"{dx:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#b3261e\">期限 {}</text>",
        h - bottom,
        top - 8.0,
        c.deadline.format("%-m/%-d")
    ));
    for (d, anchor) in [(c.start, "start"), (c.end, "end")] {
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"{anchor}\">{}</text>",
            x(d),
            h - bottom + 16.0,
            d.format("%Y/%-m/%-d")
        ));
    }
    svg.push_str(&format!(
        "<polyline fill=\"none\" stroke=\"#0b5394\" stroke-width=\"2.5\" points=\"{}\"/>",
        line(|p| p.1)
    ));
    svg.push_str(&format!(
        "<polyline fill=\"none\" stroke=\"#38761d\" stroke-width=\"2\" points=\"{}\"/>",
        line(|p| p.2)
    ));
    let (last_s, last_c) = c.points.last().map_or((0, 0), |p| (p.1, p.2));
    svg.push_str(&format!(
        "<text x=\"{left}\" y=\"{:.1}\" font-size=\"12\"><tspan fill=\"#0b5394\">■ 報告済 {}</tspan>　<tspan fill=\"#38761d\">■ 確認済 {}</tspan></text>",
        h - 6.0,
        super::views::group_digits(last_s),
        super::views::group_digits(last_c)
    ));
    svg.push_str("</svg>");
    svg
}

/// One bar per 保健所: targets (light), submitted (mid), confirmed (dark).
pub struct Bar {
    pub label: String,
    pub targets: i64,
    pub submitted: i64,
    pub confirmed: i64,
}

pub fn bars(title: &str, rows: &[Bar]) -> String {
    let (w, row_h, left, right, top) = (720.0, 26.0, 150.0, 110.0, 24.0);
    let h = top + row_h * rows.len() as f64 + 24.0;
    let max = rows
        .iter()
        .map(|r| r.targets.max(r.submitted))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let width = |v: i64| (v as f64 / max) * (w - left - right);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h:.0}\" role=\"img\" aria-label=\"{}\" class=\"chart\"><title>{}</title>",
        escape(title),
        escape(title)
    );
    for (i, r) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let pct = if r.targets > 0 {
            format!("{:.0}%", r.submitted as f64 * 100.0 / r.targets as f64)
        } else {
            "—".into()
        };
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\">{}</text>\
             <rect x=\"{left}\" y=\"{:.1}\" width=\"{:.1}\" height=\"16\" fill=\"#dfe6ee\"/>\
             <rect x=\"{left}\" y=\"{:.1}\" width=\"{:.1}\" height=\"16\" fill=\"#6fa8dc\"/>\
             <rect x=\"{left}\" y=\"{:.1}\" width=\"{:.1}\" height=\"16\" fill=\"#0b5394\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{} / {}（{pct}）</text>",
            left - 8.0,
            y + 13.0,
            escape(&r.label),
            y,
            width(r.targets),
            y,
            width(r.submitted),
            y,
            width(r.confirmed),
            left + width(r.targets.max(r.submitted)) + 6.0,
            y + 13.0,
            super::views::group_digits(r.submitted),
            super::views::group_digits(r.targets)
        ));
    }
    svg.push_str(&format!(
        "<text x=\"{left}\" y=\"{:.1}\" font-size=\"12\"><tspan fill=\"#0b5394\">■ 確認済</tspan>　<tspan fill=\"#6fa8dc\">■ 報告済</tspan>　<tspan fill=\"#8a9bb0\">■ 報告対象</tspan></text>",
        h - 6.0
    ));
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, m, day).unwrap()
    }

    #[test]
    fn cumulative_chart_draws_the_series_and_marks_the_deadline() {
        let points = [(d(1, 5), 10, 0), (d(1, 20), 40, 12), (d(2, 10), 80, 50)];
        let svg = cumulative(&Cumulative {
            title: "累積 <報告>",
            start: d(1, 1),
            deadline: d(2, 28),
            end: d(3, 31),
            targets: 100,
            points: &points,
        });
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("累積 &lt;報告&gt;"), "titles are escaped");
        assert!(svg.contains("期限 2/28"));
        assert!(svg.contains("報告対象 100"));
        assert!(svg.contains("■ 報告済 80") && svg.contains("■ 確認済 50"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        // The last point of 80 of 100 sits at 20 % from the top of the plot.
        let plot_top = 28.0;
        let plot_h = 300.0 - 28.0 - 40.0;
        assert!(svg.contains(&format!(",{:.1}", plot_top + 0.2 * plot_h)));
    }

    #[test]
    fn empty_data_still_draws() {
        let svg = cumulative(&Cumulative {
            title: "t",
            start: d(1, 1),
            deadline: d(1, 1),
            end: d(1, 1),
            targets: 0,
            points: &[],
        });
        assert!(svg.contains("報告対象 0"));
        let svg = bars("t", &[]);
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn bars_show_each_area_with_its_share() {
        let svg = bars(
            "保健所別",
            &[
                Bar {
                    label: "姶良<保健所>".into(),
                    targets: 200,
                    submitted: 150,
                    confirmed: 100,
                },
                Bar {
                    label: "鹿屋".into(),
                    targets: 1000,
                    submitted: 1000,
                    confirmed: 1000,
                },
            ],
        );
        assert!(svg.contains("姶良&lt;保健所&gt;"));
        assert!(svg.contains("150 / 200（75%）"));
        assert!(svg.contains("1,000 / 1,000（100%）"));
        assert_eq!(svg.matches("<rect").count(), 6);
    }
}

//! Every page as every demo user sees it: a demo season with reports in every state,
//! crawled from the home page by following the links each role is shown. A link that
//! answers an error is a defect, whoever follows it.

use std::collections::{BTreeSet, VecDeque};

/// Pages fetched per user at most.
const PAGES_PER_USER: usize = 400;
/// Pages of one shape (the same route and query keys) fetched per user: a season has
/// thousands of report and institution pages, and sort and page links multiply them.
const PER_SHAPE: usize = 3;

/// A link's route with numbers as `N` and its query keys, sorted.
fn shape(link: &str) -> String {
    let (path, query) = link.split_once('?').unwrap_or((link, ""));
    let path: String = path
        .split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "N"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let mut keys: Vec<&str> = query
        .split('&')
        .filter_map(|kv| kv.split('=').next())
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    format!("{path}?{}", keys.join("&"))
}

fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("href=\"") {
        rest = &rest[i + 6..];
        let Some(end) = rest.find('"') else { break };
        let link = rest[..end].replace("&amp;", "&");
        rest = &rest[end..];
        if link.starts_with('/') && !link.starts_with("//") {
            out.push(link);
        }
    }
    out
}

#[test]
fn every_link_every_demo_user_is_shown_answers() {
    // The demo season, then one bulk confirmation and one broadcast: 操作履歴, the
    // review lists and the campaign hold several pages of rows, as in a real season.
    let app = crate::season::with_season();
    crate::season::bulk_confirm_all(&app.signed_in("demo-officer"), &app.base);
    // A broadcast, so the mail history and a campaign with pages of recipients exist.
    crate::mail_pages::broadcast_reminder(&app, &app.signed_in("demo-officer"));
    let mut problems = Vec::new();
    for login in [
        "demo-sysadmin",
        "demo-admin",
        "demo-officer",
        "demo-area",
        "demo-clinic",
    ] {
        let c = app.signed_in(login);
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut shapes: std::collections::BTreeMap<String, usize> = Default::default();
        let mut queue: VecDeque<String> = VecDeque::from(["/".to_string()]);
        let mut fetched = 0;
        while let Some(path) = queue.pop_front() {
            if fetched >= PAGES_PER_USER {
                break;
            }
            if !seen.insert(path.clone()) {
                continue;
            }
            let n = shapes.entry(shape(&path)).or_default();
            if *n >= PER_SHAPE {
                continue;
            }
            *n += 1;
            fetched += 1;
            let res = c.get(app.url(&path)).send().unwrap();
            let status = res.status().as_u16();
            if status >= 400 {
                problems.push(format!("{login} GET {path} → {status}"));
                continue;
            }
            let is_html = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/html"));
            if !is_html {
                continue;
            }
            for link in links(&res.text().unwrap()) {
                if !seen.contains(&link) {
                    queue.push_back(link);
                }
            }
        }
        eprintln!("{login}: {fetched} pages of {} shapes", shapes.len());
        assert!(fetched > 5, "{login} reached only {fetched} pages");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

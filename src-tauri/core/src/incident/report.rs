//! Incident reports: Markdown and a self-contained printable HTML page.
//!
//! Owns: rendering an [`IncidentView`]. Must never: take anything but a
//! view (which holds no secret: labels and masked key ids only), reference
//! a remote asset (no links, scripts, images or fonts: inline CSS only), or
//! write text into HTML without escaping it.

use std::fmt::Write as _;

use super::{ActivitySnapshot, IncidentView, StepState};

fn time(secs: i64) -> String {
    time_ms(secs.saturating_mul(1000))
}

/// RFC 3339 (UTC), as timestamps serialize everywhere else.
fn time_ms(ms: i64) -> String {
    serde_json::to_value(crate::exchange::Timestamp::from_unix_ms(ms))
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| ms.to_string())
}

/// HTML-escapes text (element content and quoted attribute values).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Makes user- or exchange-supplied text inert inside a Markdown line or
/// table cell: every ASCII punctuation character Markdown gives a meaning
/// is backslash-escaped (links `[…](…)`, images `![…](…)`, autolinks and raw
/// HTML `<…>`, entities `&…;`, emphasis, code spans, table pipes), line
/// breaks become spaces, and control and format characters (terminal
/// escapes, bidirectional overrides) become visible `\uXXXX` escapes. A
/// bare `https://…` may still be shown as a link by viewers with GitHub's
/// autolink extension; it is then exactly the text it shows.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '<' | '>' | '&' | '|' | '~'
            | '#' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    crate::text::escape_terminal(&out).into_owned()
}

/// HTML-escapes user- or exchange-supplied text, with control and format
/// characters (bidirectional overrides) shown as visible escapes; line
/// feeds are kept (the page shows them as spaces).
fn html_text(s: &str) -> String {
    escape_html(&crate::text::escape_terminal_lines(s))
}

fn step_state(view: &IncidentView, s: &super::StepView) -> String {
    let _ = view;
    match s.state {
        StepState::Skipped => format!(
            "skipped ({})",
            s.reason.as_deref().unwrap_or("no reason given")
        ),
        StepState::Failed => format!("failed ({})", s.error.as_deref().unwrap_or("")),
        other => other.as_str().to_owned(),
    }
}

/// The rows of a snapshot: (kind, id, time, what, status).
fn snapshot_rows(s: &ActivitySnapshot) -> Vec<[String; 5]> {
    let mut rows = Vec::new();
    for o in s.orders.iter().flatten() {
        rows.push([
            "order".into(),
            o.id.clone(),
            time_ms(o.time.unix_ms()),
            format!(
                "{} {} {} @ {}",
                o.side.as_deref().unwrap_or(""),
                o.quantity.as_deref().unwrap_or(""),
                o.symbol,
                o.price.as_deref().unwrap_or("")
            ),
            o.status.clone(),
        ]);
    }
    for (kind, list) in [("withdrawal", &s.withdrawals), ("deposit", &s.deposits)] {
        for t in list.iter().flatten() {
            rows.push([
                kind.into(),
                t.id.clone(),
                time_ms(t.time.unix_ms()),
                format!(
                    "{} {} {} {}",
                    t.amount,
                    t.asset,
                    t.address.as_deref().unwrap_or(""),
                    t.tx_id
                        .as_deref()
                        .map(|x| format!("tx {x}"))
                        .unwrap_or_default()
                ),
                t.status.clone(),
            ]);
        }
    }
    rows
}

/// The report as Markdown.
pub fn markdown(view: &IncidentView) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Incident report: {}\n", md(&view.title));
    let _ = writeln!(o, "- Incident: `{}`", view.id);
    let _ = writeln!(o, "- Situation: {}", view.situation.as_str());
    let _ = writeln!(o, "- State: {}", view.state);
    let _ = writeln!(o, "- Opened: {}", time(view.opened_at));
    if let Some(c) = view.closed_at {
        let _ = writeln!(o, "- Closed: {}", time(c));
    }
    let _ = writeln!(o, "- Playbook version: {}", view.playbook_version);
    let _ = writeln!(
        o,
        "- Progress: {}/{} steps resolved\n",
        view.progress.resolved, view.progress.total
    );
    o.push_str("## Affected keys\n\n| label | exchange | key id (masked) |\n|---|---|---|\n");
    for k in &view.keys {
        let _ = writeln!(
            o,
            "| {} | {} | {} |",
            md(&k.label),
            k.exchange.display_name(),
            md(&k.masked_key_id)
        );
    }
    o.push_str("\n## Timeline\n\n| time | event | step | details |\n|---|---|---|---|\n");
    for e in &view.timeline {
        let mut text = md(&e.text);
        if let Some(a) = &e.attachment {
            let _ = write!(text, " (attachment: {})", md(a));
        }
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            time(e.at),
            md(&e.event),
            md(e.step.as_deref().unwrap_or("")),
            text
        );
    }
    o.push_str("\n## Steps\n\n");
    for (i, s) in view.steps.iter().enumerate() {
        let _ = writeln!(
            o,
            "{}. **{}** ({:?}) — {}",
            i + 1,
            md(&s.title),
            s.kind,
            md(&step_state(view, s))
        );
        if let Some(n) = &s.note {
            let _ = writeln!(o, "   - note: {}", md(n));
        }
        for r in &s.results {
            let _ = writeln!(o, "   - {}", md(r));
        }
    }
    o.push_str("\n## Activity snapshot (72 hours)\n");
    for s in &view.snapshots {
        let _ = writeln!(
            o,
            "\n### {} ({}, {}), taken {}\n",
            md(&s.label),
            s.exchange.display_name(),
            md(&s.masked_key_id),
            time(s.taken_at)
        );
        if let Some(e) = &s.error {
            let _ = writeln!(o, "Not available: {}\n", md(e));
        }
        let rows = snapshot_rows(s);
        if rows.is_empty() && s.error.is_none() {
            o.push_str("No activity reported in the window.\n");
        } else if !rows.is_empty() {
            o.push_str("| kind | id | time | what | status |\n|---|---|---|---|---|\n");
            for r in rows {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} |",
                    md(&r[0]),
                    md(&r[1]),
                    md(&r[2]),
                    md(&r[3]),
                    md(&r[4])
                );
            }
        }
        for n in &s.notes {
            let _ = writeln!(o, "\n_{}_", md(n));
        }
    }
    o
}

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;color:#111;max-width:60rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;border-bottom:1px solid #ccc;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #bbb;padding:.25rem .4rem;text-align:left;vertical-align:top}
th{background:#eee}code{font-family:ui-monospace,monospace}.done{color:#176317}.failed{color:#a11}.skipped{color:#775}
@media print{body{margin:0;max-width:none;font-size:11pt}h2{break-after:avoid}tr{break-inside:avoid}}";

/// The report as one self-contained HTML page (inline CSS, no remote
/// assets, no script), printable.
pub fn html(view: &IncidentView) -> String {
    let e = html_text;
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>Incident report: {}</title><style>{CSS}</style></head><body>\n",
        e(&view.title)
    );
    let _ = writeln!(o, "<h1>Incident report: {}</h1>", e(&view.title));
    let _ = writeln!(
        o,
        "<table><tr><th>Incident</th><td><code>{}</code></td></tr><tr><th>Situation</th><td>{}</td></tr>\
         <tr><th>State</th><td>{}</td></tr><tr><th>Opened</th><td>{}</td></tr><tr><th>Closed</th><td>{}</td></tr>\
         <tr><th>Progress</th><td>{}/{} steps resolved</td></tr></table>",
        e(&view.id),
        e(view.situation.as_str()),
        e(&view.state),
        e(&time(view.opened_at)),
        view.closed_at.map(time).unwrap_or_default(),
        view.progress.resolved,
        view.progress.total
    );
    o.push_str("<h2>Affected keys</h2><table><tr><th>label</th><th>exchange</th><th>key id (masked)</th></tr>\n");
    for k in &view.keys {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            e(&k.label),
            e(k.exchange.display_name()),
            e(&k.masked_key_id)
        );
    }
    o.push_str("</table><h2>Timeline</h2><table><tr><th>time</th><th>event</th><th>step</th><th>details</th></tr>\n");
    for t in &view.timeline {
        let mut text = e(&t.text);
        if let Some(a) = &t.attachment {
            let _ = write!(text, " (attachment: <code>{}</code>)", e(a));
        }
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(&time(t.at)),
            e(&t.event),
            e(t.step.as_deref().unwrap_or("")),
            text
        );
    }
    o.push_str("</table><h2>Steps</h2><ol>\n");
    for s in &view.steps {
        let _ = write!(
            o,
            "<li><strong>{}</strong> <span class=\"{}\">{}</span>",
            e(&s.title),
            s.state.as_str(),
            e(&step_state(view, s))
        );
        if s.note.is_some() || !s.results.is_empty() {
            o.push_str("<ul>");
            if let Some(n) = &s.note {
                let _ = write!(o, "<li>note: {}</li>", e(n));
            }
            for r in &s.results {
                let _ = write!(o, "<li>{}</li>", e(r));
            }
            o.push_str("</ul>");
        }
        o.push_str("</li>\n");
    }
    o.push_str("</ol><h2>Activity snapshot (72 hours)</h2>\n");
    for s in &view.snapshots {
        let _ = writeln!(
            o,
            "<h3>{} ({}, <code>{}</code>), taken {}</h3>",
            e(&s.label),
            e(s.exchange.display_name()),
            e(&s.masked_key_id),
            e(&time(s.taken_at))
        );
        if let Some(err) = &s.error {
            let _ = writeln!(o, "<p>Not available: {}</p>", e(err));
        }
        let rows = snapshot_rows(s);
        if !rows.is_empty() {
            o.push_str("<table><tr><th>kind</th><th>id</th><th>time</th><th>what</th><th>status</th></tr>\n");
            for r in rows {
                let _ = writeln!(
                    o,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    e(&r[0]),
                    e(&r[1]),
                    e(&r[2]),
                    e(&r[3]),
                    e(&r[4])
                );
            }
            o.push_str("</table>\n");
        } else if s.error.is_none() {
            o.push_str("<p>No activity reported in the window.</p>\n");
        }
        for n in &s.notes {
            let _ = writeln!(o, "<p><em>{}</em></p>", e(n));
        }
    }
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Links and images a CommonMark (with GitHub's tables, as viewers
    /// render reports) parser finds in `text`.
    fn links_in(text: &str) -> Vec<String> {
        use pulldown_cmark::{Event, Options, Parser, Tag};
        Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH)
            .filter_map(|e| match e {
                Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                    Some(dest_url.to_string())
                }
                Event::Html(h) | Event::InlineHtml(h) => Some(h.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn markdown_link_and_image_in_exchange_string_are_inert() {
        let hostile = [
            "[click to verify](https://evil.example/phish)",
            "![](https://evil.example/pixel.png?key=1)",
            "<img src=https://evil.example/x.png>",
            "<https://evil.example/auto>",
            "[ref]: https://evil.example\n[ref]",
            "a | b ` c *d* _e_ &amp; ~~f~~",
            "\u{1b}]0;owned\u{7}\u{202E}gnp.exe",
        ];
        for h in hostile {
            let cell = md(h);
            for context in [
                format!("| a | {cell} | b |\n|---|---|---|\n| {cell} | x | y |\n"),
                format!("- note: {cell}\n"),
                format!("\n_{cell}_\n"),
                format!("# Incident report: {cell}\n"),
            ] {
                assert!(links_in(&context).is_empty(), "{h:?} → {context}");
            }
            assert!(
                !cell.contains('\u{1b}') && !cell.contains('\u{202E}'),
                "{cell}"
            );
            assert!(!cell.contains('\n'));
        }
        // Escaping is not removal: the text a reader sees is the original.
        assert_eq!(md("[x](y)"), "\\[x\\]\\(y\\)");
        // The check itself sees links when they are there.
        assert_eq!(links_in("[a](https://e.example) ![b](c.png)").len(), 2);
        // HTML text: markup escaped, bidi overrides visible.
        assert_eq!(html_text("<b>\u{202E}x"), "&lt;b&gt;\\u202ex");
    }

    #[test]
    fn escaping_covers_markup() {
        assert_eq!(
            escape_html("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}

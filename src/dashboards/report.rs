//! A dashboard as files: every panel as PNG and SVG, and an `index.html`
//! that shows them and opens offline (nothing fetched from anywhere).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::load::LoadedPanel;
use crate::charts;

/// Writes the panels into `dir`; returns the path of `index.html`.
pub fn write(
    dir: &Path,
    title: &str,
    project: &str,
    panels: &[LoadedPanel],
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut figures = String::new();
    for (index, loaded) in panels.iter().enumerate() {
        let panel = &loaded.panel;
        let stem = panel.file_stem(index);
        let size = (panel.width, panel.height);
        let png = charts::png(&loaded.chart, &panel.title, size)?;
        let svg = charts::svg(&loaded.chart, &panel.title, size)?;
        for (extension, bytes) in [("png", png.as_slice()), ("svg", svg.as_bytes())] {
            let path = dir.join(format!("{stem}.{extension}"));
            std::fs::write(&path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        writeln!(
            figures,
            "<figure><img src=\"{stem}.svg\" alt=\"{alt}\" width=\"{w}\" height=\"{h}\">\
             <figcaption>{alt} · {from} – {to} · <a href=\"{stem}.png\">PNG</a> \
             <a href=\"{stem}.svg\">SVG</a></figcaption></figure>",
            alt = escape(&panel.title),
            w = panel.width,
            h = panel.height,
            from = loaded.from,
            to = loaded.to,
        )?;
    }
    let index = dir.join("index.html");
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\">\
         <title>{title} — {project}</title>\n<style>{STYLE}</style></head><body>\n\
         <h1>{title} <small>{project}</small></h1>\n\
         <p class=\"meta\">Rendered by highwater at {now} UTC. Grey bands: provisional days \
         (figures may still change).</p>\n{figures}</body></html>\n",
        title = escape(title),
        project = escape(project),
        now = chrono::Utc::now().format("%Y-%m-%d %H:%M"),
    );
    std::fs::write(&index, html).with_context(|| format!("cannot write {}", index.display()))?;
    Ok(index)
}

pub const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;background:#fafafa;color:#222}\
h1 small{color:#777;font-weight:normal;font-size:60%}.meta{color:#666}\
figure{background:#fff;border:1px solid #e3e3e3;margin:0 0 20px;padding:8px;display:inline-block;max-width:100%}\
figure img,figure svg{max-width:100%;height:auto;display:block}figcaption{color:#555;font-size:13px;padding-top:6px}";

/// Text for HTML: `&`, `<`, `>` and quotes escaped.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

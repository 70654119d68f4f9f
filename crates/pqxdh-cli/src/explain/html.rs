//! The HTML view: one self-contained page (inline CSS, JS and SVG, no network, no external
//! fonts) with diagrams drawn from the recorded run: who holds which key and which pairs make
//! each DH output, the HKDF input layout, the ratchet turning across the conversation, and each
//! wire message as a byte map whose fields highlight with their explanation on hover.

use std::fmt::Write;

use super::record::{Field, Party, Record, Value};
use super::terminal::hex_rows;

/// Private values longer than this are shown by their first bytes and their length.
const PRIVATE_SHOWN: usize = 64;

/// Colours of fields, cycled.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#8cd17d",
];

const STYLE: &str = r#"
:root { --ink:#1d2330; --muted:#5b6475; --line:#d5d9e0; --bg:#fbfbfd; --a:#2f6fb3; --b:#b8562b; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--ink); background:var(--bg); }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 6px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
p.intro { color: var(--muted); margin: 4px 0 12px; }
code, .hex, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
.facts { display:grid; grid-template-columns: max-content 1fr; gap: 4px 16px; background:#fff; border:1px solid var(--line); border-radius:8px; padding:12px 16px; }
.facts b { font-weight:600; }
table { border-collapse: collapse; width: 100%; background:#fff; }
td { border-top: 1px solid var(--line); padding: 6px 8px; vertical-align: top; }
td.label { width: 30%; font-weight: 600; }
pre.hex { margin: 0; white-space: pre; overflow-x: auto; }
.private { color: #a4262c; }
.tag { font-size: 11px; padding: 1px 6px; border-radius: 8px; background: #fde7e9; color: #a4262c; margin-left: 6px; }
svg { background:#fff; border:1px solid var(--line); border-radius:8px; width:100%; height:auto; }
svg text { font-family: system-ui, sans-serif; font-size: 13px; }
.bytemap { display:flex; flex-wrap:wrap; gap:1px; background:#fff; border:1px solid var(--line); border-radius:8px; padding:8px; }
.bytemap span { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 11px; width: 2.3em; text-align:center; color:#fff; border-radius:2px; cursor:default; }
.bytemap span.dim { opacity: .35; }
.legend { display:flex; flex-wrap:wrap; gap:6px 14px; margin:8px 0; font-size:13px; }
.legend i { display:inline-block; width:12px; height:12px; border-radius:2px; margin-right:4px; vertical-align:-1px; }
.explain-box { position: sticky; bottom: 0; background:#1d2330; color:#fff; padding:8px 12px; border-radius:6px; min-height: 2.4em; margin-top:8px; font-size:14px; }
.delivery li { margin: 2px 0; }
@media print {
  body { background:#fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  section, svg, .bytemap { break-inside: avoid; }
  .explain-box { display:none; }
  .bytemap span { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  pre.hex { white-space: pre-wrap; }
}
"#;

const SCRIPT: &str = r#"
(function () {
  var box = document.getElementById('explain-box');
  document.querySelectorAll('.bytemap').forEach(function (map) {
    var spans = map.querySelectorAll('span');
    function show(f, text) {
      spans.forEach(function (s) { s.classList.toggle('dim', f !== null && s.dataset.f !== f); });
      box.textContent = text;
    }
    spans.forEach(function (s) {
      s.addEventListener('mouseenter', function () {
        var f = map.dataset.fields ? JSON.parse(map.dataset.fields)[s.dataset.f] : null;
        show(s.dataset.f, f ? (f.name + ' (' + f.len + ' bytes at offset ' + f.at + '): ' + f.explain + ' — byte 0x' + s.textContent) : '');
      });
    });
    map.addEventListener('mouseleave', function () { show(null, 'Hover a byte of a message to see its field.'); });
  });
  var done = document.createElement('div');
  done.id = 'script-complete';
  done.hidden = true;
  document.body.appendChild(done);
})();
"#;

/// Escapes text for HTML.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn colour(i: usize) -> &'static str {
    PALETTE.get(i % PALETTE.len()).copied().unwrap_or("#888")
}

fn party_colour(p: Party) -> &'static str {
    match p {
        Party::Alice => "var(--a)",
        Party::Bob => "var(--b)",
    }
}

fn hex_block(bytes: &[u8], class: &str) -> String {
    format!(
        "<pre class=\"hex {class}\">{}</pre>",
        hex_rows(bytes, "").join("\n")
    )
}

fn value_cell(value: &Value) -> String {
    match value {
        Value::Text(t) => esc(t),
        Value::Bytes(b) => format!("{} bytes{}", b.len(), hex_block(b, "")),
        Value::Private(b) => {
            let shown = b.get(..PRIVATE_SHOWN.min(b.len())).unwrap_or_default();
            let more = if shown.len() < b.len() {
                format!(" (first {} shown)", shown.len())
            } else {
                String::new()
            };
            format!(
                "{} bytes{more}<span class=\"tag\">private, throw-away run</span>{}",
                b.len(),
                hex_block(shown, "private")
            )
        }
    }
}

/// Who holds which key, and which pairs combine in each DH.
fn keys_svg(record: &Record) -> String {
    let mut alice: Vec<&str> = Vec::new();
    let mut bob: Vec<&str> = Vec::new();
    for d in &record.dhs {
        if !alice.contains(&d.alice_key.as_str()) {
            alice.push(&d.alice_key);
        }
        if !bob.contains(&d.bob_key.as_str()) {
            bob.push(&d.bob_key);
        }
    }
    bob.push("PQPK_B");
    let rows = alice.len().max(bob.len());
    let height = 70 + rows * 56;
    let y = |i: usize| 70 + i * 56;
    let mut s = format!(
        "<svg viewBox=\"0 0 900 {height}\" role=\"img\" aria-label=\"keys and DH pairs\">\
<text x=\"120\" y=\"32\" font-weight=\"700\" fill=\"#2f6fb3\">Alice holds</text>\
<text x=\"680\" y=\"32\" font-weight=\"700\" fill=\"#b8562b\">Bob holds</text>"
    );
    for (x, fill, stroke, names) in [
        (90, "#e8f0fa", "#2f6fb3", &alice),
        (660, "#fbece5", "#b8562b", &bob),
    ] {
        for (i, name) in names.iter().enumerate() {
            let _ = write!(
                s,
                "<rect x=\"{x}\" y=\"{}\" width=\"130\" height=\"34\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                y(i),
                x + 65,
                y(i) + 22,
                esc(name)
            );
        }
    }
    for (n, d) in record.dhs.iter().enumerate() {
        let ai = alice.iter().position(|k| *k == d.alice_key).unwrap_or(0);
        let bi = bob.iter().position(|k| *k == d.bob_key).unwrap_or(0);
        let (y1, y2) = (y(ai) + 17, y(bi) + 17);
        let c = colour(n);
        // Each label sits at its own point along its line, so that crossing lines keep theirs apart.
        let t = 0.18 + 0.2 * n as f64;
        let (lx, ly) = (
            220.0 + 440.0 * t,
            y1 as f64 + (y2 as f64 - y1 as f64) * t - 7.0,
        );
        let _ = write!(
            s,
            "<line x1=\"220\" y1=\"{y1}\" x2=\"660\" y2=\"{y2}\" stroke=\"{c}\" stroke-width=\"3\"/><text x=\"{lx:.0}\" y=\"{ly:.0}\" fill=\"{c}\" font-weight=\"700\" text-anchor=\"middle\" paint-order=\"stroke\" stroke=\"#fff\" stroke-width=\"4\">{} = {}..</text>",
            esc(&d.name),
            hex::encode(d.output.get(..4).unwrap_or_default())
        );
    }
    let py = y(bob.len().saturating_sub(1)) + 17;
    let _ = write!(
        s,
        "<line x1=\"220\" y1=\"{py}\" x2=\"660\" y2=\"{py}\" stroke=\"#555\" stroke-dasharray=\"6 4\" stroke-width=\"2\"/><text x=\"440\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">Encaps(PQPK_B) → CT, SS = {}..</text></svg>",
        py - 8,
        hex::encode(record.kem_step.shared_secret.get(..4).unwrap_or_default())
    );
    s
}

/// The HKDF input as a bar, one segment a field, widths by length.
fn layout_svg(fields: &[Field], aria: &str) -> String {
    let total: usize = fields.iter().map(|f| f.bytes.len()).sum::<usize>().max(1);
    let mut s = format!(
        "<svg viewBox=\"0 0 900 110\" role=\"img\" aria-label=\"{}\">",
        esc(aria)
    );
    let mut x = 20.0_f64;
    let mut at = 0usize;
    for (i, f) in fields.iter().enumerate() {
        let w = 860.0 * f.bytes.len() as f64 / total as f64;
        let _ = write!(
            s,
            "<g><title>{}: {}</title><rect x=\"{x:.1}\" y=\"20\" width=\"{w:.1}\" height=\"44\" fill=\"{}\" stroke=\"#fff\"/><text x=\"{:.1}\" y=\"47\" text-anchor=\"middle\" fill=\"#fff\" font-weight=\"700\">{}</text><text x=\"{x:.1}\" y=\"84\" fill=\"#5b6475\" font-size=\"11\">{at}</text></g>",
            esc(&f.name),
            esc(&f.explain),
            colour(i),
            x + w / 2.0,
            esc(&f.name)
        );
        x += w;
        at += f.bytes.len();
    }
    let _ = write!(
        s,
        "<text x=\"880\" y=\"84\" fill=\"#5b6475\" font-size=\"11\" text-anchor=\"end\">{at} bytes</text></svg>"
    );
    s
}

/// The root chain turning, each turn's sending chain, and the messages sent on it.
fn ratchet_svg(record: &Record) -> String {
    let turns = record.turns.len().max(1);
    let step = 820 / (turns + 1);
    let mut s = String::from(
        "<svg viewBox=\"0 0 900 300\" role=\"img\" aria-label=\"ratchet turns\"><text x=\"30\" y=\"64\" font-weight=\"700\">root chain</text>",
    );
    let root_y = 90;
    let _ = write!(
        s,
        "<circle cx=\"60\" cy=\"{root_y}\" r=\"14\" fill=\"#1d2330\"/><text x=\"60\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">RK0 {}..</text>",
        root_y + 32,
        hex::encode(record.root_key.get(..3).unwrap_or_default())
    );
    for (i, t) in record.turns.iter().enumerate() {
        let x = 60 + (i + 1) * step;
        let px = x - step;
        let c = party_colour(t.sender);
        let _ = write!(
            s,
            "<line x1=\"{px}\" y1=\"{root_y}\" x2=\"{x}\" y2=\"{root_y}\" stroke=\"#1d2330\" stroke-width=\"3\"/>\
<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"{c}\">DH({}, {})</text>\
<circle cx=\"{x}\" cy=\"{root_y}\" r=\"14\" fill=\"#1d2330\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">RK{} {}..</text>\
<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"170\" stroke=\"{c}\" stroke-width=\"2\"/>\
<text x=\"{x}\" y=\"186\" text-anchor=\"middle\" fill=\"{c}\" font-weight=\"700\">{} sends ({})</text>",
            (px + x) / 2,
            root_y - 14,
            esc(&t.ratchet_key),
            esc(&t.peer_key),
            root_y + 32,
            i + 1,
            hex::encode(t.root_after.get(..3).unwrap_or_default()),
            root_y + 14,
            t.sender.name(),
            esc(&t.ratchet_key)
        );
        for (k, m) in record.messages.iter().filter(|m| m.turn == i).enumerate() {
            let my = 210 + k * 34;
            let _ = write!(
                s,
                "<g><title>{}</title><rect x=\"{}\" y=\"{my}\" width=\"{}\" height=\"26\" rx=\"5\" fill=\"{c}\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" fill=\"#fff\" font-size=\"12\">#{} N={} {}</text></g>",
                esc(&m.plaintext),
                x.saturating_sub(step / 2 - 6),
                step - 12,
                my + 17,
                m.number,
                m.counter,
                m.kind
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// One wire message as a byte map.
fn byte_map(fields: &[Field]) -> String {
    let mut meta = String::from("{");
    let mut spans = String::new();
    let mut legend = String::new();
    let mut at = 0usize;
    for (i, f) in fields.iter().enumerate() {
        let c = colour(i);
        let _ = write!(
            meta,
            "{}\"{i}\":{{\"name\":{},\"explain\":{},\"len\":{},\"at\":{at}}}",
            if i == 0 { "" } else { "," },
            serde_json::Value::String(f.name.clone()),
            serde_json::Value::String(f.explain.clone()),
            f.bytes.len()
        );
        for b in &f.bytes {
            let _ = write!(
                spans,
                "<span data-f=\"{i}\" style=\"background:{c}\">{b:02x}</span>"
            );
        }
        let _ = write!(
            legend,
            "<span><i style=\"background:{c}\"></i>{} <small>({} B @ {at})</small></span>",
            esc(&f.name),
            f.bytes.len()
        );
        at += f.bytes.len();
    }
    meta.push('}');
    format!(
        "<div class=\"legend\">{legend}</div><div class=\"bytemap\" data-fields=\"{}\">{spans}</div>",
        esc(&meta)
    )
}

/// The page.
pub fn render(record: &Record) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>PQXDH and the Double Ratchet, step by step</h1><p class=\"intro\">A real run of the pqxdh library ({}, {}). Every value below was produced by the library or recomputed and checked against it.</p>\
<div class=\"facts\"><b>root key</b><code id=\"root-key\">{}</code><b>session id</b><code id=\"session-id\">{}</code><b>KEM</b><span>{}</span>{}</div>",
        esc(&record.title),
        esc(&record.kem),
        hex::encode(&record.root_key),
        esc(&record.session_id),
        esc(&record.kem),
        record
            .vector
            .as_ref()
            .map(|(id, root)| format!(
                "<b>vector</b><span>{} root key <code>{}</code>: equal</span>",
                esc(id),
                hex::encode(root)
            ))
            .unwrap_or_default()
    );
    let _ = write!(
        body,
        "<h2>Who holds which key</h2><p class=\"intro\">Each line is one X25519 DH output: Alice's private key with Bob's public key (Bob computes it the other way round).</p>{}",
        keys_svg(record)
    );
    let _ = write!(
        body,
        "<h2>HKDF input</h2><p class=\"intro\">IKM = F || DH outputs || SS, salt 32 zero bytes, info \"{}\".</p>{}",
        esc(&String::from_utf8_lossy(&record.info)),
        layout_svg(&record.ikm, "HKDF input layout")
    );
    let _ = write!(
        body,
        "<h2>The ratchet turning</h2><p class=\"intro\">Each reply brings a new ratchet key: the root chain advances and a new sending chain starts.</p>{}",
        ratchet_svg(record)
    );
    for m in &record.messages {
        let _ = write!(
            body,
            "<h2>Message {} on the wire</h2><p class=\"intro\">{} → {}, {} message, N={}, PN={}, {} bytes: “{}”. Hover a byte.</p>{}",
            m.number,
            m.from.name(),
            if m.from == Party::Alice {
                "Bob"
            } else {
                "Alice"
            },
            m.kind,
            m.counter,
            m.previous_counter,
            m.wire().len(),
            esc(&m.plaintext),
            byte_map(&m.fields)
        );
    }
    body.push_str("<h2>Delivery</h2><ul class=\"delivery\">");
    for d in &record.deliveries {
        let _ = write!(body, "<li>message {}: {}</li>", d.number, esc(&d.outcome));
    }
    body.push_str("</ul>");
    for section in record.sections() {
        let _ = write!(
            body,
            "<section id=\"step-{}\"><h2>{}</h2><p class=\"intro\">{}</p><table>",
            section.id,
            esc(&section.title),
            esc(&section.intro)
        );
        for row in &section.rows {
            let _ = write!(
                body,
                "<tr><td class=\"label\">{}</td><td>{}</td></tr>",
                esc(&row.label),
                value_cell(&row.value)
            );
        }
        body.push_str("</table></section>");
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>pqxdh explain: {}</title><style>{STYLE}</style></head><body><main>{body}<div class=\"explain-box\" id=\"explain-box\">Hover a byte of a message to see its field.</div></main><script>{SCRIPT}</script></body></html>\n",
        esc(&record.title)
    )
}

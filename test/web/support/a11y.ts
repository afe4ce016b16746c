/**
 * WCAG 2 contrast of every visible piece of text on a page (its color over the backgrounds it sits on, composited),
 * for the browser tests: readable in light and dark schemes is checked, not just looked at. 4.5:1 for text, 3:1
 * for large text (24px, or 18.66px bold); disabled controls, screen-reader-only text and the terminal (xterm's own
 * theme) are left out, as WCAG does for inactive components.
 */
import type { Page } from 'playwright-core';

export interface ContrastFailure {
  text: string;
  ratio: number;
  needed: number;
  color: string;
  background: string;
}

const CHECK = `(() => {
  const parse = (c) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c);
    if (!m) return { r: 0, g: 0, b: 0, a: 0 };
    const p = m[1].split(',').map((x) => parseFloat(x));
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const lum = (c) => {
    const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) layers.push(parse(getComputedStyle(e).backgroundColor));
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (const l of layers.reverse()) bg = over(l, bg);
    return bg;
  };
  const failures = [];
  const seen = new Set();
  for (const el of document.querySelectorAll('body *')) {
    if (seen.has(el) || el.closest('.xterm, .sr-only, [aria-hidden="true"]') || el.matches(':disabled')) continue;
    const own = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim()).join(' ').trim();
    if (!own) continue;
    const rect = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (rect.width === 0 || rect.height === 0 || style.visibility === 'hidden' || Number(style.opacity) === 0) continue;
    seen.add(el);
    const bg = background(el);
    const fg = over(parse(style.color), bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const needed = large ? 3 : 4.5;
    if (ratio < needed - 0.01)
      failures.push({ text: own.slice(0, 40), ratio: Math.round(ratio * 100) / 100, needed, color: style.color,
        background: 'rgb(' + [bg.r, bg.g, bg.b].map(Math.round).join(', ') + ')' });
  }
  return failures;
})()`;

export async function contrastFailures(page: Page): Promise<ContrastFailure[]> {
  return page.evaluate<ContrastFailure[]>(CHECK);
}

/**
 * Controls a screen reader could not name: every visible link, button, input, select and textarea needs a label
 * (a <label>, aria-label, aria-labelledby, title, or its own text, for links and buttons).
 */
export async function unlabeledControls(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(`(() => {
    const out = [];
    for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')) {
      if (el.closest('.xterm')) continue; // xterm's own helper textarea, labelled by the terminal's region
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      const byRef = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
        .map((id) => document.getElementById(id)?.textContent?.trim() || '').join('');
      const name = (el.getAttribute('aria-label') || '').trim() || byRef || (el.labels ? [...el.labels].map((l) => l.textContent.trim()).join('') : '')
        || (el.getAttribute('title') || '').trim() || (/^(A|BUTTON)$/.test(el.tagName) ? el.textContent.trim() : '');
      if (!name) out.push(el.outerHTML.slice(0, 120));
    }
    return out;
  })()`);
}

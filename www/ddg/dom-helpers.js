// Small DOM helpers the stage and the panels share: create SVG elements, and set an
// attribute, text or class only when it changed.

export const SVGNS = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs, parent) {
  const el = document.createElementNS(SVGNS, tag);
  for (const k in attrs) el.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(el);
  return el;
}
// setAttribute only when the value changed (keeps per-frame DOM work small).
export function set(el, name, value) {
  const cache = (el._c ??= {});
  if (cache[name] !== value) { cache[name] = value; el.setAttribute(name, value); }
}
export function setText(el, value) { if (el._t !== value) { el._t = value; el.textContent = value; } }
export function toggle(el, cls, on) { if (el.classList.contains(cls) !== on) el.classList.toggle(cls, on); }

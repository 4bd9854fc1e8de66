// Text the element shows or sends: speeds, virtual times, term colours in the log table,
// role names, and the percent-encoding that keys and values need in action text.

export const fmtSpeed = (s) => (s >= 10 ? s.toFixed(0) : s >= 1 ? s.toFixed(1) : s.toFixed(2)) + '×';
export const fmtTime = (ms) => (ms / 1000).toFixed(3) + ' s';
export const termColor = (t) => (t === 0 ? '#e9ecf1' : `hsl(${(t * 67 + 40) % 360} 70% 84%)`);
export const ROLE_TEXT = { follower: 'follower', pre_candidate: 'pre-candidate', candidate: 'candidate', leader: 'leader' };

// Keys and values in action text: percent-encoded like the Rust side expects.
export function enc(text) {
  const s = String(text);
  if (s === '') return '%';
  let out = '';
  for (const b of new TextEncoder().encode(s)) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9._~]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

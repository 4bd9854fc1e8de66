// URL state. With the `url-state` attribute the element keeps `#seed=S&nodes=N` in the
// address bar for a fresh run (plus `&compact=C` with log compaction on), and reads
// either that or a shared run on load:
//   #seed=42&nodes=5            a new run with these options
//   #seed=42&nodes=5&compact=10 the same, each node compacting every 10 applied entries
//   #run=<base64url of the scenario text>&t=<virtual ms>
// The run form is what Share (`el.shareUrl()`) writes: the recorded run (config line plus
// `MS ACTION` lines) and the moment to replay to. The format is part of the public API:
// links people have shared must keep working.

export function b64urlEncode(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
export function b64urlDecode(text) {
  const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

/**
 * Reads the state in `location.hash`: `{run, t}` for a shared run, otherwise
 * `{options: {seed?, nodes?, compactEvery?}}`. A damaged run link goes to `onError` and falls back to the
 * options form.
 */
export function readUrlState(onError) {
  const p = new URLSearchParams(location.hash.slice(1));
  try {
    if (p.has('run')) return { run: b64urlDecode(p.get('run')), t: Number(p.get('t') ?? 0) };
  } catch (e) {
    onError(new Error('the shared link is damaged: ' + e.message));
  }
  const options = {};
  if (p.has('seed')) options.seed = Number(p.get('seed'));
  if (p.has('nodes')) options.nodes = Number(p.get('nodes'));
  if (p.has('compact')) options.compactEvery = Number(p.get('compact'));
  return { options };
}

/** Writes a fresh run's options (`sim.config()`) to the address bar, without a history entry. */
export function writeUrlState(config) {
  const compact = config.compaction ? `&compact=${config.compaction.threshold}` : '';
  history.replaceState(null, '', `#seed=${config.seed}&nodes=${config.nodes}${compact}`);
}

/** A link to this page that replays `scenarioText` (`sim.scenario()`) to virtual time `time`. */
export function shareUrlFor(scenarioText, time) {
  const url = new URL(location.href);
  url.searchParams.delete('tour'); // else the link would open the tour, not this run
  url.hash = `run=${b64urlEncode(scenarioText)}&t=${time}`;
  return url.toString();
}

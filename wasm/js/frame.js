// Reads a frame packed by wasm/src/frame.rs (numbers in one Float64Array, strings in one
// text) back into the plain objects the page draws. Each read* function mirrors the
// pack_* function of the same name there, field for field: change both together.
// wasm-bindgen ships this file next to the module's glue (pkg/snippets/).

// `cache` is one Sim's own object (its `logs` are the log tails of its last frame).
const SAME_AS_BEFORE = -2;

export function decodeFrame(cache, nums, text) {
  let i = 0;
  let at = 0;
  const num = () => nums[i++];
  const opt = () => {
    const v = nums[i++];
    return v === v ? v : undefined; // NaN marks an absent number
  };
  const flag = () => nums[i++] !== 0;
  const str = () => {
    const n = nums[i++];
    const s = text.slice(at, at + n);
    at += n;
    return s;
  };
  const optStr = () => (nums[i] < 0 ? (i++, undefined) : str());
  const list = (read) => {
    const n = nums[i++];
    const out = new Array(n);
    for (let k = 0; k < n; k++) out[k] = read();
    return out;
  };
  const pair = () => [num(), num()];

  // An entry the last frame carried too comes back as the same object.
  const logs = new Map();
  const readLog = (id) => {
    const before = cache.logs?.get(id);
    const log = list(() => {
      const index = num();
      const term = num();
      if (nums[i] !== SAME_AS_BEFORE) return { index, term, label: str() };
      i++;
      const entry = before?.length ? before[index - before[0].index] : undefined;
      if (entry?.index !== index) throw new Error(`frame: node ${id} has no entry ${index} from before`);
      return entry;
    });
    logs.set(id, log);
    return log;
  };
  const readNode = (id = num()) => ({
    id,
    status: str(),
    member: flag(),
    role: optStr(),
    quorum: num(),
    goose: flag(),
    term: num(),
    voted_for: opt(),
    leader: opt(),
    commit_index: num(),
    applied_index: num(),
    last_index: num(),
    election_timer: flag() ? pair() : undefined,
    votes: list(() => [num(), flag()]),
    matched: list(pair),
    log: readLog(id),
    snapshot: flag() ? { index: num(), term: num(), bytes: num() } : undefined,
    receiving: flag() ? { index: num(), bytes: num() } : undefined,
    kv_len: num(),
    clock: num(),
    clock_rate: num(),
  });
  const readMessage = () => ({
    id: num(),
    from: num(),
    to: num(),
    kind: str(),
    term: num(),
    entries: num(),
    sent_at: num(),
    deliver_at: num(),
  });
  const readView = () => ({
    now: num(),
    nodes: list(readNode),
    messages: list(readMessage),
    cut: list(pair),
    goose: opt(),
    violations: list(() => ({ invariant: str(), detail: str() })),
    store: flag() ? { node: num(), len: num(), entries: list(() => [str(), str()]) } : undefined,
  });
  const readLine = () => ({
    at: num(),
    kind: str(),
    node: opt(),
    term: opt(),
    role: optStr(),
    reason: optStr(),
    text: str(),
  });
  const readAnswer = () => ({
    id: num(),
    node: num(),
    at: num(),
    ok: flag(),
    goose: opt(),
    duck: flag(),
    outcome: str(),
    fence: opt(),
    entry_term: opt(),
    leader: opt(),
    text: str(),
  });

  // Object literals evaluate their fields in order, which is the reading order.
  const frame = {
    view: readView(),
    lines: list(readLine),
    answers: list(readAnswer),
    zones: list(() => list(num)),
    carry: num(),
    horizon: num(),
    replaying: flag(),
    hash: str(),
  };
  cache.logs = logs;
  if (i !== nums.length || at !== text.length) {
    throw new Error(`frame: read ${i} of ${nums.length} numbers, ${at} of ${text.length} characters`);
  }
  return frame;
}

// What the JS still derives from the wasm view model by itself. Each helper is the one
// place to change once the view model carries the field: nothing else in www/ should
// compute a quorum or read meaning out of the English narration text.

/** The quorum of a cluster of `voters` voting members: a strict majority. */
export function quorumSize(voters) {
  // TODO(view-model): quorum from wasm
  return Math.floor(voters / 2) + 1;
}

/**
 * Whether the event-log line `line` (`{kind, text, node, term, ...}` from `frame.lines`)
 * says its node became `role`: 'candidate', 'pre-candidate' or 'follower' (becoming leader
 * has a line kind of its own, 'leader').
 */
export function isRoleChange(line, role) {
  // TODO(view-model): a structured role field on the line instead of matching its text
  return line.kind === 'role' && line.text.includes(`became ${role}`);
}

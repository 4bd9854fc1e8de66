// Reading the wasm view model. The page never computes protocol facts itself (a quorum,
// a role) nor reads meaning out of the English narration: Rust sends them as fields.

/** The votes or acknowledgements node view `n` needs: a majority of its own membership. */
export function quorumOf(n) {
  return n.quorum;
}

/**
 * Whether the event-log line `line` (`{kind, node, term, role, reason, text}` from
 * `frame.lines`) says its node became `role`: 'follower', 'pre_candidate' or 'candidate'
 * (becoming leader has a line kind of its own, 'leader').
 */
export function isRoleChange(line, role) {
  return line.kind === 'role' && line.role === role;
}

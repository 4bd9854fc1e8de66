// Clock drift in <duck-duck-goose>: every simulated node runs on a clock of its own, at a
// rate of real (virtual) time from 0.5× to 2× (`clock N RATE`, an ordinary recorded
// action, so a shared link or an exported run replays it). The node panel has a slider
// per node, the stage marks a node whose clock is not at 1×, and `el.setClockRate(node,
// rate)` does the same from a script. The rate itself comes from Rust with every frame
// (`view.nodes[i].clock_rate`, in thousandths; `clock`, what the node's clock reads:
// the stage draws election timers on it).
//
// ClockMethods is never instantiated: duck-duck-goose.js copies its methods onto the
// element, so `this` is the <duck-duck-goose> element.

/** `500` (thousandths) → `0.5×`. */
export const fmtRate = (permille) => `${permille / 1000}×`;

export class ClockMethods {
  /**
   * From now on, node `node`'s clock runs at `rate` times real time (0.5 to 2, at most
   * three decimals). Out of range or not a number: refused with a message, nothing recorded.
   */
  setClockRate(node, rate) {
    const r = Number(rate);
    // Three decimals at most, in the plain notation the run's text takes (no 1e-7).
    const text = Number.isFinite(r) && r >= 0.001 && r < 1e6 ? String(Math.round(r * 1000) / 1000) : String(rate);
    return this._act(`clock ${Number(node)} ${text}`);
  }

  // The node panel's clock row: a slider from 0.5× to 2× and what it shows, plus the
  // note on what trusts the clock and what does not.
  _clockRow(n) {
    const rate = n.clock_rate ?? 1000;
    return `
      <div class="row clockrow"><label>clock <input type="range" class="clock-rate" min="0.5" max="2" step="0.05"
        value="${rate / 1000}" aria-label="node ${n.id}'s clock rate"></label>
        <output class="clock-out">${fmtRate(rate)}</output></div>
      <div class="note clocknote">The goose shown on the stage trusts this clock: its lease assumes every
        clock runs at the same rate. <b>Goose?</b> trusts no clock, only a quorum round started
        after the question.</div>`;
  }

  // Slider events, delegated from the node panel: `input` shows the value while it moves
  // (and keeps the panel from being rebuilt under the pointer), `change` acts.
  _wireClocks() {
    const panel = this.ui.nodePanel;
    panel.addEventListener('input', (e) => {
      if (!e.target.matches?.('.clock-rate')) return;
      this._clockDragging = true;
      const out = panel.querySelector('.clock-out');
      if (out) out.textContent = fmtRate(Math.round(Number(e.target.value) * 1000));
    });
    panel.addEventListener('change', (e) => {
      if (!e.target.matches?.('.clock-rate')) return;
      this._clockDragging = false;
      if (this.selected != null) this.setClockRate(this.selected, e.target.value);
    });
  }
}

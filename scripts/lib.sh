# Shared by scripts/run and scripts/test: install helpers (each idempotent) and step timing.

STEP_LOG=()

step() {
  local name=$1; shift
  local start=$SECONDS
  echo "==> $name"
  "$@"
  STEP_LOG+=("$(printf '%5ss  %s' $((SECONDS - start)) "$name")")
}

summary() {
  echo "==> all steps passed"
  printf '%s\n' "${STEP_LOG[@]}"
}

ensure_rust() {
  command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
  fi
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
}

# The browser playground's tools (wasm-bindgen-cli, wasm-opt, chromium,
# playwright-core): installs what is missing and puts them on PATH.
ensure_web_tools() {
  scripts/ensure-web-tools.sh
  export PATH="$PWD/www/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
}

//! A run as short, readable text: one config line, then one action per line. What the
//! page puts (base64url-encoded) in a shareable URL, what `Sim.act` takes, and what the
//! native `replay` binary reads. Hand-written rather than serde, because a serde
//! deserializer for these enums would double the size of the wasm.
//!
//! ```text
//! duckgoose 1 nodes=5 seed=42 heartbeat=50 election=150-300 prevote=1 checkquorum=1 latency=10-15 loss=0 dup=0 timeout=1000
//! 1200 crash 3
//! 2500 partition 1,2/3,4,5
//! 2600 request 3 goose
//! 2700 request 1 put x 1
//! 4000 heal
//! ```
//!
//! Actions: `partition G/G/...` (a group is `1,2,3`, an empty one `-`), `link FROM TO
//! cut|ok`, `heal`, `crash N`, `restart N`, `pause N`, `resume N`, `add N`, `remove N`,
//! `transfer N`, `request N goose | get K | put K V | delete K | cas K EXPECTED V |
//! transfer N` (keys and values percent-encoded, `%` alone for empty, `-` for no
//! expected value), `network MIN-MAX LOSS_PPM DUP_PPM`, `linkfaults FROM TO MIN-MAX
//! LOSS_PPM DUP_PPM | reset`, `closed N PEER` (N hears its connection to PEER closed),
//! `clock N RATE` (N's clock runs at RATE× from now on, e.g. `clock 3 0.5`).
//! Config: `notices=0` turns off the connection-closed notices a crash sends;
//! `compact=THRESHOLD/PPM/CHUNK` turns on log compaction (`Compaction`: every THRESHOLD
//! applied entries, at random with PPM per million node events, InstallSnapshot chunks
//! of CHUNK bytes), e.g. `compact=20/0/16`; left out, nodes keep their whole logs.
//! `batch=N` caps the entries per Append (`Config::max_entries_per_message`; left out, 64).
//! `break=NAME` runs every node with a deliberately broken rule (`UnsafeVariant::name`,
//! e.g. `break=commit-earlier-term`); only builds with the `unsafe-variants` feature read
//! it, the others refuse the run.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::clock::{parse_rate, rate_text};
use crate::network::LinkFaults;
use crate::scenario::Scenario;
use crate::{Action, Compaction, SimConfig};
use duckgoose_core::{Millis, NodeId, Op, Request};

use crate::validate::{Invalid, MAX_ACTIONS};

const MAGIC: &str = "duckgoose 1";

fn bad<T>(what: impl core::fmt::Display) -> Result<T, Invalid> {
    Err(Invalid(what.to_string()))
}

fn num<T: core::str::FromStr>(what: &str, s: &str) -> Result<T, Invalid> {
    // Plain decimal digits only (no signs, no spaces): the format has one spelling.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 16 {
        return bad(format!("{what}: expected a whole number, got \"{s}\""));
    }
    s.parse()
        .or_else(|_| bad(format!("{what}: \"{s}\" is out of range")))
}

fn range(what: &str, s: &str) -> Result<(Millis, Millis), Invalid> {
    match s.split_once('-') {
        Some((a, b)) => Ok((num(what, a)?, num(what, b)?)),
        None => bad(format!("{what}: expected MIN-MAX, got \"{s}\"")),
    }
}

fn flag(what: &str, s: &str) -> Result<bool, Invalid> {
    match s {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => bad(format!("{what}: expected 0 or 1, got \"{s}\"")),
    }
}

/// Percent-encodes everything but `A-Z a-z 0-9 . _ ~` (so `-` alone means "none");
/// the empty string is `%`.
pub fn encode(s: &str) -> String {
    if s.is_empty() {
        return "%".into();
    }
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

pub fn decode(s: &str) -> Result<String, Invalid> {
    if s == "%" {
        return Ok(String::new());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => out.push(b),
                None => return bad(format!("bad percent-encoding in \"{s}\"")),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).or_else(|_| bad(format!("\"{s}\" is not UTF-8")))
}

/// A clock rate: `2`, `0.5`, `1.25` (range checked by `validate`).
fn rate_arg(s: &str) -> Result<u32, Invalid> {
    parse_rate(s).map_or_else(
        || {
            bad(format!(
                "clock rate: expected a number like 0.5, 1 or 2 (at most three decimals), got \"{s}\""
            ))
        },
        Ok,
    )
}

fn id(s: &str) -> Result<NodeId, Invalid> {
    num("node id", s)
}

fn ids(list: &[NodeId]) -> String {
    let parts: Vec<String> = list.iter().map(|id| id.to_string()).collect();
    parts.join(",")
}

fn faults_text(f: &LinkFaults) -> String {
    format!(
        "{}-{} {} {}",
        f.latency_min, f.latency_max, f.loss_ppm, f.duplicate_ppm
    )
}

fn parse_faults(words: &[&str]) -> Result<LinkFaults, Invalid> {
    let [lat, loss, dup] = words else {
        return bad("faults: expected MIN-MAX LOSS_PPM DUP_PPM");
    };
    let (latency_min, latency_max) = range("latency", lat)?;
    Ok(LinkFaults {
        latency_min,
        latency_max,
        loss_ppm: num("loss", loss)?,
        duplicate_ppm: num("duplication", dup)?,
    })
}

/// One action as text (without its time).
pub fn format_action(action: &Action) -> String {
    match action {
        Action::Partition { groups } => {
            let parts: Vec<String> = groups
                .iter()
                .map(|g| if g.is_empty() { "-".into() } else { ids(g) })
                .collect();
            if parts.is_empty() {
                "partition".into()
            } else {
                format!("partition {}", parts.join("/"))
            }
        }
        Action::Link {
            from,
            to,
            connected,
        } => format!("link {from} {to} {}", if *connected { "ok" } else { "cut" }),
        Action::Heal => "heal".into(),
        Action::Crash { node } => format!("crash {node}"),
        Action::Restart { node } => format!("restart {node}"),
        Action::Pause { node } => format!("pause {node}"),
        Action::Resume { node } => format!("resume {node}"),
        Action::AddNode { node } => format!("add {node}"),
        Action::RemoveNode { node } => format!("remove {node}"),
        Action::Transfer { to } => format!("transfer {to}"),
        Action::Request { node, request } => {
            let r = match request {
                Request::Goose => "goose".into(),
                Request::Kv(op) => op_text(op),
                Request::Transfer { to } => format!("transfer {to}"),
                // Refused by `check_action`; written so that parsing refuses it too.
                Request::AddMember(m) => format!("addmember {}", m.id),
                Request::RemoveMember(id) => format!("removemember {id}"),
            };
            format!("request {node} {r}")
        }
        Action::Network { faults } => format!("network {}", faults_text(faults)),
        Action::LinkFaults { from, to, faults } => match faults {
            Some(f) => format!("linkfaults {from} {to} {}", faults_text(f)),
            None => format!("linkfaults {from} {to} reset"),
        },
        Action::ConnectionClosed { node, peer } => format!("closed {node} {peer}"),
        Action::ClockRate { node, rate } => format!("clock {node} {}", rate_text(*rate)),
    }
}

fn op_text(op: &Op) -> String {
    match op {
        Op::Get { key } => format!("get {}", encode(key)),
        Op::Put { key, value } => format!("put {} {}", encode(key), encode(value)),
        Op::Delete { key } => format!("delete {}", encode(key)),
        Op::Cas {
            key,
            expected,
            value,
        } => format!(
            "cas {} {} {}",
            encode(key),
            expected.as_deref().map_or("-".into(), encode),
            encode(value)
        ),
        Op::Fenced { fence, op } => format!("fenced {fence} {}", op_text(op)),
    }
}

/// A key-value operation: `put K V`, `fenced TERM put K V`, ...
fn parse_op(kind: &str, rest: &[&str]) -> Result<Op, Invalid> {
    Ok(match (kind, rest) {
        ("get", [k]) => Op::Get { key: decode(k)? },
        ("delete", [k]) => Op::Delete { key: decode(k)? },
        ("put", [k, v]) => Op::Put {
            key: decode(k)?,
            value: decode(v)?,
        },
        ("cas", [k, e, v]) => Op::Cas {
            key: decode(k)?,
            expected: if *e == "-" { None } else { Some(decode(e)?) },
            value: decode(v)?,
        },
        ("fenced", [fence, inner, rest @ ..]) if *inner != "fenced" && *inner != "get" => {
            Op::Fenced {
                fence: num("fence", fence)?,
                op: Box::new(parse_op(inner, rest)?),
            }
        }
        _ => return bad(format!("request: unknown or malformed \"{kind}\"")),
    })
}

/// Parses one action (without a time), e.g. `crash 3` or `partition 1,2/3,4,5`.
pub fn parse_action(text: &str) -> Result<Action, Invalid> {
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let Some((&verb, args)) = words.split_first() else {
        return bad("empty action");
    };
    let one = |f: fn(NodeId) -> Action| match args {
        [n] => Ok(f(id(n)?)),
        _ => bad(format!("{verb}: expected one node id")),
    };
    match verb {
        "partition" => {
            let groups = match args {
                [] => Vec::new(),
                [g] => g
                    .split('/')
                    .map(|part| {
                        if part == "-" {
                            Ok(Vec::new())
                        } else {
                            part.split(',').map(id).collect()
                        }
                    })
                    .collect::<Result<_, _>>()?,
                _ => return bad("partition: expected groups like 1,2/3,4,5"),
            };
            Ok(Action::Partition { groups })
        }
        "link" => match args {
            [from, to, state @ ("cut" | "ok")] => Ok(Action::Link {
                from: id(from)?,
                to: id(to)?,
                connected: *state == "ok",
            }),
            _ => bad("link: expected FROM TO cut|ok"),
        },
        "heal" if args.is_empty() => Ok(Action::Heal),
        "crash" => one(|node| Action::Crash { node }),
        "restart" => one(|node| Action::Restart { node }),
        "pause" => one(|node| Action::Pause { node }),
        "resume" => one(|node| Action::Resume { node }),
        "add" => one(|node| Action::AddNode { node }),
        "remove" => one(|node| Action::RemoveNode { node }),
        "transfer" => one(|to| Action::Transfer { to }),
        "request" => {
            let [node, kind, rest @ ..] = args else {
                return bad("request: expected NODE KIND ...");
            };
            let request = match (*kind, rest) {
                ("goose", []) => Request::Goose,
                ("transfer", [to]) => Request::Transfer { to: id(to)? },
                _ => Request::Kv(parse_op(kind, rest)?),
            };
            Ok(Action::Request {
                node: id(node)?,
                request,
            })
        }
        "network" => Ok(Action::Network {
            faults: parse_faults(args)?,
        }),
        "linkfaults" => match args {
            [from, to, "reset"] => Ok(Action::LinkFaults {
                from: id(from)?,
                to: id(to)?,
                faults: None,
            }),
            [from, to, rest @ ..] => Ok(Action::LinkFaults {
                from: id(from)?,
                to: id(to)?,
                faults: Some(parse_faults(rest)?),
            }),
            _ => bad("linkfaults: expected FROM TO MIN-MAX LOSS DUP, or FROM TO reset"),
        },
        "closed" => match args {
            [node, peer] => Ok(Action::ConnectionClosed {
                node: id(node)?,
                peer: id(peer)?,
            }),
            _ => bad("closed: expected NODE PEER"),
        },
        "clock" => match args {
            [node, rate] => Ok(Action::ClockRate {
                node: id(node)?,
                rate: rate_arg(rate)?,
            }),
            _ => bad("clock: expected NODE RATE, e.g. clock 3 0.5"),
        },
        _ => bad(format!("unknown action \"{verb}\"")),
    }
}

pub fn format_config(c: &SimConfig) -> String {
    let mut line = format!(
        "{MAGIC} nodes={} seed={} heartbeat={} election={}-{} prevote={} checkquorum={} latency={}-{} loss={} dup={} timeout={} notices={}",
        c.nodes,
        c.seed,
        c.heartbeat_interval,
        c.election_timeout_min,
        c.election_timeout_max,
        u8::from(c.pre_vote),
        u8::from(c.check_quorum),
        c.network.latency_min,
        c.network.latency_max,
        c.network.loss_ppm,
        c.network.duplicate_ppm,
        c.request_timeout,
        u8::from(c.close_notices)
    );
    // Written only when set, so that lines of runs without them stay as they were.
    if let Some(lease) = c.goose_lease {
        let _ = write!(line, " lease={lease}");
    }
    if let Some(p) = c.compaction {
        let _ = write!(
            line,
            " compact={}/{}/{}",
            p.threshold, p.random_ppm, p.chunk_bytes
        );
    }
    if let Some(batch) = c.max_entries_per_message {
        let _ = write!(line, " batch={batch}");
    }
    #[cfg(feature = "unsafe-variants")]
    if let Some(v) = c.unsafe_variant {
        let _ = write!(line, " break={}", v.name());
    }
    line
}

#[cfg(feature = "unsafe-variants")]
fn set_unsafe_variant(c: &mut SimConfig, name: &str) -> Result<(), Invalid> {
    use duckgoose_core::UnsafeVariant;
    let Some(variant) = UnsafeVariant::named(name) else {
        let names: Vec<&str> = UnsafeVariant::ALL.iter().map(|v| v.name()).collect();
        return bad(format!(
            "break: unknown variant \"{name}\" (one of {})",
            names.join(", ")
        ));
    };
    c.unsafe_variant = Some(variant);
    Ok(())
}

#[cfg(not(feature = "unsafe-variants"))]
fn set_unsafe_variant(_: &mut SimConfig, name: &str) -> Result<(), Invalid> {
    bad(format!(
        "break={name}: this build runs only the real protocol (no unsafe variants)"
    ))
}

fn parse_compaction(v: &str) -> Result<Compaction, Invalid> {
    let parts: Vec<&str> = v.split('/').collect();
    let [threshold, ppm, chunk] = parts.as_slice() else {
        return bad(format!(
            "compact: expected THRESHOLD/PPM/CHUNK, got \"{v}\""
        ));
    };
    Ok(Compaction {
        threshold: num("compact threshold", threshold)?,
        random_ppm: num("compact ppm", ppm)?,
        chunk_bytes: num("compact chunk", chunk)?,
    })
}

/// Parses a config line; fields left out keep the paper's defaults (seed 0, 5 nodes).
pub fn parse_config(line: &str) -> Result<SimConfig, Invalid> {
    let Some(rest) = line.strip_prefix(MAGIC) else {
        return bad(format!("a run starts with \"{MAGIC}\""));
    };
    let mut c = SimConfig::new(5, 0);
    for field in rest.split_ascii_whitespace() {
        let Some((k, v)) = field.split_once('=') else {
            return bad(format!("expected key=value, got \"{field}\""));
        };
        match k {
            "nodes" => c.nodes = num(k, v)?,
            "seed" => c.seed = num(k, v)?,
            "heartbeat" => c.heartbeat_interval = num(k, v)?,
            "election" => (c.election_timeout_min, c.election_timeout_max) = range(k, v)?,
            "prevote" => c.pre_vote = flag(k, v)?,
            "checkquorum" => c.check_quorum = flag(k, v)?,
            "latency" => (c.network.latency_min, c.network.latency_max) = range(k, v)?,
            "loss" => c.network.loss_ppm = num(k, v)?,
            "dup" => c.network.duplicate_ppm = num(k, v)?,
            "timeout" => c.request_timeout = num(k, v)?,
            "notices" => c.close_notices = flag(k, v)?,
            "lease" => c.goose_lease = Some(num(k, v)?),
            "compact" => c.compaction = Some(parse_compaction(v)?),
            "batch" => c.max_entries_per_message = Some(num(k, v)?),
            "break" => set_unsafe_variant(&mut c, v)?,
            _ => return bad(format!("unknown setting \"{k}\"")),
        }
    }
    Ok(c)
}

pub fn format_scenario(s: &Scenario) -> String {
    let mut out = format_config(&s.config);
    for (at, action) in &s.actions {
        let _ = write!(out, "\n{at} {}", format_action(action));
    }
    out
}

/// Parses a whole run. Checks syntax only; `engine::check_scenario` checks the rest.
pub fn parse_scenario(text: &str) -> Result<Scenario, Invalid> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let config = parse_config(lines.next().unwrap_or(""))?;
    let mut actions = Vec::new();
    for (i, line) in lines.enumerate() {
        if actions.len() >= MAX_ACTIONS {
            return bad(format!("at most {MAX_ACTIONS} actions"));
        }
        let (at, action) = line.split_once(' ').unwrap_or((line, ""));
        let at: Millis = num("time", at).map_err(|e| Invalid(format!("line {}: {e}", i + 2)))?;
        let action = parse_action(action).map_err(|e| Invalid(format!("line {}: {e}", i + 2)))?;
        actions.push((at, action));
    }
    Ok(Scenario { config, actions })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use duckgoose_core::Member;

    fn all_actions() -> Vec<Action> {
        let f = LinkFaults {
            latency_min: 3,
            latency_max: 40,
            loss_ppm: 250_000,
            duplicate_ppm: 7,
        };
        vec![
            Action::Partition { groups: vec![] },
            Action::Partition {
                groups: vec![vec![]],
            },
            Action::Partition {
                groups: vec![vec![1, 2, 3], vec![], vec![4, 5]],
            },
            Action::Link {
                from: 1,
                to: 2,
                connected: false,
            },
            Action::Link {
                from: 2,
                to: 1,
                connected: true,
            },
            Action::Heal,
            Action::Crash { node: 3 },
            Action::Restart { node: 3 },
            Action::Pause { node: 9 },
            Action::Resume { node: 9 },
            Action::AddNode { node: 6 },
            Action::RemoveNode { node: 2 },
            Action::Transfer { to: 4 },
            Action::Request {
                node: 1,
                request: Request::Goose,
            },
            Action::Request {
                node: 1,
                request: Request::Kv(Op::Put {
                    key: "a key/with spaces".into(),
                    value: String::new(),
                }),
            },
            Action::Request {
                node: 1,
                request: Request::Kv(Op::Get { key: "ü%".into() }),
            },
            Action::Request {
                node: 1,
                request: Request::Kv(Op::Delete { key: "-".into() }),
            },
            Action::Request {
                node: 1,
                request: Request::Kv(Op::Cas {
                    key: "k".into(),
                    expected: None,
                    value: "v".into(),
                }),
            },
            Action::Request {
                node: 1,
                request: Request::Kv(Op::Cas {
                    key: "k".into(),
                    expected: Some("-".into()),
                    value: "v".into(),
                }),
            },
            Action::Request {
                node: 1,
                request: Request::Transfer { to: 2 },
            },
            Action::Network { faults: f },
            Action::LinkFaults {
                from: 1,
                to: 2,
                faults: Some(f),
            },
            Action::LinkFaults {
                from: 1,
                to: 2,
                faults: None,
            },
            Action::ConnectionClosed { node: 2, peer: 1 },
            Action::ClockRate { node: 3, rate: 500 },
            Action::ClockRate {
                node: 1,
                rate: 1_250,
            },
            Action::ClockRate {
                node: 9,
                rate: 2_000,
            },
        ]
    }

    #[test]
    fn actions_round_trip() {
        for a in all_actions() {
            let text = format_action(&a);
            assert_eq!(parse_action(&text).as_ref(), Ok(&a), "{text}");
        }
    }

    #[test]
    fn scenarios_round_trip() {
        let mut config = SimConfig::raftscope(7, 123_456);
        config.pre_vote = false;
        config.network.loss_ppm = 10;
        config.close_notices = false;
        let s = Scenario {
            config,
            actions: all_actions()
                .into_iter()
                .enumerate()
                .map(|(i, a)| (i as u64 * 100, a))
                .collect(),
        };
        let text = format_scenario(&s);
        assert!(!text.contains("compact="), "written only when on: {text}");
        assert!(!text.contains("lease="), "written only when set: {text}");
        assert!(!text.contains("batch="), "written only when set: {text}");
        assert_eq!(parse_scenario(&text), Ok(s.clone()));
        let compacting = Scenario {
            config: SimConfig {
                compaction: Some(Compaction {
                    threshold: 20,
                    random_ppm: 5,
                    chunk_bytes: 16,
                }),
                goose_lease: Some(75),
                max_entries_per_message: Some(1),
                ..s.config
            },
            actions: s.actions,
        };
        let text = format_scenario(&compacting);
        assert!(text.contains(" compact=20/5/16"), "{text}");
        assert!(text.contains(" lease=75"), "{text}");
        assert!(text.contains(" batch=1"), "{text}");
        assert!(text.contains("\n2400 clock 3 0.5\n"), "{text}");
        assert_eq!(parse_scenario(&text), Ok(compacting));
    }

    #[cfg(feature = "unsafe-variants")]
    #[test]
    fn unsafe_variants_round_trip_by_name() {
        use duckgoose_core::UnsafeVariant;
        for variant in UnsafeVariant::ALL {
            let s = Scenario {
                config: SimConfig {
                    unsafe_variant: Some(variant),
                    ..SimConfig::raftscope(5, 9)
                },
                actions: vec![(100, Action::Crash { node: 2 })],
            };
            let text = format_scenario(&s);
            assert!(
                text.lines()
                    .next()
                    .unwrap()
                    .ends_with(&format!(" break={}", variant.name())),
                "{text}"
            );
            assert_eq!(parse_scenario(&text), Ok(s));
        }
        let plain = format_scenario(&Scenario::new(SimConfig::new(5, 1)));
        assert!(!plain.contains("break="), "written only when set: {plain}");
        let refused = parse_config("duckgoose 1 break=commit-by-count")
            .unwrap_err()
            .0;
        assert!(
            refused.starts_with("break: unknown variant \"commit-by-count\" (one of commit-earlier-term, grant-two-votes,"),
            "{refused}"
        );
    }

    #[cfg(not(feature = "unsafe-variants"))]
    #[test]
    fn without_the_feature_a_broken_run_is_refused() {
        let refused = parse_config("duckgoose 1 break=grant-two-votes")
            .unwrap_err()
            .0;
        assert!(refused.contains("only the real protocol"), "{refused}");
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            "",
            "crash",
            "crash -1",
            "crash 1 2",
            "crash x",
            "crash 99999999999999999999",
            "link 1 2 maybe",
            "partition 1,,2",
            "request 1 put k",
            "request 1 addmember 4",
            "network 10 0 0",
            "heal now",
            "fly 3",
            "closed 2",
            "closed 2 x",
            "request 1 get %zz",
            "clock 3",
            "clock 3 fast",
            "clock 3 -1",
            "clock 3 0.0005",
            "clock x 1",
            "clock 3 1 2",
        ] {
            assert!(parse_action(bad).is_err(), "{bad:?}");
        }
        assert!(parse_scenario("hello").is_err());
        assert!(parse_scenario("duckgoose 1 nodes=5\nnot-a-time crash 1").is_err());
        assert!(parse_scenario("duckgoose 1 colour=blue").is_err());
        assert!(parse_scenario("duckgoose 1 compact=20").is_err());
        assert!(parse_scenario("duckgoose 1 compact=20/0/x").is_err());
        // Membership requests are written but never read back.
        let text = format_action(&Action::Request {
            node: 1,
            request: Request::AddMember(Member::new(4, "")),
        });
        assert!(parse_action(&text).is_err());
    }
}

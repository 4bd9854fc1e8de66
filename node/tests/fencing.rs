//! Fencing tokens with real processes: every goose answer carries `Duckgoose-Fence`, and
//! a write with `If-Fence` is refused with 412 once a newer leadership exists, while the
//! same write without a fence would have gone through.

use std::time::Duration;

use duckgoose_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");

fn fence_of(cluster: &Cluster, id: u64) -> Option<u64> {
    let r = cluster
        .request(id, "GET", "/goose", &[], b"", Duration::from_secs(2))
        .ok()?;
    (r.status == 200).then(|| r.header("duckgoose-fence")?.parse().ok())?
}

fn fenced_put(cluster: &Cluster, id: u64, key: &str, value: &str, fence: &str) -> Resp {
    let auth = cluster.auth();
    let mut headers: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
    headers.push(("If-Fence", fence));
    cluster
        .request(
            id,
            "PUT",
            &format!("/kv/{key}"),
            &headers,
            value.as_bytes(),
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("put on {id}: {e}"))
}

fn get(cluster: &Cluster, id: u64, key: &str) -> String {
    cluster
        .call(id, "GET", &format!("/kv/{key}"), "")
        .unwrap()
        .body
}

#[test]
fn a_paused_ex_goose_fence_is_refused_where_an_unfenced_write_goes_through() {
    let mut cluster = Cluster::start(BIN, "fencing", 3, Opts::default());
    let all = cluster.ids();
    let old_goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let old_fence = fence_of(&cluster, old_goose).expect("a goose answer carries a fence");

    // Every goose answer carries the same token: /role, and /status's JSON.
    let role = cluster
        .request(old_goose, "GET", "/role", &[], b"", Duration::from_secs(2))
        .unwrap();
    assert_eq!(
        role.header("duckgoose-fence"),
        Some(&*old_fence.to_string())
    );
    let status = cluster.status(old_goose).unwrap();
    assert_eq!(status["fence"].as_u64(), Some(old_fence), "{status}");

    // The current fence is accepted; a malformed one is a 400 and changes nothing.
    let r = fenced_put(&cluster, old_goose, "job", "by-old", &old_fence.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let r = fenced_put(&cluster, old_goose, "job", "garbage", "soon");
    assert_eq!(r.status, 400, "{}", r.body);
    // A fence no leadership has had yet is refused too: only the exact term passes.
    let r = fenced_put(
        &cluster,
        old_goose,
        "job",
        "early",
        &(old_fence + 1).to_string(),
    );
    assert_eq!(r.status, 412, "{}", r.body);
    assert_eq!(get(&cluster, old_goose, "job"), "by-old");

    // Pause the goose (SIGSTOP): its program still holds the old fence.
    cluster.pause(old_goose).unwrap();
    let rest: Vec<u64> = all.iter().copied().filter(|&id| id != old_goose).collect();
    let new_goose = cluster.wait_one_goose(&rest, Duration::from_secs(10));
    let new_fence = fence_of(&cluster, new_goose).expect("the new goose's fence");
    assert!(new_fence > old_fence, "{new_fence} > {old_fence}");
    cluster.resume(old_goose).unwrap();

    // The ex-goose's program writes with its old fence: refused, with a reason.
    let r = fenced_put(&cluster, new_goose, "job", "by-ex", &old_fence.to_string());
    assert_eq!(r.status, 412, "{}", r.body);
    let body = r.json();
    assert_eq!(body["error"], "stale_fence", "{body}");
    assert_eq!(body["fence"].as_u64(), Some(old_fence));
    assert_eq!(body["current"].as_u64(), Some(new_fence));
    assert_eq!(get(&cluster, new_goose, "job"), "by-old");
    // Sent to the ex-goose itself, now a duck: a redirect, nothing written there.
    let r = wait_for(
        "the ex-goose to learn it is a duck",
        Duration::from_secs(10),
        || {
            let r = fenced_put(&cluster, old_goose, "job", "by-ex", &old_fence.to_string());
            (r.status == 307).then_some(r)
        },
    );
    assert!(r.header("location").is_some());
    // The same write without a fence would have gone through: that is what fencing stops.
    let r = cluster.put(new_goose, "job-unfenced", "by-ex").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    // The new leadership's fence is accepted.
    let r = fenced_put(&cluster, new_goose, "job", "by-new", &new_fence.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(get(&cluster, new_goose, "job"), "by-new");
}

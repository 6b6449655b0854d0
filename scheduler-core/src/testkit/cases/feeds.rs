//! Calendar-feed tokens: stored once per id, scoped to their provider,
//! listed oldest first, revoked once and for good, and checked by digest.

use std::sync::Arc;

use chrono::TimeDelta;
use tokio::sync::Barrier;

use crate::error::Error;
use crate::ids::FeedTokenId;
use crate::store::Store;
use crate::testkit::Harness;

fn id(name: &str) -> FeedTokenId {
    FeedTokenId::new(name).expect("a valid token id")
}

pub(super) async fn issued_token_is_checked_by_provider_and_digest<S: Store>(h: Harness<S>) {
    let (p, q) = (h.provider("p"), h.provider("q"));
    let t = id("t1");
    let issued = h.scheduler.issue_feed_token(&p, &t, "d1").await.unwrap();
    assert_eq!((issued.created_at, issued.revoked_at), (h.now(), None));
    assert_eq!(
        h.scheduler.store().feed_token(&t).await.unwrap(),
        Some(issued),
        "the token reads back as issued"
    );
    h.scheduler.check_feed_token(&p, &t, "d1").await.unwrap();
    expect_err!(
        h.scheduler.check_feed_token(&p, &t, "d2").await,
        Error::FeedTokenNotFound { .. },
        "another digest"
    );
    expect_err!(
        h.scheduler.check_feed_token(&q, &t, "d1").await,
        Error::FeedTokenNotFound { .. },
        "another provider's feed"
    );
    expect_err!(
        h.scheduler.check_feed_token(&p, &id("t2"), "d1").await,
        Error::FeedTokenNotFound { .. },
        "an unknown id"
    );
}

pub(super) async fn a_token_id_is_issued_once<S: Store>(h: Harness<S>) {
    let (p, q) = (h.provider("p"), h.provider("q"));
    let t = id("same");
    h.scheduler.issue_feed_token(&p, &t, "d1").await.unwrap();
    for (provider, digest) in [(&p, "d2"), (&q, "d3")] {
        expect_err!(
            h.scheduler.issue_feed_token(provider, &t, digest).await,
            Error::InvalidId {
                field: "tokenId",
                ..
            },
            "reusing the id for {provider}"
        );
    }
    let stored = h.scheduler.store().feed_token(&t).await.unwrap().unwrap();
    assert_eq!((stored.provider, stored.digest.as_str()), (p, "d1"));
    assert!(h.scheduler.feed_tokens(&q).await.unwrap().is_empty());
}

pub(super) async fn tokens_list_oldest_first_per_provider<S: Store>(h: Harness<S>) {
    let (p, q) = (h.provider("p"), h.provider("q"));
    // Same instant for b and a: the id breaks the tie.
    h.scheduler
        .issue_feed_token(&p, &id("c"), "x")
        .await
        .unwrap();
    h.advance(TimeDelta::seconds(1));
    h.scheduler
        .issue_feed_token(&p, &id("b"), "x")
        .await
        .unwrap();
    h.scheduler
        .issue_feed_token(&p, &id("a"), "x")
        .await
        .unwrap();
    h.scheduler
        .issue_feed_token(&q, &id("z"), "x")
        .await
        .unwrap();
    let listed: Vec<String> = h
        .scheduler
        .feed_tokens(&p)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id.to_string())
        .collect();
    assert_eq!(listed, ["c", "a", "b"]);
}

pub(super) async fn revoked_token_stops_working_and_keeps_its_first_instant<S: Store>(
    h: Harness<S>,
) {
    let (p, q) = (h.provider("p"), h.provider("q"));
    let t = id("t");
    h.scheduler.issue_feed_token(&p, &t, "d").await.unwrap();
    expect_err!(
        h.scheduler.revoke_feed_token(&q, &t).await,
        Error::FeedTokenNotFound { .. },
        "another provider cannot revoke it"
    );
    h.scheduler.check_feed_token(&p, &t, "d").await.unwrap();

    h.advance(TimeDelta::seconds(5));
    let revoked_at = h.now();
    let revoked = h.scheduler.revoke_feed_token(&p, &t).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(revoked_at));
    expect_err!(
        h.scheduler.check_feed_token(&p, &t, "d").await,
        Error::FeedTokenNotFound { .. },
        "the instant it is revoked"
    );

    h.advance(TimeDelta::seconds(5));
    let again = h.scheduler.revoke_feed_token(&p, &t).await.unwrap();
    assert_eq!(
        again.revoked_at,
        Some(revoked_at),
        "the first revocation stays"
    );
    let listed = h.scheduler.feed_tokens(&p).await.unwrap();
    assert_eq!(listed, [again], "a revoked token is still listed");
    expect_err!(
        h.scheduler.revoke_feed_token(&p, &id("never")).await,
        Error::FeedTokenNotFound { .. },
        "an unknown id"
    );
}

pub(super) async fn concurrent_issues_of_one_id_store_one<S: Store + 'static>(h: Harness<S>) {
    const RACERS: usize = 16;
    let h = Arc::new(h);
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|n| {
            let (h, barrier) = (Arc::clone(&h), Arc::clone(&barrier));
            tokio::spawn(async move {
                let provider = h.provider(&format!("p{n}"));
                barrier.wait().await;
                h.scheduler
                    .issue_feed_token(&provider, &id("contested"), format!("d{n}"))
                    .await
                    .is_ok()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (n, task) in tasks.into_iter().enumerate() {
        if task.await.unwrap() {
            winners.push(n);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one issue of the id succeeds");
    let stored = h.scheduler.store().feed_token(&id("contested")).await;
    let stored = stored.unwrap().expect("the winner's token is stored");
    let winner = winners[0];
    assert_eq!(
        (stored.provider, stored.digest),
        (h.provider(&format!("p{winner}")), format!("d{winner}")),
        "the stored token is the winner's"
    );
}

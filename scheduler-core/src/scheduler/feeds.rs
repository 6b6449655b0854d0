//! Calendar-feed tokens: issued, listed, revoked and checked per provider.
//!
//! A feed token is what a calendar application puts in a feed's URL, since it
//! cannot send a bearer token. The caller makes the secret and its digest (the
//! core has no cryptography); the scheduler stores the digest with the
//! provider it is scoped to, and checks a presented digest against it.

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::{FeedTokenId, ProviderId};
use crate::store::{FeedToken, Store};

use super::Scheduler;

impl<S: Store, C: Clock> Scheduler<S, C> {
    /// Stores a new feed token for `provider`: `id` is its public name,
    /// `digest` a digest of the secret handed to the provider.
    ///
    /// Refuses an id already used by any token (`invalid_id`, field `tokenId`).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use chrono::{TimeZone, Utc};
    /// use scheduler_core::*;
    /// use scheduler_memory::MemoryStore;
    ///
    /// let clock = ManualClock::new(Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap());
    /// let scheduler = Scheduler::new(MemoryStore::default(), clock, Policy::default());
    /// let provider = ProviderId::new("dr-who").unwrap();
    /// let id = FeedTokenId::new("t1").unwrap();
    ///
    /// scheduler.issue_feed_token(&provider, &id, "digest-of-secret").await.unwrap();
    /// assert!(scheduler.check_feed_token(&provider, &id, "digest-of-secret").await.is_ok());
    /// assert!(scheduler.check_feed_token(&provider, &id, "another digest").await.is_err());
    ///
    /// scheduler.revoke_feed_token(&provider, &id).await.unwrap();
    /// let err = scheduler.check_feed_token(&provider, &id, "digest-of-secret").await.unwrap_err();
    /// assert_eq!(err.code(), "feed_token_not_found");
    /// # });
    /// ```
    pub async fn issue_feed_token(
        &self,
        provider: &ProviderId,
        id: &FeedTokenId,
        digest: impl Into<String>,
    ) -> Result<FeedToken> {
        let token = FeedToken {
            id: id.clone(),
            provider: provider.clone(),
            digest: digest.into(),
            created_at: self.now(),
            revoked_at: None,
        };
        if token.digest.is_empty() {
            return Err(Error::InvalidId {
                field: "digest",
                rule: "must not be empty",
            });
        }
        if !self.store.put_feed_token(&token).await? {
            return Err(Error::InvalidId {
                field: "tokenId",
                rule: "is already used by another feed token",
            });
        }
        Ok(token)
    }

    /// Every feed token of `provider`, revoked ones included, oldest first.
    pub async fn feed_tokens(&self, provider: &ProviderId) -> Result<Vec<FeedToken>> {
        self.store.feed_tokens(provider).await
    }

    /// Revokes `provider`'s token `id` from now on; revoking it again changes
    /// nothing. Fails with `feed_token_not_found` if `provider` has no such token.
    pub async fn revoke_feed_token(
        &self,
        provider: &ProviderId,
        id: &FeedTokenId,
    ) -> Result<FeedToken> {
        self.store
            .revoke_feed_token(provider, id, self.now())
            .await?
            .ok_or_else(|| not_found(provider, id))
    }

    /// Succeeds when `id` names an unrevoked token of `provider` whose digest
    /// is `digest`. Every other case fails alike with `feed_token_not_found`,
    /// so a caller learns nothing about other providers' tokens.
    pub async fn check_feed_token(
        &self,
        provider: &ProviderId,
        id: &FeedTokenId,
        digest: &str,
    ) -> Result<()> {
        match self.store.feed_token(id).await? {
            Some(token)
                if token.provider == *provider
                    && token.revoked_at.is_none()
                    && token.digest == digest =>
            {
                Ok(())
            }
            _ => Err(not_found(provider, id)),
        }
    }
}

fn not_found(provider: &ProviderId, id: &FeedTokenId) -> Error {
    Error::FeedTokenNotFound {
        provider: provider.clone(),
        token: id.to_string(),
    }
}

//! Calendar-feed tokens, by id and by provider.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use scheduler_core::store::FeedToken;
use scheduler_core::{FeedTokenId, ProviderId};

#[derive(Debug, Default)]
pub(crate) struct FeedTokens {
    by_id: HashMap<FeedTokenId, FeedToken>,
    /// Each provider's tokens as `(created_at, id)`: the listing order.
    by_provider: HashMap<ProviderId, BTreeSet<(DateTime<Utc>, FeedTokenId)>>,
}

impl FeedTokens {
    /// Stores `token` unless its id is taken; returns whether it was stored.
    pub(crate) fn put(&mut self, token: &FeedToken) -> bool {
        if self.by_id.contains_key(&token.id) {
            return false;
        }
        self.by_id.insert(token.id.clone(), token.clone());
        self.by_provider
            .entry(token.provider.clone())
            .or_default()
            .insert((token.created_at, token.id.clone()));
        true
    }

    pub(crate) fn get(&self, id: &FeedTokenId) -> Option<&FeedToken> {
        self.by_id.get(id)
    }

    pub(crate) fn of(&self, provider: &ProviderId) -> Vec<FeedToken> {
        self.by_provider
            .get(provider)
            .into_iter()
            .flatten()
            .filter_map(|(_, id)| self.by_id.get(id).cloned())
            .collect()
    }

    /// Marks `provider`'s token `id` revoked at `now` unless it already is.
    pub(crate) fn revoke(
        &mut self,
        provider: &ProviderId,
        id: &FeedTokenId,
        now: DateTime<Utc>,
    ) -> Option<FeedToken> {
        let token = self.by_id.get_mut(id).filter(|t| t.provider == *provider)?;
        token.revoked_at.get_or_insert(now);
        Some(token.clone())
    }
}

//! [`ServiceStore`] for [`MemoryStore`]: each provider's services, by id.

use std::collections::{BTreeMap, HashMap};
use std::sync::PoisonError;

use async_trait::async_trait;
use scheduler_core::store::ServiceStore;
use scheduler_core::{ProviderId, Result, Service, ServiceId};

use crate::MemoryStore;

/// Each provider's services, ordered by id.
pub(crate) type Services = HashMap<ProviderId, BTreeMap<ServiceId, Service>>;

#[async_trait]
impl ServiceStore for MemoryStore {
    async fn put_service(&self, service: &Service) -> Result<bool> {
        let mut services = self
            .services
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let replaced = services
            .entry(service.provider_id.clone())
            .or_default()
            .insert(service.id.clone(), service.clone());
        Ok(replaced.is_none())
    }

    async fn service(&self, provider: &ProviderId, id: &ServiceId) -> Result<Option<Service>> {
        let services = self.services.read().unwrap_or_else(PoisonError::into_inner);
        Ok(services.get(provider).and_then(|of| of.get(id)).cloned())
    }

    async fn services(&self, provider: &ProviderId) -> Result<Vec<Service>> {
        let services = self.services.read().unwrap_or_else(PoisonError::into_inner);
        Ok(services
            .get(provider)
            .map(|of| of.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn delete_service(&self, provider: &ProviderId, id: &ServiceId) -> Result<bool> {
        let mut services = self
            .services
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(services
            .get_mut(provider)
            .is_some_and(|of| of.remove(id).is_some()))
    }
}

//! [`ServiceStore`]: each provider's services, the kinds of appointment it offers.

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{ProviderId, ServiceId};
use crate::service::Service;

/// Each provider's services, keyed by `(provider, id)`.
///
/// Reservations keep their own spans, so nothing here touches them: editing
/// or deleting a service never moves a booking.
#[async_trait]
pub trait ServiceStore: Send + Sync {
    /// Stores `service` under its provider and id, replacing any service
    /// stored there; `true` if there was none.
    async fn put_service(&self, service: &Service) -> Result<bool>;

    /// The provider's service with this id.
    async fn service(&self, provider: &ProviderId, id: &ServiceId) -> Result<Option<Service>>;

    /// The provider's services, ascending by id.
    async fn services(&self, provider: &ProviderId) -> Result<Vec<Service>>;

    /// Removes the provider's service with this id; `true` if there was one.
    async fn delete_service(&self, provider: &ProviderId, id: &ServiceId) -> Result<bool>;
}

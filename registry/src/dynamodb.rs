//! DynamoDB backend (placeholder until implemented).
use crate::error::{RegistryError, Result};

pub struct DynamoStore;

impl DynamoStore {
    pub async fn connect(_table: &str, _region: Option<String>) -> Result<Self> {
        Err(RegistryError::Backend("dynamodb backend not implemented yet".into()))
    }
}

fn todo<T>() -> Result<T> {
    Err(RegistryError::Backend("not implemented yet".into()))
}

#[async_trait::async_trait]
impl crate::Store for DynamoStore {
    async fn init(&self) -> Result<()> { todo() }
    async fn insert_application(&self, _: &crate::Application) -> Result<()> { todo() }
    async fn replace_application(&self, _: &crate::Application, _: u64) -> Result<()> { todo() }
    async fn remove_application(&self, _: &str, _: Option<u64>) -> Result<()> { todo() }
    async fn get_application(&self, _: &str) -> Result<Option<crate::Application>> { todo() }
    async fn list_applications(&self) -> Result<Vec<crate::Application>> { todo() }
    async fn insert_tenant(&self, _: &crate::Tenant) -> Result<()> { todo() }
    async fn replace_tenant(&self, _: &crate::Tenant, _: u64) -> Result<()> { todo() }
    async fn remove_tenant(&self, _: &str, _: Option<u64>) -> Result<()> { todo() }
    async fn get_tenant(&self, _: &str) -> Result<Option<crate::Tenant>> { todo() }
    async fn list_tenants(&self, _: &crate::TenantFilter) -> Result<Vec<crate::Tenant>> { todo() }
}

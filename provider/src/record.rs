//! What the resources and data sources share: the CRUD flow of a registry
//! record managed as a Terraform resource, and the outcome of a data-source
//! read. Each `resource_*.rs` / `data_source_*.rs` keeps only its state,
//! schema, conversions and the kind-specific registry calls.

use async_trait::async_trait;
use saas_registry::{RecordKind, RecordMeta, Registry, RegistryError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tf_provider::schema::Schema;
use tf_provider::value::ValueEmpty;
use tf_provider::{AttributePath, DataSource, Diagnostics, Resource};

use crate::convert::{
    check_absent, deleted, imported, known_str, refreshed, report, reported, MetaValues,
    RecordState, SharedRegistry, StringValue,
};

/// One kind of registry record, managed as a resource: its schema, state
/// conversions, plan-time rules and registry calls.
#[async_trait]
pub trait ManagedRecord: Send + Sync {
    /// The registry record.
    type Record: Send + Sync;
    /// The resource's Terraform state.
    type State: RecordState + Default + Serialize + DeserializeOwned + Send + Sync;

    const KIND: RecordKind;
    /// The attribute that identifies the record; changing it replaces it.
    const ID: &'static str;

    fn schema(&self) -> Schema;
    /// The identifying attribute's value.
    fn id<'s>(&self, state: &'s Self::State) -> &'s StringValue;
    /// Checks every known value; returns whether all passed.
    fn check_values(&self, state: &Self::State, diags: &mut Diagnostics) -> bool;
    /// The planned settings: the proposal with the defaults of `config`.
    fn plan_settings(&self, proposed: Self::State, config: &Self::State) -> Self::State;
    /// Marks what stays unknown until the record is (re)created.
    fn mark_new(&self, _planned: &mut Self::State) {}
    /// State for `record`, keeping null where `prior` had null.
    fn to_state(&self, record: &Self::Record, prior: &Self::State) -> Self::State;
    /// The record to write; every value is known by apply time.
    fn to_record(&self, state: &Self::State, diags: &mut Diagnostics) -> Option<Self::Record>;
    fn set_record_meta(&self, record: &mut Self::Record, meta: RecordMeta);
    /// Plan-time checks shared by create and update.
    async fn check_plan(&self, registry: &Registry, diags: &mut Diagnostics, planned: &Self::State);

    async fn get(
        &self,
        registry: &Registry,
        id: &str,
    ) -> saas_registry::Result<Option<Self::Record>>;
    async fn create(
        &self,
        registry: &Registry,
        record: &Self::Record,
    ) -> saas_registry::Result<Self::Record>;
    async fn update(
        &self,
        registry: &Registry,
        record: &Self::Record,
    ) -> saas_registry::Result<Self::Record>;
    async fn delete(
        &self,
        registry: &Registry,
        id: &str,
        version: Option<u64>,
    ) -> saas_registry::Result<()>;
}

/// A `ManagedRecord` as a Terraform resource.
#[derive(Debug, Clone)]
pub struct RecordResource<K> {
    registry: SharedRegistry,
    kind: K,
}

impl<K: ManagedRecord + Default> RecordResource<K> {
    pub fn new(registry: SharedRegistry) -> Self {
        RecordResource {
            registry,
            kind: K::default(),
        }
    }
}

impl<K: ManagedRecord> RecordResource<K> {
    async fn check_plan(&self, diags: &mut Diagnostics, planned: &K::State) -> Option<()> {
        let registry = self.registry.get(diags)?;
        self.kind.check_plan(registry, diags, planned).await;
        Some(())
    }
}

#[async_trait]
impl<K: ManagedRecord> Resource for RecordResource<K> {
    type State<'a> = K::State;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(self.kind.schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        self.kind.check_values(&config, diags);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let registry = self.registry.get(diags);
        let (Some(registry), Some(id)) = (registry, known_str(self.kind.id(&state))) else {
            return Some((state, private_state));
        };
        let result = self.kind.get(registry, id).await;
        let fresh = refreshed(diags, result, state, |r, p| self.kind.to_state(r, p))?;
        Some((fresh, private_state))
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed_state: Self::State<'a>,
        config_state: Self::State<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let mut planned = self.kind.plan_settings(proposed_state, &config_state);
        self.kind.mark_new(&mut planned);
        planned.set_meta(MetaValues::unknown());
        self.check_plan(diags, &planned).await?;
        if let (Some(registry), Some(id)) =
            (self.registry.get(diags), known_str(self.kind.id(&planned)))
        {
            let existing = self.kind.get(registry, id).await;
            check_absent(diags, K::KIND, id, K::ID, existing);
        }
        Some((planned, ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: Self::State<'a>,
        proposed_state: Self::State<'a>,
        config_state: Self::State<'a>,
        prior_private_state: Self::PrivateState<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        let mut planned = self.kind.plan_settings(proposed_state, &config_state);
        let replaced = self.kind.id(&planned) != self.kind.id(&prior_state);
        planned.plan_meta(&prior_state, replaced);
        let mut replace = Vec::new();
        if replaced {
            self.kind.mark_new(&mut planned);
            replace.push(AttributePath::new(K::ID));
        }
        self.check_plan(diags, &planned).await?;
        Some((planned, prior_private_state, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior_state: Self::State<'a>,
        prior_private_state: Self::PrivateState<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
        Some(prior_private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned_state: Self::State<'a>,
        _config_state: Self::State<'a>,
        planned_private_state: Self::PrivateState<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let registry = self.registry.get(diags)?;
        let record = self.kind.to_record(&planned_state, diags)?;
        let created = reported(diags, self.kind.create(registry, &record).await)?;
        let state = self.kind.to_state(&created, &planned_state);
        Some((state, planned_private_state))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: Self::State<'a>,
        planned_state: Self::State<'a>,
        _config_state: Self::State<'a>,
        planned_private_state: Self::PrivateState<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let registry = self.registry.get(diags)?;
        let mut record = self.kind.to_record(&planned_state, diags)?;
        // The write is conditional on the version Terraform last read.
        self.kind
            .set_record_meta(&mut record, prior_state.meta().to_record());
        let updated = reported(diags, self.kind.update(registry, &record).await)?;
        let state = self.kind.to_state(&updated, &planned_state);
        Some((state, planned_private_state))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: Self::State<'a>,
        _planned_private_state: Self::PrivateState<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let registry = self.registry.get(diags)?;
        let id = known_str(self.kind.id(&prior_state)).unwrap_or_default();
        let version = prior_state.meta().expected_version();
        deleted(diags, self.kind.delete(registry, id, version).await)
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let registry = self.registry.get(diags)?;
        let result = self.kind.get(registry, &id).await;
        let record = imported(diags, K::KIND, &id, result)?;
        Some((
            self.kind.to_state(&record, &K::State::default()),
            ValueEmpty::default(),
        ))
    }
}

/// A data source's read outcome: the value; or, when the looked-up `kind`
/// record does not exist, an error on `attribute`; or the reported error.
pub fn looked_up<T>(
    diags: &mut Diagnostics,
    result: saas_registry::Result<T>,
    kind: RecordKind,
    attribute: &'static str,
) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(err @ RegistryError::NotFound { kind: missing, .. }) if missing == kind => {
            diags.error(
                err.to_string(),
                String::new(),
                AttributePath::new(attribute),
            );
            None
        }
        Err(err) => {
            report(diags, err);
            None
        }
    }
}

/// One data source: its schema and how it reads the registry.
#[async_trait]
pub trait RegistryRead: Send + Sync {
    type State: Serialize + DeserializeOwned + Send + Sync;

    fn schema(&self) -> Schema;
    /// Checks the configuration before any read.
    fn validate(&self, _diags: &mut Diagnostics, _config: &Self::State) {}
    async fn read(
        &self,
        registry: &Registry,
        diags: &mut Diagnostics,
        config: Self::State,
    ) -> Option<Self::State>;
}

/// A `RegistryRead` as a Terraform data source.
#[derive(Debug, Clone)]
pub struct ReadDataSource<K> {
    registry: SharedRegistry,
    kind: K,
}

impl<K: RegistryRead + Default> ReadDataSource<K> {
    pub fn new(registry: SharedRegistry) -> Self {
        ReadDataSource {
            registry,
            kind: K::default(),
        }
    }
}

#[async_trait]
impl<K: RegistryRead> DataSource for ReadDataSource<K> {
    type State<'a> = K::State;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(self.kind.schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        self.kind.validate(diags, &config);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: Self::State<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<Self::State<'a>> {
        let registry = self.registry.get(diags)?;
        self.kind.read(registry, diags, config).await
    }
}

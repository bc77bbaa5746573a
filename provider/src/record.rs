//! The one CRUD flow of a registry record. A kind of record (application,
//! tenant) implements [`ManagedRecord`]: its schema, conversions, plan rules
//! and registry calls; [`RecordResource`] runs that as a Terraform resource,
//! so version-conditioned writes, "gone means deleted", import and the plan
//! checks behave the same for every kind. [`RegistryRead`] and
//! [`ReadDataSource`] do the same for data sources.

use async_trait::async_trait;
use saas_registry::{RecordKind, RecordMeta, Registry, RegistryError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, DataSource, Diagnostics, RawValue, Resource};

use crate::convert::{known_str, report, reported, string, SharedRegistry, StringValue};

/// The computed bookkeeping attributes every record carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetaValues {
    pub created_at: StringValue,
    pub updated_at: StringValue,
    pub version: Value<i64>,
}

impl MetaValues {
    pub fn unknown() -> Self {
        MetaValues {
            created_at: Value::Unknown,
            updated_at: Value::Unknown,
            version: Value::Unknown,
        }
    }

    pub fn from_record(meta: &RecordMeta) -> Self {
        MetaValues {
            created_at: string(&meta.created_at),
            updated_at: string(&meta.updated_at),
            version: Value::Value(i64::try_from(meta.version).unwrap_or(i64::MAX)),
        }
    }

    /// The meta a write starts from: the version Terraform last read is the
    /// write's condition.
    pub fn to_record(&self) -> RecordMeta {
        RecordMeta {
            created_at: self.created_at.clone().unwrap_or_default(),
            updated_at: self.updated_at.clone().unwrap_or_default(),
            version: self.expected_version().unwrap_or(0),
        }
    }

    /// For an update: creation time stays, the rest becomes unknown.
    fn for_update(&self) -> Self {
        MetaValues {
            created_at: self.created_at.clone(),
            ..MetaValues::unknown()
        }
    }

    fn expected_version(&self) -> Option<u64> {
        self.version
            .as_ref_option()
            .and_then(|v| u64::try_from(*v).ok())
    }
}

/// What every resource state has: settings the user writes and the
/// registry's computed bookkeeping.
pub trait RecordState: Clone + PartialEq {
    fn meta(&self) -> MetaValues;
    fn set_meta(&mut self, meta: MetaValues);
    /// Puts set attributes in canonical order, so equal sets compare equal.
    fn sort_sets(&mut self);

    /// Whether the user's settings are equal, bookkeeping aside.
    fn same_settings(&self, other: &Self) -> bool {
        let (mut a, mut b) = (self.clone(), other.clone());
        for state in [&mut a, &mut b] {
            state.set_meta(MetaValues::default());
            state.sort_sets();
        }
        a == b
    }

    /// Plans the bookkeeping of an update: unknown when the record is
    /// replaced, unchanged when nothing changes (so the plan after an apply
    /// is empty), else a new version and update time.
    fn plan_meta(&mut self, prior: &Self, replaced: bool) {
        let meta = if replaced {
            MetaValues::unknown()
        } else if self.same_settings(prior) {
            prior.meta()
        } else {
            prior.meta().for_update()
        };
        self.set_meta(meta);
    }
}

/// One kind of registry record managed as a resource: what differs between
/// kinds. Everything else is [`RecordResource`]'s.
#[async_trait]
pub trait ManagedRecord: Default + Send + Sync {
    /// The registry record.
    type Record: Send + Sync;
    /// The resource's Terraform state.
    type State: RecordState + Default + Serialize + DeserializeOwned + Send + Sync;

    const KIND: RecordKind;
    /// The attribute that names the record; changing it replaces the record.
    const ID: &'static str;

    fn schema(&self) -> Schema;
    /// The naming attribute's value.
    fn id<'s>(&self, state: &'s Self::State) -> &'s StringValue;
    /// Checks every known value on its own; returns whether all passed.
    fn check_values(&self, state: &Self::State, diags: &mut Diagnostics) -> bool;
    /// The planned settings: the proposal with the defaults of what `config`
    /// leaves out.
    fn plan_settings(&self, proposed: Self::State, config: &Self::State) -> Self::State;
    /// Marks what stays unknown until the record is (re)created.
    fn mark_new(&self, _planned: &mut Self::State) {}
    /// State for `record`, keeping null where `prior` had null.
    fn to_state(&self, record: &Self::Record, prior: &Self::State) -> Self::State;
    /// The record `state` describes; `None` while any value is unknown.
    fn to_record(&self, state: &Self::State) -> Option<saas_registry::Result<Self::Record>>;
    /// Plan-time checks against the registry, once `check_values` passed.
    async fn check_registry(
        &self,
        registry: &Registry,
        diags: &mut Diagnostics,
        planned: &Self::State,
    );
    /// A stored state of an earlier schema version, as this version's.
    fn upgrade(&self, version: i64, _prior: serde_json::Value) -> Result<Self::State, String> {
        Err(format!("state version {version} has no upgrade"))
    }

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

/// A [`ManagedRecord`] as a Terraform resource.
#[derive(Debug, Clone)]
pub struct RecordResource<K> {
    registry: SharedRegistry,
    kind: K,
}

impl<K: ManagedRecord> RecordResource<K> {
    pub fn new(registry: SharedRegistry) -> Self {
        RecordResource {
            registry,
            kind: K::default(),
        }
    }

    /// Plan-time checks shared by create and update.
    async fn check_plan(&self, diags: &mut Diagnostics, planned: &K::State) -> Option<()> {
        let registry = self.registry.get(diags)?;
        if self.kind.check_values(planned, diags) {
            self.kind.check_registry(registry, diags, planned).await;
        }
        Some(())
    }

    /// Plan-time check that a record about to be created does not exist yet.
    async fn check_absent(&self, diags: &mut Diagnostics, planned: &K::State) {
        let (Some(registry), Some(id)) =
            (self.registry.get(diags), known_str(self.kind.id(planned)))
        else {
            return;
        };
        if let Some(Some(_)) = reported(diags, self.kind.get(registry, id).await) {
            let (kind, attribute) = (K::KIND, K::ID);
            diags.error(
                format!("{kind} {id:?} already exists"),
                format!("The registry already holds {kind} {id:?}. Import it (terraform import <address> {id}) or choose another {attribute}."),
                AttributePath::new(attribute),
            );
        }
    }

    /// Writes the record `state` describes, and returns the state of what the
    /// registry stored. `state`'s version is the write's condition.
    async fn write(
        &self,
        diags: &mut Diagnostics,
        state: &K::State,
        new: bool,
    ) -> Option<K::State> {
        let registry = self.registry.get(diags)?;
        let Some(record) = self.kind.to_record(state) else {
            let kind = K::KIND;
            diags.root_error_short(format!(
                "Every {kind} attribute must be known when the {kind} is written"
            ));
            return None;
        };
        let record = reported(diags, record)?;
        let written = if new {
            self.kind.create(registry, &record).await
        } else {
            self.kind.update(registry, &record).await
        };
        Some(self.kind.to_state(&reported(diags, written)?, state))
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
        // A record that is gone returns no state, so the next plan creates it
        // again; a failed read keeps the prior state.
        let fresh = match self.kind.get(registry, id).await {
            Ok(Some(record)) => self.kind.to_state(&record, &state),
            Ok(None) => return None,
            Err(err) => {
                report(diags, err);
                state
            }
        };
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
        self.check_absent(diags, &planned).await;
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
        let state = self.write(diags, &planned_state, true).await?;
        Some((state, planned_private_state))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: Self::State<'a>,
        mut planned_state: Self::State<'a>,
        _config_state: Self::State<'a>,
        planned_private_state: Self::PrivateState<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        // The write is conditional on the version Terraform last read, so a
        // concurrent change fails as a conflict instead of being overwritten.
        planned_state.set_meta(prior_state.meta());
        let state = self.write(diags, &planned_state, false).await?;
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
        match self.kind.delete(registry, id, version).await {
            // Already gone is what a delete wants.
            Err(RegistryError::NotFound { .. }) => Some(()),
            other => reported(diags, other),
        }
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let registry = self.registry.get(diags)?;
        let Some(record) = reported(diags, self.kind.get(registry, &id).await)? else {
            let kind = K::KIND;
            diags.root_error(
                format!("Cannot import {kind} {id:?}"),
                format!("The registry holds no {kind} {id:?}."),
            );
            return None;
        };
        let state = self.kind.to_state(&record, &K::State::default());
        Some((state, ValueEmpty::default()))
    }

    async fn upgrade<'a>(
        &self,
        diags: &mut Diagnostics,
        version: i64,
        prior_state: RawValue,
    ) -> Option<Self::State<'a>> {
        let prior = prior_state.deserialize::<serde_json::Value>(diags)?;
        self.kind
            .upgrade(version, prior)
            .map_err(|message| {
                diags.root_error(
                    format!("Cannot upgrade saas_{} state version {version}", K::KIND),
                    message,
                )
            })
            .ok()
    }
}

/// A data source's read outcome: the value; or, when the looked-up `kind`
/// record does not exist, an error on the `attribute` that named it; or the
/// reported error.
pub fn looked_up<T>(
    diags: &mut Diagnostics,
    result: saas_registry::Result<T>,
    kind: RecordKind,
    attribute: &'static str,
) -> Option<T> {
    match result {
        Err(err @ RegistryError::NotFound { kind: missing, .. }) if missing == kind => {
            diags.error(
                err.to_string(),
                String::new(),
                AttributePath::new(attribute),
            );
            None
        }
        other => reported(diags, other),
    }
}

/// One data source: its schema and how it reads the registry.
#[async_trait]
pub trait RegistryRead: Default + Send + Sync {
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

/// A [`RegistryRead`] as a Terraform data source.
#[derive(Debug, Clone)]
pub struct ReadDataSource<K> {
    registry: SharedRegistry,
    kind: K,
}

impl<K: RegistryRead> ReadDataSource<K> {
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

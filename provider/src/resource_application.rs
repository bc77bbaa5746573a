//! `saas_application`: one application (a Terraform stack run per tenant)
//! and how its tenants' state is stored.

use async_trait::async_trait;
use saas_registry::model::{default_tiers, DEFAULT_KEY_TEMPLATE};
use saas_registry::{
    validate, Application, Isolation, LockKind, RecordKind, Registry, StateConfig,
};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{Block, NestedBlock, Schema};
use tf_provider::value::Value;
use tf_provider::Diagnostics;

use crate::attrs;
use crate::convert::{
    check, enum_name, known_map, known_set, known_str, optional_map, optional_string, or_default,
    parse_enum, report, set_value, sort_set, string, StringMap, StringSet, StringValue,
};
use crate::record::{ManagedRecord, MetaValues, RecordResource, RecordState};

/// The `state` attribute: where each tenant's Terraform state lives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StateSettings {
    pub region: StringValue,
    pub isolation: StringValue,
    pub bucket: StringValue,
    pub bucket_prefix: StringValue,
    pub key: StringValue,
    pub lock: StringValue,
    pub lock_table: StringValue,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplicationState {
    pub id: StringValue,
    pub name: StringValue,
    pub description: StringValue,
    pub stack: StringValue,
    pub tiers: StringSet,
    pub labels: StringMap,
    pub state: Value<StateSettings>,
    pub created_at: StringValue,
    pub updated_at: StringValue,
    pub version: Value<i64>,
}

/// The `state` block.
pub fn state_block() -> Block {
    use attrs::{optional, optional_computed, required, string};
    let attributes = attrs::object([
        ("region", required(string(), "AWS region of the state buckets and lock tables.")),
        ("isolation", optional_computed(string(), "`prefix`: one shared `bucket`, one key per tenant. `bucket`: one bucket per tenant, named `<bucket_prefix>-<tenant>`. Defaults to `prefix`.")),
        ("bucket", optional(string(), "The shared state bucket (`isolation = \"prefix\"` only).")),
        ("bucket_prefix", optional(string(), "Prefix of the per-tenant buckets (`isolation = \"bucket\"` only), at most 22 characters.")),
        ("key", optional_computed(string(), "State object key template; `{application}` and `{tenant}` must each be a whole path segment. Defaults to `{application}/{tenant}/terraform.tfstate`.")),
        ("lock", optional_computed(string(), "`dynamodb` (a lock table) or `s3` (S3-native lockfile). Defaults to `dynamodb`.")),
        ("lock_table", optional(string(), "DynamoDB lock table (`lock = \"dynamodb\"` only). With `bucket` isolation each tenant gets `<lock_table>-<tenant>`.")),
    ]);
    Block {
        attributes,
        description: attrs::description("How each tenant's Terraform state backend is derived."),
        ..Block::default()
    }
}

pub fn application_schema() -> Schema {
    use attrs::{computed, optional, optional_computed, required, string, string_map, string_set};
    let mut attributes = vec![
        ("id", computed(string(), "Equals `name`, but is known only once the application exists: reference it from `saas_tenant.applications` so Terraform creates the application before its tenants.")),
        ("name", required(string(), "Application name: a lowercase DNS label, 1 to 40 characters. Changing it replaces the application.")),
        ("description", optional(string(), "What the application is.")),
        ("stack", optional(string(), "Where the application's per-tenant Terraform stack lives, e.g. a git URL and path.")),
        ("tiers", optional_computed(string_set(), "Tiers tenants of this application may have. Defaults to `basic`, `standard`, `premium`.")),
        ("labels", optional(string_map(), "Free-form labels.")),
    ];
    attributes.extend(attrs::meta_attributes("application"));
    let mut schema = attrs::schema(
        "An application: a Terraform stack that runs once per tenant, and where each tenant's state of it is stored.",
        attributes,
    );
    schema
        .block
        .blocks
        .insert("state".into(), NestedBlock::Single(state_block()));
    schema
}

/// The registry fields of the enum attributes, as their diagnostics name them.
const ISOLATION: &str = "state.isolation";
const LOCK: &str = "state.lock";

fn optional_known(value: &StringValue) -> Option<Option<String>> {
    match value {
        Value::Value(s) => Some(Some(s.clone())),
        Value::Null => Some(None),
        Value::Unknown => None,
    }
}

impl StateSettings {
    fn with_defaults(mut self, config: &StateSettings) -> Self {
        self.isolation = or_default(&config.isolation, enum_name(Isolation::default()));
        self.key = or_default(&config.key, DEFAULT_KEY_TEMPLATE.into());
        self.lock = or_default(&config.lock, enum_name(LockKind::default()));
        self
    }

    fn check_values(&self, diags: &mut Diagnostics) -> bool {
        let mut ok = true;
        if let Some(isolation) = known_str(&self.isolation) {
            ok &= check(
                diags,
                parse_enum::<Isolation>(ISOLATION, isolation).map(|_| ()),
            );
        }
        if let Some(lock) = known_str(&self.lock) {
            ok &= check(diags, parse_enum::<LockKind>(LOCK, lock).map(|_| ()));
        }
        ok
    }

    fn to_config(&self) -> Option<saas_registry::Result<StateConfig>> {
        let isolation = known_str(&self.isolation)
            .map_or(Ok(Isolation::default()), |name| parse_enum(ISOLATION, name));
        let lock =
            known_str(&self.lock).map_or(Ok(LockKind::default()), |name| parse_enum(LOCK, name));
        let config = StateConfig {
            region: self.region.as_ref_option()?.clone(),
            isolation: match isolation {
                Ok(i) => i,
                Err(e) => return Some(Err(e)),
            },
            bucket: optional_known(&self.bucket)?,
            bucket_prefix: optional_known(&self.bucket_prefix)?,
            key: optional_known(&self.key)?.unwrap_or_else(|| DEFAULT_KEY_TEMPLATE.into()),
            lock: match lock {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            },
            lock_table: optional_known(&self.lock_table)?,
        };
        (!self.isolation.is_unknown() && !self.lock.is_unknown()).then_some(Ok(config))
    }

    fn from_config(config: &StateConfig) -> Self {
        StateSettings {
            region: string(&config.region),
            isolation: string(&enum_name(config.isolation)),
            bucket: config.bucket.as_deref().map_or(Value::Null, string),
            bucket_prefix: config.bucket_prefix.as_deref().map_or(Value::Null, string),
            key: string(&config.key),
            lock: string(&enum_name(config.lock)),
            lock_table: config.lock_table.as_deref().map_or(Value::Null, string),
        }
    }
}

impl RecordState for ApplicationState {
    fn meta(&self) -> MetaValues {
        MetaValues {
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            version: self.version,
        }
    }

    fn set_meta(&mut self, meta: MetaValues) {
        self.created_at = meta.created_at;
        self.updated_at = meta.updated_at;
        self.version = meta.version;
    }

    fn sort_sets(&mut self) {
        sort_set(&mut self.tiers);
    }
}

impl ApplicationState {
    /// The record this state describes: `None` while something is unknown.
    fn to_application(&self) -> Option<saas_registry::Result<Application>> {
        let state = match self.state.as_ref_option()?.to_config()? {
            Ok(state) => state,
            Err(err) => return Some(Err(err)),
        };
        Some(Ok(Application {
            name: self.name.as_ref_option()?.clone(),
            description: optional_known(&self.description)?.unwrap_or_default(),
            stack: optional_known(&self.stack)?.unwrap_or_default(),
            tiers: match &self.tiers {
                Value::Null => default_tiers(),
                tiers => known_set(tiers)?,
            },
            labels: known_map(&self.labels)?,
            state,
            meta: self.meta().to_record(),
        }))
    }

    pub fn from_application(app: &Application, prior: &ApplicationState) -> Self {
        ApplicationState {
            id: string(&app.name),
            name: string(&app.name),
            description: optional_string(&app.description, &prior.description),
            stack: optional_string(&app.stack, &prior.stack),
            tiers: set_value(&app.tiers),
            labels: optional_map(&app.labels, &prior.labels),
            state: Value::Value(StateSettings::from_config(&app.state)),
            created_at: string(&app.meta.created_at),
            updated_at: string(&app.meta.updated_at),
            version: MetaValues::from_record(&app.meta).version,
        }
    }

    fn with_defaults(mut self, config: &ApplicationState) -> Self {
        self.tiers = or_default(
            &config.tiers,
            set_value(&default_tiers()).unwrap_or_default(),
        );
        if let (Value::Value(state), Value::Value(config)) = (&self.state, &config.state) {
            self.state = Value::Value(state.clone().with_defaults(config));
        }
        self
    }

    fn check_values(&self, diags: &mut Diagnostics) -> bool {
        let mut ok = true;
        if let Some(name) = known_str(&self.name) {
            ok &= check(diags, validate::slug("name", name));
        }
        if let Value::Value(tiers) = &self.tiers {
            for tier in tiers.iter().filter_map(Value::as_ref_option) {
                ok &= check(diags, validate::slug("tiers", tier));
            }
        }
        if let Value::Value(labels) = &self.labels {
            ok &= check(diags, validate::map_keys("labels", labels.keys()));
        }
        if let Value::Value(state) = &self.state {
            ok &= state.check_values(diags);
        }
        if ok {
            match self.to_application() {
                Some(Ok(app)) => ok &= check(diags, validate::application(&app)),
                Some(Err(err)) => ok &= check(diags, Err(err)),
                None => {}
            }
        }
        ok
    }
}

/// `saas_application` as a managed registry record.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplicationKind;

pub type ApplicationResource = RecordResource<ApplicationKind>;

#[async_trait]
impl ManagedRecord for ApplicationKind {
    type Record = Application;
    type State = ApplicationState;

    const KIND: RecordKind = RecordKind::Application;
    const ID: &'static str = "name";

    fn schema(&self) -> Schema {
        application_schema()
    }

    fn id<'s>(&self, state: &'s ApplicationState) -> &'s StringValue {
        &state.name
    }

    fn check_values(&self, state: &ApplicationState, diags: &mut Diagnostics) -> bool {
        state.check_values(diags)
    }

    fn plan_settings(
        &self,
        proposed: ApplicationState,
        config: &ApplicationState,
    ) -> ApplicationState {
        proposed.with_defaults(config)
    }

    fn mark_new(&self, planned: &mut ApplicationState) {
        // Unknown until created, so tenants referencing it wait for it and
        // skip the plan-time "unknown application" check.
        planned.id = Value::Unknown;
    }

    fn to_state(&self, app: &Application, prior: &ApplicationState) -> ApplicationState {
        ApplicationState::from_application(app, prior)
    }

    fn to_record(&self, state: &ApplicationState) -> Option<saas_registry::Result<Application>> {
        state.to_application()
    }

    /// Two applications must never share a tenant's state.
    async fn check_registry(
        &self,
        registry: &Registry,
        diags: &mut Diagnostics,
        planned: &ApplicationState,
    ) {
        let Some(Ok(app)) = planned.to_application() else {
            return;
        };
        match registry.list_applications().await {
            Ok(others) => {
                check(diags, validate::state_compatible(&app, &others));
            }
            Err(err) => report(diags, err),
        }
    }

    async fn get(
        &self,
        registry: &Registry,
        name: &str,
    ) -> saas_registry::Result<Option<Application>> {
        registry.get_application(name).await
    }

    async fn create(
        &self,
        registry: &Registry,
        app: &Application,
    ) -> saas_registry::Result<Application> {
        registry.create_application(app).await
    }

    async fn update(
        &self,
        registry: &Registry,
        app: &Application,
    ) -> saas_registry::Result<Application> {
        registry.update_application(app).await
    }

    async fn delete(
        &self,
        registry: &Registry,
        name: &str,
        version: Option<u64>,
    ) -> saas_registry::Result<()> {
        registry.delete_application(name, version).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tf_provider::AttributePath;

    fn config() -> ApplicationState {
        ApplicationState {
            name: string("web"),
            state: Value::Value(StateSettings {
                region: string("us-east-1"),
                bucket: string("acme-tfstate"),
                lock_table: string("acme-locks"),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_fill_what_the_configuration_leaves_out() {
        let planned = config().with_defaults(&config());
        let app = planned.to_application().unwrap().unwrap();
        assert_eq!(app.tiers, default_tiers());
        assert_eq!(app.state.key, DEFAULT_KEY_TEMPLATE);
        assert_eq!(app.state.isolation, Isolation::Prefix);
        assert_eq!(app.state.lock, LockKind::Dynamodb);
        let back = ApplicationState::from_application(&app, &planned);
        assert!(back.same_settings(&ApplicationState {
            id: string("web"),
            ..planned
        }));
    }

    #[test]
    fn state_errors_point_into_the_state_object() {
        let mut bad = config();
        if let Value::Value(state) = &mut bad.state {
            state.lock_table = Value::Null;
        }
        let mut diags = Diagnostics::default();
        assert!(!bad.with_defaults(&config()).check_values(&mut diags));
        assert_eq!(
            diags.errors[0].attribute,
            AttributePath::new("state").attribute("lock_table")
        );

        let mut bad = config();
        if let Value::Value(state) = &mut bad.state {
            state.isolation = string("shared");
        }
        let mut diags = Diagnostics::default();
        assert!(!bad.check_values(&mut diags));
        assert_eq!(
            diags.errors[0].attribute,
            AttributePath::new("state").attribute("isolation")
        );
    }

    #[test]
    fn bad_names_are_rejected() {
        let bad = ApplicationState {
            name: string("Web"),
            ..config()
        };
        let mut diags = Diagnostics::default();
        assert!(!bad.check_values(&mut diags));
        assert_eq!(diags.errors[0].attribute, AttributePath::new("name"));
    }
}

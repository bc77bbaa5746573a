# Tenants as code: the applications and tenants of the registry, managed with
# the saas provider. The registry comes from SAAS_REGISTRY (the quickstart sets
# it), so this configuration names no path or table.

terraform {
  required_version = ">= 1.5"
  required_providers {
    saas = {
      source  = "saasctl/saas"
      version = ">= 0.1.0"
    }
  }
}

provider "saas" {}

# Storefront: one shared state bucket, a key per tenant, DynamoDB locking.
resource "saas_application" "storefront" {
  name        = "storefront"
  description = "Customer-facing shop"
  stack       = "examples/tenant-stack"
  labels      = { team = "commerce" }

  state {
    region     = "us-east-1"
    isolation  = "prefix"
    bucket     = "saas-quickstart-tfstate"
    lock       = "dynamodb"
    lock_table = "saas-quickstart-locks"
  }
}

# Reports: premium and standard only; a bucket per tenant
# (saas-reports-<tenant>), locked with an S3 lockfile.
resource "saas_application" "reports" {
  name        = "reports"
  description = "Per-tenant reporting warehouse"
  stack       = "examples/tenant-stack"
  tiers       = ["standard", "premium"]

  state {
    region        = "us-east-1"
    isolation     = "bucket"
    bucket_prefix = "saas-reports"
    lock          = "s3"
  }
}

variable "initech_api_token" {
  description = "Initech's API token for its stack (a demo value; pass a real one with TF_VAR_initech_api_token)."
  type        = string
  sensitive   = true
  default     = "demo-token-not-a-secret"
}

locals {
  # Application references use .id, so Terraform creates applications before
  # the tenants that use them.
  storefront = saas_application.storefront.id
  reports    = saas_application.reports.id

  tenants = {
    acme = {
      name         = "Acme Corp"
      email        = "ops@acme.example"
      tier         = "premium"
      status       = "active"
      applications = [local.storefront, local.reports]
      variables    = { replicas = 3, plan_message = "Acme runs three replicas" }
      labels       = { region = "us" }
    }
    globex = {
      name         = "Globex"
      email        = "platform@globex.example"
      tier         = "standard"
      status       = "active"
      applications = [local.storefront, local.reports]
      variables    = { replicas = 2, plan_message = "Globex runs two replicas" }
      labels       = { region = "emea" }
    }
    initech = {
      name         = "Initech"
      email        = "it@initech.example"
      tier         = "basic"
      status       = "active"
      applications = [local.storefront]
      variables    = { replicas = 1, plan_message = "Initech runs one replica" }
      labels       = { region = "us" }
    }
    umbrella = {
      name         = "Umbrella"
      email        = "admin@umbrella.example"
      tier         = "premium"
      status       = "suspended"
      applications = [local.storefront]
      variables    = { replicas = 1, plan_message = "Umbrella is suspended" }
      labels       = { region = "emea" }
    }
    hooli = {
      name         = "Hooli"
      email        = "sre@hooli.example"
      tier         = "basic"
      status       = "active"
      applications = [local.storefront]
      variables    = { replicas = 2, plan_message = "Hooli runs two replicas" }
      labels       = { region = "apac" }
    }
  }
}

resource "saas_tenant" "this" {
  for_each = local.tenants

  id           = each.key
  name         = each.value.name
  email        = each.value.email
  tier         = each.value.tier
  status       = each.value.status
  applications = each.value.applications
  variables    = each.value.variables
  labels       = each.value.labels

  sensitive_variables = each.key == "initech" ? { api_token = var.initech_api_token } : {}
}

# What the orchestrator will run: the backend of each tenant's stack.
data "saas_tenants" "active_storefront" {
  application = local.storefront
  status      = "active"
  depends_on  = [saas_tenant.this]
}

output "active_storefront_tenants" {
  value = data.saas_tenants.active_storefront.ids
}

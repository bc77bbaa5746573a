# The per-tenant stack that `saasctl plan|apply|drift|destroy` fans out.
#
# saasctl runs it once per tenant with:
#   - the tenant's S3 backend from -backend-config (hence the empty block);
#   - a var file with tenant_id, tenant_name, tenant_tier and the tenant's
#     `variables` (typed JSON values); values for variables a stack does not
#     declare only cause a warning, so every stack declares what it uses;
#   - the tenant's `sensitive_variables` as TF_VAR_<name> in the environment
#     only (undeclared ones are ignored). Declare them `sensitive` and, from
#     Terraform 1.10, `ephemeral`, so they stay out of plan files and state.

terraform {
  required_version = ">= 1.10"
  required_providers {
    saas = {
      source  = "saasctl/saas"
      version = ">= 0.1.0"
    }
  }
  backend "s3" {}
}

# The registry comes from SAAS_REGISTRY, which saasctl sets for each run.
provider "saas" {}

data "saas_tenant" "this" {
  id = var.tenant_id
}

locals {
  tenant = data.saas_tenant.this
}

# One resource per replica: `replicas` is a per-tenant variable.
resource "terraform_data" "replica" {
  count = var.replicas

  input = {
    tenant  = local.tenant.id
    tier    = local.tenant.tier
    index   = count.index
    message = var.plan_message
  }
}

# Tier settings: changes when the tenant moves tier.
resource "terraform_data" "tier" {
  input = {
    tenant = var.tenant_id
    name   = var.tenant_name
    tier   = var.tenant_tier
    labels = local.tenant.labels
  }

  lifecycle {
    # Lets an operator (or a test) make exactly one tenant's plan fail.
    precondition {
      condition     = !var.fail_plan
      error_message = "fail_plan is set for tenant ${var.tenant_id}: this plan fails on purpose."
    }
    precondition {
      condition     = var.api_token == "" || length(var.api_token) >= 8
      error_message = "api_token must be empty or at least 8 characters."
    }
  }
}

output "replicas" {
  value = [for r in terraform_data.replica : r.output]
}

output "tier" {
  value = terraform_data.tier.output.tier
}

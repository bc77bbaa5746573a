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

variable "tenant_id" {
  type = string
}

variable "tenant_name" {
  type = string
}

variable "tenant_tier" {
  type = string
}

provider "saas" {}

# The tenant's own record, read through the provider.
data "saas_tenant" "me" {
  id = var.tenant_id
}

module "namespace" {
  source = "../../modules/namespace"
  tenant = var.tenant_id
  quota  = { invoices = 100 }
  labels = data.saas_tenant.me.labels
}

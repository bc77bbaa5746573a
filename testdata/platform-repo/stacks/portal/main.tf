module "namespace" {
  source = "../../modules/namespace"
  tenant = var.tenant_id
  quota  = var.quota
  labels = { tier = var.tenant_tier }
}

module "network" {
  source        = "../../modules/network"
  allowed_cidrs = var.allowed_cidrs
  public        = var.public
}

resource "terraform_data" "replica" {
  count = var.replicas
  input = {
    namespace = module.namespace.name
    index     = count.index
  }
}

resource "terraform_data" "settings" {
  input = {
    tenant   = var.tenant_name
    plan     = var.settings.plan
    seats    = var.settings.seats
    features = var.settings.features
  }
}

output "namespace" {
  value = module.namespace.name
}

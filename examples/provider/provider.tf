terraform {
  required_providers {
    saas = {
      source = "saasctl/saas"
    }
  }
}

# With no arguments the registry comes from SAAS_REGISTRY, then
# sqlite://.saas/registry.db in the working directory.
provider "saas" {}

# Or name it explicitly: a SQLite file, or a DynamoDB table created with
# `saasctl registry init` (credentials from the standard AWS chain).
provider "saas" {
  alias    = "cloud"
  registry = "dynamodb://saas-registry?region=eu-west-1"
}

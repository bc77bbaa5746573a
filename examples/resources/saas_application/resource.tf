# One shared bucket, one state key per tenant, locked with DynamoDB.
resource "saas_application" "web" {
  name        = "web"
  description = "Customer-facing web tier"
  stack       = "git::https://git.example.com/platform/stacks.git//web"
  tiers       = ["basic", "standard", "premium"]
  labels      = { team = "web" }

  state {
    region     = "eu-west-1"
    isolation  = "prefix"
    bucket     = "acme-tfstate"
    key        = "{application}/{tenant}/terraform.tfstate"
    lock       = "dynamodb"
    lock_table = "acme-tf-locks"
  }
}

# One bucket per tenant (acme-analytics-<tenant>), locked with an S3 lockfile.
resource "saas_application" "analytics" {
  name  = "analytics"
  tiers = ["premium"]

  state {
    region        = "eu-west-1"
    isolation     = "bucket"
    bucket_prefix = "acme-analytics"
    lock          = "s3"
  }
}

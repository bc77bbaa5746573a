terraform {
  required_version = ">= 1.10"
  # saasctl passes each tenant's bucket, key and lock table with -backend-config.
  backend "s3" {}
}

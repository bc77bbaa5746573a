data "saas_tenant" "globex" {
  id = "globex"
}

# The S3 backend of globex's "web" stack: bucket, key, region, lock_table,
# use_lockfile.
output "globex_web_backend" {
  value = data.saas_tenant.globex.state["web"]
}

# Active premium tenants of the web application from EMEA.
data "saas_tenants" "premium_web" {
  application = "web"
  tier        = "premium"
  status      = "active"
  labels      = { region = "emea" }
}

output "premium_web_ids" {
  value = data.saas_tenants.premium_web.ids
}

output "premium_web_emails" {
  value = [for t in data.saas_tenants.premium_web.tenants : t.email]
}

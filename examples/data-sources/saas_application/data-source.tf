data "saas_application" "web" {
  name = "web"
}

output "web_tiers" {
  value = data.saas_application.web.tiers
}
